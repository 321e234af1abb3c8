package dev.ferry.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.agent.AgentConfig.Mode;
import dev.ferry.datapath.AttachMode;
import dev.ferry.net.IpPrefix;
import dev.ferry.testing.BpfPins;
import dev.ferry.testing.Cleanup;
import dev.ferry.testing.FerryCni;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import dev.ferry.testing.Traffic;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two nodes on one wire, one in-process agent each, both against the same mock
 * API server: the routes between them come from the Nodes alone, and pod-to-pod
 * traffic across the wire leaves through bpf_redirect_neigh and arrives through
 * bpf_redirect_peer. Addresses 10.243.0.0/16 and fd00:f17:50::/64, fd00:f17:a::/64,
 * fd00:f17:b::/64 are this class's.
 */
@RequiresRoot
class AgentKubernetesTwoNodesTest {
    @TempDir
    Path dir;

    private AgentFixture nodes;
    private MockApi api;
    private BpfPins pinsB;
    private Agent agentB;

    @BeforeEach
    void twoNodesAndApiServer() throws Exception {
        pinsB = BpfPins.create("ferry-test-agentb");
        nodes = AgentFixture.withApiServer(dir);
        api = nodes.api;
    }

    @AfterEach
    void cleanUp() throws Exception {
        Cleanup.all(() -> {
            if (agentB != null) {
                agentB.close();
            }
        }, () -> {
            if (nodes != null) {
                nodes.close();
            }
        }, pinsB::close);
    }

    /** node-b's agent: the fixture's peer namespace, its own socket, state and pins. */
    private AgentConfig configB(Path kubeconfig) {
        Path b = dir.resolve("b");
        return TestConfigs.of("node-b", Mode.KUBERNETES, List.of(), List.of(), List.of("upl0p"), List.of(),
                b.resolve("run/ferry.sock"), b.resolve("state"), pinsB.root(), b.resolve("cni"),
                new InetSocketAddress(IpPrefix.literal("127.0.0.1"), 0), AttachMode.TCX,
                new AgentConfig.Kubernetes(kubeconfig, Duration.ofSeconds(60)));
    }

    @Test
    void podsOnTwoNodesTalkAcrossTheWireThroughRedirectNeighAndRedirectPeer() throws Exception {
        Path kubeconfig = api.writeKubeconfig(dir);
        api.createNode("node-a", "10.243.1.0/24", "192.168.50.1");
        api.createNode("node-b", "10.243.2.0/24", "192.168.50.2");
        Pod podA = api.createPod("default", "client", "node-a");
        Pod podB = api.createPod("default", "server", "node-b");
        Agent agentA = nodes.start(nodes.kubernetesConfig(kubeconfig, Duration.ofSeconds(60)));
        agentB = Agent.start(configB(kubeconfig), Path.of("/run/netns", nodes.peer.name()));
        await().atMost(Duration.ofSeconds(30)).until(() -> agentA.notReadyReason().isEmpty() && agentB.notReadyReason().isEmpty());
        await().atMost(Duration.ofSeconds(10)).until(() -> nodes.node.ip("route").contains("10.243.2.0/24 via 192.168.50.2")
                && nodes.peer.ip("route").contains("10.243.1.0/24 via 192.168.50.1"));

        TestNetns nsA = TestNetns.create("k8sclient");
        TestNetns nsB = TestNetns.create("k8sserver");
        try {
            Traffic.End a = add(nsA, podA, nodes.socket(), dir.resolve("state/cni-spool"));
            Traffic.End b = add(nsB, podB, configB(kubeconfig).socket(), dir.resolve("b/state/cni-spool"));

            Traffic.ping(a, b, 3);
            Traffic.tcpTransfer(a, b, 7421, 200_000);

            JsonNode statsA = stats(nodes.socket());
            JsonNode statsB = stats(configB(kubeconfig).socket());
            assertTrue(packets(statsA, "egress", "redirect_neigh") > 0, "node-a sent through redirect_neigh: " + statsA);
            assertTrue(packets(statsB, "ingress", "redirect_peer") > 0, "node-b delivered through redirect_peer: " + statsB);
        } finally {
            Cleanup.all(nsA::close, nsB::close);
        }
    }

