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

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Kubernetes mode with a Node whose spec.podCIDRs holds an IPv6 CIDR (against
 * fabric8's mock API server, in a real node namespace). Addresses 10.241.17.0/24,
 * 10.241.18.0/24 and fd00:f17:6::/64, fd00:f17:7::/127, fd00:f17:8::/64 are this class's.
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

    @Test
    void aNodeWhoseOnlyPodCidrIsAnIpv6SlashOneTwentySevenIsNotReadyAndTheReasonNamesIt() throws Exception {
        api.createNode("node-a", "fd00:f17:7::/127", "192.168.50.1");
        CompletableFuture<Agent> starting = CompletableFuture.supplyAsync(
                () -> nodes.start(nodes.kubernetesConfig(kubeconfig, Duration.ofSeconds(60))));
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(nodes.socket()));
        await().atMost(Duration.ofSeconds(30)).until(() -> SocketHttp.get(nodes.socket(), "/v1/status").status() == 503
                && SocketHttp.get(nodes.socket(), "/v1/status").json().path("error").asText().contains("fd00:f17:7::/127"));

        String reason = SocketHttp.get(nodes.socket(), "/v1/status").json().path("error").asText();
        assertTrue(reason.contains("node node-a has no podCIDR yet (its spec.podCIDRs [fd00:f17:7::/127] holds no usable CIDR)"),
                reason);

        podCidrs("fd00:f17:7::/120");
        Agent agent = starting.get(30, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(30)).until(() -> agent.notReadyReason().isEmpty());
    }

    private String netconf() {
        return "{\"cniVersion\":\"1.1.0\",\"name\":\"ferry\",\"type\":\"ferry-cni\",\"agentSocket\":\""
                + nodes.socket() + "\",\"spoolDir\":\"" + dir.resolve("state/cni-spool") + "\"}";
    }
}
