package dev.ferry.datapath;

import dev.ferry.net.IpPrefix;
import dev.ferry.testing.RequiresRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static dev.ferry.datapath.Packets.Ipv4;
import static dev.ferry.datapath.Packets.Ipv6;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * from_pod's egress route decisions for IPv6 (bpf/lib/egress.h, ipv6_egress),
 * outcome for outcome as EgressProgramsTest has them for IPv4, plus what only a
 * route of both families has: each family's flows take that family's next hops.
 * Pod A's IPv6 address (endpoint 1) is given table 1 in each test, whose IPv6
 * prefix 2001:db8:77::/48 is served by route 1.
 */
@RequiresRoot
class Ipv6EgressProgramsTest extends ProgramTestBench {
    static final int TABLE = 1;
    static final int ROUTE = 1;
    static final String POD_A6 = "fd77:1::2";
    static final String POD_B6 = "fd77:1::3";
    static final String OUTSIDE6 = "2001:db8:77::7";
    static final String OUTSIDE_ELSEWHERE6 = "2001:db8:99::9";
    static final String SERVICE_VIP6 = "fd96:77::7";
    static final String NEXT_HOP6_1 = "fd78:ff::21";
    static final String NEXT_HOP6_2 = "fd78:ff::22";
    static final String NEXT_HOP4 = "192.168.77.21";

    EgressMaps egress;

    @BeforeAll
    void ipv6OnTheBenchNode() throws Exception {
        node.sysctl("net.ipv6.conf.all.forwarding", "1");
        node.ip("-6", "addr", "add", "fd78:ff::1/64", "dev", "fdp-up", "nodad");
        datapath.endpoints().put(ip(POD_A6), datapath.endpoints().get(ip(POD_A)).orElseThrow());
        datapath.endpoints().put(ip(POD_B6), datapath.endpoints().get(ip(POD_B)).orElseThrow());
        datapath.clusterCidrs().add(IpPrefix.parse("fd77::/16"));
        // As Ipv6ProgramsTest: Service VIP:53 (outside the cluster CIDRs) DNATed to pod A:5353, by real sockets.
        node.ip("-6", "addr", "add", POD_A6 + "/128", "dev", "lo", "nodad");
        node.ip("-6", "addr", "add", POD_B6 + "/128", "dev", "lo", "nodad");
        node.ip("-6", "route", "add", "fd96:77::/64", "dev", "lo");
        var nft = node.exec("nft", "add table ip6 ferrytest6e; "
                + "add chain ip6 ferrytest6e out { type nat hook output priority -100; }; "
                + "add rule ip6 ferrytest6e out ip6 daddr " + SERVICE_VIP6 + " udp dport 53 dnat to [" + POD_A6 + "]:5353");
        assertTrue(nft.ok(), "nft: " + nft.stderr());
    }

    @BeforeEach
    void giveTheRouteToPodA() throws Exception {
        egress = datapath.egress();
        assertTrue(datapath.endpoints().setEgressRoute(ip(POD_A6), TABLE));
        egress.putDestination(new EgressMaps.Destination(TABLE, IpPrefix.parse("2001:db8:77::/48")), ROUTE);
    }

    @AfterEach
    void takeItBack() throws Exception {
        datapath.endpoints().setEgressRoute(ip(POD_A6), 0);
        datapath.endpoints().setEgressRoute(ip(POD_A), 0);
        datapath.endpoints().setEgressRoute(ip(POD_B6), 0);
        egress.destinations().keySet().forEach(egress::removeDestination);
        egress.clearRoute(ROUTE);
        egress.resetCounters(ROUTE);
    }

    /** Next hops at these addresses, on the bench's uplink, live as given. */
    EgressRouteEntry route(boolean masquerade, boolean fallbackDrop, List<String> addresses, boolean... live) throws Exception {
        List<EgressNextHop> hops = new ArrayList<>();
        for (int i = 0; i < live.length; i++) {
            hops.add(new EgressNextHop(uplink, ip(addresses.get(i)), live[i]));
        }
        return new EgressRouteEntry(masquerade, fallbackDrop, 0x7e000100, hops);
    }

