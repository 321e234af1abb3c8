package dev.ferry.datapath;

import dev.ferry.egress.EgressRoute;
import dev.ferry.egress.EgressRoutes;
import dev.ferry.egress.EgressStatus;
import dev.ferry.egress.Fallback;
import dev.ferry.egress.NextHop;
import dev.ferry.endpoint.Endpoint;
import dev.ferry.net.IpPrefix;
import dev.ferry.net.MacAddress;
import dev.ferry.netlink.Link;
import dev.ferry.netlink.Neighbour;
import dev.ferry.netlink.RtNetlink;
import dev.ferry.testing.Cleanup;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Issue 18's "the agent watches the next hops' neighbour state over rtnetlink":
 * the reconciler ticks once an hour here, so after its first tick only the
 * kernel's neighbour notifications can move a next hop in or out. A pod's
 * packets through a router that stops answering ARP take the node's neighbour
 * entry through DELAY and PROBE to FAILED (the uplink's reachable time is cut to
 * a second, as the kernel's own timers run it), and the next hop leaves the
 * route's live set; the node's own traffic to the router, once it answers
 * again, makes the entry REACHABLE, and the next hop comes back. When the kernel
 * drops notifications (the reader held up while thousands arrive), the next hops'
 * entries are read again, and nothing queued before the loss undoes that read.
 */
@RequiresRoot
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EgressNextHopEventsTest {
    static final String POD = "10.233.1.2";
    static final String NODE_ON_UPLINK = "172.23.233.1";
    static final String ROUTER = "172.23.233.2";
    static final String UPLINK = "nhe-u1";
    /** Nobody's address: the next hop of a route that selects no pod, whose entry only the test sets. */
    static final String MARKER = "172.23.233.3";
    static final InetSocketAddress OUTSIDE = new InetSocketAddress("198.18.233.1", 9);
    /** Never within a test: whatever changes a next hop's health after the first tick is a notification. */
    static final Duration TICK = Duration.ofHours(1);
    static final MacAddress MAC_1 = MacAddress.parse("02:fe:00:00:23:31");
    static final MacAddress MAC_2 = MacAddress.parse("02:fe:00:00:23:32");
    static final int RTNLGRP_NEIGH = 3;

    AttachedNode node;
    TestNetns router;
    RtNetlink netlink;
    EgressRoutes egress;
    Link uplink;
    List<EgressRoute> routes;
    /** A reconcile on this thread waits in its read of the pods, holding the reconciler's lock, until released. */
    volatile Thread holding;
    volatile CountDownLatch held;
    volatile CountDownLatch release;

    @BeforeAll
    void build() throws Exception {
        node = AttachedNode.create("nhe", AttachMode.TC, List.of(POD));
        TestNetns n = node.topology.node;
        router = TestNetns.create("nher");
        n.ip("link", "add", UPLINK, "type", "veth", "peer", "name", "to-node", "netns", router.name());
        n.ip("addr", "add", NODE_ON_UPLINK + "/24", "dev", UPLINK);
        n.ip("link", "set", UPLINK, "up");
        router.ip("addr", "add", ROUTER + "/24", "dev", "to-node");
        router.ip("link", "set", "to-node", "up");
        // The kernel's timers, shortened: REACHABLE for 0.5-1.5 s, then DELAY 1 s under traffic, then 3 probes 1 s apart.
        n.sysctl("net.ipv4.neigh." + UPLINK + ".base_reachable_time_ms", "1000");
        n.sysctl("net.ipv4.neigh." + UPLINK + ".delay_first_probe_time", "1");
        node.datapath.clusterCidrs().add(IpPrefix.parse("10.233.0.0/16"));

        netlink = RtNetlink.open(n.handle());
        uplink = netlink.link(UPLINK).orElseThrow();
        netlink.resolveNeighbour(uplink.index(), IpPrefix.literal(ROUTER));
        await(() -> routerEntry().map(e -> (e.state() & Neighbour.NUD_REACHABLE) != 0).orElse(false),
                "the router's entry reachable before the agent starts");
        EgressRoute route = new EgressRoute("via-router", List.of(IpPrefix.parse(POD + "/32")),
                List.of(IpPrefix.parse("198.18.233.0/24")),
                List.of(new NextHop(IpPrefix.literal(ROUTER), Optional.empty())), false, Fallback.DROP);
        // Selects no pod: its next hop's entry is the test's marker in the stream of notifications.
        EgressRoute marker = new EgressRoute("marker", List.of(IpPrefix.parse("10.233.1.99/32")),
                List.of(IpPrefix.parse("198.18.233.0/24")),
                List.of(new NextHop(IpPrefix.literal(MARKER), Optional.empty())), false, Fallback.DROP);
        routes = List.of(route, marker);
        egress = EgressRoutes.start(routes, List.of(uplink), netlink, node.datapath.egress(),
                node.datapath.endpoints(), this::endpoints, TICK);
    }

    private List<Endpoint> endpoints() {
        if (Thread.currentThread() == holding) {
            held.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return node.topology.pods.stream().map(p -> new Endpoint("c-" + p.endpointId(), "eth0", p.ns().name(), p.hostIfname(),
                p.hostIfindex(), IpPrefix.parse(p.address() + "/32"), p.podMac(), p.hostMac(), p.endpointId(), 1500,
                Optional.of("nhe"), Optional.of("pod-" + p.endpointId()), Optional.empty(), Instant.EPOCH)).toList();
    }

    @AfterAll
    void tearDown() throws Exception {
        Cleanup.all(() -> {
            if (egress != null) {
                egress.close();
            }
        }, () -> {
            if (netlink != null) {
                netlink.close();
            }
        }, () -> {
            if (router != null) {
                router.close();
            }
        }, () -> {
            if (node != null) {
                node.close();
            }
        });
    }

    @BeforeEach
    void theRouterAnswersAndItsNextHopIsLive() throws Exception {
        router.sysctl("net.ipv4.conf.all.arp_ignore", "0");
        await(() -> {
            node.topology.node.exec("ping", "-c", "1", "-W", "1", ROUTER);
            return hop().live();
        }, "the next hop live");
    }

    @Test
    void aRouterThatStopsAnsweringArpLeavesWhenItsEntryFailsAndComesBackWhenItIsReachableAgain() throws Exception {
        assertTrue(hop().live(), "live after the first tick: " + hop());
        assertArrayEquals(allSlots(0), node.datapath.egress().slots(1), "every flow bucket on the router");

        router.sysctl("net.ipv4.conf.all.arp_ignore", "8");
        try {
            // A pod sending through the router: the kernel confirms the entry, unanswered, and fails it.
            // (Its entry may not stay FAILED: the router's own ARP requests make it STALE, which keeps it out.)
            awaitWhileSending(() -> !hop().live(), "the next hop out of the live set once its entry failed");
            assertArrayEquals(allSlots(EgressSlots.NONE), node.datapath.egress().slots(1), "no flow bucket has a next hop");
        } finally {
            router.sysctl("net.ipv4.conf.all.arp_ignore", "0");
        }

        // The pod's packets take the fallback now; the node's own (what ping sends) resolve the router again.
        await(() -> {
            node.topology.node.exec("ping", "-c", "1", "-W", "1", ROUTER);
            return hop().live();
        }, "the next hop back once its entry is reachable");
        assertEquals("reachable", hop().neighbour());
        assertArrayEquals(allSlots(0), node.datapath.egress().slots(1), "every flow bucket on the router again");
    }

    @Test
    void whenTheKernelDropsNotificationsEveryNextHopsEntryIsReadAgain() throws Exception {
        InetAddress other = IpPrefix.literal("172.23.233.100");
        held = new CountDownLatch(1);
        release = new CountDownLatch(1);
        holding = Thread.ofPlatform().name("nhe-holding").unstarted(() -> egress.reconcile());
        holding.start();
        try {
            held.await();
            // The reconciler's lock is held: the notifications' reader waits for it and its socket fills up.
            for (int round = 0; neighbourSocketDrops() == 0; round++) {
                if (round == 50) {
                    fail("the kernel dropped no notification after " + round * 2000 + " changes");
                }
                for (int i = 0; i < 2000; i++) {
                    netlink.replaceNeighbour(Neighbour.permanent(uplink.index(), other, i % 2 == 0 ? MAC_1 : MAC_2));
                }
            }
            // Now the router fails; the kernel drops that notification too, the socket being full.
            router.sysctl("net.ipv4.conf.all.arp_ignore", "8");
            assertTrue(netlink.setNeighbourState(uplink.index(), IpPrefix.literal(ROUTER), Neighbour.NUD_PROBE));
            Instant deadline = Instant.now().plusSeconds(30);
            while (routerEntry().map(Neighbour::state).orElse(0) != Neighbour.NUD_FAILED) {
                if (Instant.now().isAfter(deadline)) {
                    fail("the kernel never failed the router's entry: " + routerEntry());
                }
                Thread.sleep(50);
            }
        } finally {
            release.countDown();
            holding.join();
            holding = null;
        }

        await(() -> !hop().live(), "the next hop out once what was lost was read again");
        // Notifications come in order: once the marker's is heard, whatever was queued before it was too.
        netlink.replaceNeighbour(Neighbour.permanent(uplink.index(), IpPrefix.literal(MARKER), MAC_1));
        await(() -> egress.status().routes().get(1).nextHops().getFirst().neighbour().equals("permanent"), "the marker heard");
        assertFalse(hop().live(), "nothing older than what was read again brought the next hop back: " + hop());
        assertArrayEquals(allSlots(EgressSlots.NONE), node.datapath.egress().slots(1));
        netlink.deleteNeighbour(uplink.index(), other);
    }

    /** Notifications the kernel dropped for lack of room, summed over the node's sockets in RTNLGRP_NEIGH. */
    private long neighbourSocketDrops() {
        long drops = 0;
        // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode; Groups holds bit (group - 1) of the first 32
        for (String line : node.topology.node.exec("cat", "/proc/net/netlink").stdout().split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 10 && f[1].equals("0") && (Long.parseLong(f[3], 16) & (1L << (RTNLGRP_NEIGH - 1))) != 0) {
                drops += Long.parseLong(f[8]);
            }
        }
        return drops;
    }

    @Test
    void closingEndsTheWatchOfTheNodesNeighbours() {
        // The same routes: a reconciler without them would clear the first one's route.
        EgressRoutes second = EgressRoutes.start(routes, List.of(uplink), netlink, node.datapath.egress(),
                node.datapath.endpoints(), this::endpoints, TICK);
        String name = "neighbour-events /run/netns/" + node.topology.node.name();
        assertEquals(2, watchers(name), "this test's reconcilers each watch");

        second.close();

        assertEquals(1, watchers(name), "the closed one's watch has ended");
    }

    private static long watchers(String name) {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals(name) && t.isAlive()).count();
    }

    private EgressStatus.Hop hop() {
        return egress.status().routes().getFirst().nextHops().getFirst();
    }

    private Optional<Neighbour> routerEntry() {
        return netlink.neighbours(uplink.index()).stream().filter(n -> n.address().equals(IpPrefix.literal(ROUTER))).findFirst();
    }

    /** The route's buckets with every IPv4 one holding {@code value}; its next hop is IPv4, so no IPv6 bucket has one. */
    private static int[] allSlots(int value) {
        int[] slots = new int[MapLayouts.EGRESS_SLOTS];
        Arrays.fill(slots, EgressSlots.NONE);
        Arrays.fill(slots, 0, MapLayouts.EGRESS_SLOTS_PER_FAMILY, value);
        return slots;
    }

    /** Sends a datagram from the pod to the outside every 50 ms until {@code condition} holds (at most 30 s). */
    private void awaitWhileSending(BooleanSupplier condition, String what) throws Exception {
        NodeWithPods.Pod p = node.pod(0);
        p.ns().handle().call(() -> {
            try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(p.inet(), 0))) {
                byte[] payload = {7};
                await(() -> {
                    try {
                        s.send(new DatagramPacket(payload, payload.length, OUTSIDE));
                    } catch (IOException e) {
                        throw new IllegalStateException(e);
                    }
                    return condition.getAsBoolean();
                }, what);
            }
            return null;
        });
    }

    /** Polls every 50 ms, at most 30 s (the kernel's timers take about 6 s; a loaded machine more). */
    private void await(BooleanSupplier condition, String what) throws InterruptedException {
        Instant deadline = Instant.now().plusSeconds(30);
        while (!condition.getAsBoolean()) {
            if (Instant.now().isAfter(deadline)) {
                fail("not " + what + " within 30 s: next hop " + (egress == null ? "-" : hop())
                        + ", kernel entry " + routerEntry().map(Neighbour::toString).orElse("none"));
            }
            Thread.sleep(50);
        }
    }
}
