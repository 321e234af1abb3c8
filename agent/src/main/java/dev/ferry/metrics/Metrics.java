package dev.ferry.metrics;

import dev.ferry.cni.CniObserver;
import dev.ferry.cni.Readiness;
import dev.ferry.datapath.ClusterCidrMap;
import dev.ferry.datapath.Datapath;
import dev.ferry.datapath.MonitorMaps;
import dev.ferry.monitor.Monitor;
import dev.ferry.datapath.KernelFeatures;
import dev.ferry.datapath.KernelFix;
import dev.ferry.datapath.EndpointMap;
import dev.ferry.egress.EgressStatus;
import dev.ferry.endpoint.Endpoint;
import dev.ferry.k8s.KubernetesObserver;
import dev.ferry.state.Quarantine;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.micrometer.tagged.TaggedCircuitBreakerMetrics;
import io.github.resilience4j.micrometer.tagged.TaggedRetryMetrics;
import io.github.resilience4j.retry.RetryRegistry;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The agent's metrics: one Prometheus registry with the datapath's counters
 * (read at scrape time), the control plane's (CNI requests and latency,
 * endpoints, map usage, Kubernetes watch events and API errors, the API calls'
 * retry and breaker) and the JVM's and process's. The entry point of the
 * package: the agent makes one, hands {@link #cniObserver()} to the CNI service,
 * {@link #kubernetesObserver()} to the cluster watch and the whole thing to
 * {@link MetricsServer}.
 */
public final class Metrics implements AutoCloseable {
    static final String OPENMETRICS_MEDIA_TYPE = "application/openmetrics-text";

    /** What a scrape answers. */
    public record Exposition(String contentType, byte[] body) {
    }

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final DatapathMeters datapath;
    private final Readiness readiness;
    private final Liveness liveness;
    private final JvmGcMetrics gc = new JvmGcMetrics();
    private final Counter refusedConnections;
    private volatile EgressMeters egress;

    /** With {@link MetricsOptions#DEFAULTS}: per-pod series, the datapath read at most once a second. */
    public Metrics(Datapath datapath, Supplier<List<Endpoint>> endpoints, Readiness readiness, Liveness liveness,
                   Quarantine quarantine) {
        this(datapath, endpoints, readiness, liveness, quarantine, MetricsOptions.DEFAULTS);
    }

    /** @param quarantine the state directory's quarantine: its files wait for an operator, so they are a gauge */
    public Metrics(Datapath datapath, Supplier<List<Endpoint>> endpoints, Readiness readiness, Liveness liveness,
                   Quarantine quarantine, MetricsOptions options) {
        this.readiness = readiness;
        this.liveness = liveness;
        // Two of ProcessorMetrics' names break Prometheus' naming rules (promtool rejects a unit
        // in process_cpu_time_ns_total and a "_count" gauge in system_cpu_count); process_cpu_usage
        // and system_cpu_usage carry what an operator needs.
        registry.config().meterFilter(MeterFilter.deny(id -> id.getName().equals("process.cpu.time")
                || id.getName().equals("system.cpu.count")));
        this.datapath = new DatapathMeters(registry, datapath.counters(), endpoints, options);
        this.refusedConnections = Counter.builder("ferry.metrics.connections.refused")
                .description("Connections to the metrics port closed at accept because it held its maximum")
                .register(registry);
        // Gauges hold what they read weakly unless told otherwise, and the agent passes method references
        // nothing else holds: a collected one reads NaN. Every gauge here holds its source strongly.
        Gauge.builder("ferry.endpoints", endpoints, e -> e.get().size()).strongReference(true)
                .description("Pod endpoints this agent serves").register(registry);
        // The kernel does not change under a running agent: judged once, exposed as constants.
        for (KernelFix fix : KernelFeatures.probe().fixes()) {
            double affected = switch (fix.status()) {
                case AFFECTED -> 1;
                case NOT_AFFECTED -> 0;
                case UNKNOWN -> -1;
            };
            Gauge.builder("ferry.kernel.issue", () -> affected)
                    .description("1 when the running kernel lacks the fix (docs/security.md), 0 when it has it, -1 when"
                            + " its version does not tell").tag("issue", fix.name()).register(registry);
        }
        Gauge.builder("ferry.state.quarantined.files", quarantine, q -> q.all().size()).strongReference(true)
                .description("State files moved to stateDir/quarantine because they could not be read").register(registry);
        // map: the name the map is pinned under, as bpftool shows it; a layout change renames it (_v2).
        Gauge.builder("ferry.bpf.map.entries", datapath, d -> d.endpoints().entries().size()).strongReference(true)
                .description("Entries in a BPF map").tag("map", EndpointMap.NAME).register(registry);
        Gauge.builder("ferry.bpf.map.capacity", datapath, d -> d.endpoints().capacity()).strongReference(true)
                .description("max_entries of a BPF map").tag("map", EndpointMap.NAME).register(registry);
        Gauge.builder("ferry.bpf.map.entries", datapath, d -> d.clusterCidrs().cidrs().size()).strongReference(true)
                .description("Entries in a BPF map").tag("map", ClusterCidrMap.NAME).register(registry);
        // The monitor's counts since its maps were made, read at scrape time (one per-CPU slot).
        MonitorMaps monitor = datapath.monitor();
        FunctionCounter.builder("ferry.monitor.events.emitted", monitor, m -> m.counts().emitted())
                .description("Decision events the datapath wrote for ferry monitor").register(registry);
        FunctionCounter.builder("ferry.monitor.events.suppressed", monitor, m -> m.counts().suppressed())
                .description("Decision events the datapath's per-CPU rate limit held back").register(registry);
        FunctionCounter.builder("ferry.monitor.events.lost", monitor, m -> m.counts().lost())
                .description("Decision events lost because the ring buffer was full").register(registry);
        // Copies of mirrored pods' packets (ferry capture, persistent mirrors), summed over slots and CPUs at scrape time.
        FunctionCounter.builder("ferry.capture.packets", datapath, d -> d.mirrors().totalClones().cloned())
                .description("Packets bpf_clone_redirect copied to a capture or mirror device").register(registry);
        FunctionCounter.builder("ferry.capture.clone.failures", datapath, d -> d.mirrors().totalClones().failed())
                .description("Copies bpf_clone_redirect could not make (device gone, no memory)").register(registry);
        Gauge.builder("ferry.agent.ready", readiness, r -> r.notReadyReason().isEmpty() ? 1 : 0).strongReference(true)
                .description("1 when the agent takes CNI ADDs").register(registry);
        new JvmMemoryMetrics().bindTo(registry);
        gc.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
    }

    /** Exposes how many monitor clients are attached and what the slow ones were not sent. */
    public void bindMonitor(Monitor monitor) {
        Gauge.builder("ferry.monitor.clients", monitor, Monitor::clients).strongReference(true)
                .description("ferry monitor clients attached; while 0 the datapath builds no events").register(registry);
        FunctionCounter.builder("ferry.monitor.events.dropped", monitor, Monitor::dropped)
                .description("Decision events not sent to a ferry monitor client that read too slowly").register(registry);
    }

    /** Counts and times every CNI command by its result ("ok" or the error code). */
    public CniObserver cniObserver() {
        return (command, result, latency) -> Timer.builder("ferry.cni.requests")
                .description("CNI commands the agent ran, by command and result, with their latency")
                .tags("command", command.name(), "result", result)
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofSeconds(30))
                .register(registry)
                .record(latency);
    }

    /**
     * Counts informer events ({@code ferry_k8s_watch_events_total}) and failed API
     * requests ({@code ferry_k8s_api_errors_total}), and binds the direct calls'
     * retry and circuit breaker ({@code resilience4j_*}).
     */
    public KubernetesObserver kubernetesObserver() {
        return new KubernetesObserver() {
            @Override
            public void watchEvent(Resource resource, Action action) {
                Counter.builder("ferry.k8s.watch.events")
                        .description("Events the Kubernetes informers delivered, by resource and action")
                        .tags("resource", label(resource), "action", label(action))
                        .register(registry).increment();
            }

            @Override
            public void apiError(Operation operation) {
                Counter.builder("ferry.k8s.api.errors")
                        .description("Kubernetes API requests that failed, by operation (every attempt counts)")
                        .tag("operation", label(operation))
                        .register(registry).increment();
            }

            @Override
            public void guards(RetryRegistry retries, CircuitBreakerRegistry breakers) {
                TaggedRetryMetrics.ofRetryRegistry(retries).bindTo(registry);
                TaggedCircuitBreakerMetrics.ofCircuitBreakerRegistry(breakers).bindTo(registry);
            }
        };
    }

    private static String label(Enum<?> value) {
        return value.name().toLowerCase(Locale.ROOT);
    }

    /**
     * Reads the datapath maps (unless read within the interval), then renders every series.
     * Blocks for as long as that takes: {@link MetricsServer} calls it off its event loop.
     */
    public Exposition scrape(String accept) {
        return render(Format.of(accept));
    }

    /** Exposes the egress routes' counters, read from their per-CPU map at every scrape. */
    public void egress(Supplier<EgressStatus> status) {
        egress = new EgressMeters(registry, status);
    }

    Exposition render(Format format) {
        datapath.refresh();
        EgressMeters routes = egress;
        if (routes != null) {
            routes.refresh();
        }
        return new Exposition(format.contentType(), registry.scrape(format.contentType()).getBytes(StandardCharsets.UTF_8));
    }

    /** The two expositions a scraper can ask for; a rendering serves every scrape that asked for its format. */
    enum Format {
        PROMETHEUS("text/plain; version=0.0.4; charset=utf-8"),
        OPENMETRICS("application/openmetrics-text; version=1.0.0; charset=utf-8");

        private final String contentType;

        Format(String contentType) {
            this.contentType = contentType;
        }

        String contentType() {
            return contentType;
        }

        static Format of(String accept) {
            return accept != null && accept.contains(OPENMETRICS_MEDIA_TYPE) ? OPENMETRICS : PROMETHEUS;
        }
    }

    /** The metrics port refused a connection because it held its maximum. */
    void connectionRefused() {
        refusedConnections.increment();
    }

    /** How many times the datapath's maps were read. */
    long datapathReads() {
        return datapath.reads();
    }

    public Optional<String> notLiveReason() {
        return liveness.notLiveReason();
    }

    public Optional<String> notReadyReason() {
        return readiness.notReadyReason();
    }

    @Override
    public void close() {
        gc.close();
        registry.close();
    }
}
