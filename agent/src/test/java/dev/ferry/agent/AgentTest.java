package dev.ferry.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.agent.AgentConfig.Mode;
import dev.ferry.cni.CniCommand;
import dev.ferry.datapath.AttachMode;
import dev.ferry.endpoint.Endpoint;
import dev.ferry.net.IpPrefix;
import dev.ferry.net.MacAddress;
import dev.ferry.netlink.Sysctl;
import dev.ferry.testing.BpfPins;
import dev.ferry.testing.FerryCni;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.Shell;
import dev.ferry.testing.TestNetns;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.stream.StreamSupport;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The agent started in-process in a node namespace of its own, wired to its real
 * datapath, routes, IPAM, spool and socket; the pod network is a fake (see
 * {@link FakePodNetwork}), so nothing here needs a CNI ADD.
 */
@RequiresRoot
class AgentTest {
    @TempDir
    Path dir;

    private AgentFixture nodes;
    private TestNetns node;
    private TestNetns peer;
    private BpfPins pins;
    private FakePodNetwork pods;

    @BeforeEach
    void twoNodesOnOneWire() throws Exception {
        nodes = AgentFixture.create(dir);
        node = nodes.node;
        peer = nodes.peer;
        pins = nodes.pins;
        pods = new FakePodNetwork(socket());
    }

    @AfterEach
    void cleanUp() throws Exception {
        if (nodes != null) {
            nodes.close();
        }
    }

    private Path socket() {
        return nodes.socket();
    }

    private AgentConfig config(List<String> uplinks) {
        return nodes.config(uplinks);
    }

    private Agent start(AgentConfig config) {
        return nodes.start(config, pods.factory());
    }

    private JsonNode get(String path) throws Exception {
        return nodes.get(path);
    }

    @Test
    void statusDescribesTheRunningNode() throws Exception {
        start(config(List.of("upl0")));

        JsonNode status = get("/v1/status");

        assertAll(
                () -> assertEquals("node-a", status.path("nodeName").asText()),
                () -> assertEquals("standalone", status.path("mode").asText()),
                () -> assertEquals("tcx", status.path("attach").asText()),
                () -> assertEquals("tc", status.path("podAttach").asText(), "pods default to tc"),
                () -> assertTrue(status.path("ready").asBoolean(), status::toString),
                () -> assertTrue(status.path("notReadyReason").isNull()),
                () -> assertEquals("10.244.1.0/24", status.path("podCIDR").asText()),
                () -> assertEquals(0, status.path("ipam").path("used").asInt()),
                () -> assertTrue(status.path("ipam").path("capacity").asInt() > 250, status::toString),
                () -> assertEquals("upl0", status.path("uplinks").path(0).path("name").asText()),
                () -> assertEquals(1400, status.path("uplinks").path(0).path("mtu").asInt()),
                () -> assertEquals("node-b", status.path("peers").path(0).path("name").asText()),
                () -> assertEquals("192.168.50.2", status.path("peers").path(0).path("address").asText()),
                () -> assertEquals("10.244.2.0/24", status.path("peers").path(0).path("podCIDRs").path(0).asText()),
                () -> assertEquals("10.244.0.0/16", status.path("clusterCIDRs").path(0).asText()),
                () -> assertEquals(0, status.path("endpoints").asInt()),
                () -> assertEquals(Shell.run("uname", "-r").strip(), status.path("kernel").path("release").asText()),
                () -> assertTrue(status.path("kernel").path("tcx").asBoolean(), "Linux 6.18 has TCX: " + status),
                () -> assertTrue(status.path("kernel").path("btf").asBoolean(), status::toString),
                () -> assertFalse(status.path("version").asText().isEmpty()));
    }

    @Test
    void startWiresTheNode() throws Exception {
        start(config(List.of("upl0")));

        assertAll(
                () -> assertEquals("10.244.2.0/24 via 192.168.50.2 dev upl0", node.ip("route", "show", "proto", "70").strip()),
                () -> assertEquals("1", Sysctl.get(node.handle(), "net.ipv4.conf.upl0.forwarding")),
                () -> assertTrue(Files.exists(pins.resolve("links/to_pod/upl0")), "to_pod is pinned on the uplink"),
                () -> assertEquals(1400, pods.podMtu, "pods get the uplink's MTU"),
                () -> assertEquals("rw-------", mode(socket())),
                () -> assertEquals("rwx------", mode(socket().getParent())),
                () -> assertEquals("rwx------", mode(dir.resolve("state"))));
    }

