package dev.ferry.routes;

import dev.ferry.net.IpPrefix;
import dev.ferry.netlink.RtNetlink;
import dev.ferry.testing.Cleanup;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.RouteMonitor;
import dev.ferry.testing.TestNetns;
import dev.ferry.testing.ThreadCapabilities;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Peer routes in a real namespace, beside routes that are not Ferry's peer routes. */
@RequiresRoot
class PeerRoutesTest {
    private static final Peer NODE_B = peer("node-b", "192.168.50.2", "10.244.2.0/24");
    private static final Peer NODE_C = peer("node-c", "192.168.50.3", "10.244.3.0/24", "10.244.4.0/24");

    private TestNetns node;
    private RtNetlink netlink;
    private PeerRoutes routes;

    @BeforeEach
    void node() {
        node = TestNetns.create("routes");
        node.ip("link", "add", "upl0", "type", "veth", "peer", "name", "upl0p"); // no dummy module on every kernel
        node.ip("address", "add", "192.168.50.1/24", "dev", "upl0");
        node.ip("link", "set", "upl0p", "up");
        node.ip("link", "set", "upl0", "up");
        netlink = RtNetlink.open(node.handle());
        routes = new PeerRoutes(netlink);
    }

    @AfterEach
    void close() throws Exception {
        Cleanup.all(() -> {
            if (netlink != null) {
                netlink.close();
            }
        }, node::close);
    }

    private static Peer peer(String name, String address, String... cidrs) {
        return new Peer(name, Arrays.stream(cidrs).map(IpPrefix::parse).toList(), IpPrefix.literal(address));
    }

    private List<String> ferryRoutes() {
        return node.ip("route", "show", "proto", "70").lines().map(String::strip).toList();
    }

    @Test
    void eachPeerPodCidrIsRoutedViaThePeersAddress() {
        PeerRoutes.Outcome outcome = routes.reconcile(List.of(NODE_B, NODE_C));

        assertEquals(new PeerRoutes.Outcome(3, 0, 0, 0, 0, 0), outcome);
        assertEquals(List.of(
                "10.244.2.0/24 via 192.168.50.2 dev upl0",
                "10.244.3.0/24 via 192.168.50.3 dev upl0",
                "10.244.4.0/24 via 192.168.50.3 dev upl0"), ferryRoutes());
    }

    @Test
    void applyingOneNodesChangeWritesThatNodesRoutesOnly() {
        routes.reconcile(List.of(NODE_B, NODE_C));
        PeerRoutes.Outcome outcome;
        List<String> written;
        try (RouteMonitor writes = RouteMonitor.start(node)) {
            outcome = routes.apply(peer("node-c", "192.168.50.3", "10.244.3.0/24", "10.244.5.0/24"));
            written = writes.changes();
        }

        assertEquals(new PeerRoutes.Outcome(1, 0, 1, 1, 0, 0), outcome, "10.244.5.0/24 added, 10.244.4.0/24 deleted");
        assertEquals(2, written.size(), written::toString);
        assertTrue(written.get(0).startsWith("10.244.5.0/24 via 192.168.50.3"), written::toString);
        assertTrue(written.get(1).startsWith("Deleted 10.244.4.0/24 via 192.168.50.3"), written::toString);
        assertEquals(List.of(
                "10.244.2.0/24 via 192.168.50.2 dev upl0",
                "10.244.3.0/24 via 192.168.50.3 dev upl0",
                "10.244.5.0/24 via 192.168.50.3 dev upl0"), ferryRoutes());
    }

    @Test
    void removingANodeDeletesItsRoutesOnly() {
        routes.reconcile(List.of(NODE_B, NODE_C));

        assertEquals(2, routes.remove("node-c"));

        assertEquals(List.of("10.244.2.0/24 via 192.168.50.2 dev upl0"), ferryRoutes());
        assertEquals(0, routes.remove("node-c"), "a second remove has nothing to do");
    }

    @Test
    void reconcilingAgainChangesNothing() {
        routes.reconcile(List.of(NODE_B, NODE_C));

        assertEquals(new PeerRoutes.Outcome(0, 0, 0, 3, 0, 0), routes.reconcile(List.of(NODE_B, NODE_C)));
        assertEquals(3, ferryRoutes().size());
    }

    @Test
    void aPeerWhoseAddressChangedIsRoutedViaTheNewAddress() {
        routes.reconcile(List.of(NODE_B));

        PeerRoutes.Outcome outcome = routes.reconcile(List.of(peer("node-b", "192.168.50.20", "10.244.2.0/24")));

        assertEquals(new PeerRoutes.Outcome(0, 1, 0, 0, 0, 0), outcome);
        assertEquals(List.of("10.244.2.0/24 via 192.168.50.20 dev upl0"), ferryRoutes());
    }

    @Test
    void routesToPodCidrsNoLongerConfiguredAreDeleted() {
        routes.reconcile(List.of(NODE_B, NODE_C));

        PeerRoutes.Outcome outcome = routes.reconcile(List.of(peer("node-c", "192.168.50.3", "10.244.3.0/24")));

        assertEquals(new PeerRoutes.Outcome(0, 0, 2, 1, 0, 0), outcome);
        assertEquals(List.of("10.244.3.0/24 via 192.168.50.3 dev upl0"), ferryRoutes());
    }

    @Test
    void routesOfOtherProtocolsAndFerrysPodRoutesSurvive() {
        node.ip("route", "add", "10.244.9.0/24", "via", "192.168.50.9", "proto", "static");
        node.ip("route", "add", "10.244.1.5/32", "dev", "upl0", "scope", "link", "proto", "70"); // a local pod's route
        routes.reconcile(List.of(NODE_B));

        routes.reconcile(List.of());

        assertEquals(List.of("10.244.1.5 dev upl0 scope link"), ferryRoutes());
        assertEquals("10.244.9.0/24 via 192.168.50.9 dev upl0 proto static",
                node.ip("route", "show", "10.244.9.0/24").strip());
    }

