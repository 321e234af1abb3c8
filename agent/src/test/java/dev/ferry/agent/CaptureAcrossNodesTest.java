package dev.ferry.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.agent.AgentConfig.Mode;
import dev.ferry.bpf.BpfMap;
import dev.ferry.cli.Main;
import dev.ferry.datapath.AttachMode;
import dev.ferry.datapath.MapLayouts;
import dev.ferry.net.IpPrefix;
import dev.ferry.net.IpText;
import dev.ferry.routes.Peer;
import dev.ferry.testing.BpfPins;
import dev.ferry.testing.Cleanup;
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
import org.junit.jupiter.params.provider.EnumSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static dev.ferry.datapath.MapLayouts.offset;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code ferry capture} across two real nodes (issue 19): node-a and node-b on
 * one wire, an agent each (standalone, each the other's peer), pod A on node-a
 * and pod B on node-b, each added through the real ferry-cni against its own
 * agent, dual stack. While one pings the other, a capture on one node holds
 * exactly the echo requests and replies, with both pods' addresses, in both
 * directions: copies made by from_pod where a packet leaves by
 * bpf_redirect_neigh, and by to_pod where it arrives from the wire by
 * bpf_redirect_peer. And nothing else: not what the capture device sends of its
 * own, nor the frames of a busy uplink. Each case then finds everything turned
 * off on both nodes (capture devices, slots, mirror words, egress hooks), and
 * after it the namespaces and pins are gone. Addresses 10.229.0.0/16 and
 * fd00:f17:229::/48 are this class's.
 */
@RequiresRoot
class CaptureAcrossNodesTest {
    private static final IpPrefix CIDR_A = IpPrefix.parse("10.229.1.0/24");
    private static final IpPrefix CIDR_B = IpPrefix.parse("10.229.2.0/24");
    private static final IpPrefix CIDR6_A = IpPrefix.parse("fd00:f17:229:a::/64");
    private static final IpPrefix CIDR6_B = IpPrefix.parse("fd00:f17:229:b::/64");
    private static final String WIRE6_A = "fd00:f17:229:50::1";
    private static final String WIRE6_B = "fd00:f17:229:50::2";
    private static final int PINGS = 3;

    /**
     * What a case captures: ICMP of the pod for IPv4; for IPv6, ICMPv6 with the
     * other pod as peer, since a pod's first seconds hold ICMPv6 of its own that
     * a capture of it rightly shows (the neighbour solicitations of its
     * link-local address's DAD).
     */
    enum Family {
        IPV4 {
            @Override
            List<String> filter(Traffic.End other) {
                return List.of("--proto", "icmp");
            }
        },
        IPV6 {
            @Override
            List<String> filter(Traffic.End other) {
                return List.of("--proto", "icmpv6", "--peer", other.address());
            }
        };

        abstract List<String> filter(Traffic.End other);
    }

    @TempDir
    Path dir;
    private AgentFixture nodes;
    private BpfPins pinsB;
    private TestNetns podNsA;
    private TestNetns podNsB;
    private Node nodeA;
    private Node nodeB;
    /** Pod A's and pod B's IPv4 and IPv6 ends. */
    private List<Traffic.End> a;
    private List<Traffic.End> b;
    /** node-b's agent, which the fixture does not know of. */
    private Agent agentB;
    /** A thread per CLI run: the capture blocks while the ping runs. */
    private final ExecutorService threads = Executors.newCachedThreadPool();

    /** One node as the test sees it: its namespace, its agent's socket and pins, and its pod's host veth. */
    private record Node(String name, TestNetns ns, Path socket, Path pins, String hostVeth) {
    }

    private record Run(int exit, String out, String err) {
    }

    @BeforeEach
    void twoNodesWithAnAgentAndADualStackPodEach() throws Exception {
        nodes = AgentFixture.create(dir);
        pinsB = BpfPins.create("ferry-test-capxb");
        // The wire gets IPv6 too (nodad: no wait for DAD).
        nodes.node.ip("address", "add", WIRE6_A + "/64", "dev", "upl0", "nodad");
        nodes.peer.ip("address", "add", WIRE6_B + "/64", "dev", "upl0p", "nodad");
        nodes.start(config("node-a", List.of(CIDR_A, CIDR6_A), "upl0", dir.resolve("a"), nodes.pins.root(),
                new Peer("node-b", List.of(CIDR_B, CIDR6_B), List.of(IpPrefix.literal("192.168.50.2"), IpPrefix.literal(WIRE6_B)))));
        agentB = Agent.start(config("node-b", List.of(CIDR_B, CIDR6_B), "upl0p", dir.resolve("b"), pinsB.root(),
                new Peer("node-a", List.of(CIDR_A, CIDR6_A), List.of(IpPrefix.literal("192.168.50.1"), IpPrefix.literal(WIRE6_A)))),
                Path.of("/run/netns", nodes.peer.name()));

        podNsA = TestNetns.create("capxa");
        podNsB = TestNetns.create("capxb");
        a = add(podNsA, "capx0a", "ping-a", dir.resolve("a"));
        b = add(podNsB, "capx0b", "ping-b", dir.resolve("b"));
        nodeA = new Node("node-a", nodes.node, dir.resolve("a/run/ferry.sock"), nodes.pins.root(), hostVeth(dir.resolve("a"), "capx0a"));
        nodeB = new Node("node-b", nodes.peer, dir.resolve("b/run/ferry.sock"), pinsB.root(), hostVeth(dir.resolve("b"), "capx0b"));
        // The wire's neighbours resolved before any capture: a capture shows packets in the order they reach its node,
        // and the first IPv6 ones across wait for neighbour discovery, which sends no solicitation while the uplink's
        // link-local address is tentative (seconds on a wire this new): pod B would get requests 1 to 3 at once.
        await().atMost(Duration.ofSeconds(10)).until(() ->
                nodes.node.ip("-6", "address", "show", "dev", "upl0", "tentative").isBlank()
                        && nodes.peer.ip("-6", "address", "show", "dev", "upl0p", "tentative").isBlank());
        Traffic.ping(a.get(0), b.get(0), 1);
        Traffic.ping(a.get(1), b.get(1), 1);
    }

    @AfterEach
    void cleanUp() throws Exception {
        threads.shutdownNow();
        List<String> namespaces = new ArrayList<>();
        List<Path> pinRoots = new ArrayList<>();
        if (nodes != null) {
            pinRoots.add(nodes.pins.root());
        }
        if (pinsB != null) {
            pinRoots.add(pinsB.root());
        }
        for (TestNetns ns : new TestNetns[] {nodes == null ? null : nodes.node, nodes == null ? null : nodes.peer, podNsA, podNsB}) {
            if (ns != null) {
                namespaces.add(ns.name());
            }
        }
        Cleanup.all(() -> {
            if (agentB != null) {
                agentB.close();
            }
        }, () -> {
            if (nodes != null) {
                nodes.close();
            }
        }, () -> {
            if (pinsB != null) {
                pinsB.close();
            }
        }, () -> {
            if (podNsA != null) {
                podNsA.close();
            }
        }, () -> {
            if (podNsB != null) {
                podNsB.close();
            }
        });
        String left = Shell.run("ip", "netns", "list");
        for (String ns : namespaces) {
            assertFalse(left.contains(ns), "namespace " + ns + " left behind: " + left);
        }
        for (Path pins : pinRoots) {
            assertFalse(Files.exists(pins), "pins left behind: " + pins);
        }
    }

    private static AgentConfig config(String name, List<IpPrefix> podCidrs, String uplink, Path home, Path pins, Peer peer) {
        return TestConfigs.of(name, Mode.STANDALONE, podCidrs,
                List.of(IpPrefix.parse("10.229.0.0/16"), IpPrefix.parse("fd00:f17:229::/48")),
                List.of(uplink), List.of(peer), home.resolve("run/ferry.sock"), home.resolve("state"), pins,
                home.resolve("cni"), new InetSocketAddress(IpPrefix.literal("127.0.0.1"), 0), AttachMode.TCX);
    }

    /** ADD through the real ferry-cni against the agent living in {@code home}; the pod's IPv4 and IPv6 ends. */
    private static List<Traffic.End> add(TestNetns ns, String container, String pod, Path home) throws Exception {
        String netconf = "{\"cniVersion\":\"1.1.0\",\"name\":\"ferry\",\"type\":\"ferry-cni\",\"agentSocket\":\""
                + home.resolve("run/ferry.sock") + "\",\"spoolDir\":\"" + home.resolve("state/cni-spool") + "\"}";
        FerryCni.Result add = FerryCni.command("ADD").env("CNI_CONTAINERID", container)
                .env("CNI_NETNS", "/run/netns/" + ns.name()).env("CNI_IFNAME", "eth0").env("CNI_PATH", "/opt/cni/bin")
                .env("CNI_ARGS", "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=" + pod).stdin(netconf).run();
        assertEquals(0, add.exitCode(), add.toString());
        JsonNode ips = new ObjectMapper().readTree(add.stdout()).path("ips");
        assertEquals(2, ips.size(), add.stdout());
        return List.of(new Traffic.End(ns, IpPrefix.parse(ips.get(0).path("address").asText()).address()),
                new Traffic.End(ns, IpPrefix.parse(ips.get(1).path("address").asText()).address()));
    }

    private static String hostVeth(Path home, String container) throws Exception {
        SocketHttp.Response r = SocketHttp.get(home.resolve("run/ferry.sock"), "/v1/endpoints/" + container);
        assertEquals(200, r.status(), r.json().toString());
        return r.json().path("endpoints").path(0).path("hostIfname").asText();
    }

    // ---- what a capture holds ----------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(Family.class)
    void captureOfPodAOnNodeAWhileAPingsPodBOnNodeBHoldsExactlyTheEchoesBothWays(Family family) throws Exception {
        Traffic.End from = a.get(family.ordinal());
        Traffic.End to = b.get(family.ordinal());

        List<String> pcap = captureWhilePinging(nodeA, from, to, from, to, family);

        assertEquals(echoes(family, from, to), pcap);
        assertNothingLeftOn(nodeA, nodeB);
    }

    @ParameterizedTest
    @EnumSource(Family.class)
    void captureOfPodAOnNodeAWhilePodBOnNodeBPingsItHoldsExactlyTheEchoesBothWays(Family family) throws Exception {
        Traffic.End from = b.get(family.ordinal());
        Traffic.End to = a.get(family.ordinal());

        List<String> pcap = captureWhilePinging(nodeA, to, from, from, to, family);

        assertEquals(echoes(family, from, to), pcap);
        assertNothingLeftOn(nodeA, nodeB);
    }

    /** The copies of the echo requests are made by to_pod on node-b's uplink, as it bpf_redirect_peers them into pod B. */
    @ParameterizedTest
    @EnumSource(Family.class)
    void captureOfPodBOnNodeBWhilePodAOnNodeAPingsItHoldsExactlyTheEchoesBothWays(Family family) throws Exception {
        Traffic.End from = a.get(family.ordinal());
        Traffic.End to = b.get(family.ordinal());

        List<String> pcap = captureWhilePinging(nodeB, to, from, from, to, family);

        assertEquals(echoes(family, from, to), pcap);
        assertNothingLeftOn(nodeA, nodeB);
    }

    // ---- what a capture does not hold ---------------------------------------------------------------

    /**
     * A dual-stack node forwards IPv6, so each end of a capture device joins
     * ff02::2 and sends MLD reports for it (from ::, address generation being
     * off) in the first second or two after it comes up: frames of the device,
     * not of the pod, which no filter of the capture may let in (here: TCP
     * only, which the idle pod does not send).
     */
    @Test
    void aCaptureHoldsNothingItsCaptureDeviceSendsOfItsOwn() throws Exception {
        Path pcap = dir.resolve("idle.pcap");

        Run run = cli(nodeA, "capture", a.get(0).address(), "-w", pcap.toString(), "--proto", "tcp", "--duration", "3s");

        assertEquals(0, run.exit(), run.err());
        assertEquals(List.of(), tcpdump(pcap));
        assertNothingLeftOn(nodeA, nodeB);
    }

    /**
     * The capture's socket is the capture device's from the start: nothing of
     * the node's other devices is read, however busy they are (here the uplink,
     * flooded with pings from node-b while captures start and stop).
     */
    @Test
    void aCaptureHoldsNothingOfTheNodesOtherDevicesEvenWhenTheyAreBusy() throws Exception {
        Process flood = new ProcessBuilder("nsenter", "--net=/run/netns/" + nodes.peer.name(),
                "ping", "-f", "-q", "-w", "15", "192.168.50.1").redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            for (int i = 0; i < 5; i++) {
                Path pcap = dir.resolve("busy-" + i + ".pcap");

                Run run = cli(nodeA, "capture", a.get(0).address(), "-w", pcap.toString(), "--proto", "udp", "--port", "9",
                        "--duration", "1s");

                assertEquals(0, run.exit(), run.err());
                assertEquals(List.of(), tcpdump(pcap), "capture " + i);
            }
        } finally {
            flood.destroy();
            flood.waitFor(10, TimeUnit.SECONDS);
        }
        assertNothingLeftOn(nodeA, nodeB);
    }

    // ---- helpers -----------------------------------------------------------------------------------

    /**
     * {@code ferry capture POD -w FILE --count N} with the family's filter
     * against {@code node}'s agent, {@code from} pinging {@code to} meanwhile
     * without loss; tcpdump's reading of the file.
     */
    private List<String> captureWhilePinging(Node node, Traffic.End captured, Traffic.End other, Traffic.End from,
                                             Traffic.End to, Family family) throws Exception {
        Path pcap = dir.resolve(node.name() + "-" + family + ".pcap");
        List<String> args = new ArrayList<>(List.of("capture", captured.address(), "-w", pcap.toString(),
                "--count", String.valueOf(2 * PINGS)));
        args.addAll(family.filter(other));
        CompletableFuture<Run> capture = CompletableFuture.supplyAsync(() -> cli(node, args.toArray(String[]::new)), threads);
        awaitTurnedOn(node);

        pingWithoutLoss(from, to);

        Run run = capture.get(30, TimeUnit.SECONDS);
        assertEquals(0, run.exit(), run.err());
        return tcpdump(pcap);
    }

    /** PINGS echoes, every one answered (ping's exit status alone says only that one was). */
    private static void pingWithoutLoss(Traffic.End from, Traffic.End to) {
        Shell.Result r = from.ns().exec("ping", "-c", String.valueOf(PINGS), "-i", "0.05", "-W", "2", to.address());
        assertEquals(0, r.exitCode(), "ping " + from.address() + " -> " + to.address() + ":\n" + r.stdout() + r.stderr());
        assertTrue(r.stdout().contains(PINGS + " packets transmitted, " + PINGS + " received, 0% packet loss"), r.stdout());
    }

    /** tcpdump's reading of the file, one line per packet without the time; ping's id made a constant. */
    private static List<String> tcpdump(Path pcap) {
        Shell.Result r = Shell.exec("tcpdump", "-r", pcap.toString(), "-nn", "-t");
        assertEquals(0, r.exitCode(), r.stderr());
        return r.stdout().lines().map(l -> l.replaceAll(", id \\d+,", ", id ID,")).toList();
    }

    /** What tcpdump -nn -t prints for PINGS echoes of {@code from} to {@code to} and their replies, in order. */
    private static List<String> echoes(Family family, Traffic.End from, Traffic.End to) {
        List<String> lines = new ArrayList<>();
        String f = IpText.format(from.inet());
        String t = IpText.format(to.inet());
        for (int seq = 1; seq <= PINGS; seq++) {
            if (family == Family.IPV4) {
                lines.add("IP " + f + " > " + t + ": ICMP echo request, id ID, seq " + seq + ", length 64");
                lines.add("IP " + t + " > " + f + ": ICMP echo reply, id ID, seq " + seq + ", length 64");
            } else {
                lines.add("IP6 " + f + " > " + t + ": ICMP6, echo request, id ID, seq " + seq + ", length 64");
                lines.add("IP6 " + t + " > " + f + ": ICMP6, echo reply, id ID, seq " + seq + ", length 64");
            }
        }
        return lines;
    }

    private void awaitTurnedOn(Node node) {
        waitFor(() -> slotIfindexes(node).stream().filter(i -> i != 0).count() == 1 && mirrorWords(node) != 0 && hooked(node),
                Duration.ofSeconds(20), "capture turned on at " + node.name(), node);
    }

    /** Within 5 s of the capture's end, on both nodes: no capture device, slot, mirror word or egress hook. */
    private void assertNothingLeftOn(Node... all) {
        for (Node node : all) {
            waitFor(() -> nothingTurnedOn(node), Duration.ofSeconds(5), "everything turned off at " + node.name(), node);
        }
    }

    private boolean nothingTurnedOn(Node node) {
        return captureDevices(node).isEmpty() && slotIfindexes(node).stream().allMatch(i -> i == 0)
                && mirrorWords(node) == 0 && !hooked(node);
    }

    private void waitFor(BooleanSupplier condition, Duration limit, String what, Node node) {
        Instant deadline = Instant.now().plus(limit);
        while (!condition.getAsBoolean()) {
            assertTrue(Instant.now().isBefore(deadline), what + ": devices " + captureDevices(node) + ", slots "
                    + slotIfindexes(node) + ", words " + mirrorWords(node) + ", hooked " + hooked(node));
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private static List<String> captureDevices(Node node) {
        return node.ns().ip("-o", "link", "show").lines()
                .map(l -> l.split(":")[1].trim().split("@")[0])
                .filter(n -> n.startsWith("fcap")).toList();
    }

    /** The device of every ferry_mirrors slot of the node, 0 when free. */
    private static List<Integer> slotIfindexes(Node node) {
        List<Integer> slots = new ArrayList<>();
        try (BpfMap map = BpfMap.openPinned(node.pins().resolve("ferry_mirrors")); Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(MapLayouts.MIRROR_SLOT);
            for (int slot = 0; slot < MapLayouts.MIRROR_SLOTS; slot++) {
                slots.add(map.lookup(arena.allocateFrom(JAVA_INT, slot), value) ? value.get(JAVA_INT, 0) : 0);
            }
        }
        return slots;
    }

    /** Every endpoint's mirror word on the node, on every CPU, OR-ed together. */
    private static int mirrorWords(Node node) {
        long mirror = offset(MapLayouts.ENDPOINT_VALUE, "info") + offset(MapLayouts.ENDPOINT_INFO, "mirror");
        int[] words = {0};
        try (BpfMap map = BpfMap.openPinned(node.pins().resolve("ferry_endpoints_v3"))) {
            map.forEach((key, values) -> {
                for (int cpu = 0; cpu < BpfMap.possibleCpus(); cpu++) {
                    words[0] |= values.get(JAVA_INT, cpu * map.perCpuValueStride() + mirror);
                }
            });
        }
        return words[0];
    }

    /** Whether the node's pod's host veth has any egress filter (mirror_to_pod). */
    private static boolean hooked(Node node) {
        return !node.ns().exec("tc", "filter", "show", "dev", node.hostVeth(), "egress").stdout().isBlank();
    }

    private static Run cli(Node node, String... args) {
        String[] all = new String[args.length + 2];
        all[0] = "--socket";
        all[1] = node.socket().toString();
        System.arraycopy(args, 0, all, 2, args.length);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = new Main(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8)).run(all);
        return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
