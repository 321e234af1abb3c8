package dev.ferry.datapath;

import dev.ferry.net.IpPrefix;
import dev.ferry.testing.RequiresRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static dev.ferry.datapath.Packets.Ipv4;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * from_pod's egress route decisions (bpf/lib/egress.h), one per outcome: a pod
 * whose egress table has a route for the destination is redirected to a next hop
 * of that route; everything the stack must see still goes there; no live next
 * hop is the route's fallback. Pod A (endpoint 1) is given table 1 in each test.
 */
@RequiresRoot
class EgressProgramsTest extends ProgramTestBench {
    static final int TABLE = 1;
    static final int ROUTE = 1;
    static final int OTHER_ROUTE = 2;
    static final String NEXT_HOP_1 = "192.168.77.21";
    static final String NEXT_HOP_2 = "192.168.77.22";
    static final String OUTSIDE_ELSEWHERE = "203.0.113.9";

    EgressMaps egress;

    @BeforeEach
    void giveTheRouteToPodA() throws Exception {
        egress = datapath.egress();
        assertTrue(datapath.endpoints().setEgressRoute(ip(POD_A), TABLE));
        egress.putDestination(new EgressMaps.Destination(TABLE, IpPrefix.parse("198.51.100.0/24")), ROUTE);
    }

    @AfterEach
    void takeItBack() throws Exception {
        datapath.endpoints().setEgressRoute(ip(POD_A), 0);
        egress.destinations().keySet().forEach(egress::removeDestination);
        egress.clearRoute(ROUTE);
        egress.clearRoute(OTHER_ROUTE);
        egress.resetCounters(ROUTE);
        egress.resetCounters(OTHER_ROUTE);
    }

    EgressRouteEntry route(boolean fallbackDrop, boolean... live) throws Exception {
        List<String> hops = List.of(NEXT_HOP_1, NEXT_HOP_2);
        var nextHops = new java.util.ArrayList<EgressNextHop>();
        for (int i = 0; i < live.length; i++) {
            nextHops.add(new EgressNextHop(uplink, ip(hops.get(i)), live[i]));
        }
        return new EgressRouteEntry(false, fallbackDrop, 0, nextHops);
    }

    Map<Integer, Long> counted(int route) {
        Map<Integer, Long> m = new HashMap<>();
        egress.counters(route).forEach(c -> m.put(c.nextHop(), c.packets()));
        return m;
    }

    @Test
    void selectedPodToARouteDestinationIsRedirectedToTheNextHopAsOneRouterHop() throws Exception {
        egress.putRoute(ROUTE, route(false, true));

        Outcome out = run(DatapathProgram.FROM_POD, Ipv4.tcp(POD_A, OUTSIDE).frame(), hostA);

        assertEquals(TC_ACT_REDIRECT, out.retval());
        assertEquals(63, Packets.ttl(out.frame()));
        assertTrue(Packets.ipv4ChecksumValid(out.frame()));
        out.assertCounted(Direction.EGRESS, Verdict.REDIRECT_NEIGH, Reason.EGRESS_ROUTE);
        assertEquals(Map.of(new EpKey(1, Direction.EGRESS, Verdict.REDIRECT_NEIGH), 1L), out.endpointPackets());
        assertEquals(Map.of(0, 1L), counted(ROUTE), "route 1, next hop 0");
    }

    @Test
    void destinationNoRouteOfTheTableCoversGoesToTheStackAsBefore() throws Exception {
        egress.putRoute(ROUTE, route(false, true));

        run(DatapathProgram.FROM_POD, Ipv4.tcp(POD_A, OUTSIDE_ELSEWHERE).frame(), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.OUTSIDE_CLUSTER);
        assertEquals(Map.of(), counted(ROUTE));
    }

