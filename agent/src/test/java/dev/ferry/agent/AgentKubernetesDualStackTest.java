package dev.ferry.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.net.IpPrefix;
import dev.ferry.testing.FerryCni;
import dev.ferry.testing.PinnedMaps;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import io.fabric8.kubernetes.api.model.NodeSpecBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Kubernetes mode with a Node whose spec.podCIDRs holds an IPv6 CIDR (against
 * fabric8's mock API server, in a real node namespace). Addresses 10.241.17.0/24,
 * 10.241.18.0/24, 10.241.19.0/24 and fd00:f17:6::/64, fd00:f17:7::/127, fd00:f17:8::/48 (pods),
 * fd00:f17:c::/64 (the uplink) are this class's.
 */
@RequiresRoot
class AgentKubernetesDualStackTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    private AgentFixture nodes;
    private MockApi api;
    private Path kubeconfig;

    @BeforeEach
    void nodeAndApiServer() throws Exception {
        nodes = AgentFixture.withApiServer(dir);
        api = nodes.api;
        kubeconfig = api.writeKubeconfig(dir);
    }

    @AfterEach
    void cleanUp() throws Exception {
        if (nodes != null) {
            nodes.close();
        }
    }

    private static final Duration GRACE = Duration.ofMillis(500);

    /** The uplink of node-a and of its peer get an IPv6 address each: the peer's IPv6 InternalIP is on-link. */
    private void ipv6Uplink() {
        nodes.node.ip("-6", "addr", "add", "fd00:f17:c::1/64", "dev", "upl0", "nodad");
        nodes.peer.ip("-6", "addr", "add", "fd00:f17:c::2/64", "dev", "upl0p", "nodad");
    }

    private void dualStackNode(String name, String v4, String v6, String... internalIps) {
        var status = new io.fabric8.kubernetes.api.model.NodeStatusBuilder();
        for (String ip : internalIps) {
            status.addNewAddress().withType("InternalIP").withAddress(ip).endAddress();
        }
        api.client().nodes().resource(new io.fabric8.kubernetes.api.model.NodeBuilder().withNewMetadata().withName(name).endMetadata()
                .withNewSpec().withPodCIDR(v4).withPodCIDRs(v4, v6).endSpec()
                .withStatus(status.build()).build()).create();
    }

    private String routes(String family) {
        return nodes.node.ip(family, "route", "show", "proto", "70");
    }

    private String ip6Table() {
        return nodes.node.exec("nft", "list", "table", "ip6", "ferry").stdout();
    }

    private Agent startReady(Duration grace) {
        Agent agent = nodes.start(nodes.kubernetesConfig(kubeconfig, grace));
        await().atMost(Duration.ofSeconds(30)).until(() -> agent.notReadyReason().isEmpty());
        return agent;
    }

    @Test
    void aDualStackPeersPodCidrsAreRoutedEachViaItsInternalIpOfThatFamilyAndGoAwayWithTheNode() {
        ipv6Uplink();
        dualStackNode("node-a", "10.241.18.0/24", "fd00:f17:8:1::/64", "192.168.50.1", "fd00:f17:c::1");
        startReady(Duration.ofSeconds(60));

        dualStackNode("node-b", "10.241.19.0/24", "fd00:f17:8:5::/64", "192.168.50.2", "fd00:f17:c::2");

        await().atMost(Duration.ofSeconds(10)).until(() -> routes("-6").contains("fd00:f17:8:5::/64 via fd00:f17:c::2"));
        assertTrue(routes("-4").contains("10.241.19.0/24 via 192.168.50.2"), routes("-4"));
        await().atMost(Duration.ofSeconds(10)).until(() -> ip6Table().contains("fd00:f17:8:5::/64"));
        assertTrue(ip6Table().contains("fd00:f17:8:1::/64"), "this node's IPv6 pods are masqueraded too: " + ip6Table());

        api.client().nodes().withName("node-b").delete();

        await().atMost(Duration.ofSeconds(10)).until(() -> !routes("-6").contains("fd00:f17:8:5::/64")
                && !routes("-4").contains("10.241.19.0/24"));
        await().atMost(Duration.ofSeconds(10)).until(() -> !ip6Table().contains("fd00:f17:8:5::/64"));
    }

    @Test
    void aPeerWithAnIpv4InternalIpOnlyHasItsIpv4PodCidrRoutedAndTheAgentStaysReady() {
        ipv6Uplink();
        dualStackNode("node-a", "10.241.18.0/24", "fd00:f17:8:1::/64", "192.168.50.1", "fd00:f17:c::1");
        Agent agent = startReady(Duration.ofSeconds(60));

        dualStackNode("node-b", "10.241.19.0/24", "fd00:f17:8:5::/64", "192.168.50.2");

        await().atMost(Duration.ofSeconds(10)).until(() -> routes("-4").contains("10.241.19.0/24 via 192.168.50.2"));
        assertFalse(routes("-6").contains("fd00:f17:8:5::"), routes("-6"));
        assertTrue(agent.notReadyReason().isEmpty());

        // The Node gets its IPv6 InternalIP: its IPv6 pod CIDR is routed from then on.
        api.client().nodes().withName("node-b").edit(n -> {
            n.getStatus().getAddresses().add(new io.fabric8.kubernetes.api.model.NodeAddress("fd00:f17:c::2", "InternalIP"));
            return n;
        });
        await().atMost(Duration.ofSeconds(10)).until(() -> routes("-6").contains("fd00:f17:8:5::/64 via fd00:f17:c::2"));
    }

    @Test
    void aDualStackPodDeletedWithoutADelIsCollectedAndBothItsAddressesAreFreed() throws Exception {
        dualStackNode("node-a", "10.241.18.0/24", "fd00:f17:8:1::/64", "192.168.50.1");
        Pod pod = api.createPod("default", "web-gc", "node-a");
        startReady(GRACE);
        TestNetns podNs = TestNetns.create("k8sdsgc");
        try {
            FerryCni.Result add = AgentKubernetesTest.attachment("ADD", podNs, pod).stdin(netconf()).run();
            assertEquals(0, add.exitCode(), add.toString());
            assertEquals(List.of(1, 1), poolsUsed());

            api.client().pods().inNamespace("default").withName("web-gc").delete();

            await().atMost(Duration.ofSeconds(30)).until(() -> nodes.get("/v1/endpoints").path("endpoints").isEmpty());
            assertEquals(List.of(0, 0), poolsUsed(), "both addresses released");
            try (var files = Files.list(dir.resolve("state/ipam"))) {
                assertEquals(List.of(), files.map(f -> f.getFileName().toString()).filter(f -> !f.startsWith("last_reserved")).toList());
            }
        } finally {
            podNs.close();
        }
    }

    @Test
    void aRestartKeepsBothPoolsAndAPodsTwoAddressesAndARestartAfterTheNodeLostItsIpv6CidrFreesTheIpv6OneAtDel() throws Exception {
        dualStackNode("node-a", "10.241.18.0/24", "fd00:f17:8:1::/64", "192.168.50.1");
        Pod pod = api.createPod("default", "web-rs", "node-a");
        Agent first = startReady(Duration.ofSeconds(60));
        TestNetns podNs = TestNetns.create("k8sdsrs");
        try {
            FerryCni.Result add = AgentKubernetesTest.attachment("ADD", podNs, pod).stdin(netconf()).run();
            assertEquals(0, add.exitCode(), add.toString());
            first.close();

            Agent second = startReady(Duration.ofSeconds(60));
            assertEquals(List.of(1, 1), poolsUsed());
            JsonNode endpoint = nodes.get("/v1/endpoints").path("endpoints").get(0);
            assertTrue(endpoint.path("address6").asText().startsWith("fd00:f17:8:1::"), endpoint.toString());
            second.close();

            // The cluster became IPv4-only: the Node keeps its IPv4 pod CIDR alone.
            podCidrs("10.241.18.0/24");
            Files.delete(dir.resolve("state/pod-cidr")); // as a new boot would; the Node is read again
            Agent third = startReady(Duration.ofSeconds(60));
            assertEquals(1, poolsUsed().size(), nodes.get("/v1/status").toString());
            FerryCni.Result del = AgentKubernetesTest.attachment("DEL", podNs, pod).stdin(netconf()).run();
            assertEquals(0, del.exitCode(), del.toString());
            try (var files = Files.list(dir.resolve("state/ipam"))) {
                assertEquals(List.of(), files.map(f -> f.getFileName().toString()).filter(f -> !f.startsWith("last_reserved")).toList(),
                        "the IPv6 address is freed with the IPv4 one");
            }
            assertTrue(third.notReadyReason().isEmpty());
        } finally {
            podNs.close();
        }
    }

    @Test
    void aConfiguredIpv6ClusterCidrOnANodeWithoutAnIpv6PodCidrKeepsTheAgentNotReadyNamingTheKey() throws Exception {
        api.createNode("node-a", "10.241.18.0/24", "192.168.50.1");
        Pod pod = api.createPod("default", "web-cc", "node-a");
        Agent agent = nodes.start(nodes.kubernetesConfig(kubeconfig, Duration.ofSeconds(60),
                List.of(IpPrefix.parse("10.241.0.0/16"), IpPrefix.parse("fd00:f17:8::/48"))));

        String expected = "key 'clusterCIDRs[1]': fd00:f17:8::/48 is IPv6 but node node-a has no IPv6 pod CIDR"
                + " (its pod CIDRs: [10.241.18.0/24])";
        assertEquals(Optional.of(expected), agent.notReadyReason());
        JsonNode status = nodes.get("/v1/status");
        assertFalse(status.path("ready").asBoolean(), status.toString());
        assertEquals(expected, status.path("notReadyReason").asText());
        TestNetns podNs = TestNetns.create("k8sdscc");
        try {
            FerryCni.Result add = AgentKubernetesTest.attachment("ADD", podNs, pod).stdin(netconf()).run();
            assertTrue(add.exitCode() != 0 && add.stdout().contains(expected), add.toString());
        } finally {
            podNs.close();
        }
    }

    /** /v1/status: how many addresses each pool holds, IPv4 first. */
    private List<Integer> poolsUsed() throws Exception {
        List<Integer> used = new java.util.ArrayList<>();
        nodes.get("/v1/status").path("pools").forEach(p -> used.add(p.path("used").asInt()));
        return used;
    }

    private void podCidrs(String... cidrs) {
        podCidrsOf("node-a", cidrs);
    }

    private void podCidrsOf(String node, String... cidrs) {
        api.client().nodes().withName(node).edit(n -> {
            n.setSpec(new NodeSpecBuilder().withPodCIDR(cidrs[0]).withPodCIDRs(cidrs).build());
            return n;
        });
    }

    @Test
    void aDualStackNodesTwoPodCidrsInEitherOrderBecomeTwoPoolsAndAPodGetsAnAddressOfEach() throws Exception {
        api.createNode("node-a", null, "192.168.50.1");
        podCidrs("fd00:f17:6::/64", "10.241.17.0/24"); // IPv6 first, as an IPv6-primary cluster lists them
        Pod pod = api.createPod("default", "web-6", "node-a");
        Agent agent = nodes.start(nodes.kubernetesConfig(kubeconfig, Duration.ofSeconds(60)));
        await().atMost(Duration.ofSeconds(30)).until(() -> agent.notReadyReason().isEmpty());
        assertEquals(List.of("10.241.17.0/24", "fd00:f17:6::/64"), Files.readAllLines(dir.resolve("state/pod-cidr")),
                "both persisted for restarts in an outage, IPv4 first");

        TestNetns podNs = TestNetns.create("k8sds");
        try {
            FerryCni.Result add = AgentKubernetesTest.attachment("ADD", podNs, pod).stdin(netconf()).run();
            assertEquals(0, add.exitCode(), add.toString());
            JsonNode ips = JSON.readTree(add.stdout()).path("ips");
            assertTrue(ips.path(0).path("address").asText().startsWith("10.241.17."), ips.toString());
            assertTrue(ips.path(1).path("address").asText().startsWith("fd00:f17:6::"), ips.toString());
            FerryCni.Result del = AgentKubernetesTest.attachment("DEL", podNs, pod).stdin(netconf()).run();
            assertEquals(0, del.exitCode(), del.toString());
        } finally {
            podNs.close();
        }
    }

    /** The BPF programs forward IPv6 to other nodes' pods only within the map's IPv6 prefixes. */
    @Test
    void everyDualStackNodesPodCidrsOfBothFamiliesFillTheClusterCidrMap() throws Exception {
        api.createNode("node-a", null, "192.168.50.1");
        podCidrsOf("node-a", "10.241.17.0/24", "fd00:f17:6::/64");
        api.createNode("node-b", null, "192.168.50.2");
        podCidrsOf("node-b", "fd00:f17:8::/64", "10.241.18.0/24");
        Agent agent = nodes.start(nodes.kubernetesConfig(kubeconfig, Duration.ofSeconds(60)));
        await().atMost(Duration.ofSeconds(30)).until(() -> agent.notReadyReason().isEmpty());

        Set<IpPrefix> expected = Set.of(IpPrefix.parse("10.241.17.0/24"), IpPrefix.parse("10.241.18.0/24"),
                IpPrefix.parse("fd00:f17:6::/64"), IpPrefix.parse("fd00:f17:8::/64"));
        await().atMost(Duration.ofSeconds(10)).until(() -> clusterCidrs().equals(expected));

        api.client().nodes().withName("node-b").delete();

        await().atMost(Duration.ofSeconds(10)).until(() -> clusterCidrs().equals(
                Set.of(IpPrefix.parse("10.241.17.0/24"), IpPrefix.parse("fd00:f17:6::/64"))));
    }

    private Set<IpPrefix> clusterCidrs() {
        return PinnedMaps.cidrs(nodes.pinnedMap("ferry_cluster_cidrs"));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"fd00:f17:7::/127, too small", "fd00:f17:7::/56, too large"})
    void aNodeWhoseOnlyPodCidrIsAnIpv6CidrOutsideSlash64ToSlash124IsNotReadyAndTheReasonNamesIt(String cidr, String why)
            throws Exception {
        api.createNode("node-a", cidr, "192.168.50.1");
        CompletableFuture<Agent> starting = CompletableFuture.supplyAsync(
                () -> nodes.start(nodes.kubernetesConfig(kubeconfig, Duration.ofSeconds(60))));
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(nodes.socket()));
        await().atMost(Duration.ofSeconds(30)).until(() -> SocketHttp.get(nodes.socket(), "/v1/status").status() == 503
                && SocketHttp.get(nodes.socket(), "/v1/status").json().path("error").asText().contains(cidr));

        String reason = SocketHttp.get(nodes.socket(), "/v1/status").json().path("error").asText();
        String length = cidr.substring(cidr.indexOf('/'));
        assertTrue(reason.contains("node node-a has no podCIDR yet (its spec.podCIDRs [" + cidr + "] holds no usable CIDR: "
                        + cidr + " is a " + length + "; an IPv6 pod CIDR must be a /64 to a /124)"),
                why + ": " + reason);

        podCidrs("fd00:f17:7::/120");
        Agent agent = starting.get(30, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(30)).until(() -> agent.notReadyReason().isEmpty());
    }

    private String netconf() {
        return "{\"cniVersion\":\"1.1.0\",\"name\":\"ferry\",\"type\":\"ferry-cni\",\"agentSocket\":\""
                + nodes.socket() + "\",\"spoolDir\":\"" + dir.resolve("state/cni-spool") + "\"}";
    }
}
