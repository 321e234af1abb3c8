package dev.ferry.metrics;

import dev.ferry.cni.CniCommand;
import dev.ferry.cni.Readiness;
import dev.ferry.k8s.KubernetesObserver;
import dev.ferry.monitor.Monitor;
import dev.ferry.state.Quarantine;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.retry.RetryRegistry;
import dev.ferry.testing.CniNode;
import dev.ferry.testing.MetricsPort;
import dev.ferry.testing.NothingLeftBehind;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.Shell;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The agent's metrics port over a node with real pods and real traffic. */
@RequiresRoot
class MetricsTest {
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final AtomicReference<Optional<String>> notReady = new AtomicReference<>(Optional.empty());
    private static final AtomicReference<Optional<String>> notLive = new AtomicReference<>(Optional.empty());
    private static CniNode node;
    private static Metrics metrics;
    private static MetricsServer server;

    @BeforeAll
    static void start() throws Exception {
        node = CniNode.start("met", "10.237.0.0/24", "192.168.237.1");
        Readiness readiness = notReady::get;
        // Every scrape reads the maps: these tests count packets between two scrapes a moment apart.
        // The once-per-interval read is MetricsServerTest's.
        metrics = new Metrics(node.datapath(), () -> node.endpoints().list(), readiness, notLive::get, Quarantine.of(node.stateDir()),
                new MetricsOptions(true, Duration.ZERO));
        // A route with packets on a next hop and in its fallback, as the dashboard's egress row queries
        // (EgressRoutingTest counts real ones).
        metrics.egress(() -> EgressMetersTest.status(5, 1));
        server = MetricsServer.start(new InetSocketAddress("127.0.0.1", 0), metrics);
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
        metrics.close();
        node.close();
    }

    @RegisterExtension
    static final NothingLeftBehind nothingLeft = new NothingLeftBehind(() -> node);

    @Test
    void countersMoveByExactlyThePacketsSentPerPodAndPerVerdict() throws Exception {
        CniNode.Pod a = node.addPod("meta");
        CniNode.Pod b = node.addPod("metb");
        String podA = a.containerId();
        String podB = b.containerId();
        String before = get("/metrics").body();

        Shell.Result ping = a.ns().exec("ping", "-c", "7", "-i", "0.05", "-W", "2", b.address().getHostAddress());
        assertEquals(0, ping.exitCode(), ping.stdout());
        String after = get("/metrics").body();

        String aEgress = "ferry_endpoint_packets_total{direction=\"egress\",namespace=\"test\",pod=\"" + podA + "\",verdict=\"redirect_peer\"}";
        String bEgress = "ferry_endpoint_packets_total{direction=\"egress\",namespace=\"test\",pod=\"" + podB + "\",verdict=\"redirect_peer\"}";
        String global = "ferry_datapath_packets_total{direction=\"egress\",family=\"ipv4\",reason=\"forwarded\",verdict=\"redirect_peer\"}";
        assertEquals(7, value(after, aEgress) - value(before, aEgress), "a's 7 echo requests");
        assertEquals(7, value(after, bEgress) - value(before, bEgress), "b's 7 echo replies");
        assertEquals(14, value(after, global) - value(before, global), "requests and replies, globally");
        assertEquals(0, node.del(a).exitCode());
        assertEquals(0, node.del(b).exitCode());
    }

    @Test
    void seriesOfADeletedEndpointGoAway() throws Exception {
        CniNode.Pod c = node.addPod("metc");
        CniNode.Pod d = node.addPod("metd");
        assertEquals(0, c.ns().exec("ping", "-c", "1", "-W", "2", d.address().getHostAddress()).exitCode());
        assertTrue(get("/metrics").body().contains("pod=\"" + c.containerId() + "\""));

        assertEquals(0, node.del(c).exitCode());

        String body = get("/metrics").body();
        assertFalse(body.contains("pod=\"" + c.containerId() + "\""), "c's series are gone");
        assertTrue(body.contains("pod=\"" + d.containerId() + "\""), "d's stay");
        assertEquals(0, node.del(d).exitCode());
    }

    @Test
    void aPodThatGetsTheEndpointIdOfADeletedOneGetsSeriesOfItsOwn() throws Exception {
        CniNode.Pod g = node.addPod("metg");
        CniNode.Pod h = node.addPod("meth");
        assertEquals(0, g.ns().exec("ping", "-c", "1", "-W", "2", h.address().getHostAddress()).exitCode());
        get("/metrics");
        assertEquals(0, node.del(g).exitCode());
        CniNode.Pod next = node.addPod("metn"); // takes g's freed endpoint id, with no scrape in between
        assertEquals(0, next.ns().exec("ping", "-c", "1", "-W", "2", h.address().getHostAddress()).exitCode());

        String body = get("/metrics").body();

        assertFalse(body.contains("pod=\"" + g.containerId() + "\""), "g's series are gone");
        assertTrue(body.contains("pod=\"" + next.containerId() + "\""), "the next pod has series of its own");
        assertEquals(0, node.del(h).exitCode());
        assertEquals(0, node.del(next).exitCode());
    }

