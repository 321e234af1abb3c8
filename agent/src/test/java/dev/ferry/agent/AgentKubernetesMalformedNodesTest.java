package dev.ferry.agent;

import dev.ferry.net.IpPrefix;
import dev.ferry.testing.PinnedMaps;
import dev.ferry.testing.RequiresRoot;
import io.fabric8.kubernetes.api.model.NodeSpecBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Node objects a real API server accepts but no sane cluster has, found by the
 * fault campaign's kube scenario (bench/faults/kube.py): the agent must neither
 * lose its own pods' addresses to them nor lose another node's route over them.
 * A "marker" node created last shows that every earlier event was applied (one
 * worker applies them in order). Addresses 10.245.0.0/16 are this class's.
 */
@RequiresRoot
class AgentKubernetesMalformedNodesTest {
    private static final String OWN = "10.245.1.0/24";

    @TempDir
    Path dir;

    private AgentFixture nodes;
    private MockApi api;
    private int markers;

    @BeforeEach
    void nodeAndApiServer() throws Exception {
        nodes = AgentFixture.withApiServer(dir);
        api = nodes.api;
    }

    @AfterEach
    void cleanUp() throws Exception {
        if (nodes != null) {
            nodes.close();
        }
    }

    private Agent startReady() throws Exception {
        Agent agent = nodes.start(nodes.kubernetesConfig(api.writeKubeconfig(dir), Duration.ofSeconds(60)));
        await().atMost(Duration.ofSeconds(30)).until(() -> agent.notReadyReason().isEmpty());
        return agent;
    }

    private String routes() {
        return nodes.node.ip("route", "show", "proto", "70");
    }

    private Set<IpPrefix> clusterCidrs() {
        return PinnedMaps.cidrs(nodes.pinnedMap("ferry_cluster_cidrs"));
    }

    /** A good node made after the others and routed: every earlier Node event has been applied. */
    private void eventsApplied() {
        int i = 200 + markers++;
        api.createNode("marker-" + i, "10.245." + i + ".0/24", "192.168.50." + i);
        await().atMost(Duration.ofSeconds(10)).until(() -> routes().contains("10.245." + i + ".0/24 via 192.168.50." + i));
    }

    @Test
    void aPeerPodCidrWithHostBitsSetIsRoutedAsItsNetwork() throws Exception {
        api.createNode("node-a", OWN, "192.168.50.1");
        api.createNode("node-b", "10.245.2.7/24", "192.168.50.2");
        startReady();

        await().atMost(Duration.ofSeconds(10)).until(() -> routes().contains("10.245.2.0/24 via 192.168.50.2"));
        assertTrue(clusterCidrs().contains(IpPrefix.parse("10.245.2.0/24")), clusterCidrs().toString());
    }

    @Test
    void peerPodCidrsOverlappingThisNodesAreNeitherRoutedNorClusterCidrs() throws Exception {
        api.createNode("node-a", OWN, "192.168.50.1");
        api.createNode("node-inside", "10.245.1.128/25", "192.168.50.3");
        startReady();
        api.createNode("node-everything", "0.0.0.0/0", "192.168.50.4");
        eventsApplied();

        String routes = routes();
        assertFalse(routes.contains("10.245.1.128/25"), routes);
        assertFalse(routes.contains("default"), routes);
        assertFalse(clusterCidrs().contains(IpPrefix.parse("0.0.0.0/0")), clusterCidrs().toString());
        assertTrue(clusterCidrs().contains(IpPrefix.parse(OWN)), clusterCidrs().toString());
    }

    @Test
    void peersListedBeforeThisNodeHasAPodCidrLoseTheOverlappingRoutesWhenItGetsOne() throws Exception {
        api.createNode("node-a", null, "192.168.50.1");
        api.createNode("node-holding", "10.245.0.0/16", "192.168.50.3");
        Path kubeconfig = api.writeKubeconfig(dir);
        // The agent's start waits for this node's pod CIDR.
        CompletableFuture<Agent> starting = CompletableFuture.supplyAsync(
                () -> nodes.start(nodes.kubernetesConfig(kubeconfig, Duration.ofSeconds(60))));
        await().atMost(Duration.ofSeconds(30)).until(() -> routes().contains("10.245.0.0/16 via 192.168.50.3"));

        api.client().nodes().withName("node-a").edit(n -> {
            n.setSpec(new NodeSpecBuilder().withPodCIDR(OWN).addToPodCIDRs(OWN).build());
            return n;
        });
        Agent agent = starting.get(30, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(30)).until(() -> agent.notReadyReason().isEmpty());

        await().atMost(Duration.ofSeconds(10)).until(() -> !routes().contains("10.245.0.0/16"));
        assertFalse(clusterCidrs().contains(IpPrefix.parse("10.245.0.0/16")), clusterCidrs().toString());
    }

    @Test
    void whileThisNodesPodCidrIsNotACidrTheNotReadyReasonNamesIt() throws Exception {
        api.createNode("node-a", "banana", "192.168.50.1");
        Path kubeconfig = api.writeKubeconfig(dir);
        // The agent's start waits for this node's pod CIDR; the stand-in socket answers meanwhile.
        CompletableFuture<Agent> starting = CompletableFuture.supplyAsync(
                () -> nodes.start(nodes.kubernetesConfig(kubeconfig, Duration.ofSeconds(60))));
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(nodes.socket()));
        await().atMost(Duration.ofSeconds(30)).until(() -> SocketHttp.get(nodes.socket(), "/v1/status").status() == 503);

        SocketHttp.Response status = SocketHttp.get(nodes.socket(), "/v1/status");
        String reason = status.json().path("error").asText();
        assertTrue(reason.contains("node node-a has no podCIDR yet") && reason.contains("banana"), reason);

        api.client().nodes().withName("node-a").edit(n -> {
            n.setSpec(new NodeSpecBuilder().withPodCIDR(OWN).addToPodCIDRs(OWN).build());
            return n;
        });
        Agent agent = starting.get(30, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(30)).until(() -> agent.notReadyReason().isEmpty());
    }

    @Test
    void aPeerWhoseInternalIpIsThisNodesOwnAddressIsNotRouted() throws Exception {
        api.createNode("node-a", OWN, "192.168.50.1");
        api.createNode("node-b", "10.245.2.0/24", "192.168.50.1");
        startReady();
        eventsApplied();

        assertFalse(routes().contains("10.245.2.0/24"), routes());
    }

    @Test
    void twoNodesWithOnePodCidrKeepItRoutedUntilTheLastOfThemIsDeleted() throws Exception {
        api.createNode("node-a", OWN, "192.168.50.1");
        api.createNode("node-b", "10.245.2.0/24", "192.168.50.2");
        startReady();
        api.createNode("node-c", "10.245.2.0/24", "192.168.50.3");
        eventsApplied();
        assertTrue(routes().contains("10.245.2.0/24 via 192.168.50.2"), "the first Node to claim it keeps it: " + routes());

        api.client().nodes().withName("node-b").delete();
        await().atMost(Duration.ofSeconds(10)).until(() -> routes().contains("10.245.2.0/24 via 192.168.50.3"));

        api.client().nodes().withName("node-c").delete();
        await().atMost(Duration.ofSeconds(10)).until(() -> !routes().contains("10.245.2.0/24"));
        await().atMost(Duration.ofSeconds(10)).until(() -> !clusterCidrs().contains(IpPrefix.parse("10.245.2.0/24")));
    }
}
