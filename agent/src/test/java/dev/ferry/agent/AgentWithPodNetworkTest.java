package dev.ferry.agent;

import dev.ferry.masquerade.MasqueradeFamilies;
import dev.ferry.masquerade.NodeBehindUplink;
import dev.ferry.net.IpPrefix;
import dev.ferry.testing.FerryCni;
import dev.ferry.testing.MetricsPort;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import dev.ferry.testing.Traffic;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.StreamSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The agent wired to the real EndpointManager and CniService, on a node without
 * pods: start, status, a spooled DEL replayed, clean close.
 */
@RequiresRoot
class AgentWithPodNetworkTest {
    @TempDir
    Path dir;

    private AgentFixture nodes;

    @BeforeEach
    void twoNodesOnOneWire() throws Exception {
        nodes = AgentFixture.create(dir);
    }

    @AfterEach
    void cleanUp() throws Exception {
        if (nodes != null) {
            nodes.close();
        }
    }

    private Agent start() {
        return nodes.start(nodes.config(List.of("upl0")));
    }

    @Test
    void aNodeWithoutPodsIsReadyAndListsNoEndpoints() throws Exception {
        start();

        assertTrue(nodes.get("/v1/status").path("ready").asBoolean());
        assertEquals(0, nodes.get("/v1/status").path("endpoints").asInt());
        assertEquals(0, nodes.get("/v1/endpoints").path("endpoints").size());
        assertEquals(404, SocketHttp.get(nodes.socket(), "/v1/endpoints/c0ffee").status());
    }

    @Test
    void aSpooledDelOfAContainerTheNodeNeverHadIsReplayedAsSuccessAndRemoved() throws Exception {
        Path spooled = SpoolingPlugin.spoolDel(nodes.socket(), dir.resolve("state/cni-spool"), "c0ffee");

        start();

        assertFalse(Files.exists(spooled), "DEL of an unknown container is a success, so the file goes");
    }

    @Test
    void aPodDeletedWhileTheAgentWasDownIsRemovedWhenTheAgentStarts() throws Exception {
        TestNetns pod = TestNetns.create("agentpod");
        try {
            Agent agent = start();
            String config = "{\"cniVersion\":\"1.1.0\",\"name\":\"ferry\",\"type\":\"ferry-cni\",\"agentSocket\":\""
                    + nodes.socket() + "\",\"spoolDir\":\"" + dir.resolve("state/cni-spool") + "\"}";
            FerryCni add = attachment("ADD", pod).stdin(config);
            assertEquals(0, add.run().exitCode());
            assertEquals(1, nodes.get("/v1/endpoints").path("endpoints").size());

            agent.close();
            FerryCni.Result addWhileDown = attachment("ADD", pod).stdin(config).run();
            FerryCni.Result del = attachment("DEL", pod).stdin(config).run();
            assertEquals(11, addWhileDown.code(), "ADD while the agent is down: " + addWhileDown);
            assertEquals(0, del.exitCode(), "DEL while the agent is down is spooled: " + del);
            assertEquals(1, spoolFiles().size());
            start();

            assertEquals(List.of(), spoolFiles(), "the spooled DEL was replayed");
            assertEquals(0, nodes.get("/v1/endpoints").path("endpoints").size());
            assertTrue(nodes.node.ip("-o", "link", "show").lines().noneMatch(l -> l.contains(": fer")), "host veth gone");
            assertTrue(pod.ip("-o", "link", "show").lines().noneMatch(l -> l.contains("eth0")), "pod veth gone");
            assertEquals(0, nodes.get("/v1/status").path("ipam").path("used").asInt(), nodes.get("/v1/status").toString());
        } finally {
            pod.close();
        }
    }

    private static FerryCni attachment(String command, TestNetns pod) {
        return FerryCni.command(command)
                .env("CNI_CONTAINERID", "c0ffee0001")
                .env("CNI_NETNS", "/run/netns/" + pod.name())
                .env("CNI_IFNAME", "eth0")
                .env("CNI_PATH", "/opt/cni/bin");
    }

    private List<Path> spoolFiles() throws java.io.IOException {
        Path spool = dir.resolve("state/cni-spool");
        if (!Files.isDirectory(spool)) {
            return List.of();
        }
        try (var files = Files.list(spool)) {
            return files.toList();
        }
    }

    @Test
    void theMetricsPortAnswersReadyzHealthzAndMetrics() throws Exception {
        start();
        int port = nodes.metricsPort();

        assertEquals(200, MetricsPort.get(port, "/readyz").statusCode());
        assertEquals(200, MetricsPort.get(port, "/healthz").statusCode());
        String metrics = MetricsPort.scrape(port);
        assertTrue(metrics.contains("ferry_agent_ready 1"), metrics);
    }

