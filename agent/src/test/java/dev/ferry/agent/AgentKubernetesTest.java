package dev.ferry.agent;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ferry.net.IpPrefix;
import dev.ferry.testing.Cleanup;
import dev.ferry.testing.FerryCni;
import dev.ferry.testing.MetricsPort;
import dev.ferry.testing.PinnedMaps;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import dev.ferry.testing.Traffic;
import io.fabric8.kubernetes.api.model.NodeSpecBuilder;
import io.fabric8.kubernetes.api.model.Pod;
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
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Kubernetes mode against fabric8's mock API server (CRUD): the agent runs in a
 * real node namespace with the real datapath and pod network; only the API server
 * is a stand-in. Addresses 10.241.0.0/16 are this class's.
 */
@RequiresRoot
class AgentKubernetesTest {
    private static final Duration GRACE = Duration.ofSeconds(1);

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

    private Agent start() {
        return nodes.start(nodes.kubernetesConfig(kubeconfig, GRACE));
    }

    private Agent startReady() {
        Agent agent = start();
        await().atMost(Duration.ofSeconds(30)).until(() -> agent.notReadyReason().isEmpty());
        return agent;
    }

    private String routes() {
        return nodes.node.ip("route", "show", "proto", "70");
    }

    @Test
    void theNodesPodCidrBecomesTheIpamPoolAndStatusSaysWhyUntilThen() throws Exception {
        api.createNode("node-a", null, "192.168.50.1");
        CompletableFuture<Agent> starting = CompletableFuture.supplyAsync(this::start);
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(nodes.socket()));

        FerryCni.Result status = FerryCni.command("STATUS").stdin(netconf()).run();
        assertEquals(50, status.code(), status.toString());
        assertTrue(status.details().contains("node node-a has no podCIDR yet"), status.toString());
        assertFalse(Files.exists(dir.resolve("cni/05-ferry.conflist")), "no conflist before the agent is ready");

        api.client().nodes().withName("node-a").edit(n -> {
            n.setSpec(new NodeSpecBuilder().withPodCIDR("10.241.1.0/24").addToPodCIDRs("10.241.1.0/24").build());
            return n;
        });
        Agent agent = starting.get(30, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(30)).until(() -> agent.notReadyReason().isEmpty());