    EgressRouteEntry route(boolean... live) throws Exception {
        return route(false, false, List.of(NEXT_HOP6_1, NEXT_HOP6_2), live);
    }

    Map<Integer, Long> counted() {
        Map<Integer, Long> m = new HashMap<>();
        egress.counters(ROUTE).forEach(c -> m.put(c.nextHop(), c.packets()));
        return m;
    }

    @Test
    void selectedPodToARouteDestinationIsRedirectedToTheNextHopAsOneRouterHop() throws Exception {
        egress.putRoute(ROUTE, route(true));

        Outcome out = run(DatapathProgram.FROM_POD, Ipv6.tcp(POD_A6, OUTSIDE6).frame(), hostA);

        assertEquals(TC_ACT_REDIRECT, out.retval());
        assertEquals(63, Packets.hopLimit(out.frame()));
        byte[] expected = out.input().clone();
        expected[Packets.ETH_HLEN + 7] = 63;
        assertArrayEquals(expected, out.frame(), "only the hop limit changed (the kernel writes the MACs)");
        out.assertCounted(Direction.EGRESS, Verdict.REDIRECT_NEIGH, Reason.EGRESS_ROUTE);
        assertEquals(Map.of(new EpKey(1, Direction.EGRESS, Verdict.REDIRECT_NEIGH), 1L), out.endpointPackets());
        assertEquals(Map.of(0, 1L), counted(), "route 1, next hop 0");
    }

    @Test
    void aRedirectedFlowIsNotEnteredIntoConntrack() throws Exception {
        egress.putRoute(ROUTE, route(true));

        assertEquals(TC_ACT_REDIRECT, run(DatapathProgram.FROM_POD,
                Ipv6.tcp(POD_A6, OUTSIDE6).ports(42001, 443).frame(), hostA).retval());

        String entries = node.exec("conntrack", "-L", "-f", "ipv6", "--orig-dst", OUTSIDE6).stdout();
        assertFalse(entries.contains("sport=42001"), "a fallback to the stack must find no entry to masquerade: " + entries);
    }

    @Test
    void destinationNoRouteOfTheTableCoversGoesToTheStackAsBefore() throws Exception {
        egress.putRoute(ROUTE, route(true));

        run(DatapathProgram.FROM_POD, Ipv6.tcp(POD_A6, OUTSIDE_ELSEWHERE6).frame(), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.OUTSIDE_CLUSTER);
        assertEquals(Map.of(), counted());
    }

    @Test
    void anIpv4PrefixOfTheTableCoversNoIpv6Destination() throws Exception {
        egress.removeDestination(new EgressMaps.Destination(TABLE, IpPrefix.parse("2001:db8:77::/48")));
        egress.putDestination(new EgressMaps.Destination(TABLE, IpPrefix.parse("0.0.0.0/0")), ROUTE);
        egress.putRoute(ROUTE, route(true));

        run(DatapathProgram.FROM_POD, Ipv6.tcp(POD_A6, OUTSIDE6).frame(), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.OUTSIDE_CLUSTER);
        assertEquals(Map.of(), counted());
    }

    @Test
    void podWithoutAnEgressTableGoesToTheStackAsBefore() throws Exception {
        egress.putRoute(ROUTE, route(true));

        run(DatapathProgram.FROM_POD, Ipv6.tcp(POD_B6, OUTSIDE6).frame(), hostB)
                .assertPassedUnchanged(Direction.EGRESS, Reason.OUTSIDE_CLUSTER);
    }

    @Test
    void clusterDestinationsKeepTheirNativePathWhateverTheTableSays() throws Exception {
        egress.putDestination(new EgressMaps.Destination(TABLE, IpPrefix.parse("::/0")), ROUTE);
        egress.putRoute(ROUTE, route(true));

        Outcome out = run(DatapathProgram.FROM_POD, Ipv6.udp(POD_A6, POD_B6).frame(), hostA);

        out.assertCounted(Direction.EGRESS, Verdict.REDIRECT_PEER, Reason.FORWARDED);
        assertEquals(Map.of(), counted());
    }

