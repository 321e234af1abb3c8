package dev.ferry.agent;

import dev.ferry.bpf.BpfMap;
import dev.ferry.cli.Main;
import dev.ferry.cli.SocketClient;
import dev.ferry.datapath.MapLayouts;
import dev.ferry.testing.CniNode;
import dev.ferry.testing.FerryCni;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.Shell;
import dev.ferry.testing.TestNetns;
import dev.ferry.testing.Traffic;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static dev.ferry.datapath.MapLayouts.offset;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code ferry capture} against a running agent with real pods: what it captures
 * (tcpdump reads the pcap), and that every way a capture ends turns it off: the
 * mirror word (read from the pinned map), the slot, the capture device and the
 * host veth's egress hook.
 */
@RequiresRoot
class CaptureTest {
    private static final String REMOTE = "10.244.2.5";

    @TempDir
    Path dir;
    private AgentFixture nodes;
    private Agent agent;
    private TestNetns podA;
    private TestNetns podB;
    private Traffic.End a;
    private Traffic.End b;
    private String hostVethA;
    private final List<Process> clis = new ArrayList<>();
    /** A thread per CLI run: captures run at once, whatever the common pool's size on this machine. */
    private final java.util.concurrent.ExecutorService threads = java.util.concurrent.Executors.newCachedThreadPool();

    private record Run(int exit, String out, String err) {
    }

    @BeforeEach
    void agentWithTwoPodsAndARemoteAddress() throws Exception {
        nodes = AgentFixture.create(dir);
        agent = nodes.start(nodes.config(List.of("upl0")));
        podA = TestNetns.create("cappa");
        podB = TestNetns.create("cappb");
        a = new Traffic.End(podA, add("cap0a", podA, "web-a"));
        b = new Traffic.End(podB, add("cap0b", podB, "web-b"));
        hostVethA = nodes.get("/v1/endpoints/cap0a").path("endpoints").path(0).path("hostIfname").asText();
        // node-b answers for a pod address of its own pod CIDR, and routes node-a's pods back over the wire.
        nodes.peer.ip("address", "add", REMOTE + "/32", "dev", "lo");
        nodes.peer.ip("route", "add", "10.244.1.0/24", "via", "192.168.50.1");
    }

    private InetAddress add(String container, TestNetns pod, String name) {
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
        threads.shutdownNow();
        try {
            nodes.close();
        } finally {
            podA.close();
            podB.close();
        }
    }

    // ---- what a capture holds --------------------------------------------------------------------

    @Test
    void captureOfAPodPingingALocalPodHoldsExactlyTheEchoRequestsAndReplies() throws Exception {
        Path pcap = dir.resolve("same-node.pcap");
        CompletableFuture<Run> capture = CompletableFuture.supplyAsync(() -> cli("capture", "shop/web-a", "-w", pcap.toString(), "--count", "6", "--proto", "icmp"), threads);
        awaitTurnedOn(1);

        Traffic.ping(a, b, 3); // asserts 0 % loss

        Run run = capture.get(30, TimeUnit.SECONDS);
        assertEquals(0, run.exit(), run.err());
        assertEquals(echoes(a.address(), b.address(), 3), tcpdump(pcap));
        awaitNothingTurnedOn();
    }

    /**
     * node-a's side only: the far end is an address on node-b's lo, with no agent there. Two agents with a pod
     * each, and captures on both nodes (the copies from_pod makes on bpf_redirect_neigh and to_pod on
     * bpf_redirect_peer from the wire), are {@link CaptureAcrossNodesTest}'s.
     */
    @Test
    void captureOfAPodPingingAPodOnAnotherNodeHoldsExactlyTheEchoRequestsAndReplies() throws Exception {
        Path pcap = dir.resolve("across.pcap");
        CompletableFuture<Run> capture = CompletableFuture.supplyAsync(() -> cli("capture", a.address(), "-w", pcap.toString(), "--count", "6", "--proto", "icmp"), threads);
        awaitTurnedOn(1);

        Traffic.ping(a, new Traffic.End(nodes.peer, InetAddress.getByName(REMOTE)), 3);

        Run run = capture.get(30, TimeUnit.SECONDS);
        assertEquals(0, run.exit(), run.err());
        assertEquals(echoes(a.address(), REMOTE, 3), tcpdump(pcap));
        awaitNothingTurnedOn();
    }