    @Test
    void aForeignRouteToAPeerCidrIsLeftAlone() {
        node.ip("route", "add", "10.244.2.0/24", "via", "192.168.50.9", "proto", "static");

        PeerRoutes.Outcome outcome = routes.reconcile(List.of(NODE_B));

        assertEquals(new PeerRoutes.Outcome(0, 0, 0, 0, 1, 0), outcome);
        assertEquals(List.of(), ferryRoutes());
        assertEquals("10.244.2.0/24 via 192.168.50.9 dev upl0 proto static",
                node.ip("route", "show", "10.244.2.0/24").strip());
    }

    @Test
    void ourRouteBesideAForeignOneToTheSameCidrIsNotRewritten() {
        routes.reconcile(List.of(NODE_B));
        node.ip("route", "add", "10.244.2.0/24", "via", "192.168.50.9", "proto", "static", "metric", "100");

        PeerRoutes.Outcome outcome = routes.reconcile(List.of(peer("node-b", "192.168.50.20", "10.244.2.0/24")));

        assertEquals(new PeerRoutes.Outcome(0, 0, 0, 0, 1, 0), outcome);
        assertEquals(List.of(
                        "10.244.2.0/24 via 192.168.50.2 dev upl0 proto 70",
                        "10.244.2.0/24 via 192.168.50.9 dev upl0 proto static metric 100"),
                node.ip("route", "show", "10.244.2.0/24").lines().map(String::strip).toList());
    }

    @Test
    void nodesArrivingOneByOneDoNotEachListTheRoutingTable() {
        routes.reconcile(List.of());
        long started = System.nanoTime();
        for (int i = 0; i < 200; i++) {
            routes.apply(peer("node-" + i, "192.168.50.2", "10.248." + i + ".0/24"));
        }
        long seconds = (System.nanoTime() - started) / 1_000_000_000L;

        assertEquals(200, ferryRoutes().size());
        // One listing by the reconcile, then at most one per FOREIGN_TTL (1 s) however many Nodes arrive.
        assertTrue(routes.listings() <= 2 + seconds, routes.listings() + " listings in " + seconds + " s");
    }

    @Test
    void aPeerWhoseAddressChangesIsCheckedAgainstAFreshListing() {
        routes.reconcile(List.of(NODE_B));
        node.ip("route", "add", "10.244.2.0/24", "via", "192.168.50.9", "proto", "static", "metric", "100");

        PeerRoutes.Outcome outcome = routes.apply(peer("node-b", "192.168.50.20", "10.244.2.0/24"));

        assertEquals(1, outcome.conflicts());
        assertEquals(List.of("10.244.2.0/24 via 192.168.50.2 dev upl0"), ferryRoutes());
    }

    @Test
    void aPeerOffTheUplinksNetworksFailsAloneAndTheOthersAreRouted() {
        PeerRoutes.Outcome outcome = routes.reconcile(List.of(peer("node-x", "172.31.0.2", "10.244.7.0/24"), NODE_B));

        assertEquals(new PeerRoutes.Outcome(1, 0, 0, 0, 0, 1), outcome);
        assertEquals(List.of("10.244.2.0/24 via 192.168.50.2 dev upl0"), ferryRoutes());
    }

    @Test
    void aPeerThatFailedIsRoutedByARetryOnceItsNetworkIsConnected() {
        routes.reconcile(List.of(peer("node-x", "172.31.0.2", "10.244.7.0/24")));
        assertEquals(1, routes.retryFailed(), "still off-link");

        node.ip("address", "add", "172.31.0.1/24", "dev", "upl0");

        assertEquals(0, routes.retryFailed());
        assertEquals(List.of("10.244.7.0/24 via 172.31.0.2 dev upl0"), ferryRoutes());
    }

    @Test
    void aRouteDeleteTheKernelRefusedIsDoneByTheNextRetry() {
        routes.reconcile(List.of(NODE_B));

        // The kernel refuses for real: the deleting thread lacks CAP_NET_ADMIN.
        ThreadCapabilities.without(ThreadCapabilities.CAP_NET_ADMIN, () -> routes.remove("node-b"));
        assertEquals(List.of("10.244.2.0/24 via 192.168.50.2 dev upl0"), ferryRoutes(), "the refused delete left it");

        assertEquals(0, routes.retryFailed());
        assertEquals(List.of(), ferryRoutes());
    }

    @Test
    void aRouteDeleteStillRefusedStaysForTheRetryAfter() {
        routes.reconcile(List.of(NODE_B));
        ThreadCapabilities.without(ThreadCapabilities.CAP_NET_ADMIN, () -> routes.remove("node-b"));

        int[] failing = new int[1];
        ThreadCapabilities.without(ThreadCapabilities.CAP_NET_ADMIN, () -> failing[0] = routes.retryFailed());

        assertEquals(1, failing[0]);
        assertEquals(0, routes.retryFailed());
        assertEquals(List.of(), ferryRoutes());
    }

    @Test
    void oneNodesChangeToAnOffLinkAddressFailsWithoutThrowing() {
        routes.reconcile(List.of(NODE_B));

        PeerRoutes.Outcome outcome = routes.apply(peer("node-b", "172.31.0.2", "10.244.2.0/24"));

        assertEquals(1, outcome.failed());
        assertEquals(1, routes.retryFailed());
    }
}
