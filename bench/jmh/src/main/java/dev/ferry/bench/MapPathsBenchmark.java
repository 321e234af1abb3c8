package dev.ferry.bench;

import dev.ferry.bpf.BpfMap;
import dev.ferry.datapath.AttachMode;
import dev.ferry.datapath.Datapath;
import dev.ferry.datapath.DatapathCounter;
import dev.ferry.datapath.EndpointCounter;
import dev.ferry.datapath.EndpointEntry;
import dev.ferry.datapath.MapLayouts;
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
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The agent's FFM paths into the BPF maps, on the real object (bpf/datapath.c)
 * loaded with its maps pinned under $FERRY_BENCH_PINS (bench/run.sh gives
 * /sys/fs/bpf/ferry-bench-jmh and removes it): what a CNI ADD costs in the endpoint
 * map, and what a scrape costs in the per-CPU counter maps at the agent's scale.
 * Needs root (BPF map creation).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class MapPathsBenchmark {

    /** Endpoints in the maps: the per-endpoint counters hold 4 keys per endpoint. */
    @Param({"250"})
    public int endpoints;

    private Path pins;
    private Datapath datapath;
    private InetAddress[] addresses;
    private EndpointEntry entry;
    private int next;

    @Setup(Level.Trial)
    public void load() throws Exception {
        pins = Path.of(Optional.ofNullable(System.getenv("FERRY_BENCH_PINS")).orElse("/sys/fs/bpf/ferry-bench-jmh"));
        deleteTree(pins);
        datapath = Datapath.load(pins, AttachMode.TCX);
        addresses = new InetAddress[endpoints];
        entry = new EndpointEntry(7, 1, 0, MacAddress.parse("02:00:00:00:00:01"), MacAddress.parse("02:00:00:00:00:02"));
        for (int i = 0; i < endpoints; i++) {
            addresses[i] = address(i);
            datapath.endpoints().put(addresses[i], new EndpointEntry(7, i + 1, 0, entry.podMac(), entry.hostMac()));
        }
        fillCounters();
    }

    @TearDown(Level.Trial)
    public void unload() throws IOException {
        datapath.close();
        deleteTree(pins);
    }

    /** One endpoint map update, as CNI ADD does it (key and value built, one bpf_map_update_elem). */
    @Benchmark
    public InetAddress endpointMapUpdate() {
        InetAddress address = addresses[next++ % endpoints];
        datapath.endpoints().put(address, entry);
        return address;
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

    /** Counters as the programs would have made them: every (direction, verdict, reason) seen, 4 per endpoint. */
    private void fillCounters() {
        int cpus = BpfMap.possibleCpus();
        try (Arena arena = Arena.ofConfined();
             BpfMap global = BpfMap.openPinned(pins.resolve("ferry_metrics"));
             BpfMap perEndpoint = BpfMap.openPinned(pins.resolve("ferry_endpoint_metrics"))) {
            MemorySegment values = arena.allocate(global.perCpuValueStride() * cpus, 8);
            for (int cpu = 0; cpu < cpus; cpu++) {
                values.set(JAVA_LONG, cpu * global.perCpuValueStride(), 1000 + cpu);
                values.set(JAVA_LONG, cpu * global.perCpuValueStride() + 8, 1_500_000 + cpu);
            }
            MemorySegment key = arena.allocate(MapLayouts.METRICS_KEY);
            for (int direction = 0; direction < 2; direction++) {
                for (int verdict = 0; verdict < 4; verdict++) {
                    for (int reason = 0; reason < 4; reason++) {
                        key.set(JAVA_BYTE, 0, (byte) direction);
                        key.set(JAVA_BYTE, 1, (byte) verdict);
                        key.set(JAVA_SHORT, 2, (short) reason);
                        global.update(key, values, BpfMap.ANY);
                    }
                }
            }
            MemorySegment epKey = arena.allocate(MapLayouts.ENDPOINT_METRICS_KEY);
            for (int id = 1; id <= endpoints; id++) {
                for (int direction = 0; direction < 2; direction++) {
                    for (int verdict = 0; verdict < 2; verdict++) {
                        epKey.fill((byte) 0);
                        epKey.set(JAVA_INT, 0, id);
                        epKey.set(JAVA_BYTE, 4, (byte) direction);
                        epKey.set(JAVA_BYTE, 5, (byte) verdict);
                        perEndpoint.update(epKey, values, BpfMap.ANY);
                    }
                }
            }
        }
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
