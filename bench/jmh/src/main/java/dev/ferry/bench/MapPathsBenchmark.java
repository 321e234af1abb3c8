package dev.ferry.bench;

import dev.ferry.bpf.BpfMap;
import dev.ferry.datapath.AttachMode;
import dev.ferry.datapath.Datapath;
import dev.ferry.datapath.DatapathCounter;
import dev.ferry.datapath.Direction;
import dev.ferry.datapath.EndpointCounter;
import dev.ferry.datapath.EndpointEntry;
import dev.ferry.datapath.MapLayouts;
import dev.ferry.datapath.TrafficFamily;
import dev.ferry.datapath.Verdict;
import dev.ferry.net.MacAddress;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The agent's FFM paths into the BPF maps, on the real object (bpf/datapath.c)
 * loaded with its maps pinned under $FERRY_BENCH_PINS (bench/run.sh gives
 * /sys/fs/bpf/ferry-bench-jmh and removes it): what a CNI ADD costs in the endpoint
 * map, and what a scrape costs in the per-CPU counters at the agent's scale.
 * Needs root (BPF map creation).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class MapPathsBenchmark {

    /** Endpoints in the map, each with 4 non-zero counters. */
    @Param({"250"})
    public int endpoints;

    private Path pins;
    private Datapath datapath;
    private InetAddress[] addresses;
    /** Per endpoint, two entries that differ: each update really rewrites the info. */
    private EndpointEntry[][] updates;
    private int next;

    @Setup(Level.Trial)
    public void load() throws Exception {
        pins = Path.of(Optional.ofNullable(System.getenv("FERRY_BENCH_PINS")).orElse("/sys/fs/bpf/ferry-bench-jmh"));
        deleteTree(pins);
        datapath = Datapath.load(pins, AttachMode.TCX);
        addresses = new InetAddress[endpoints];
        updates = new EndpointEntry[endpoints][];
        MacAddress podMac = MacAddress.parse("02:00:00:00:00:01");
        MacAddress hostMac = MacAddress.parse("02:00:00:00:00:02");
        for (int i = 0; i < endpoints; i++) {
            addresses[i] = address(i);
            updates[i] = new EndpointEntry[] {
                    new EndpointEntry(7, i + 1, 0, podMac, hostMac), new EndpointEntry(8, i + 1, 0, podMac, hostMac)};
            datapath.endpoints().put(addresses[i], updates[i][1]);
        }
        fillCounters();
    }

    @TearDown(Level.Trial)
    public void unload() throws IOException {
        datapath.close();
        deleteTree(pins);
    }

    /**
     * One endpoint map update of an existing key with changed info, as a repair
     * does it: the per-CPU values read (their counters are kept), the info
     * replaced on every CPU, one bpf_map_update_elem.
     */
    @Benchmark
    public InetAddress endpointMapUpdate() {
        int n = next++;
        int i = n % endpoints;
        datapath.endpoints().put(addresses[i], updates[i][(n / endpoints) & 1]);
        return addresses[i];
    }

    /** One endpoint map lookup, as CNI CHECK and the API do it. */
    @Benchmark
    public Optional<EndpointEntry> endpointMapLookup() {
        return datapath.endpoints().get(addresses[next++ % endpoints]);
    }

    /** Every global per-CPU counter, summed over the CPUs: part of every scrape. */
    @Benchmark
    public List<DatapathCounter> globalCountersRead() {
        return datapath.counters().global();
    }

    /** Every per-endpoint per-CPU counter (4 per endpoint), summed over the CPUs: the rest of a scrape. */
    @Benchmark
    public List<EndpointCounter> endpointCountersRead() {
        return datapath.counters().endpoints();
    }

    private static InetAddress address(int i) throws UnknownHostException {
        return InetAddress.getByAddress(new byte[] {10, 89, (byte) (i >> 8), (byte) i});
    }

    /** Counters as the programs would have made them: every (direction, verdict, reason < 4) seen, 4 per endpoint. */
    private void fillCounters() {
        int cpus = BpfMap.possibleCpus();
        try (Arena arena = Arena.ofConfined();
             BpfMap global = BpfMap.openPinned(pins.resolve("ferry_metrics_v3"));
             BpfMap perEndpoint = BpfMap.openPinned(pins.resolve("ferry_endpoints_v3"))) {
            MemorySegment values = arena.allocate(global.valueSegmentSize(), 8);
            for (int cpu = 0; cpu < cpus; cpu++) {
                counter(values, cpu * global.perCpuValueStride(), cpu);
            }
            MemorySegment index = arena.allocate(JAVA_INT);
            for (Direction direction : Direction.values()) {
                for (Verdict verdict : Verdict.values()) {
                    for (int reason = 0; reason < 4; reason++) {
                        index.set(JAVA_INT, 0, MapLayouts.metricsIndex(TrafficFamily.IPV4, direction, verdict, reason));
                        global.update(index, values, BpfMap.ANY);
                    }
                }
            }
            MemorySegment key = arena.allocate(MapLayouts.ENDPOINT_KEY);
            MemorySegment epValues = arena.allocate(perEndpoint.valueSegmentSize(), 8);
            long stride = perEndpoint.perCpuValueStride();
            for (InetAddress address : addresses) {
                key.fill((byte) 0);
                key.set(JAVA_BYTE, MapLayouts.offset(MapLayouts.ENDPOINT_KEY, "family"), (byte) MapLayouts.FAMILY_IPV4);
                MemorySegment.copy(address.getAddress(), 0, key, JAVA_BYTE,
                        MapLayouts.offset(MapLayouts.ENDPOINT_KEY, "addr"), 4);
                if (!perEndpoint.lookup(key, epValues)) {
                    throw new IllegalStateException("no map entry for " + address);
                }
                for (int cpu = 0; cpu < cpus; cpu++) {
                    for (Direction direction : Direction.values()) {
                        for (Verdict verdict : List.of(Verdict.PASS, Verdict.REDIRECT_PEER)) {
                            counter(epValues, cpu * stride + MapLayouts.endpointCounterOffset(direction, verdict), cpu);
                        }
                    }
                }
                perEndpoint.update(key, epValues, BpfMap.EXIST);
            }
        }
    }

    private static void counter(MemorySegment values, long offset, int cpu) {
        values.set(JAVA_LONG, offset + MapLayouts.offset(MapLayouts.METRICS_VALUE, "packets"), 1000 + cpu);
        values.set(JAVA_LONG, offset + MapLayouts.offset(MapLayouts.METRICS_VALUE, "bytes"), 1_500_000 + cpu);
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