    @Test
    void cniRequestsAreCountedByCommandAndResultWithTheirLatency() throws Exception {
        metrics.cniObserver().observed(dev.ferry.cni.CniCommand.DEL, "11", java.time.Duration.ofMillis(3));

        String body = get("/metrics").body();

        assertEquals(1, value(body, "ferry_cni_requests_seconds_count{command=\"DEL\",result=\"11\"}"));
        assertTrue(body.contains("ferry_cni_requests_seconds_bucket{command=\"DEL\",result=\"11\",le="), "a latency histogram");
    }

    @Test
    void controlPlaneJvmAndProcessSeriesAreExposed() throws Exception {
        String body = get("/metrics").body();
        assertTrue(body.contains("ferry_endpoints "), body);
        assertTrue(body.contains("jvm_memory_used_bytes"), "JVM metrics");
        assertTrue(body.contains("process_uptime_seconds"), "process metrics");
    }

    @Test
    void mapGaugesNameEachMapAsItIsPinnedUnderTheBpffsRoot() throws Exception {
        String body = get("/metrics").body();

        Set<String> maps = new TreeSet<>();
        Matcher labels = Pattern.compile("^ferry_bpf_map_(?:entries|capacity)\\{[^}]*map=\"(\\w+)\"", Pattern.MULTILINE).matcher(body);
        while (labels.find()) {
            maps.add(labels.group(1));
        }
        assertEquals(Set.of("ferry_cluster_cidrs", "ferry_endpoints_v3"), maps, body);
        for (String map : maps) {
            assertTrue(Files.exists(node.datapath().bpffsRoot().resolve(map)), map + " is pinned under the bpffs root");
        }
    }

    @Test
    void everySeriesTheGrafanaDashboardQueriesIsExposed() throws Exception {
        CniNode.Pod e = node.addPod("mete");
        CniNode.Pod f = node.addPod("metf");
        assertEquals(0, e.ns().exec("ping", "-c", "1", "-W", "2", f.address().getHostAddress()).exitCode());
        metrics.cniObserver().observed(dev.ferry.cni.CniCommand.ADD, "ok", java.time.Duration.ofMillis(20));
        String exposition = get("/metrics").body();
        String dashboard = java.nio.file.Files.readString(java.nio.file.Path.of("../deploy/grafana/ferry-dashboard.json"));

        Matcher names = Pattern.compile("\\b((?:ferry|jvm|process)_[a-z_]+)\\{").matcher(dashboard);
        int checked = 0;
        while (names.find()) {
            assertTrue(exposition.contains(names.group(1) + "{") || exposition.contains(names.group(1) + " "),
                    "the dashboard queries " + names.group(1) + ", which /metrics does not expose");
            checked++;
        }
        assertTrue(checked >= 10, "the dashboard's queries were found: " + checked);
        Matcher maps = Pattern.compile("map=\\\\\"(\\w+)\\\\\"").matcher(dashboard);
        int mapsChecked = 0;
        while (maps.find()) {
            assertTrue(exposition.contains("map=\"" + maps.group(1) + "\""),
                    "the dashboard queries map=\"" + maps.group(1) + "\", which /metrics does not label");
            mapsChecked++;
        }
        assertTrue(mapsChecked > 0, "the dashboard's map labels were found");
        assertEquals(0, node.del(e).exitCode());
        assertEquals(0, node.del(f).exitCode());
    }

