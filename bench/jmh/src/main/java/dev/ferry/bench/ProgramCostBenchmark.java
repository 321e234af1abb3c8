package dev.ferry.bench;

import dev.ferry.bpf.BpfProgram;
import dev.ferry.bpf.TestRun;
import dev.ferry.bpf.TestRunResult;
import dev.ferry.datapath.AttachMode;
import dev.ferry.datapath.Datapath;
import dev.ferry.datapath.DatapathCounter;
import dev.ferry.datapath.DatapathProgram;
import dev.ferry.datapath.Direction;
import dev.ferry.datapath.EndpointEntry;
import dev.ferry.datapath.Reason;
import dev.ferry.datapath.Verdict;
import dev.ferry.net.MacAddress;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.runner.IterationType;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * What the datapath programs themselves cost per packet, as the kernel measures
 * it: BPF_PROG_TEST_RUN of the real object on a crafted TCP packet to a local
 * endpoint (the redirect_peer path, from a local pod for from_pod and from
 * another node for to_pod), conntrack lookups included: the packet is a SYN that
 * conntrack does not know, so both the forward and the reverse lookup run (the
 * port-reuse check of bpf/lib/conntrack.h), the most a packet pays and what every
 * redirected UDP datagram pays; a mid-flow TCP segment pays one. The kernel's own average
 * per run is printed as {@code kernel_ns_per_run} (see {@link KernelTime}); the
 * primary score adds the syscall, spread over the runs of one test run.
 *
 * <p>The kernel runs the program {@link #RUNS} times on one skb without restoring
 * it, so each run sees the TTL the previous one decremented: from TTL 255, 254 runs
 * all take the redirect path (the 255th would see TTL 1 and go to the stack).
 * Setup checks that every run was counted as a redirect.
 *
 * <p>Runs in the caller's network namespace (skb->dev is its loopback): the
 * redirect helpers only record their target in a test run. Maps are pinned under
 * $FERRY_BENCH_PINS (default /sys/fs/bpf/ferry-bench-jmh), removed at the end.
 * Needs root.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class ProgramCostBenchmark {
    static final int TTL = 255;
    static final int RUNS = TTL - 1;
    static final int TC_ACT_REDIRECT = 7;

    static final String SENDER = "10.89.0.1";
    static final String RECEIVER = "10.89.0.2";
    static final String REMOTE = "10.90.0.5";

    @Param({"FROM_POD", "TO_POD"})
    public DatapathProgram program;

    private Path pins;
    private Datapath datapath;
    private BpfProgram prog;
    private TestRun input;

    /**
     * The kernel's measurement. JMH sums EVENTS counters over iterations, so the
     * counters are sums (kernel ns of all runs, runs); their ratio over the
     * measurement iterations is printed at the end of the trial as
     * {@code kernel_ns_per_run}.
     */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class KernelTime {
        public long kernelNs;
        public long programRuns;
        private boolean measuring;
        private long measuredNs;
        private long measuredRuns;

        @Setup(Level.Iteration)
        public void start(IterationParams iteration) {
            kernelNs = 0;
            programRuns = 0;
            measuring = iteration.getType() == IterationType.MEASUREMENT;
        }

        @TearDown(Level.Iteration)
        public void end() {
            if (measuring) {
                measuredNs += kernelNs;
                measuredRuns += programRuns;
            }
        }

        @TearDown(Level.Trial)
        public void report(BenchmarkParams params) {
            System.out.printf("kernel_ns_per_run program=%s value=%.1f runs=%d%n", params.getParam("program"),
                    measuredRuns == 0 ? 0.0 : (double) measuredNs / measuredRuns, measuredRuns);
        }

        /** The kernel reports the average of the test run's runs, rounded down to whole ns. */
        void add(TestRunResult result) {
            kernelNs += (long) result.durationNs() * RUNS;
            programRuns += RUNS;
        }
    }

    @Setup(Level.Trial)
    public void load() throws Exception {
        pins = Path.of(Optional.ofNullable(System.getenv("FERRY_BENCH_PINS")).orElse("/sys/fs/bpf/ferry-bench-jmh"));
        deleteTree(pins);
        datapath = Datapath.load(pins, AttachMode.TCX);
        MacAddress podMac = MacAddress.parse("02:00:00:00:00:01");
        MacAddress hostMac = MacAddress.parse("02:00:00:00:00:02");
        datapath.endpoints().put(InetAddress.getByName(SENDER), new EndpointEntry(1, 1, 0, podMac, hostMac));
        datapath.endpoints().put(InetAddress.getByName(RECEIVER), new EndpointEntry(1, 2, 0, podMac, hostMac));
        prog = datapath.program(program);
        String source = program == DatapathProgram.FROM_POD ? SENDER : REMOTE;
        input = new TestRun(tcp(source, RECEIVER), 0, 0, RUNS);
        requireEveryRunRedirected();
    }

    @TearDown(Level.Trial)
    public void unload() throws IOException {
        datapath.close();
        deleteTree(pins);
    }

    @Benchmark
    @OperationsPerInvocation(RUNS)
    public int testRun(KernelTime time) {
        TestRunResult result = prog.testRun(input);
        time.add(result);
        return result.retval();
    }

    /** The measurement means nothing unless every run took the path it is named for. */
    private void requireEveryRunRedirected() {
        Direction direction = program == DatapathProgram.FROM_POD ? Direction.EGRESS : Direction.INGRESS;
        long before = redirected(direction);
        TestRunResult result = prog.testRun(input);
        long runs = redirected(direction) - before;
        if (result.retval() != TC_ACT_REDIRECT || runs != RUNS) {
            throw new IllegalStateException(program + ": " + runs + " of " + RUNS + " runs redirected, last verdict "
                    + result.retval());
        }
    }

    private long redirected(Direction direction) {
        return datapath.counters().global().stream()
                .filter(c -> c.direction() == direction && c.verdict() == Verdict.REDIRECT_PEER
                        && c.reason() == Reason.FORWARDED)
                .mapToLong(DatapathCounter::packets).sum();
    }

    /** Ethernet, IPv4 (TTL {@link #TTL}, valid checksum), a TCP SYN and 32 bytes of payload. */
    static byte[] tcp(String src, String dst) throws IOException {
        int payload = 32;
        int totLen = 20 + 20 + payload;
        ByteBuffer b = ByteBuffer.allocate(14 + totLen);
        b.put(MacAddress.parse("02:00:00:00:00:bb").bytes()).put(MacAddress.parse("02:00:00:00:00:aa").bytes());
        b.putShort((short) 0x0800);
        int ip = b.position();
        b.put((byte) 0x45).put((byte) 0).putShort((short) totLen);
        b.putShort((short) 0x1234).putShort((short) 0);
        b.put((byte) TTL).put((byte) 6).putShort((short) 0);
        b.put(InetAddress.getByName(src).getAddress()).put(InetAddress.getByName(dst).getAddress());
        b.putShort(ip + 10, ipv4Checksum(b.array(), ip));
        b.putShort((short) 40000).putShort((short) 8080).putInt(1).putInt(0)
                .put((byte) 0x50).put((byte) 0x02).putShort((short) 65535).putShort((short) 0).putShort((short) 0);
        return b.array();
    }

    private static short ipv4Checksum(byte[] frame, int offset) {
        int sum = 0;
        for (int i = offset; i < offset + 20; i += 2) {
            sum += ((frame[i] & 0xff) << 8) | (frame[i + 1] & 0xff);
        }
        while ((sum >> 16) != 0) {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        return (short) ~sum;
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