    @Test
    void theConflistNamesThisAgentsSocketAndSpool() throws Exception {
        start(config(List.of("upl0")));

        JsonNode conflist = new ObjectMapper().readTree(dir.resolve("cni/05-ferry.conflist").toFile());

        JsonNode plugin = conflist.path("plugins").path(0);
        assertEquals("ferry", conflist.path("name").asText());
        assertEquals("ferry-cni", plugin.path("type").asText());
        assertEquals(socket().toString(), plugin.path("agentSocket").asText());
        assertEquals(dir.resolve("state/cni-spool").toString(), plugin.path("spoolDir").asText());
    }

    @Test
    void spooledDelsAreReplayedBeforeTheSocketAccepts() throws Exception {
        Path spooled = SpoolingPlugin.spoolDel(socket(), dir.resolve("state/cni-spool"), "c0ffee");

        start(config(List.of("upl0")));

        assertEquals(1, pods.replays.size());
        assertEquals("c0ffee", pods.replays.getFirst().request().containerId());
        assertFalse(pods.replays.getFirst().socketExisted(), "replayed before the socket was bound");
        assertFalse(Files.exists(spooled));
    }

    @Test
    void readinessTurnsReadyAtTheEndOfStartAndNotReadyAtClose() {
        Agent agent = start(config(List.of("upl0")));
        assertEquals(Optional.empty(), pods.readiness.notReadyReason());

        agent.close();

        assertEquals(Optional.of("the agent is stopping"), pods.readiness.notReadyReason());
    }

    @Test
    void closeStopsServingAndKeepsThePinsSoForwardingGoesOn() throws Exception {
        Agent agent = start(config(List.of("upl0")));

        agent.close();

        assertFalse(Files.exists(socket()), "the socket file is removed");
        assertTrue(pods.closed);
        assertTrue(Files.exists(pins.resolve("links/to_pod/upl0")));
        assertTrue(Files.exists(pins.resolve("ferry_endpoints_v3")));
        assertEquals("10.244.2.0/24 via 192.168.50.2 dev upl0", node.ip("route", "show", "proto", "70").strip(),
                "routes stay too");
    }

    @Test
    void aRestartedAgentTakesOverFromThePins() throws Exception {
        start(config(List.of("upl0"))).close();

        start(config(List.of("upl0")));

        assertTrue(get("/v1/status").path("ready").asBoolean());
        try (var links = Files.list(pins.resolve("links/to_pod"))) {
            assertEquals(List.of(pins.resolve("links/to_pod/upl0")), links.toList());
        }
    }

    @Test
    void theUplinkDefaultsToTheDeviceOfTheDefaultRoute() throws Exception {
        node.ip("route", "add", "default", "via", "192.168.50.2");

        start(config(List.of()));

        assertEquals("upl0", get("/v1/status").path("uplinks").path(0).path("name").asText());
    }

