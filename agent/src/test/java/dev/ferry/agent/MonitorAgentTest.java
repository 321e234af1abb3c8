package dev.ferry.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.bpf.BpfMap;
import dev.ferry.bpf.BpfObject;
import dev.ferry.bpf.TestRun;
import dev.ferry.cli.Main;
import dev.ferry.testing.CniNode;
import dev.ferry.testing.FerryCni;
import dev.ferry.testing.MetricsPort;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import dev.ferry.testing.Traffic;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code ferry monitor} against a running agent with two pods, the CLI a
 * process of its own as an operator runs it: a packet pod A sends from an
 * address that is not its own shows as a drop with its reason and A's name; a
 * flood of them is rate-limited and the suppressed count reported while the
 * pods still talk; a CLI killed with SIGKILL leaves no reader, thread or file
 * descriptor behind and the programs' events off.
 */
@RequiresRoot
class MonitorAgentTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** In the pod CIDR, no pod's: the source pod A claims. */
    private static final String SPOOFED = "10.244.1.200";
    private static final int PORT = 7300;
    private static final Duration WAIT = Duration.ofSeconds(20);
    /** One sender managed about 54,000 packets a second here; two come near the 100,000 a flood should have. */
    private static final int FLOOD_SENDERS = 2;

    @TempDir
    Path dir;
    private AgentFixture nodes;
    private Agent agent;
    private TestNetns podA;
    private TestNetns podB;
    private InetAddress addressA;
    private InetAddress addressB;
    private final List<Process> clis = new ArrayList<>();

    @BeforeEach
    void agentWithTwoPods() throws Exception {
        nodes = AgentFixture.create(dir);
        agent = nodes.start(nodes.config(List.of("upl0")));
        podA = TestNetns.create("monpa");
        podB = TestNetns.create("monpb");
        addressA = add(podA, "c0ffee0a", "cart-0");
        addressB = add(podB, "c0ffee0b", "cart-1");
        podA.ip("addr", "add", SPOOFED + "/32", "dev", "eth0");
    }

    private InetAddress add(TestNetns pod, String container, String name) {
        String config = "{\"cniVersion\":\"1.1.0\",\"name\":\"ferry\",\"type\":\"ferry-cni\",\"agentSocket\":\"" + nodes.socket() + "\"}";
        FerryCni.Result add = FerryCni.command("ADD").env("CNI_CONTAINERID", container)
                .env("CNI_NETNS", "/run/netns/" + pod.name()).env("CNI_IFNAME", "eth0").env("CNI_PATH", "/opt/cni/bin")
                .env("CNI_ARGS", "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=" + name).stdin(config).run();
        assertEquals(0, add.exitCode(), add.toString());
        return CniNode.addressOf(add);
    }

    @AfterEach
    void cleanUp() throws Exception {
        clis.forEach(Process::destroyForcibly);
        for (Process p : clis) {
            p.waitFor();
        }
        try {
            nodes.close();
        } finally {
            podA.close();
            podB.close();
        }
        // Nothing of the test's left: CLI processes, the agent's reader, flood senders, namespaces, pins.
        assertTrue(clis.stream().noneMatch(Process::isAlive), "a ferry monitor process outlived its test");
        assertTrue(!readerThreadAlive(), "the monitor's reader outlived the agent");
        assertTrue(Thread.getAllStackTraces().keySet().stream().noneMatch(t -> t.getName().startsWith("monitor-test-flood")
                && t.isAlive()), "a flood sender outlived its test");
        String namespaces = new String(new ProcessBuilder("ip", "netns", "list").start().getInputStream().readAllBytes(),
                StandardCharsets.UTF_8);
        assertTrue(!namespaces.contains(podA.name()) && !namespaces.contains(podB.name()), namespaces);
        assertTrue(!Files.exists(nodes.pins.root()), "pins left at " + nodes.pins.root());
    }

    @Test
    void monitorVerdictDropShowsASpoofedPacketWithItsReasonAndPod() throws Exception {
        Cli cli = monitor("--verdict", "drop");

        sendSpoofed(1);

        String line = cli.awaitLine(l -> l.contains("spoofed_source"));
        assertTrue(line.contains(" drop spoofed_source egress udp " + SPOOFED + ":"), line);
        assertTrue(line.contains(" -> " + addressB.getHostAddress() + ":" + PORT), line);
        assertTrue(line.contains(" from shop/cart-0 "), "named by the veth it came in on: " + line);
    }

    @Test
    void monitorOfAnotherPodShowsNothingOfThisOne() throws Exception {
        Cli cli = monitor("--pod", "shop/cart-1", "--verdict", "drop", "-o", "json");

        sendSpoofed(3);
        // A drop of pod B's, which the filter lets through, comes after the three of A's in the ring.
        podB.ip("addr", "add", "10.244.1.201/32", "dev", "eth0");
        sendFrom(podB, "10.244.1.201", addressA);

        JsonNode event = JSON.readTree(cli.awaitLine(l -> l.contains("\"event\"")));
        assertEquals("shop/cart-1", event.path("sourcePod").asText(), "the first event is pod B's: " + event);
        assertEquals("10.244.1.201", event.path("source").asText());
    }

    @Test
    void sampledRedirectsShowBothPodsOfASameNodeDelivery() throws Exception {
        Cli cli = monitor("--pod", "shop/cart-1", "--sample-redirects", "1", "-o", "json");

        Traffic.ping(new Traffic.End(podB, addressB), new Traffic.End(podA, addressA), 1);

        JsonNode event = JSON.readTree(cli.awaitLine(l -> l.contains("redirect_peer")));
        assertEquals("shop/cart-1", event.path("sourcePod").asText(), event.toString());
        assertEquals("shop/cart-0", event.path("destinationPod").asText(), event.toString());
        assertEquals("icmp", event.path("protocol").asText());
    }

    @Test
    void floodIsRateLimitedWithTheSuppressedCountReportedWhilePodsStillTalk() throws Exception {
        Cli cli = monitor("--verdict", "drop", "-o", "json");
        Flood flood = flood();
        try {
            // Beside the senders, which this machine keeps well under 100,000 a second: 100,000 runs of the agent's
            // from_pod on a spoofed frame from pod A's veth, through the agent's own maps, in a few milliseconds.
            long runs = floodThroughTheAgentsMaps(100_000);
            // Emitted of those: a burst and what a few milliseconds earn at 1000 a second; the rest is suppressed.
            JsonNode missed = JSON.readTree(cli.awaitLine(l -> l.contains("\"missed\"") && suppressed(l) >= runs / 2));
            System.out.println("monitor flood, as the CLI reported it: " + missed);

            // Same-node forwarding, during the flood.
            Traffic.ping(new Traffic.End(podB, addressB), new Traffic.End(podA, addressA), 3);
            Traffic.tcpTransfer(new Traffic.End(podB, addressB), new Traffic.End(podA, addressA), PORT + 1, 1 << 20);
        } finally {
            flood.close();
        }
        long events = cli.lines.stream().filter(l -> l.contains("\"event\"")).count();
        assertTrue(events < flood.sent.get(), events + " events for " + flood.sent.get() + " drops");
    }

    @Test
    void clientThatDoesNotReadIsSkippedAndCountedWhileTheAgentAndOtherClientsGoOn() throws Exception {
        try (SocketChannel slow = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            slow.connect(UnixDomainSocketAddress.of(nodes.socket()));
            byte[] body = "{\"verdict\":\"drop\"}".getBytes(StandardCharsets.UTF_8);
            slow.write(ByteBuffer.wrap(("POST /v1/monitor HTTP/1.1\r\nHost: ferry\r\nContent-Length: " + body.length
                    + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII)));
            slow.write(ByteBuffer.wrap(body));
            await().atMost(WAIT).until(() -> metric("ferry_monitor_clients") == 1);
            Cli reading = monitor("--verdict", "drop", "-o", "json");

            try (Flood flood = flood()) {
                // The slow client's socket buffer and its connection's 64 KiB fill; then its events are dropped.
                await().atMost(WAIT).until(() -> metric("ferry_monitor_events_dropped_total") > 0);
                assertEquals(200, SocketHttp.get(nodes.socket(), "/v1/status").status(), "the agent still answers");
                reading.lines.clear();
                reading.awaitLine(l -> l.contains("\"event\"")); // the other client is still sent events
            }

            // Once it reads again, the slow client is told what it was not sent.
            BlockingQueue<String> lines = new LinkedBlockingQueue<>();
            Thread.ofPlatform().daemon().start(() -> pump(java.nio.channels.Channels.newInputStream(slow), lines));
            JsonNode missed = JSON.readTree(new Cli(null, lines).awaitLine(l -> l.contains("\"missed\"") && !l.contains("\"dropped\":0}")));
            assertTrue(missed.path("dropped").asLong() > 0, missed.toString());
        }
    }

    /** Spoofed UDP from pod A as fast as {@link #FLOOD_SENDERS} threads send it, until closed. */
    private final class Flood implements AutoCloseable {
        final AtomicBoolean flooding = new AtomicBoolean(true);
        final AtomicLong sent = new AtomicLong();
        final List<Thread> senders = new ArrayList<>();
        final long start = System.nanoTime();

        @Override
        public void close() throws InterruptedException {
            flooding.set(false);
            for (Thread t : senders) {
                t.join();
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            System.out.printf("monitor flood: %d spoofed packets in %.1f s (%.0f/s)%n", sent.get(), seconds,
                    sent.get() / seconds);
        }
    }

    private Flood flood() throws Exception {
        Flood flood = new Flood();
        for (int i = 0; i < FLOOD_SENDERS; i++) {
            // A socket belongs to the namespace it was made in, whichever thread sends on it.
            DatagramChannel channel = podA.handle().call(() -> {
                DatagramChannel c = DatagramChannel.open();
                c.bind(new InetSocketAddress(InetAddress.getByName(SPOOFED), 0));
                return c;
            });
            flood.senders.add(Thread.ofPlatform().name("monitor-test-flood-" + i).start(() -> {
                ByteBuffer payload = ByteBuffer.allocate(16);
                InetSocketAddress to = new InetSocketAddress(addressB, PORT);
                long n = 0;
                try (channel) {
                    while (flood.flooding.get()) {
                        payload.clear();
                        channel.send(payload, to);
                        n++;
                    }
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                } finally {
                    flood.sent.addAndGet(n);
                }
            }));
        }
        return flood;
    }

    private double metric(String series) {
        return MetricsPort.value(MetricsPort.scrape(nodes.metricsPort()), series);
    }

    @Test
    void cliKilledWithSigkillLeavesNoReaderThreadOrDescriptorAndTheEventsOff() throws Exception {
        long epollsBefore = eventpollDescriptors();
        Cli cli = monitor("--verdict", "drop");
        assertTrue(readerThreadAlive(), "a reader while a client is attached");
        assertEquals(1, monitorEnabled());
        assertEquals(epollsBefore + 1, eventpollDescriptors(), "the ring buffer reader's epoll");

        cli.process.destroyForcibly().waitFor();

        await().atMost(WAIT).until(() -> !readerThreadAlive());
        assertEquals(0, monitorEnabled(), "the programs build no events with nobody attached");
        assertEquals(epollsBefore, eventpollDescriptors(), "the ring buffer reader's epoll closed");
        // And the agent takes the next client.
        Cli next = monitor("--verdict", "drop");
        sendSpoofed(1);
        next.awaitLine(l -> l.contains("spoofed_source"));
    }

    @Test
    void agentStoppingEndsTheCliWithExitOneAndLeavesNoReader() throws Exception {
        Cli cli = monitor("--verdict", "drop");

        agent.close();

        assertTrue(cli.process.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS), "the CLI ended with the agent");
        assertEquals(1, cli.process.exitValue());
        String err = cli.awaitError(l -> l.contains("the agent closed the connection"));
        assertTrue(err.startsWith("ferry: "), err);
        assertTrue(!readerThreadAlive(), "the monitor stopped with the agent");
        assertEquals(0, monitorEnabled(), "and turned the programs' events off");
    }

    @Test
    void unknownPodIsExitOneNamingIt() {
        Run r = cli("monitor", "--pod", "shop/nosuch");

        assertEquals(1, r.exit(), r.err());
        assertEquals("ferry: no pod 'shop/nosuch' on this node\n", r.err());
    }

    @Test
    void badVerdictIsExitOneListingTheKnownOnes() {
        Run r = cli("monitor", "--verdict", "dropped");

        assertEquals(1, r.exit(), r.err());
        assertTrue(r.err().startsWith("ferry: unknown verdict 'dropped' (known: pass, redirect_peer, redirect_neigh, drop)"),
                r.err());
    }

    @Test
    void badReasonIsExitOne() {
        Run r = cli("monitor", "--reason", "nope");

        assertEquals(1, r.exit(), r.err());
        assertTrue(r.err().startsWith("ferry: unknown reason 'nope'"), r.err());
    }

    @Test
    void negativeSampleIsExitOne() {
        Run r = cli("monitor", "--sample-redirects", "-1");

        assertEquals(1, r.exit(), r.err());
        assertTrue(r.err().contains("sampleRedirects must be a whole number"), r.err());
    }

    // ---- helpers ---------------------------------------------------------------------------------

    /**
     * Runs the datapath's from_pod {@code runs} times (BPF_PROG_TEST_RUN) on a
     * UDP frame from {@link #SPOOFED} arriving on pod A's host veth. The object
     * is loaded beside the agent's and adopts its pinned maps (a Datapath would
     * turn the agent's monitor off, as a new agent does), so the drops it
     * reports go into the ring the agent reads.
     */
    private long floodThroughTheAgentsMaps(int runs) throws Exception {
        int hostA = 0;
        for (JsonNode e : nodes.get("/v1/endpoints").path("endpoints")) {
            if (e.path("podName").asText().equals("cart-0")) {
                hostA = e.path("hostIfindex").asInt();
            }
        }
        byte[] elf;
        try (var in = MonitorAgentTest.class.getResourceAsStream("/bpf/ferry.bpf.o")) {
            elf = in.readAllBytes();
        }
        int ifindex = hostA;
        byte[] frame = udpFrame(InetAddress.getByName(SPOOFED), addressB, PORT);
        try (BpfObject object = BpfObject.load("ferry", elf, nodes.pins.root())) {
            return nodes.node.handle().call(() -> {
                object.program("from_pod").testRun(new TestRun(frame, ifindex, ifindex, runs));
                return (long) runs;
            });
        }
    }

    /** Ethernet, IPv4 and UDP headers and 8 bytes of payload; checksums the datapath does not check are 0. */
    private static byte[] udpFrame(InetAddress source, InetAddress destination, int port) {
        ByteBuffer b = ByteBuffer.allocate(14 + 20 + 8 + 8);
        b.put(new byte[]{2, 0, 0, 0, 0, 1}).put(new byte[]{2, 0, 0, 0, 0, 2}).putShort((short) 0x0800);
        b.put((byte) 0x45).put((byte) 0).putShort((short) 36).putInt(0).put((byte) 64).put((byte) 17).putShort((short) 0);
        b.put(source.getAddress()).put(destination.getAddress());
        b.putShort((short) 40000).putShort((short) port).putShort((short) 16).putShort((short) 0);
        return b.array();
    }

    /** UDP from pod A's second address, which is no pod's, to pod B. */
    private void sendSpoofed(int count) throws Exception {
        for (int i = 0; i < count; i++) {
            sendFrom(podA, SPOOFED, addressB);
        }
    }

    private void sendFrom(TestNetns pod, String source, InetAddress destination) throws Exception {
        pod.handle().call(() -> {
            try (DatagramChannel c = DatagramChannel.open()) {
                c.bind(new InetSocketAddress(InetAddress.getByName(source), 0));
                c.send(ByteBuffer.wrap("monitor".getBytes(StandardCharsets.UTF_8)), new InetSocketAddress(destination, PORT));
            }
            return null;
        });
    }

    /** A CLI process, its stdout lines collected as they come. */
    private record Cli(Process process, BlockingQueue<String> lines, BlockingQueue<String> errors) {
        Cli(Process process, BlockingQueue<String> lines) {
            this(process, lines, new LinkedBlockingQueue<>());
        }

        String awaitLine(java.util.function.Predicate<String> wanted) throws InterruptedException {
            long deadline = System.nanoTime() + WAIT.toNanos();
            List<String> seen = new ArrayList<>();
            while (System.nanoTime() < deadline) {
                String line = lines.poll(100, TimeUnit.MILLISECONDS);
                if (line != null) {
                    seen.add(line);
                    if (wanted.test(line)) {
                        lines.addAll(seen); // later checks may count them
                        return line;
                    }
                }
            }
            throw new AssertionError("no such line from ferry monitor; it printed " + seen);
        }

        String awaitError(java.util.function.Predicate<String> wanted) throws InterruptedException {
            return new Cli(process, errors).awaitLine(wanted);
        }
    }

    /** Starts {@code ferry monitor ARGS} and waits until the agent says it is attached. */
    private Cli monitor(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                Main.class.getName(), "--socket", nodes.socket().toString(), "monitor"));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).start();
        clis.add(process);
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread.ofPlatform().daemon().start(() -> pump(process.getInputStream(), lines));
        BlockingQueue<String> errors = new LinkedBlockingQueue<>();
        Thread.ofPlatform().daemon().start(() -> pump(process.getErrorStream(), errors));
        if (List.of(args).contains("json")) {
            new Cli(process, lines).awaitLine(l -> l.contains("\"attached\""));
        } else {
            new Cli(process, errors).awaitLine(l -> l.startsWith("ferry: monitoring"));
        }
        return new Cli(process, lines, errors);
    }

    private static void pump(java.io.InputStream in, BlockingQueue<String> lines) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                lines.add(line);
            }
        } catch (IOException e) {
            // the process is gone
        }
    }

    private static long suppressed(String line) {
        try {
            return JSON.readTree(line).path("suppressed").asLong();
        } catch (IOException e) {
            throw new AssertionError("not JSON: " + line, e);
        }
    }

    private static boolean readerThreadAlive() {
        return Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.getName().equals("ferry-monitor-reader") && t.isAlive());
    }

    private static long eventpollDescriptors() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString().equals("anon_inode:[eventpoll]");
                } catch (IOException e) {
                    return false; // closed while listed
                }
            }).count();
        }
    }

    /** The enabled word of the agent's ferry_monitor_config. */
    private int monitorEnabled() {
        try (Arena arena = Arena.ofConfined(); BpfMap config = BpfMap.openPinned(nodes.pinnedMap("ferry_monitor_config"))) {
            MemorySegment value = arena.allocate(config.valueSegmentSize(), 8);
            assertTrue(config.lookup(arena.allocate(JAVA_INT), value));
            return value.get(JAVA_INT, 0);
        }
    }

    private record Run(int exit, String out, String err) {}

    private Run cli(String... args) {
        String[] all = new String[args.length + 2];
        all[0] = "--socket";
        all[1] = nodes.socket().toString();
        System.arraycopy(args, 0, all, 2, args.length);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = new Main(new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8)).run(all);
        return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
