package dev.ferry.metrics;

import dev.ferry.datapath.CounterMaps;
import dev.ferry.datapath.DatapathCounter;
import dev.ferry.datapath.Direction;
import dev.ferry.datapath.EndpointCounter;
import dev.ferry.datapath.Reason;
import dev.ferry.datapath.TrafficFamily;
import dev.ferry.datapath.Verdict;
import dev.ferry.endpoint.Endpoint;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * The datapath's counters as Prometheus series, read from the per-CPU maps at
 * scrape time ({@link #refresh}, called by the scrape itself) and summed over
 * CPUs; nothing copies them on a timer. A read costs a walk of every map row on
 * every CPU, so it happens at most once per {@link MetricsOptions#datapathInterval()}:
 * fifty scrapers in a loop cost what one does. Series appear when their counter
 * first moves. Per-endpoint series carry the pod's namespace and name, and go away
 * with the endpoint (its DEL also deletes its map rows); with
 * {@link MetricsOptions#perPod()} off there are none, and the endpoint map is not read.
 */
public final class DatapathMeters {
    static final String DATAPATH_PACKETS = "ferry.datapath.packets";
    static final String DATAPATH_BYTES = "ferry.datapath.bytes";
    static final String ENDPOINT_PACKETS = "ferry.endpoint.packets";
    static final String ENDPOINT_BYTES = "ferry.endpoint.bytes";

    private record GlobalKey(TrafficFamily family, Direction direction, Verdict verdict, Reason reason) {
    }

    /**
     * Names the endpoint as well as its id: ids are reused after DEL, and a
     * series must never carry over to the next pod that gets the same id.
     */
    private record EndpointKey(int endpointId, String containerId, String ifname, Direction direction, Verdict verdict) {
    }

    /** Packets and bytes as of the last refresh; FunctionCounters read these. */
    private record Totals(long packets, long bytes) {
        static final Totals ZERO = new Totals(0, 0);
    }

    private final MeterRegistry registry;
    private final CounterMaps counters;
    private final Supplier<List<Endpoint>> endpoints;
    private final boolean perPod;
    private final long intervalNanos;
    private final ReentrantLock lock = new ReentrantLock();
    /** Guarded by lock. */
    private long lastReadNanos;
    private long reads;
    private volatile Map<GlobalKey, Totals> global = Map.of();
    private volatile Map<EndpointKey, Totals> perEndpoint = Map.of();
    private final Map<GlobalKey, List<Meter>> globalMeters = new HashMap<>();
    private final Map<EndpointKey, List<Meter>> endpointMeters = new HashMap<>();

    public DatapathMeters(MeterRegistry registry, CounterMaps counters, Supplier<List<Endpoint>> endpoints,
                          MetricsOptions options) {
        this.registry = registry;
        this.counters = counters;
        this.endpoints = endpoints;
        this.perPod = options.perPod();
        this.intervalNanos = options.datapathInterval().toNanos();
    }

    /**
     * Reads the maps and brings the registered series in line with them, unless they
     * were read less than the interval ago. Concurrent callers wait for one read.
     */
    public void refresh() {
        lock.lock();
        try {
            long now = System.nanoTime();
            if (reads > 0 && now - lastReadNanos < intervalNanos) {
                return;
            }
            refreshGlobal();
            if (perPod) {
                refreshEndpoints();
            }
            lastReadNanos = System.nanoTime();
            reads++;
        } finally {
            lock.unlock();
        }
    }

    /** How many times the maps were read: what a scrape rate costs the datapath. */
    long reads() {
        lock.lock();
        try {
            return reads;
        } finally {
            lock.unlock();
        }
    }

    private void refreshGlobal() {
        Map<GlobalKey, Totals> now = new HashMap<>();
        for (DatapathCounter c : counters.global()) {
            now.merge(new GlobalKey(c.family(), c.direction(), c.verdict(), c.reason()), new Totals(c.packets(), c.bytes()), DatapathMeters::add);
        }
        global = now;
        for (GlobalKey key : now.keySet()) {
            globalMeters.computeIfAbsent(key, k -> {
                Tags tags = Tags.of("family", k.family().label(), "direction", k.direction().label(),
                        "verdict", k.verdict().label(), "reason", k.reason().label());
                return List.of(
                        FunctionCounter.builder(DATAPATH_PACKETS, this, m -> m.global.getOrDefault(k, Totals.ZERO).packets())
                                .description("Packets the BPF programs decided on, by family, direction, verdict and reason")
                                .tags(tags).register(registry),
                        FunctionCounter.builder(DATAPATH_BYTES, this, m -> m.global.getOrDefault(k, Totals.ZERO).bytes())
                                .description("Bytes the BPF programs decided on, by family, direction, verdict and reason")
                                .baseUnit("bytes").tags(tags).register(registry));
            });
        }
    }

    private void refreshEndpoints() {
        Map<Integer, Endpoint> byId = new HashMap<>();
        endpoints.get().forEach(e -> byId.put(e.endpointId(), e));
        Map<EndpointKey, Totals> now = new HashMap<>();
        for (EndpointCounter c : counters.endpoints()) {
            Endpoint e = byId.get(c.endpointId());
            if (e != null) {
                now.merge(new EndpointKey(c.endpointId(), e.containerId(), e.ifname(), c.direction(), c.verdict()),
                        new Totals(c.packets(), c.bytes()), DatapathMeters::add);
            }
        }
        perEndpoint = now;
        for (EndpointKey key : List.copyOf(endpointMeters.keySet())) {
            if (!now.containsKey(key)) {
                endpointMeters.remove(key).forEach(registry::remove);
            }
        }
        for (EndpointKey key : now.keySet()) {
            endpointMeters.computeIfAbsent(key, k -> {
                Endpoint e = byId.get(k.endpointId());
                Tags tags = Tags.of("namespace", e.podNamespace().orElse(""),
                        "pod", e.podName().orElse(e.containerId()),
                        "direction", k.direction().label(), "verdict", k.verdict().label());
                List<Meter> meters = new ArrayList<>();
                meters.add(FunctionCounter.builder(ENDPOINT_PACKETS, this, m -> m.perEndpoint.getOrDefault(k, Totals.ZERO).packets())
                        .description("Packets of one pod through the BPF programs (direction seen from the pod)")
                        .tags(tags).register(registry));
                meters.add(FunctionCounter.builder(ENDPOINT_BYTES, this, m -> m.perEndpoint.getOrDefault(k, Totals.ZERO).bytes())
                        .description("Bytes of one pod through the BPF programs (direction seen from the pod)")
                        .baseUnit("bytes").tags(tags).register(registry));
                return meters;
            });
        }
    }

    private static Totals add(Totals a, Totals b) {
        return new Totals(a.packets() + b.packets(), a.bytes() + b.bytes());
    }
}