    @Test
    void dualStackPodsOnTwoNodesTalkIpv6AcrossTheWireViaEachNodesIpv6InternalIp() throws Exception {
        // The wire gets IPv6 too (nodad: no wait for DAD); the namespaces go with the fixture.
        nodes.node.ip("address", "add", "fd00:f17:50::1/64", "dev", "upl0", "nodad");
        nodes.peer.ip("address", "add", "fd00:f17:50::2/64", "dev", "upl0p", "nodad");
        Path kubeconfig = api.writeKubeconfig(dir);
        dualStackNode("node-a", "10.243.11.0/24", "fd00:f17:a::/64", "192.168.50.1", "fd00:f17:50::1");
        dualStackNode("node-b", "10.243.12.0/24", "fd00:f17:b::/64", "192.168.50.2", "fd00:f17:50::2");
        Pod podA = api.createPod("default", "client6", "node-a");
        Pod podB = api.createPod("default", "server6", "node-b");
        Agent agentA = nodes.start(nodes.kubernetesConfig(kubeconfig, Duration.ofSeconds(60)));
        agentB = Agent.start(configB(kubeconfig), Path.of("/run/netns", nodes.peer.name()));
        await().atMost(Duration.ofSeconds(30)).until(() -> agentA.notReadyReason().isEmpty() && agentB.notReadyReason().isEmpty());
        await().atMost(Duration.ofSeconds(10)).until(() -> nodes.node.ip("-6", "route").contains("fd00:f17:b::/64 via fd00:f17:50::2")
                && nodes.peer.ip("-6", "route").contains("fd00:f17:a::/64 via fd00:f17:50::1")
                && nodes.node.ip("route").contains("10.243.12.0/24 via 192.168.50.2"));

        TestNetns nsA = TestNetns.create("k8sclient6");
        TestNetns nsB = TestNetns.create("k8sserver6");
        try {
            List<Traffic.End> a = addBoth(nsA, podA, nodes.socket(), dir.resolve("state/cni-spool"));
            List<Traffic.End> b = addBoth(nsB, podB, configB(kubeconfig).socket(), dir.resolve("b/state/cni-spool"));

            Traffic.ping(a.get(1), b.get(1), 3);
            Traffic.tcpTransfer(a.get(1), b.get(1), 7422, 200_000);
            Traffic.ping(a.get(0), b.get(0), 2);
        } finally {
            Cleanup.all(nsA::close, nsB::close);
        }
    }

    private void dualStackNode(String name, String v4, String v6, String ip4, String ip6) {
        api.client().nodes().resource(new NodeBuilder().withNewMetadata().withName(name).endMetadata()
                .withNewSpec().withPodCIDR(v4).withPodCIDRs(v4, v6).endSpec()
                .withNewStatus().addNewAddress().withType("InternalIP").withAddress(ip4).endAddress()
                .addNewAddress().withType("InternalIP").withAddress(ip6).endAddress().endStatus().build()).create();
    }

    /** ADD through the real ferry-cni; the pod's IPv4 and IPv6 address. */
    private static List<Traffic.End> addBoth(TestNetns ns, Pod pod, Path socket, Path spool) throws Exception {
        String netconf = "{\"cniVersion\":\"1.1.0\",\"name\":\"ferry\",\"type\":\"ferry-cni\",\"agentSocket\":\""
                + socket + "\",\"spoolDir\":\"" + spool + "\"}";
        FerryCni.Result add = AgentKubernetesTest.attachment("ADD", ns, pod).stdin(netconf).run();
        assertEquals(0, add.exitCode(), add.toString());
        JsonNode ips = new ObjectMapper().readTree(add.stdout()).path("ips");
        assertEquals(2, ips.size(), add.stdout());
        return List.of(new Traffic.End(ns, IpPrefix.parse(ips.get(0).path("address").asText()).address()),
                new Traffic.End(ns, IpPrefix.parse(ips.get(1).path("address").asText()).address()));
    }

    /** An agent's datapath counters as {@code ferry stats} reads them. */
    private static JsonNode stats(Path socket) throws Exception {
        SocketHttp.Response r = SocketHttp.get(socket, "/v1/datapath/stats");
        assertEquals(200, r.status(), r.json().toString());
        return r.json().path("counters");
    }

    private static long packets(JsonNode counters, String direction, String verdict) {
        long packets = 0;
        for (JsonNode c : counters) {
            if (c.path("direction").asText().equals(direction) && c.path("verdict").asText().equals(verdict)) {
                packets += c.path("packets").asLong();
            }
        }
        return packets;
    }

    /** ADD through the real ferry-cni against the given node's agent; the pod's address. */
    private static Traffic.End add(TestNetns ns, Pod pod, Path socket, Path spool) throws Exception {
        String netconf = "{\"cniVersion\":\"1.1.0\",\"name\":\"ferry\",\"type\":\"ferry-cni\",\"agentSocket\":\""
                + socket + "\",\"spoolDir\":\"" + spool + "\"}";
        FerryCni.Result add = AgentKubernetesTest.attachment("ADD", ns, pod).stdin(netconf).run();
        assertEquals(0, add.exitCode(), add.toString());
        JsonNode ip = new ObjectMapper().readTree(add.stdout()).path("ips").get(0);
        return new Traffic.End(ns, IpPrefix.parse(ip.path("address").asText()).address());
    }
}