    @Test
    void oneLinePerPacketNamesTheDirectionSeenFromThePod() throws Exception {
        CompletableFuture<Run> capture = CompletableFuture.supplyAsync(() -> cli("capture", "cap0a", "--count", "2", "--proto", "icmp"), threads);
        awaitTurnedOn(1);

        Traffic.ping(a, b, 1);

        Run run = capture.get(30, TimeUnit.SECONDS);
        assertEquals(0, run.exit(), run.err());
        List<String> lines = run.out().lines().toList();
        assertEquals(2, lines.size(), run.out());
        assertTrue(lines.get(0).matches("\\S+ out " + a.address() + " > " + b.address() + " ICMP echo request, length 98"), lines.get(0));
        assertTrue(lines.get(1).matches("\\S+ in " + b.address() + " > " + a.address() + " ICMP echo reply, length 98"), lines.get(1));
    }

    @Test
    void twoCapturesOfOnePodAndOneOfAnotherRunAtOnceEachWithItsFilter() throws Exception {
        Path all = dir.resolve("a-all.pcap");
        Path out = dir.resolve("a-out.pcap");
        Path ofB = dir.resolve("b.pcap");
        CompletableFuture<Run> c1 = CompletableFuture.supplyAsync(() -> cli("capture", "shop/web-a", "-w", all.toString(), "--count", "4", "--proto", "icmp"), threads);
        CompletableFuture<Run> c2 = CompletableFuture.supplyAsync(() -> cli("capture", "shop/web-a", "-w", out.toString(), "--count", "2", "--direction", "out", "--proto", "icmp"), threads);
        CompletableFuture<Run> c3 = CompletableFuture.supplyAsync(() -> cli("capture", "shop/web-b", "-w", ofB.toString(), "--count", "4", "--peer", a.address(), "--proto", "icmp"), threads);
        awaitTurnedOn(3);

        Traffic.ping(a, b, 2);

        for (CompletableFuture<Run> c : List.of(c1, c2, c3)) {
            Run run = c.get(30, TimeUnit.SECONDS);
            assertEquals(0, run.exit(), run.err());
        }
        assertEquals(echoes(a.address(), b.address(), 2), tcpdump(all));
        assertEquals(echoes(a.address(), b.address(), 2).stream().filter(l -> l.contains("request")).toList(), tcpdump(out));
        assertEquals(echoes(a.address(), b.address(), 2), tcpdump(ofB));
        awaitNothingTurnedOn();
    }

    // ---- every way a capture ends turns it off ---------------------------------------------------

    @Test
    void sigkillOfTheCliMidCaptureTurnsItOffWithinFiveSeconds() throws Exception {
        Process cli = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                // ICMP only: once the pings stop nothing is copied, so only the closed connection can end it.
                "--socket", nodes.socket().toString(), "capture", "shop/web-a", "--proto", "icmp")
                .redirectErrorStream(true).redirectOutput(dir.resolve("cli.out").toFile()).start();
        clis.add(cli);
        awaitTurnedOn(1);
        Traffic.ping(a, b, 1);

        cli.destroyForcibly(); // SIGKILL
        cli.waitFor(10, TimeUnit.SECONDS);

