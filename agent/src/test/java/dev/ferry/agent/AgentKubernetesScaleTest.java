package dev.ferry.agent;

import dev.ferry.testing.PinnedMaps;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.RouteMonitor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Twelve hundred Nodes: every route is programmed, one node's change writes that
 * node's route only, and pod CIDRs that neither aggregate nor fit the BPF
 * cluster-CIDR map (1024 entries) leave the agent ready with the widest ones in
 * it. The time and memory are printed, not asserted (they vary with the machine).
 * Peers use /26s of 10.242.0.0/15-ish ranges that are never two halves of one
 * prefix, via 172.30.0.0/16, this class's ranges.
 */
@RequiresRoot
class AgentKubernetesScaleTest {
    private static final int NODES = 1200;

    @TempDir
    Path dir;

    private AgentFixture nodes;
    private MockApi api;

    @BeforeEach
    void nodeAndApiServer() throws Exception {
        nodes = AgentFixture.withApiServer(dir);
        api = nodes.api;
        // A /16 on the uplink so that a thousand InternalIPs are on a connected network.
        nodes.node.ip("address", "add", "172.30.0.1/16", "dev", "upl0");
    }

    @AfterEach
    void cleanUp() throws Exception {
        if (nodes != null) {
            nodes.close();
        }
    }

    /** The first or the third quarter of a /24: no two of them are halves of one /25, so nothing aggregates. */
    private static String podCidr(int i) {
        return "10." + (242 + i / 512) + "." + (i % 512 / 2) + "." + (i % 2 * 128) + "/26";
    }

    private static String internalIp(int i) {
        return "172.30." + (i / 250 + 1) + "." + (i % 250 + 1);
    }

    private long peerRoutes() {
        return nodes.node.ip("route", "show", "proto", "70").lines().filter(l -> l.contains(" via ")).count();
    }

    @Test
    void everyNodeIsRoutedTheAgentIsReadyWithAFullClusterCidrMapAndOneNodesChangeRewritesOnlyItsRoute() throws Exception {
        api.createNode("node-a", "10.241.1.0/24", "192.168.50.1");
        for (int i = 0; i < NODES; i++) {
            api.createNode("node-" + i, podCidr(i), internalIp(i));
        }
        long started = System.nanoTime();
        Agent agent = nodes.start(nodes.kubernetesConfig(api.writeKubeconfig(dir), Duration.ofSeconds(60)));
        await().atMost(Duration.ofSeconds(120)).until(() -> peerRoutes() == NODES && agent.notReadyReason().isEmpty());
        long tookMs = (System.nanoTime() - started) / 1_000_000;
        assertEquals(1024, PinnedMaps.keys(nodes.pinnedMap("ferry_cluster_cidrs")).size(),
                "as many pod CIDRs as the map takes; the rest go by the stack");
        assertTrue(PinnedMaps.cidrs(nodes.pinnedMap("ferry_cluster_cidrs")).contains(dev.ferry.net.IpPrefix.parse("10.241.1.0/24")),
                "the widest prefixes first");
        report(tookMs);

        try (RouteMonitor writes = RouteMonitor.start(nodes.node)) {
            api.client().nodes().withName("node-500").edit(n -> {
                n.getStatus().getAddresses().getFirst().setAddress("172.30.9.9");
                return n;
            });

            await().atMost(Duration.ofSeconds(30)).until(() -> nodes.node.ip("route", "show", podCidr(500)).contains("via 172.30.9.9"));
            List<String> written = writes.changes();
            assertEquals(1, written.size(), "one replace, no other node's route written: " + written);
            assertTrue(written.getFirst().startsWith(podCidr(500) + " via 172.30.9.9"), written.getFirst());
        }
        assertEquals(NODES, peerRoutes());
    }

    /** Numbers for the record; the JVM holds the mock API server and its thousand Nodes too. */
    private static void report(long tookMs) throws IOException {
        System.gc();
        long heapMb = (Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory()) / (1024 * 1024);
        String rss = Files.readAllLines(Path.of("/proc/self/status")).stream()
                .filter(l -> l.startsWith("VmRSS:")).findFirst().orElse("VmRSS: ?").replaceAll("\\s+", " ");
        System.out.printf("SCALE nodes=%d routes_programmed_ms=%d (agent start to all routes, incl. list) heap_used_after_gc_mb=%d %s"
                        + " (test JVM: agent + mock API server) jvm_uptime_ms=%d%n",
                NODES, tookMs, heapMb, rss, ManagementFactory.getRuntimeMXBean().getUptime());
    }
}
