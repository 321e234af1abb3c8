package dev.ferry.metrics;

import dev.ferry.egress.EgressStatus;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * {@code ferry_egress_packets_total} and {@code ferry_egress_bytes_total} by route
 * and next hop ({@code next_hop="fallback"}: what the route left to its fallback),
 * read from ferry_egress_counters (per CPU, summed) at scrape time. A route has at
 * most nine series, so the map is read at every scrape.
 */
final class EgressMeters {
    static final String PACKETS = "ferry.egress.packets";
    static final String BYTES = "ferry.egress.bytes";
    static final String FALLBACK = "fallback";

    private record Key(String route, String nextHop) {}

    private record Totals(long packets, long bytes) {
        static final Totals ZERO = new Totals(0, 0);
    }

    private final MeterRegistry registry;
    private final Supplier<EgressStatus> status;
    private final ReentrantLock lock = new ReentrantLock();
    private volatile Map<Key, Totals> totals = Map.of();
    private final Map<Key, List<Meter>> meters = new HashMap<>();

    EgressMeters(MeterRegistry registry, Supplier<EgressStatus> status) {
        this.registry = registry;
        this.status = status;
    }

    void refresh() {
        lock.lock();
        try {
            Map<Key, Totals> now = new HashMap<>();
            for (EgressStatus.Route r : status.get().routes()) {
                for (EgressStatus.Hop h : r.nextHops()) {
                    if (h.packets() > 0) {
                        now.put(new Key(r.name(), h.via()), new Totals(h.packets(), h.bytes()));
                    }
                }
                if (r.fallbackPackets() > 0) {
                    now.put(new Key(r.name(), FALLBACK), new Totals(r.fallbackPackets(), r.fallbackBytes()));
                }
            }
            totals = now;
            for (Key key : now.keySet()) {
                meters.computeIfAbsent(key, k -> {
                    Tags tags = Tags.of("route", k.route(), "next_hop", k.nextHop());
                    return List.of(
                            FunctionCounter.builder(PACKETS, this, m -> m.totals.getOrDefault(k, Totals.ZERO).packets())
                                    .description("Packets of pods sent by an egress route, by route and next hop"
                                            + " (fallback: no next hop was live)")
                                    .tags(tags).register(registry),
                            FunctionCounter.builder(BYTES, this, m -> m.totals.getOrDefault(k, Totals.ZERO).bytes())
                                    .description("Bytes of pods sent by an egress route, by route and next hop"
                                            + " (fallback: no next hop was live)")
                                    .baseUnit("bytes").tags(tags).register(registry));
                });
            }
        } finally {
            lock.unlock();
        }
    }
}