    @Test
    void badStateFilesAreQuarantinedAtStartAndTheAgentServesAndSaysSo() throws Exception {
        Files.createDirectories(dir.resolve("state/ipam"));
        Files.createDirectories(dir.resolve("state/endpoints"));
        Files.writeString(dir.resolve("state/ipam/10.244.1.9"), "garbage");
        Files.writeString(dir.resolve("state/endpoints/c0ffee@eth0.json"), "{\"format\":1,\"created\":\"yesterday\"}");

        start();

        assertTrue(nodes.get("/v1/status").path("ready").asBoolean());
        assertEquals(List.of("endpoints/c0ffee@eth0.json", "ipam/10.244.1.9"),
                StreamSupport.stream(nodes.get("/v1/status").path("quarantined").spliterator(), false)
                        .map(com.fasterxml.jackson.databind.JsonNode::asText).toList());
        String scraped = MetricsPort.scrape(nodes.metricsPort());
        assertTrue(scraped.contains("ferry_state_quarantined_files 2.0"), scraped.lines().filter(l -> l.contains("quarantined")).toList().toString());
        assertEquals(1, nodes.get("/v1/status").path("ipam").path("used").asInt(), "the quarantined address stays taken");
    }

    @Test
    void theMasqueradeTableCoversThisNodesAndThePeersPodCidrs() {
        start();

        String table = nodes.node.exec("nft", "list", "table", "ip", "ferry").stdout();

        // nft's auto-merge lists the adjacent 10.244.1.0/24 and 10.244.2.0/24 as one range.
        assertTrue(table.contains("10.244.1.0-10.244.2.255") && table.contains("masquerade"), table);
    }

    @Test
    void aDualStackNodesIpv6PodCidrGetsTheIpv6Table() {
        nodes.start(nodes.config(List.of("upl0"), List.of(IpPrefix.parse("10.244.1.0/24"), IpPrefix.parse("fd00:f17:a1::/64"))));

        String table = nodes.node.exec("nft", "list", "table", "ip6", "ferry").stdout();
        assertTrue(table.contains("fd00:f17:a1::/64") && table.contains("ip6 saddr @pod_cidrs") && table.contains("masquerade"), table);
        assertTrue(nodes.node.exec("nft", "list", "table", "ip", "ferry").stdout().contains("10.244.1.0-10.244.2.255"));
    }

    @Test
    void aDualStackPodReachingOutsideOverIpv6ThroughTheAgentAppearsAsTheNodesIpv6Address() throws Exception {
        // The peer plays "outside": it has no route back to the pod CIDR, so only a translated source gets an answer.
        nodes.node.ip("-6", "addr", "add", "fd00:f17:d::1/64", "dev", "upl0", "nodad");
        nodes.peer.ip("-6", "addr", "add", "fd00:f17:d::2/64", "dev", "upl0p", "nodad");
        nodes.start(nodes.config(List.of("upl0"), List.of(IpPrefix.parse("10.244.1.0/24"), IpPrefix.parse("fd00:f17:a1::/64"))));
        TestNetns pod = TestNetns.create("agentpod6");
        try {
            String config = "{\"cniVersion\":\"1.1.0\",\"name\":\"ferry\",\"type\":\"ferry-cni\",\"agentSocket\":\""
                    + nodes.socket() + "\",\"spoolDir\":\"" + dir.resolve("state/cni-spool") + "\"}";
            FerryCni.Result add = attachment("ADD", pod).stdin(config).run();
            assertEquals(0, add.exitCode(), add.toString());
            InetAddress pod6 = IpPrefix.parse(new com.fasterxml.jackson.databind.ObjectMapper().readTree(add.stdout())
                    .path("ips").path(1).path("address").asText()).address();

            String seen = NodeBehindUplink.sourceSeenBy(new Traffic.End(pod, pod6),
                    new Traffic.End(nodes.peer, IpPrefix.literal("fd00:f17:d::2")), 42001);

            assertEquals("fd00:f17:d::1", seen);
            assertEquals(0, attachment("DEL", pod).stdin(config).run().exitCode());
        } finally {
            pod.close();
        }
    }

    @Test
    void ipv6MasqueradeOffLeavesTheIpv4TableAlone() {
        AgentConfig dualStack = nodes.config(List.of("upl0"), List.of(IpPrefix.parse("10.244.1.0/24"), IpPrefix.parse("fd00:f17:a1::/64")));
        nodes.start(TestConfigs.withMasquerade(dualStack, new MasqueradeFamilies(true, false)));

        List<String> tables = nodes.node.exec("nft", "list", "tables").stdout().lines().filter(l -> l.contains("ferry")).toList();
        assertEquals(List.of("table ip ferry"), tables);
    }

    @Test
    void masqueradeOffLeavesNoTable() {
        nodes.start(TestConfigs.withMasquerade(nodes.config(List.of("upl0")), false));

        assertTrue(nodes.node.exec("nft", "list", "tables").stdout().lines().noneMatch(l -> l.contains("ferry")));
    }

    @Test
    void closeStopsServingAndKeepsThePins() throws Exception {
        Agent agent = start();

        agent.close();

        assertFalse(Files.exists(nodes.socket()));
        assertTrue(Files.exists(nodes.pins.resolve("links/to_pod/upl0")));
    }
}