    @Test
    void hopLimitOfOneGoesToTheStackForItsTimeExceeded() throws Exception {
        egress.putRoute(ROUTE, route(true));

        run(DatapathProgram.FROM_POD, Ipv6.tcp(POD_A6, OUTSIDE6).hopLimit(1).frame(), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.TTL_EXPIRED);
        assertEquals(Map.of(), counted());
    }

    @ParameterizedTest(name = "next header {0}: {1}")
    @CsvSource({"44, FRAGMENT", "60, IPV6_EXT_HEADER", "43, IPV6_ROUTING", "0, IPV6_HOP_BY_HOP"})
    void extensionHeadersGoToTheStackWithTheirReason(int nextHeader, Reason reason) throws Exception {
        egress.putRoute(ROUTE, route(true));

        run(DatapathProgram.FROM_POD, Ipv6.udp(POD_A6, OUTSIDE6).extension(nextHeader).frame(), hostA)
                .assertPassedUnchanged(Direction.EGRESS, reason);
        assertEquals(Map.of(), counted());
    }

    @Test
    void aFlowConntrackNatsStaysInTheStack() throws Exception {
        // Pod B talks to a Service address outside the cluster CIDRs, which its table routes.
        assertTrue(datapath.endpoints().setEgressRoute(ip(POD_B6), TABLE));
        egress.putDestination(new EgressMaps.Destination(TABLE, IpPrefix.parse("fd96:77::/64")), ROUTE);
        egress.putRoute(ROUTE, route(true));
        node.handle().call(() -> {
            try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(ip(POD_B6), 42011))) {
                s.send(new DatagramPacket(new byte[8], 8, new InetSocketAddress(ip(SERVICE_VIP6), 53)));
            }
            return null;
        });
        String entries = node.exec("conntrack", "-L", "-f", "ipv6", "-p", "udp", "--orig-dst", SERVICE_VIP6).stdout();
        assertTrue(entries.contains("sport=5353 dport=42011"), "no IPv6 DNAT conntrack entry was made: " + entries);

        run(DatapathProgram.FROM_POD, Ipv6.udp(POD_B6, SERVICE_VIP6).ports(42011, 53).frame(), hostB)
                .assertPassedUnchanged(Direction.EGRESS, Reason.NAT_FLOW);
        assertEquals(Map.of(), counted());
    }

    @Test
    void noLiveNextHopFallsBackToTheNodesPathAndIsCountedAsTheRoutesFallback() throws Exception {
        egress.putRoute(ROUTE, route(false, false));

        run(DatapathProgram.FROM_POD, Ipv6.tcp(POD_A6, OUTSIDE6).frame(), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.EGRESS_FALLBACK);
        assertEquals(Map.of(EgressCounter.FALLBACK, 1L), counted());
    }

    @Test
    void noLiveNextHopWithFallbackDropIsDropped() throws Exception {
        egress.putRoute(ROUTE, route(false, true, List.of(NEXT_HOP6_1), false));

        run(DatapathProgram.FROM_POD, Ipv6.tcp(POD_A6, OUTSIDE6).frame(), hostA)
                .assertDroppedUnchanged(Direction.EGRESS, Reason.EGRESS_FALLBACK);
        assertEquals(Map.of(EgressCounter.FALLBACK, 1L), counted());
    }

    @Test
    void masqueradingRouteLeavesThePacketToTheStack() throws Exception {
        egress.putRoute(ROUTE, route(true, false, List.of(NEXT_HOP6_1), true));

        run(DatapathProgram.FROM_POD, Ipv6.tcp(POD_A6, OUTSIDE6).frame(), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.EGRESS_MASQUERADE);
        assertEquals(Map.of(0, 1L), counted());
    }

    @Test
    void aRouteOfBothFamiliesSendsEachFamilyToItsOwnNextHops() throws Exception {
        // Configured: the IPv4 next hop first, then two IPv6 ones.
        assertTrue(datapath.endpoints().setEgressRoute(ip(POD_A), TABLE));
        egress.putDestination(new EgressMaps.Destination(TABLE, IpPrefix.parse("198.51.100.0/24")), ROUTE);
        egress.putRoute(ROUTE, route(false, false, List.of(NEXT_HOP4, NEXT_HOP6_1, NEXT_HOP6_2), true, true, true));

        for (int port = 43000; port < 43040; port++) {
            run(DatapathProgram.FROM_POD, Ipv6.tcp(POD_A6, OUTSIDE6).ports(port, 443).frame(), hostA);
        }
        Map<Integer, Long> ipv6 = counted();
        assertEquals(null, ipv6.get(0), "no IPv6 flow took the IPv4 next hop: " + ipv6);
        assertEquals(40L, ipv6.getOrDefault(1, 0L) + ipv6.getOrDefault(2, 0L), ipv6.toString());
        assertTrue(ipv6.getOrDefault(1, 0L) > 0 && ipv6.getOrDefault(2, 0L) > 0, "both IPv6 next hops took flows: " + ipv6);

        for (int port = 43000; port < 43040; port++) {
            run(DatapathProgram.FROM_POD, Ipv4.tcp(POD_A, OUTSIDE).ports(port, 443).frame(), hostA);
        }
        Map<Integer, Long> both = counted();
        assertEquals(40L, both.get(0), "every IPv4 flow took the IPv4 next hop: " + both);
        assertEquals(ipv6.get(1), both.get(1));
        assertEquals(ipv6.get(2), both.get(2));
    }

    @Test
    void anIpv6FlowWhoseFamilyHasNoLiveNextHopFallsBackWhileIpv4FlowsKeepTheirs() throws Exception {
        assertTrue(datapath.endpoints().setEgressRoute(ip(POD_A), TABLE));
        egress.putDestination(new EgressMaps.Destination(TABLE, IpPrefix.parse("198.51.100.0/24")), ROUTE);
        egress.putRoute(ROUTE, route(false, false, List.of(NEXT_HOP4, NEXT_HOP6_1), true, false));

        run(DatapathProgram.FROM_POD, Ipv6.tcp(POD_A6, OUTSIDE6).frame(), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.EGRESS_FALLBACK);
        assertEquals(TC_ACT_REDIRECT, run(DatapathProgram.FROM_POD, Ipv4.tcp(POD_A, OUTSIDE).frame(), hostA).retval());
        assertEquals(Map.of(EgressCounter.FALLBACK, 1L, 0, 1L), counted());
    }

    @Test
    void flowsSpreadOverTheLiveNextHopsAndEachFlowKeepsOne() throws Exception {
        egress.putRoute(ROUTE, route(true, true));
        Map<Integer, Integer> hopOfFlow = new HashMap<>();
        for (int port = 44000; port < 44200; port++) {
            for (int packet = 0; packet < 3; packet++) {
                Map<Integer, Long> before = counted();
                run(DatapathProgram.FROM_POD, Ipv6.tcp(POD_A6, OUTSIDE6).ports(port, 443).frame(), hostA);
                int hop = tookHop(before, counted());
                Integer first = hopOfFlow.putIfAbsent(port, hop);
                assertEquals(first == null ? hop : first, hop, "flow from port " + port + " changed next hop");
            }
        }
        long onFirst = hopOfFlow.values().stream().filter(h -> h == 0).count();
        assertTrue(onFirst >= 60 && onFirst <= 140, "200 flows split " + onFirst + "/" + (200 - onFirst));
    }

    @Test
    void aFailedNextHopMovesOnlyItsOwnFlows() throws Exception {
        egress.putRoute(ROUTE, route(true, true));
        Map<Integer, Integer> before = new HashMap<>();
        for (int port = 45000; port < 45100; port++) {
            Map<Integer, Long> c = counted();
            run(DatapathProgram.FROM_POD, Ipv6.tcp(POD_A6, OUTSIDE6).ports(port, 443).frame(), hostA);
            before.put(port, tookHop(c, counted()));
        }
        egress.putRoute(ROUTE, route(true, false));

        Set<Integer> moved = new HashSet<>();
        for (int port = 45000; port < 45100; port++) {
            Map<Integer, Long> c = counted();
            run(DatapathProgram.FROM_POD, Ipv6.tcp(POD_A6, OUTSIDE6).ports(port, 443).frame(), hostA);
            int hop = tookHop(c, counted());
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
}
