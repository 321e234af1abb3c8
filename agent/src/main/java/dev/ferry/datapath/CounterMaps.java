package dev.ferry.datapath;

import dev.ferry.bpf.BpfMap;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static dev.ferry.datapath.MapLayouts.ENDPOINT_METRICS_KEY;
import static dev.ferry.datapath.MapLayouts.METRICS_KEY;
import static dev.ferry.datapath.MapLayouts.offset;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * Reads the per-CPU counter maps, summing the CPUs, at the moment they are asked
 * for: a scrape sees the kernel's numbers, never a copy taken on a timer.
 */
public final class CounterMaps {
    static final String GLOBAL = "ferry_metrics";
    static final String PER_ENDPOINT = "ferry_endpoint_metrics";

    private static final long DIRECTION = offset(METRICS_KEY, "direction");
    private static final long VERDICT = offset(METRICS_KEY, "verdict");
    private static final long REASON = offset(METRICS_KEY, "reason");
    private static final long EP_ID = offset(ENDPOINT_METRICS_KEY, "endpoint_id");
    private static final long EP_DIRECTION = offset(ENDPOINT_METRICS_KEY, "direction");
    private static final long EP_VERDICT = offset(ENDPOINT_METRICS_KEY, "verdict");
    private static final long PACKETS = offset(MapLayouts.METRICS_VALUE, "packets");
    private static final long BYTES = offset(MapLayouts.METRICS_VALUE, "bytes");

    private final BpfMap global;
    private final BpfMap perEndpoint;

    CounterMaps(BpfMap global, BpfMap perEndpoint) {
        this.global = global;
        this.perEndpoint = perEndpoint;
    }

    /** Every global counter the programs have created so far. */
    public List<DatapathCounter> global() {
        List<DatapathCounter> counters = new ArrayList<>();
        forEach(global, METRICS_KEY.byteSize(), (key, packets, bytes) -> counters.add(new DatapathCounter(
                Direction.of(key.get(JAVA_BYTE, DIRECTION)),
                Verdict.of(key.get(JAVA_BYTE, VERDICT)),
                Reason.of(Short.toUnsignedInt(key.get(JAVA_SHORT, REASON))),
                packets, bytes)));
        return counters;
    }

    /** Every per-endpoint counter. */
    public List<EndpointCounter> endpoints() {
        List<EndpointCounter> counters = new ArrayList<>();
        forEach(perEndpoint, ENDPOINT_METRICS_KEY.byteSize(), (key, packets, bytes) -> counters.add(new EndpointCounter(
                key.get(JAVA_INT, EP_ID),
                Direction.of(key.get(JAVA_BYTE, EP_DIRECTION)),
                Verdict.of(key.get(JAVA_BYTE, EP_VERDICT)),
                packets, bytes)));
        return counters;
    }

    /** Drops the counters of a deleted endpoint, so that its series go away. Returns how many. */
    public int deleteEndpoint(int endpointId) {
        int deleted = 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment key = arena.allocate(ENDPOINT_METRICS_KEY);
            for (Direction d : Direction.values()) {
                for (Verdict v : Verdict.values()) {
                    key.fill((byte) 0);
                    key.set(JAVA_INT, EP_ID, endpointId);
                    key.set(JAVA_BYTE, EP_DIRECTION, (byte) d.code());
                    key.set(JAVA_BYTE, EP_VERDICT, (byte) v.code());
                    if (perEndpoint.delete(key)) {
                        deleted++;
                    }
                }
            }
        }
        return deleted;
    }

    public int globalCapacity() {
        return global.maxEntries();
    }

    public int endpointCapacity() {
        return perEndpoint.maxEntries();
    }

    private interface CounterSink {
        void accept(MemorySegment key, long packets, long bytes);
    }

    private static void forEach(BpfMap map, long keySize, CounterSink sink) {
        int cpus = BpfMap.possibleCpus();
        long stride = map.perCpuValueStride();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment key = arena.allocate(keySize, 8);
            MemorySegment next = arena.allocate(keySize, 8);
            MemorySegment values = arena.allocate(stride * cpus, 8);
            MemorySegment previous = null; // null: start from the first key
            // A key deleted under the walk restarts it from the first key: never count one twice.
            java.util.Set<java.nio.ByteBuffer> seen = new java.util.HashSet<>();
            while (map.nextKey(previous, next)) {
                key.copyFrom(next);
                previous = key;
                if (!seen.add(java.nio.ByteBuffer.wrap(key.toArray(JAVA_BYTE)))) {
                    continue;
                }
                if (map.lookup(key, values)) {
                    long packets = 0;
                    long bytes = 0;
                    for (int cpu = 0; cpu < cpus; cpu++) {
                        packets += values.get(JAVA_LONG, cpu * stride + PACKETS);
                        bytes += values.get(JAVA_LONG, cpu * stride + BYTES);
                    }
                    sink.accept(key, packets, bytes);
                }
            }
        }
    }
}