        awaitNothingTurnedOn();
    }

    @Test
    void agentStoppingMidCaptureEndsTheStreamAndTurnsItOff() throws Exception {
        SocketClient.Stream stream = new SocketClient(nodes.socket()).postStreaming("/v1/capture", "{\"pod\":\"shop/web-a\"}");
        assertEquals(200, stream.status());
        awaitTurnedOn(1);

        agent.close();

        try (stream) {
            stream.body().readAllBytes(); // returns: the agent ended the response
        } catch (java.io.IOException e) {
            // or the connection closed before its last chunk: the agent's socket went first; the stream ended all the same
        }
        assertNothingTurnedOn();
    }

    @Test
    void agentStartingAfterOneKilledMidCaptureTurnsOffWhatItLeft() throws Exception {
        agent.close();
        Process killed = agentProcess();
        SocketClient.Stream stream = new SocketClient(nodes.socket()).postStreaming("/v1/capture", "{\"pod\":\"shop/web-a\"}");
        assertEquals(200, stream.status());
        awaitTurnedOn(1);

        killed.destroyForcibly(); // SIGKILL: nothing of the agent's own cleanup runs
        assertTrue(killed.waitFor(10, TimeUnit.SECONDS));
        stream.close();
        assertTrue(!captureDevices().isEmpty() && mirrorWords() != 0 && hooked(), "the killed agent left its capture on");

        agent = nodes.start(nodes.config(List.of("upl0")));

        assertNothingTurnedOn();
        Traffic.ping(a, b, 1);
    }

    /** The agent of node-a as a process of its own in the node's namespace, serving once this returns. */
    private Process agentProcess() throws Exception {
        Path config = dir.resolve("agent.yaml");
        java.nio.file.Files.writeString(config, String.join("\n",
                "nodeName: node-a", "mode: standalone", "podCIDRs: [10.244.1.0/24]", "clusterCIDRs: [10.244.0.0/16]",
                "uplinks: [upl0]", "peers: [{name: node-b, podCIDRs: [10.244.2.0/24], address: 192.168.50.2}]",
                "socket: " + nodes.socket(), "stateDir: " + dir.resolve("state"), "bpffsRoot: " + nodes.pins.root(),
                "cniConfDir: " + dir.resolve("cni"), "metricsAddress: 127.0.0.1:" + nodes.metricsPort(), "attach: tcx", ""));
        Process p = new ProcessBuilder("nsenter", "--net=/run/netns/" + nodes.node.name(),
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), "dev.ferry.agent.Main", "--config", config.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("agent.out").toFile()).start();
        clis.add(p);
        await(() -> {
            try {
                return SocketHttp.get(nodes.socket(), "/v1/status").status() == 200;
            } catch (Exception e) {
                return false;
            }
        }, Duration.ofSeconds(60), "the agent process serves");
        return p;
    }

    // ---- bad input turns nothing on ------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"no-such-container", "shop/no-such-pod", "10.244.1.200"})
    void anUnknownPodIsExitOneAndTurnsNothingOn(String pod) throws Exception {
        Run run = cli("capture", pod, "--count", "1");

        assertEquals(1, run.exit(), run.err());
        assertTrue(run.err().startsWith("ferry: no pod") && run.err().contains("on node node-a"), run.err());
        assertNothingTurnedOn();
    }

    @Test
    void anAddressOfAnotherNodesPodCidrIsExitOneNamingThatNodeAndTurnsNothingOn() throws Exception {
        Run run = cli("capture", REMOTE, "--count", "1");

        assertEquals(1, run.exit(), run.err());
        assertEquals("ferry: " + REMOTE + " is in the pod CIDR of node node-b, not of node node-a: run ferry capture on node-b\n",
                run.err());
        assertNothingTurnedOn();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"--proto=sctp", "--port=70000", "--port=http", "--direction=sideways", "--peer=not-an-address",
            "--count=0", "--count=-5", "--duration=forever", "--duration=0s"})
    void aBadFilterOrLimitIsExitOneNamingItAndTurnsNothingOn(String option) throws Exception {
        Run run = cli("capture", "shop/web-a", option);

        assertEquals(1, run.exit(), run.err());
        String name = option.substring(2, option.indexOf('='));
        assertTrue(run.err().startsWith("ferry: " + name + " must"), run.err());
        assertEquals(1, run.err().lines().count(), "one line: " + run.err());
        assertNothingTurnedOn();
    }

    // ---- helpers -------------------------------------------------------------------------------

    /** tcpdump's reading of the file, one line per packet without the time. */
    private static List<String> tcpdump(Path pcap) {
        Shell.Result r = Shell.exec("tcpdump", "-r", pcap.toString(), "-n", "-t", "-q");
        assertEquals(0, r.exitCode(), r.stderr());
        return r.stdout().lines().map(l -> l.replaceAll(", id \\d+, seq \\d+", "")).toList();
    }

    private static List<String> echoes(String from, String to, int count) {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            lines.add("IP " + from + " > " + to + ": ICMP echo request, length 64");
            lines.add("IP " + to + " > " + from + ": ICMP echo reply, length 64");
        }
        return lines;
    }

    private void awaitTurnedOn(int captures) {
        await(() -> slotIfindexes().stream().filter(i -> i != 0).count() == captures && mirrorWords() != 0 && hooked(),
                Duration.ofSeconds(20), "capture turned on");
    }

    private void awaitNothingTurnedOn() {
        await(this::nothingTurnedOn, Duration.ofSeconds(5), "everything turned off within 5 s");
    }

    private void assertNothingTurnedOn() {
        assertTrue(nothingTurnedOn(), "devices " + captureDevices() + ", slots " + slotIfindexes() + ", words " + mirrorWords()
                + ", hooked " + hooked());
    }

    private boolean nothingTurnedOn() {
        return captureDevices().isEmpty() && slotIfindexes().stream().allMatch(i -> i == 0) && mirrorWords() == 0 && !hooked();
    }

    private void await(BooleanSupplier condition, Duration limit, String what) {
        Instant deadline = Instant.now().plus(limit);
        while (!condition.getAsBoolean()) {
            assertTrue(Instant.now().isBefore(deadline), what + ": devices " + captureDevices() + ", slots "
                    + slotIfindexes() + ", words " + mirrorWords() + ", hooked " + hooked());
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private List<String> captureDevices() {
        return nodes.node.ip("-o", "link", "show").lines()
                .map(l -> l.split(":")[1].trim().split("@")[0])
                .filter(n -> n.startsWith("fcap")).toList();
    }

    /** The device of every ferry_mirrors slot, 0 when free. */
    private List<Integer> slotIfindexes() {
        List<Integer> slots = new ArrayList<>();
        try (BpfMap map = BpfMap.openPinned(nodes.pinnedMap("ferry_mirrors")); Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(MapLayouts.MIRROR_SLOT);
            for (int slot = 0; slot < MapLayouts.MIRROR_SLOTS; slot++) {
                slots.add(map.lookup(arena.allocateFrom(JAVA_INT, slot), value) ? value.get(JAVA_INT, 0) : 0);
            }
        }
        return slots;
    }

    /** Every endpoint's mirror word, on every CPU, OR-ed together. */
    private int mirrorWords() {
        long mirror = offset(MapLayouts.ENDPOINT_VALUE, "info") + offset(MapLayouts.ENDPOINT_INFO, "mirror");
        int[] words = {0};
        try (BpfMap map = BpfMap.openPinned(nodes.pinnedMap("ferry_endpoints_v3"))) {
            map.forEach((key, values) -> {
                for (int cpu = 0; cpu < BpfMap.possibleCpus(); cpu++) {
                    words[0] |= values.get(JAVA_INT, cpu * map.perCpuValueStride() + mirror);
                }
            });
        }
        return words[0];
    }

    /** Whether pod A's host veth has any egress filter. */
    private boolean hooked() {
        return !nodes.node.exec("tc", "filter", "show", "dev", hostVethA, "egress").stdout().isBlank();
    }

    private Run cli(String... args) {
        String[] all = new String[args.length + 2];
        all[0] = "--socket";
        all[1] = nodes.socket().toString();
        System.arraycopy(args, 0, all, 2, args.length);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = new Main(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8)).run(all);
        return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