    @Test
    void podWithoutAnEgressTableGoesToTheStackAsBefore() throws Exception {
        egress.putRoute(ROUTE, route(false, true));

        run(DatapathProgram.FROM_POD, Ipv4.tcp(POD_B, OUTSIDE).frame(), hostB)
                .assertPassedUnchanged(Direction.EGRESS, Reason.OUTSIDE_CLUSTER);
    }

    @Test
    void clusterDestinationsKeepTheirNativePathWhateverTheTableSays() throws Exception {
        egress.putDestination(new EgressMaps.Destination(TABLE, IpPrefix.parse("0.0.0.0/0")), ROUTE);
        egress.putRoute(ROUTE, route(false, true));

        Outcome out = run(DatapathProgram.FROM_POD, Ipv4.tcp(POD_A, REMOTE_POD).frame(), hostA);

        out.assertCounted(Direction.EGRESS, Verdict.REDIRECT_NEIGH, Reason.FORWARDED);
        assertEquals(Map.of(), counted(ROUTE));
    }

    @Test
    void theMostSpecificPrefixOfTheTableChoosesTheRoute() throws Exception {
        egress.putDestination(new EgressMaps.Destination(TABLE, IpPrefix.parse("198.51.100.7/32")), OTHER_ROUTE);
        egress.putRoute(ROUTE, route(false, true));
        egress.putRoute(OTHER_ROUTE, route(false, true));

        run(DatapathProgram.FROM_POD, Ipv4.tcp(POD_A, OUTSIDE).frame(), hostA);

        assertEquals(Map.of(), counted(ROUTE));
        assertEquals(Map.of(0, 1L), counted(OTHER_ROUTE));
    }

    @Test
    void ttlOfOneGoesToTheStackForItsTimeExceeded() throws Exception {
        egress.putRoute(ROUTE, route(false, true));

        run(DatapathProgram.FROM_POD, Ipv4.tcp(POD_A, OUTSIDE).ttl(1).frame(), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.TTL_EXPIRED);
    }

    @Test
    void fragmentsGoToTheStack() throws Exception {
        egress.putRoute(ROUTE, route(false, true));

        run(DatapathProgram.FROM_POD, Ipv4.udp(POD_A, OUTSIDE).fragOff(0x2000).frame(), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.FRAGMENT);
    }

    @Test
    void aFlowConntrackNatsStaysInTheStack() throws Exception {
        // Pod B talks to a Service address outside the cluster CIDRs, which its table routes.
        assertTrue(datapath.endpoints().setEgressRoute(ip(POD_B), TABLE));
        egress.putDestination(new EgressMaps.Destination(TABLE, IpPrefix.parse("10.96.0.0/16")), ROUTE);
        egress.putRoute(ROUTE, route(false, true));
        try {
            clientTalksToService(40011);

            run(DatapathProgram.FROM_POD, Ipv4.udp(POD_B, SERVICE_VIP).ports(40011, 53).frame(), hostB)
                    .assertPassedUnchanged(Direction.EGRESS, Reason.NAT_FLOW);
            assertEquals(Map.of(), counted(ROUTE));
        } finally {
            datapath.endpoints().setEgressRoute(ip(POD_B), 0);
        }
    }

    @Test
    void noLiveNextHopFallsBackToTheNodesPathAndIsCountedAsTheRoutesFallback() throws Exception {
        egress.putRoute(ROUTE, route(false, false, false));

        run(DatapathProgram.FROM_POD, Ipv4.tcp(POD_A, OUTSIDE).frame(), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.EGRESS_FALLBACK);
        assertEquals(Map.of(EgressCounter.FALLBACK, 1L), counted(ROUTE));
    }

    @Test
    void noLiveNextHopWithFallbackDropIsDropped() throws Exception {
        egress.putRoute(ROUTE, route(true, false));

        run(DatapathProgram.FROM_POD, Ipv4.tcp(POD_A, OUTSIDE).frame(), hostA)
                .assertDroppedUnchanged(Direction.EGRESS, Reason.EGRESS_FALLBACK);
        assertEquals(Map.of(EgressCounter.FALLBACK, 1L), counted(ROUTE));
    }

