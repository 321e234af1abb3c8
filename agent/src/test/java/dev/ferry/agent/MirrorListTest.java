package dev.ferry.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.agent.AgentConfig.Mode;
import dev.ferry.capture.CaptureRequest;
import dev.ferry.capture.MirrorConfig;
import dev.ferry.cli.Main;
import dev.ferry.datapath.AttachMode;
import dev.ferry.net.IpPrefix;
import dev.ferry.routes.Peer;
import dev.ferry.testing.Cleanup;
import dev.ferry.testing.CniNode;
import dev.ferry.testing.FerryCni;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import dev.ferry.testing.Traffic;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@code ferry mirror list} and {@code GET /v1/mirrors} against a running
 * standalone agent whose configuration has one persistent mirror ({@code ids}:
 * ICMP of 10.248.1.1/32, the node's first pod, to the analyzer's device). Pod
 * CIDR 10.248.1.0/24, pod namespaces mlsp*, analyzer devices mla0/mla0p and
 * mlgone (never made) are this class's; a capture of pod-b runs beside the mirror in one test.
 */
@RequiresRoot
class MirrorListTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    private AgentFixture nodes;
    private final List<TestNetns> pods = new ArrayList<>();
    private final ExecutorService threads = Executors.newCachedThreadPool();

    private record Run(int exit, String out, String err) {
    }

    @BeforeEach
    void nodes() throws Exception {
        nodes = AgentFixture.create(dir);
    }

    @AfterEach
    void cleanUp() throws Exception {
        Cleanup.all(threads::shutdownNow, () -> {
            if (nodes != null) {
                nodes.close();
            }
        }, () -> pods.forEach(TestNetns::close));
    }

    /** node-a on 10.248.1.0/24 with one mirror: ICMP of the first pod (10.248.1.1) to {@code device}. */
    private void startWithMirrorTo(String device) {
        AgentConfig config = TestConfigs.of("node-a", Mode.STANDALONE, List.of(IpPrefix.parse("10.248.1.0/24")),
                List.of(IpPrefix.parse("10.248.0.0/16")), List.of("upl0"),
                List.of(new Peer("node-b", List.of(IpPrefix.parse("10.248.2.0/24")), IpPrefix.literal("192.168.50.2"))),
                nodes.socket(), dir.resolve("state"), nodes.pins.root(), dir.resolve("cni"),
                new InetSocketAddress(IpPrefix.literal("127.0.0.1"), nodes.metricsPort()), AttachMode.TCX);
        nodes.start(config.withMirrors(List.of(new MirrorConfig("ids", List.of(IpPrefix.parse("10.248.1.1/32")), device,
                CaptureRequest.Filter.parse(null, "icmp", null, null)))));
    }

    /** The analyzer's interface: copies leave mla0 and arrive at mla0p. */
    private void analyzerDevice() {
        nodes.node.ip("link", "add", "mla0", "type", "veth", "peer", "name", "mla0p");
        for (String end : List.of("mla0", "mla0p")) {
            nodes.node.ip("link", "set", end, "addrgenmode", "none"); // sends nothing of its own
            nodes.node.ip("link", "set", end, "up");
        }
    }

    @Test
    void mirrorListShowsTheMirrorItsSlotItsDeviceTheSelectedPodOnlyAndTheCopiesItMade() throws Exception {
        analyzerDevice();
        startWithMirrorTo("mla0");
        Traffic.End a = pod("mlspa", "mls0a", "pod-a");
        Traffic.End b = pod("mlspb", "mls0b", "pod-b");
        assertEquals("10.248.1.1", a.address(), "the first pod has the pool's first address, the one the mirror selects");
        awaitMirror(m -> m.path("pods").size() == 1);

        Traffic.ping(a, b, 3);

        JsonNode mirror = awaitMirror(m -> m.path("copies").asLong() >= 6);
        assertEquals("ids", mirror.path("name").asText());
        assertEquals("config", mirror.path("kind").asText());
        assertEquals(0, mirror.path("slot").asInt(), "the only mirror holds the first slot");
        assertEquals("mla0", mirror.path("device").asText());
        assertTrue(mirror.path("devicePresent").asBoolean());
        assertEquals(ifindex("mla0"), mirror.path("deviceIfindex").asInt());
        assertEquals("proto icmp", mirror.path("filter").asText());
        assertEquals("10.248.1.1/32", mirror.path("selector").asText());
        assertEquals(1, mirror.path("pods").size(), mirror.toString());
        assertEquals("mls/pod-a", mirror.path("pods").path(0).path("name").asText());
        assertEquals("10.248.1.1", mirror.path("pods").path(0).path("addresses").path(0).asText());
        assertEquals(6, mirror.path("copies").asLong(), "pod-a's 3 echo requests out and 3 replies in");
        assertEquals(received(), mirror.path("copies").asLong(), "every copy counted arrived at the analyzer's end");
        assertEquals(0, mirror.path("failedCopies").asLong());

        Run table = cli("mirror", "list");
        assertEquals(0, table.exit(), table.err());
        assertTrue(table.out().startsWith("MIRROR"), table.out());
        assertTrue(table.out().contains("ids") && table.out().contains("config")
                && table.out().contains("mla0 (ifindex " + ifindex("mla0") + ")") && table.out().contains("proto icmp")
                && table.out().contains("10.248.1.1/32") && table.out().contains("mls/pod-a(10.248.1.1)"), table.out());
        assertFalse(table.out().contains("pod-b") || table.out().contains(b.address()), "pod-b is not mirrored: " + table.out());
    }

    @Test
    void aMirrorWhoseDeviceIsMissingIsListedAsMissingUntilTheDeviceIsMade() throws Exception {
        startWithMirrorTo("mlgone");

        JsonNode mirror = mirrors().path("mirrors").path(0);
        assertEquals("mlgone", mirror.path("device").asText());
        assertFalse(mirror.path("devicePresent").asBoolean(), mirror.toString());
        assertEquals(0, mirror.path("deviceIfindex").asInt());
        Run table = cli("mirror", "list");
        assertEquals(0, table.exit(), table.err());
        assertTrue(table.out().contains("mlgone (missing)"), table.out());

        nodes.node.ip("link", "add", "mlgone", "type", "veth", "peer", "name", "mlgonep");
        JsonNode made = awaitMirror(m -> m.path("devicePresent").asBoolean());
        assertEquals(ifindex("mlgone"), made.path("deviceIfindex").asInt());
    }

    @Test
    void aCaptureRunningIsListedWithItsSlotPodAndFilterUntilItEnds() throws Exception {
        analyzerDevice();
        startWithMirrorTo("mla0");
        Traffic.End a = pod("mlspa", "mls0a", "pod-a");
        Traffic.End b = pod("mlspb", "mls0b", "pod-b");
        Path pcap = dir.resolve("b.pcap");
        CompletableFuture<Run> capture = CompletableFuture.supplyAsync(
                () -> cli("capture", "mls/pod-b", "-w", pcap.toString(), "--count", "1", "--proto", "udp"), threads);

        JsonNode running = awaitList(m -> m.path("captures").size() == 1).path("captures").path(0);
        assertEquals(1, running.path("slot").asInt(), "the mirror holds slot 0, the capture the next");
        assertEquals("mls/pod-b", running.path("pod").asText());
        assertEquals(b.address(), running.path("addresses").path(0).asText());
        assertEquals("proto udp", running.path("filter").asText());
        Run table = cli("mirror", "list");
        assertTrue(table.out().contains("capture: slot 1: mls/pod-b (proto udp)"), table.out());

        Traffic.udpEcho(a, b, 7311, 1);
        assertEquals(0, capture.get(10, TimeUnit.SECONDS).exit());
        assertEquals(0, mirrors().path("captures").size(), "an ended capture is no longer listed");
    }

    private Traffic.End pod(String netns, String container, String name) {
        TestNetns ns = TestNetns.create(netns);
        pods.add(ns);
        String config = "{\"cniVersion\":\"1.1.0\",\"name\":\"ferry\",\"type\":\"ferry-cni\",\"agentSocket\":\"" + nodes.socket() + "\"}";
        FerryCni.Result add = FerryCni.command("ADD").env("CNI_CONTAINERID", container)
                .env("CNI_NETNS", "/run/netns/" + ns.name()).env("CNI_IFNAME", "eth0").env("CNI_PATH", "/opt/cni/bin")
                .env("CNI_ARGS", "K8S_POD_NAMESPACE=mls;K8S_POD_NAME=" + name).stdin(config).run();
        assertEquals(0, add.exitCode(), add.toString());
        InetAddress address = CniNode.addressOf(add);
        return new Traffic.End(ns, address);
    }

    private JsonNode mirrors() throws Exception {
        Run r = cli("mirror", "list", "-o", "json");
        assertEquals(0, r.exit(), r.err());
        return JSON.readTree(r.out());
    }

    /** The first mirror once it meets the condition (the reconcile runs every second). */
    private JsonNode awaitMirror(Predicate<JsonNode> condition) throws Exception {
        return awaitList(all -> condition.test(all.path("mirrors").path(0))).path("mirrors").path(0);
    }

    private JsonNode awaitList(Predicate<JsonNode> condition) throws Exception {
        Instant deadline = Instant.now().plusSeconds(10);
        while (true) {
            JsonNode all = mirrors();
            if (condition.test(all)) {
                return all;
            }
            if (Instant.now().isAfter(deadline)) {
                fail("the list never got there: " + all);
            }
            Thread.sleep(100);
        }
    }

    private int ifindex(String device) throws Exception {
        return JSON.readTree(nodes.node.ip("-j", "link", "show", device)).path(0).path("ifindex").asInt();
    }

    /** Packets mla0p received: what the mirror sent out of mla0. */
    private long received() throws Exception {
        return JSON.readTree(nodes.node.ip("-s", "-j", "link", "show", "mla0p")).path(0).path("stats64").path("rx")
                .path("packets").asLong();
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