    @Test
    void openMetricsIsServedWhenTheScraperAsksForIt() throws Exception {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(uri("/metrics"))
                .header("Accept", "application/openmetrics-text; version=1.0.0").build(), HttpResponse.BodyHandlers.ofString());

        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("Content-Type").orElseThrow().startsWith("application/openmetrics-text"));
        assertTrue(r.body().strip().endsWith("# EOF"), "OpenMetrics ends with # EOF");
    }

    @Test
    void eachKnownKernelIssueIsASeriesSayingWhetherThisKernelHasIt() throws Exception {
        String exposition = MetricsPort.scrape(server.address().getPort());

        List<dev.ferry.datapath.KernelFix> fixes = dev.ferry.datapath.KernelFeatures.probe().fixes();
        assertEquals(2, fixes.size());
        for (dev.ferry.datapath.KernelFix fix : fixes) {
            double expected = switch (fix.status()) {
                case AFFECTED -> 1;
                case NOT_AFFECTED -> 0;
                case UNKNOWN -> -1;
            };
            assertEquals(expected, MetricsPort.value(exposition, "ferry_kernel_issue{issue=\"" + fix.name() + "\"}"),
                    fix + " in " + exposition);
        }
    }

    @Test
    void healthzIsOkWhileTheProcessServes() throws Exception {
        assertEquals(200, get("/healthz").statusCode());
    }

    @Test
    void healthzIs503WithTheReasonWhenTheAgentCannotServe() throws Exception {
        notLive.set(Optional.of("all 32 request slots of the agent socket have been busy for 61 s without one finishing"));
        try {
            HttpResponse<String> r = get("/healthz");
            assertEquals(503, r.statusCode());
            assertTrue(r.body().contains("busy for 61 s"), r.body());
        } finally {
            notLive.set(Optional.empty());
        }
        assertEquals(200, get("/healthz").statusCode());
    }

    @Test
    void readyzIs503WithTheReasonUntilReady() throws Exception {
        notReady.set(Optional.of("node node-a has no podCIDR yet"));
        try {
            HttpResponse<String> r = get("/readyz");
            assertEquals(503, r.statusCode());
            assertTrue(r.body().contains("node node-a has no podCIDR yet"), r.body());
        } finally {
            notReady.set(Optional.empty());
        }
        assertEquals(200, get("/readyz").statusCode());
    }

    @Test
    void unknownPathIs404NamingTheKnownOnes() throws Exception {
        HttpResponse<String> r = get("/nope");
        assertEquals(404, r.statusCode());
        assertTrue(r.body().contains("/metrics"));
    }

    @Test
    void everyMetricFerryExposesIsInTheMetricsReferenceAndEveryReferencedOneIsExposed() throws Exception {
        // A registry of its own, with the Kubernetes side's meters made to appear (they appear with their first event).
        CniNode.Pod pod = node.addPod("metdoc");
        try (Metrics all = new Metrics(node.datapath(), () -> node.endpoints().list(), notReady::get, notLive::get, Quarantine.of(node.stateDir()));
             Monitor monitor = new Monitor(node.datapath().monitor(), List::of, Monitor.DEFAULT_EVENTS_PER_SECOND,
                     Monitor.DEFAULT_BURST)) {
            all.bindMonitor(monitor);
            KubernetesObserver k8s = all.kubernetesObserver();
            k8s.watchEvent(KubernetesObserver.Resource.NODE, KubernetesObserver.Action.ADD);
            k8s.apiError(KubernetesObserver.Operation.PROBE_VERSION);
            RetryRegistry retries = RetryRegistry.ofDefaults();
            retries.retry("kubernetes-api");
            CircuitBreakerRegistry breakers = CircuitBreakerRegistry.ofDefaults();
            breakers.circuitBreaker("kubernetes-api");
            k8s.guards(retries, breakers);
            // Egress route series appear with a route's first packet; EgressRoutingTest makes real ones.
            all.egress(() -> EgressMetersTest.status(5, 1));
            // Per-endpoint series appear once the endpoint's counters move.
            assertEquals(0, pod.ns().exec("ping", "-c", "1", "-W", "2", node.hostAddress().getHostAddress()).exitCode());
            all.cniObserver().observed(CniCommand.ADD, "ok", Duration.ofMillis(3));
            String exposition = new String(all.scrape("text/plain").body(), StandardCharsets.UTF_8);
            String reference = Files.readString(Path.of("../docs/metrics.md"));

            Set<String> exposed = families(exposition, "^# TYPE ((?:ferry|resilience4j)_\\w+) ");
            Set<String> documented = families(reference, "^\\| `((?:ferry|resilience4j)_\\w+)`");
            Set<String> undocumented = new TreeSet<>(exposed);
            undocumented.removeIf(name -> documented.stream().anyMatch(d -> name.equals(d) || name.startsWith(d + "_")));
            assertTrue(undocumented.isEmpty(), "exposed but not in docs/metrics.md: " + undocumented);
            Set<String> notExposed = new TreeSet<>(documented);
            notExposed.removeIf(d -> exposed.stream().anyMatch(name -> name.equals(d) || name.startsWith(d + "_")));
            assertTrue(notExposed.isEmpty(), "in docs/metrics.md but not exposed: " + notExposed);
        } finally {
            assertEquals(0, node.del(pod).exitCode());
        }
    }

    private static Set<String> families(String text, String regex) {
        Set<String> names = new TreeSet<>();
        Matcher m = Pattern.compile(regex, Pattern.MULTILINE).matcher(text);
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    private static URI uri(String path) {
        return MetricsPort.uri(server.address().getPort(), path);
    }

    private static HttpResponse<String> get(String path) {
        return MetricsPort.get(server.address().getPort(), path);
    }

    private static double value(String exposition, String series) {
        return MetricsPort.value(exposition, series);
    }
}