    @Test
    void masqueradingRouteLeavesThePacketToTheStack() throws Exception {
        egress.putRoute(ROUTE, new EgressRouteEntry(true, false, 0x7e000001,
                List.of(new EgressNextHop(uplink, ip(NEXT_HOP_1), true))));

        run(DatapathProgram.FROM_POD, Ipv4.tcp(POD_A, OUTSIDE).frame(), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.EGRESS_MASQUERADE);
    }

    @Test
    void flowsSpreadOverTheLiveNextHopsAndEachFlowKeepsOne() throws Exception {
        egress.putRoute(ROUTE, route(false, true, true));
        Map<Integer, Integer> hopOfFlow = new HashMap<>();
        for (int port = 40000; port < 40200; port++) {
            for (int packet = 0; packet < 3; packet++) {
                Map<Integer, Long> before = counted(ROUTE);
                run(DatapathProgram.FROM_POD, Ipv4.tcp(POD_A, OUTSIDE).ports(port, 443).frame(), hostA);
                int hop = tookHop(before, counted(ROUTE));
                Integer first = hopOfFlow.putIfAbsent(port, hop);
                assertEquals(first == null ? hop : first, hop, "flow from port " + port + " changed next hop");
            }
        }
        long onFirst = hopOfFlow.values().stream().filter(h -> h == 0).count();
        assertTrue(onFirst >= 60 && onFirst <= 140, "200 flows split " + onFirst + "/" + (200 - onFirst));
    }

    @Test
    void aFailedNextHopMovesOnlyItsOwnFlows() throws Exception {
        egress.putRoute(ROUTE, route(false, true, true));
        Map<Integer, Integer> before = new HashMap<>();
        for (int port = 41000; port < 41100; port++) {
            Map<Integer, Long> c = counted(ROUTE);
            run(DatapathProgram.FROM_POD, Ipv4.tcp(POD_A, OUTSIDE).ports(port, 443).frame(), hostA);
            before.put(port, tookHop(c, counted(ROUTE)));
        }
        egress.putRoute(ROUTE, route(false, true, false));

        Set<Integer> moved = new HashSet<>();
        for (int port = 41000; port < 41100; port++) {
            Map<Integer, Long> c = counted(ROUTE);
            run(DatapathProgram.FROM_POD, Ipv4.tcp(POD_A, OUTSIDE).ports(port, 443).frame(), hostA);
            int hop = tookHop(c, counted(ROUTE));
            assertEquals(0, hop, "with next hop 1 down every flow takes next hop 0");
            if (before.get(port) != hop) {
                moved.add(port);
            }
        }
        assertEquals(before.entrySet().stream().filter(e -> e.getValue() == 1).map(Map.Entry::getKey)
                .collect(java.util.stream.Collectors.toSet()), moved, "exactly the failed hop's flows moved");
    }

    private static int tookHop(Map<Integer, Long> before, Map<Integer, Long> after) {
        int hop = -2;
        for (var e : after.entrySet()) {
            if (!e.getValue().equals(before.get(e.getKey()))) {
                assertEquals(-2, hop, "one counter moved");
                hop = e.getKey();
            }
        }
        assertTrue(hop != -2, "a next hop counted the packet");
        return hop;
    }

    @Test
    void rewritingTheEndpointKeepsItsEgressTable() throws Exception {
        InetAddress a = ip(POD_A);
        EndpointEntry entry = datapath.endpoints().get(a).orElseThrow();
        datapath.endpoints().put(a, new EndpointEntry(entry.ifindex(), entry.endpointId(), entry.flags(),
                entry.podMac(), new dev.ferry.net.MacAddress(entry.podMac().bytes())));
        try {
            assertEquals(TABLE, datapath.endpoints().egressRoute(a).orElseThrow());
        } finally {
            datapath.endpoints().put(a, entry);
        }
    }
}