        JsonNode s = nodes.get("/v1/status");
        assertEquals("10.241.1.0/24", s.path("podCIDR").asText(), s.toString());
        assertEquals("10.241.1.0/24", Files.readString(dir.resolve("state/pod-cidr")).strip(), "persisted for restarts in an outage");
        await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(dir.resolve("cni/05-ferry.conflist")));
        assertEquals(0, FerryCni.command("STATUS").stdin(netconf()).run().exitCode());
    }

    @Test
    void otherNodesBecomeRoutesAndClusterCidrsAndGoAwayWithTheirNode() {
        api.createNode("node-a", "10.241.1.0/24", "192.168.50.1");
        startReady();

        api.createNode("node-b", "10.241.2.0/24", "192.168.50.2");

        await().atMost(Duration.ofSeconds(10)).until(() -> routes().contains("10.241.2.0/24 via 192.168.50.2"));
        await().atMost(Duration.ofSeconds(10)).until(() -> clusterCidrs().contains(IpPrefix.parse("10.241.2.0/24")));
        assertTrue(clusterCidrs().contains(IpPrefix.parse("10.241.1.0/24")), "this node's pod CIDR too");

        api.client().nodes().withName("node-b").delete();

        await().atMost(Duration.ofSeconds(10)).until(() -> !routes().contains("10.241.2.0/24"));
        await().atMost(Duration.ofSeconds(10)).until(() -> !clusterCidrs().contains(IpPrefix.parse("10.241.2.0/24")));
        assertTrue(clusterCidrs().contains(IpPrefix.parse("10.241.1.0/24")));
    }

    @Test
    void aNodeOnNoConnectedNetworkIsLeftUnroutedAndTheAgentStillBecomesReady() throws Exception {
        api.createNode("node-a", "10.241.1.0/24", "192.168.50.1");
        api.createNode("node-far", "10.241.9.0/24", "172.31.200.7"); // no network of the uplink holds it
        api.createNode("node-b", "10.241.2.0/24", "192.168.50.2");

        startReady();

        assertTrue(routes().contains("10.241.2.0/24 via 192.168.50.2"), routes());
        assertFalse(routes().contains("10.241.9.0/24"), routes());

        nodes.node.ip("address", "add", "172.31.200.1/24", "dev", "upl0"); // its network comes up
        api.createNode("node-c", "10.241.3.0/24", "192.168.50.3"); // any later event retries what failed
        await().atMost(Duration.ofSeconds(10)).until(() -> routes().contains("10.241.9.0/24 via 172.31.200.7"));
    }

    @Test
    void adjacentNodeCidrsFillTheClusterCidrMapAsOnePrefix() {
        api.createNode("node-a", "10.241.4.0/24", "192.168.50.1");
        api.createNode("node-b", "10.241.5.0/24", "192.168.50.2");
        startReady();

        await().atMost(Duration.ofSeconds(10)).until(() -> clusterCidrs().equals(Set.of(IpPrefix.parse("10.241.4.0/23"))));
    }

    @Test
    void anEndpointWhosePodIsDeletedWithoutADelIsCollectedAsADelWould() throws Exception {
        api.createNode("node-a", "10.241.1.0/24", "192.168.50.1");
        Pod pod = api.createPod("default", "web-1", "node-a");
        Agent agent = startReady();
        TestNetns podNs = TestNetns.create("k8spod");
        try {
            FerryCni.Result add = attachment("ADD", podNs, pod).stdin(netconf()).run();
            assertEquals(0, add.exitCode(), add.toString());
            JsonNode endpoint = nodes.get("/v1/endpoints").path("endpoints").get(0);
            assertEquals("web-1", endpoint.path("podName").asText(), endpoint.toString());
            String hostIfname = endpoint.path("hostIfname").asText();
            // Past the grace period, all along: a pod that exists keeps its endpoint.
            await().during(GRACE.multipliedBy(3)).atMost(GRACE.multipliedBy(4))
                    .until(() -> nodes.get("/v1/endpoints").path("endpoints").size() == 1);

            api.client().pods().inNamespace("default").withName("web-1").delete();

            await().atMost(Duration.ofSeconds(30)).until(() -> nodes.get("/v1/endpoints").path("endpoints").isEmpty());
            assertFalse(nodes.node.ip("-o", "link", "show").contains(hostIfname), "host veth gone");
            assertTrue(PinnedMaps.keys(nodes.pinnedMap("ferry_endpoints_v3")).isEmpty(), "endpoint map entry gone");
            assertEquals(0, nodes.get("/v1/status").path("ipam").path("used").asInt(), "address released");
            try (var files = Files.list(dir.resolve("state/endpoints"))) {
                assertEquals(0, files.count(), "endpoint state gone");
            }
            assertTrue(agent.notReadyReason().isEmpty());
        } finally {
            podNs.close();
        }
    }

    @Test
    void anApiOutageKeepsForwardingAndDelWorkingAndTheAgentResyncsWhenTheServerReturns() throws Exception {
        api.createNode("node-a", "10.241.1.0/24", "192.168.50.1");
        api.createNode("node-b", "10.241.2.0/24", "192.168.50.2");
        Pod web1 = api.createPod("default", "web-1", "node-a");
        Pod web2 = api.createPod("default", "web-2", "node-a");
        // A grace period longer than the test: the pods re-created on the new server get new uids, and this
        // test is about the outage, not about collecting them.
        Agent agent = nodes.start(nodes.kubernetesConfig(kubeconfig, Duration.ofMinutes(10)));
        await().atMost(Duration.ofSeconds(30)).until(() -> agent.notReadyReason().isEmpty());
        await().atMost(Duration.ofSeconds(10)).until(() -> routes().contains("10.241.2.0/24 via 192.168.50.2"));
        TestNetns ns1 = TestNetns.create("k8sout1");
        TestNetns ns2 = TestNetns.create("k8sout2");
        try {
            assertEquals(0, attachment("ADD", ns1, web1).stdin(netconf()).run().exitCode());
            assertEquals(0, attachment("ADD", ns2, web2).stdin(netconf()).run().exitCode());
            Traffic.End a = end(ns1, "web-1");
            Traffic.End b = end(ns2, "web-2");
            Traffic.ping(a, b, 3);

            api.stop();

            await().atMost(Duration.ofSeconds(30)).until(() -> agent.notReadyReason().isPresent());
            Traffic.ping(a, b, 3);
            Traffic.tcpTransfer(a, b, 7411, 100_000);
            assertTrue(routes().contains("10.241.2.0/24 via 192.168.50.2"), "the outage changed no route");
            assertTrue(clusterCidrs().contains(IpPrefix.parse("10.241.2.0/24")), "nor the cluster CIDRs");
            FerryCni.Result del = attachment("DEL", ns2, web2).stdin(netconf()).run();
            assertEquals(0, del.exitCode(), del.toString());
            assertEquals(1, nodes.get("/v1/endpoints").path("endpoints").size(), "the DEL ran in the agent, not spooled");

            api.restart();
            api.createNode("node-a", "10.241.1.0/24", "192.168.50.1");
            api.createNode("node-b", "10.241.2.0/24", "192.168.50.2");
            api.createPod("default", "web-1", "node-a");

            await().atMost(Duration.ofSeconds(60)).until(() -> agent.notReadyReason().isEmpty());
            assertTrue(routes().contains("10.241.2.0/24 via 192.168.50.2"));
            FerryCni.Result addAgain = attachment("ADD", ns2, web2).stdin(netconf()).run();
            assertEquals(0, addAgain.exitCode(), "ready again, so ADD is taken again: " + addAgain);
            Traffic.ping(a, end(ns2, "web-2"), 3);
        } finally {
            Cleanup.all(ns1::close, ns2::close);
        }
    }

    @Test
    void anAgentRestartedDuringAnOutageServesDelAtOnceFromThePersistedPodCidr() throws Exception {
        api.createNode("node-a", "10.241.1.0/24", "192.168.50.1");
        Pod web = api.createPod("default", "web-3", "node-a");
        Agent first = startReady();
        TestNetns podNs = TestNetns.create("k8srst");
        try {
            assertEquals(0, attachment("ADD", podNs, web).stdin(netconf()).run().exitCode());
            first.close();
            api.stop();

            Agent second = start();

            assertTrue(second.notReadyReason().isPresent(), "not ready while the API server is away");
            assertEquals("10.241.1.0/24", nodes.get("/v1/status").path("podCIDR").asText());
            FerryCni.Result del = attachment("DEL", podNs, web).stdin(netconf()).run();
            assertEquals(0, del.exitCode(), del.toString());
            assertTrue(nodes.get("/v1/endpoints").path("endpoints").isEmpty(), "the DEL ran in the agent");
            assertEquals(0, nodes.get("/v1/status").path("ipam").path("used").asInt());

            api.restart();
            api.createNode("node-a", "10.241.1.0/24", "192.168.50.1");
            await().atMost(Duration.ofSeconds(60)).until(() -> second.notReadyReason().isEmpty());
        } finally {
            podNs.close();
        }
    }

    @Test
    void watchEventsApiErrorsAndTheApiCallsRetryAndBreakerAreMetrics() throws Exception {
        api.createNode("node-a", "10.241.1.0/24", "192.168.50.1");
        api.createPod("default", "web-4", "node-a");
        startReady();
        api.createNode("node-b", "10.241.2.0/24", "192.168.50.2");
        api.client().pods().inNamespace("default").withName("web-4").delete();

        await().atMost(Duration.ofSeconds(10)).until(() ->
                MetricsPort.value(scrape(), "ferry_k8s_watch_events_total{action=\"add\",resource=\"node\"}") == 2
                        && MetricsPort.value(scrape(), "ferry_k8s_watch_events_total{action=\"delete\",resource=\"pod\"}") == 1);
        String before = scrape();
        assertEquals(1, MetricsPort.value(before, "ferry_k8s_watch_events_total{action=\"add\",resource=\"pod\"}"), before);
        assertEquals(0, MetricsPort.value(before, "ferry_k8s_api_errors_total{operation=\"probe_version\"}"), "no error while the server answers");
        assertTrue(before.contains("resilience4j_circuitbreaker_state{name=\"kubernetes-api\",state=\"closed\"} 1.0"), before);
        assertTrue(before.contains("resilience4j_retry_calls_total{kind=\"successful_without_retry\",name=\"kubernetes-api\"}"), before);

        api.stop();

        await().atMost(Duration.ofSeconds(30)).until(() ->
                MetricsPort.value(scrape(), "ferry_k8s_api_errors_total{operation=\"probe_version\"}") >= 1);
    }

    private String scrape() {
        return MetricsPort.scrape(nodes.metricsPort());
    }

    /** What the BPF cluster-CIDR map holds now. */
    private Set<IpPrefix> clusterCidrs() {
        return PinnedMaps.cidrs(nodes.pinnedMap("ferry_cluster_cidrs"));
    }

    private Traffic.End end(TestNetns ns, String podName) throws Exception {
        for (JsonNode e : nodes.get("/v1/endpoints").path("endpoints")) {
            if (podName.equals(e.path("podName").asText())) {
                return new Traffic.End(ns, IpPrefix.parse(e.path("address").asText()).address());
            }
        }
        throw new AssertionError("no endpoint for pod " + podName);
    }

    String netconf() {
        return "{\"cniVersion\":\"1.1.0\",\"name\":\"ferry\",\"type\":\"ferry-cni\",\"agentSocket\":\""
                + nodes.socket() + "\",\"spoolDir\":\"" + dir.resolve("state/cni-spool") + "\"}";
    }

    /** What a runtime passes for a Kubernetes pod: the pod's namespace, name and uid in CNI_ARGS. */
    static FerryCni attachment(String command, TestNetns podNs, Pod pod) {
        return FerryCni.command(command)
                .env("CNI_CONTAINERID", "k8s" + pod.getMetadata().getName().replace("-", ""))
                .env("CNI_NETNS", "/run/netns/" + podNs.name())
                .env("CNI_IFNAME", "eth0")
                .env("CNI_PATH", "/opt/cni/bin")
                .env("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=" + pod.getMetadata().getNamespace()
                        + ";K8S_POD_NAME=" + pod.getMetadata().getName() + ";K8S_POD_UID=" + pod.getMetadata().getUid());
    }
}