    @Test
    void aMissingUplinkFailsTheStartAndNamesIt() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> start(config(List.of("nope0"))));

        assertTrue(e.getMessage().startsWith("uplink 'nope0' does not exist in the node's network namespace"), e.getMessage());
        assertFalse(Files.exists(socket()));
    }

    @Test
    void aStaleSocketFromADeadAgentIsReplaced() throws Exception {
        Files.createDirectories(socket().getParent());
        try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            dead.bind(UnixDomainSocketAddress.of(socket()));
        } // closed: the file stays, as after a crash

        start(config(List.of("upl0")));

        assertTrue(get("/v1/status").path("ready").asBoolean());
    }

    @Test
    void aSecondAgentOnALiveSocketIsRefusedBeforeTouchingAnything() throws Exception {
        start(config(List.of("upl0")));
        try (BpfPins otherPins = BpfPins.create("ferry-test-agent2")) {
            AgentConfig second = TestConfigs.of("node-a2", Mode.STANDALONE, List.of(IpPrefix.parse("10.244.9.0/24")),
                    List.of(), List.of("upl0"), List.of(), socket(), dir.resolve("state2"), otherPins.root(),
                    dir.resolve("cni2"), new InetSocketAddress(IpPrefix.literal("127.0.0.1"), 0), AttachMode.TCX);

            IllegalStateException e = assertThrows(IllegalStateException.class, () -> start(second));

            assertTrue(e.getMessage().startsWith("another agent is serving on " + socket()), e.getMessage());
            assertFalse(Files.exists(otherPins.root()), "no datapath was loaded");
            assertFalse(Files.exists(dir.resolve("state2")));
            assertTrue(get("/v1/status").path("ready").asBoolean(), "the first agent still serves");
        }
    }

    @Test
    void aSecondAgentOnTheSameStateIsRefusedBeforeTouchingAnyKernelObject() throws Exception {
        start(config(List.of("upl0")));
        try (BpfPins otherPins = BpfPins.create("ferry-test-agent3")) {
            Path otherSocket = dir.resolve("run3/ferry.sock");
            AgentConfig second = TestConfigs.of("node-a", Mode.STANDALONE, List.of(IpPrefix.parse("10.244.1.0/24")),
                    List.of(), List.of("upl0"), List.of(), otherSocket, dir.resolve("state"), otherPins.root(),
                    dir.resolve("cni3"), new InetSocketAddress(IpPrefix.literal("127.0.0.1"), 0), AttachMode.TCX);

            IllegalStateException e = assertThrows(IllegalStateException.class, () -> start(second));

            assertTrue(e.getMessage().startsWith("another agent (pid " + ProcessHandle.current().pid()
                    + ") holds the state directory '" + dir.resolve("state") + "'"), e.getMessage());
            assertFalse(Files.exists(otherPins.root()), "no datapath was loaded, nothing attached to the uplink");
            assertFalse(Files.exists(otherSocket));
            assertTrue(get("/v1/status").path("ready").asBoolean(), "the first agent still serves");
        }
    }

    @Test
    void endpointsAreListedAndAnUnknownContainerIs404() throws Exception {
        pods.endpoints.add(new Endpoint("c0ffee", "eth0", "/run/netns/pod", "fer0123456789a", 7,
                IpPrefix.parse("10.244.1.2/32"), MacAddress.parse("02:00:00:00:00:01"), MacAddress.parse("02:00:00:00:00:02"),
                3, 1400, Optional.of("demo"), Optional.of("web"), Optional.empty(), Instant.parse("2026-01-02T03:04:05Z")));
        start(config(List.of("upl0")));

        JsonNode all = get("/v1/endpoints");
        JsonNode one = get("/v1/endpoints/c0ffee");
        SocketHttp.Response unknown = SocketHttp.get(socket(), "/v1/endpoints/deadbeef");

        JsonNode e = all.path("endpoints").path(0);
        assertAll(
                () -> assertEquals(1, all.path("endpoints").size()),
                () -> assertEquals("10.244.1.2/32", e.path("address").asText()),
                () -> assertEquals("fer0123456789a", e.path("hostIfname").asText()),
                () -> assertEquals("02:00:00:00:00:01", e.path("podMac").asText()),
                () -> assertEquals("web", e.path("podName").asText()),
                () -> assertTrue(e.path("podUid").isNull()),
                () -> assertEquals("2026-01-02T03:04:05Z", e.path("created").asText()),
                () -> assertEquals(all, one),
                () -> assertEquals(404, unknown.status()),
                () -> assertEquals("no endpoint for container 'deadbeef'", unknown.json().path("error").asText()),
                () -> assertEquals(1, get("/v1/status").path("endpoints").asInt()));
    }

    @Test
    void datapathStatsCountWhatArrivedOnTheUplink() throws Exception {
        start(config(List.of("upl0")));
        peer.exec("ping", "-c", "3", "-i", "0.2", "-W", "1", "192.168.50.1");

        JsonNode counters = get("/v1/datapath/stats").path("counters");

        long passedToTheStack = StreamSupport.stream(counters.spliterator(), false)
                .filter(c -> c.path("family").asText().equals("ipv4") && c.path("direction").asText().equals("ingress")
                        && c.path("verdict").asText().equals("pass")
                        && c.path("reason").asText().equals("not_local_endpoint"))
                .mapToLong(c -> c.path("packets").asLong()).sum();
        assertTrue(passedToTheStack >= 3, "pings to the node itself are left to the stack: " + counters);
    }

    @Test
    void cniCommandsFromThePluginGoToThePodNetwork() throws Exception {
        start(config(List.of("upl0")));

        FerryCni.Result del = FerryCni.attachment("DEL")
                .stdin(SpoolingPlugin.networkConfig(socket(), dir.resolve("state/cni-spool"))).run();

        assertEquals(0, del.exitCode(), del.toString());
        assertEquals(1, pods.replays.size());
        assertEquals(CniCommand.DEL, pods.replays.getFirst().request().command());
        assertEquals("3f6940ab5ab43bc522569d15b23f8c1b", pods.replays.getFirst().request().containerId());
        assertTrue(pods.replays.getFirst().socketExisted(), "it came through the socket");
    }

    private static String mode(Path path) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(path));
    }
}
