package dev.ferry.datapath;

import dev.ferry.bpf.BpfMap;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.ferry.datapath.MapLayouts.ENDPOINT_INFO;
import static dev.ferry.datapath.MapLayouts.METRICS_VALUE;
import static dev.ferry.datapath.MapLayouts.offset;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Reads the per-CPU counters, summing the CPUs, at the moment they are asked
 * for: a scrape sees the kernel's numbers, never a copy taken on a timer. The
 * global ones are ferry_metrics_v3's slots (by family); the per-endpoint ones ride in the
 * endpoint's ferry_endpoints_v3 value and go away with its entry.
 */
public final class CounterMaps {
    static final String GLOBAL = "ferry_metrics_v3";

    private static final long PACKETS = offset(METRICS_VALUE, "packets");
    private static final long BYTES = offset(METRICS_VALUE, "bytes");
    private static final long ENDPOINT_ID = offset(ENDPOINT_INFO, "endpoint_id");
    /** [direction][verdict]: a layout path lookup costs more than the sum it locates. */
    private static final long[][] ENDPOINT_COUNTERS = new long[MapLayouts.DIRECTION_COUNT][MapLayouts.VERDICT_COUNT];

    static {
        for (Direction d : Direction.values()) {
            for (Verdict v : Verdict.values()) {
                ENDPOINT_COUNTERS[d.code()][v.code()] = MapLayouts.endpointCounterOffset(d, v);
            }
        }
    }

    private final BpfMap global;
    private final BpfMap endpoints;

    CounterMaps(BpfMap global, BpfMap endpoints) {
        this.global = global;
        this.endpoints = endpoints;
    }

    private record Totals(long packets, long bytes) {}

    /**
     * The global counters that have counted something: every slot exists from the
     * start, a series appears once its first packet is counted. Only the reasons
     * this agent knows are read: the programs it loads count no others.
     */
    public List<DatapathCounter> global() {
        List<DatapathCounter> counters = new ArrayList<>();
        int cpus = BpfMap.possibleCpus();
        long stride = global.perCpuValueStride();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment index = arena.allocate(JAVA_INT);
            MemorySegment values = arena.allocate(global.valueSegmentSize(), 8);
            for (TrafficFamily family : TrafficFamily.values()) {
                for (Direction direction : Direction.values()) {
                    for (Verdict verdict : Verdict.values()) {
                        for (Reason reason : Reason.values()) {
                            index.set(JAVA_INT, 0, MapLayouts.metricsIndex(family, direction, verdict, reason.code()));
                            if (!global.lookup(index, values)) {
                                continue;
                            }
                            Totals t = sum(values, 0, cpus, stride);
                            if (t.packets() > 0) {
                                counters.add(new DatapathCounter(family, direction, verdict, reason, t.packets(), t.bytes()));
                            }
                        }
                    }
                }
            }
        }
        return counters;
    }

    /** The per-endpoint counters that have counted something, by endpoint id. */
    public List<EndpointCounter> endpoints() {
        Map<EndpointCounterKey, Totals> totals = new LinkedHashMap<>();
        int cpus = BpfMap.possibleCpus();
        long stride = endpoints.perCpuValueStride();
        endpoints.forEach((key, values) -> {
            int endpointId = EndpointMap.infoOf(values, 0, stride).get(JAVA_INT, ENDPOINT_ID);
            for (Direction direction : Direction.values()) {
                for (Verdict verdict : Verdict.values()) {
                    Totals t = sum(values, ENDPOINT_COUNTERS[direction.code()][verdict.code()], cpus, stride);
                    if (t.packets() > 0) {
                        // One endpoint's addresses (IPv4 and IPv6) add up to one series.
                        totals.merge(new EndpointCounterKey(endpointId, direction, verdict), t,
                                (a, b) -> new Totals(a.packets() + b.packets(), a.bytes() + b.bytes()));
                    }
                }
            }
        });
        List<EndpointCounter> counters = new ArrayList<>();
        totals.forEach((k, t) -> counters.add(new EndpointCounter(k.endpointId(), k.direction(), k.verdict(),
                t.packets(), t.bytes())));
        return counters;
    }

    private record EndpointCounterKey(int endpointId, Direction direction, Verdict verdict) {}

    /** The counter at {@code offset} in each CPU's value, summed over the CPUs. */
    private static Totals sum(MemorySegment values, long offset, int cpus, long stride) {
        long packets = 0;
        long bytes = 0;
        for (int cpu = 0; cpu < cpus; cpu++) {
            packets += values.get(JAVA_LONG, cpu * stride + offset + PACKETS);
            bytes += values.get(JAVA_LONG, cpu * stride + offset + BYTES);
        }
        return new Totals(packets, bytes);
    }
}
