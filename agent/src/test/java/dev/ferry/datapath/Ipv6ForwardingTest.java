package dev.ferry.datapath;

import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.Traffic;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Real packets between dual-stack pods over IPv6, on one node and across two,
 * with the nodes' IPv6 forwarding off (net.ipv6.conf.all.forwarding 0): only
 * the BPF programs can carry them, and their per-family counters show the path.
 * IPv4 between the same pods still works beside it. Runs once per attach mode
 * (subclasses). Addresses 10.86.0.0/16, fd86::/16 and 192.168.86.0/24 are this
 * class's (inside its namespaces).
 */
@RequiresRoot
abstract class Ipv6ForwardingTest {
    private static final List<TwoNodes.Family> FAMILIES = List.of(
            new TwoNodes.Family("192.168.86.1", "192.168.86.2", 24, "10.86.1.0/24", "10.86.2.0/24"),
            new TwoNodes.Family("fd86:ff::1", "fd86:ff::2", 64, "fd86:1::/64", "fd86:2::/64"));

    TwoNodes nodes;
    NodeWithPods.Pod a1;
    NodeWithPods.Pod a2;
    NodeWithPods.Pod b1;

    abstract AttachMode mode();

    /** Two three-letter link prefixes of the subclass's own: node A's and node B's. */
    abstract List<String> linkPrefixes();

    @BeforeEach
    void dualStackPodsOnTwoNodes() throws Exception {
        nodes = TwoNodes.create(mode(),
                linkPrefixes().get(0), List.of("10.86.1.2,fd86:1::2", "10.86.1.3,fd86:1::3"),
                linkPrefixes().get(1), List.of("10.86.2.2,fd86:2::2"),
                FAMILIES, List.of("10.86.0.0/16", "fd86::/16"));
        a1 = nodes.a.pod(0);
        a2 = nodes.a.pod(1);
        b1 = nodes.b.pod(0);
        // IPv4 forwards per device in the stack and in bpf_fib_lookup alike: on for the host veths, as the agent
        // sets it, so IPv4 across nodes is not the stack's alone to refuse; IPv6 is (see NodeWithPods.plumbIpv6).
        for (AttachedNode node : List.of(nodes.a, nodes.b)) {
            for (NodeWithPods.Pod pod : node.topology.pods) {
                node.topology.node.sysctl("net.ipv4.conf." + pod.hostIfname() + ".forwarding", "1");
            }
        }
    }

    @AfterEach
    void cleanUp() throws Exception {
        if (nodes != null) {
            nodes.close();
        }
    }

    @Test
    void withoutTheProgramsTheNodesCannotCarryIpv6BetweenPods() throws Exception {
        nodes.a.detach(a1);
        nodes.a.detach(a2);
        nodes.b.detach(b1);
        var sameNode = a1.ns().exec("ping", "-6", "-c", "1", "-W", "1", a2.address6());
        var otherNode = a1.ns().exec("ping", "-6", "-c", "1", "-W", "1", b1.address6());
        assertEquals(1, sameNode.exitCode(), "IPv6 forwarding is off: the stack must not carry it: " + sameNode.stdout());
        assertEquals(1, otherNode.exitCode(), "nor across nodes: " + otherNode.stdout());
    }

    @Test
    void icmpv6BetweenPodsOfOneNodeTravelsByRedirectPeer() {
        long before = packets(nodes.a, TrafficFamily.IPV6, Verdict.REDIRECT_PEER);
        Traffic.ping(a1.end6(), a2.end6(), 5);
        assertTrue(packets(nodes.a, TrafficFamily.IPV6, Verdict.REDIRECT_PEER) - before >= 10,
                "five echo requests and five replies, each by redirect_peer");
    }

    @Test
    void tcpOverIpv6BetweenPodsOfOneNodeTravelsByRedirectPeer() throws Exception {
        long before = packets(nodes.a, TrafficFamily.IPV6, Verdict.REDIRECT_PEER);
        int bytes = 2 << 20;
        Traffic.tcpTransfer(a1.end6(), a2.end6(), 7601, bytes);
        assertTrue(packets(nodes.a, TrafficFamily.IPV6, Verdict.REDIRECT_PEER) - before >= bytes / 65536 + 3,
                "the transfer's segments (GSO packets of at most 64 KiB) and the receiver's answers");
    }

    @Test
    void icmpv6BetweenPodsOfTwoNodesTravelsByRedirectNeighThenRedirectPeer() {
        long sentA = packets(nodes.a, TrafficFamily.IPV6, Verdict.REDIRECT_NEIGH);
        long deliveredB = packets(nodes.b, TrafficFamily.IPV6, Verdict.REDIRECT_PEER);
        Traffic.ping(a1.end6(), b1.end6(), 5);
        assertTrue(packets(nodes.a, TrafficFamily.IPV6, Verdict.REDIRECT_NEIGH) - sentA >= 5, "node A sent the requests by redirect_neigh");
        assertTrue(packets(nodes.b, TrafficFamily.IPV6, Verdict.REDIRECT_PEER) - deliveredB >= 5,
                "node B's to_pod delivered them by redirect_peer");
        assertTrue(packets(nodes.b, TrafficFamily.IPV6, Verdict.REDIRECT_NEIGH) >= 5, "and sent the replies back by redirect_neigh");
    }

    @Test
    void tcpOverIpv6BetweenPodsOfTwoNodesTravelsByRedirectNeighThenRedirectPeer() throws Exception {
        long sentA = packets(nodes.a, TrafficFamily.IPV6, Verdict.REDIRECT_NEIGH);
        long deliveredA = packets(nodes.a, TrafficFamily.IPV6, Verdict.REDIRECT_PEER);
        Traffic.tcpTransfer(a1.end6(), b1.end6(), 7602, 1 << 20);
        assertTrue(packets(nodes.a, TrafficFamily.IPV6, Verdict.REDIRECT_NEIGH) - sentA >= 3, "A's segments by redirect_neigh");
        assertTrue(packets(nodes.a, TrafficFamily.IPV6, Verdict.REDIRECT_PEER) - deliveredA >= 3,
                "B's answers delivered into A's pod by to_pod");
    }

    @Test
    void dualStackPodsReachEachOtherOverBothFamiliesOnOneNodeAndAcross() throws Exception {
        long v4 = packets(nodes.a, TrafficFamily.IPV4, Verdict.REDIRECT_PEER) + packets(nodes.a, TrafficFamily.IPV4, Verdict.REDIRECT_NEIGH);
        long v6 = packets(nodes.a, TrafficFamily.IPV6, Verdict.REDIRECT_PEER) + packets(nodes.a, TrafficFamily.IPV6, Verdict.REDIRECT_NEIGH);

        Traffic.ping(a1.end(), a2.end(), 2);
        Traffic.ping(a1.end6(), a2.end6(), 2);
        Traffic.ping(a1.end(), b1.end(), 2);
        Traffic.ping(a1.end6(), b1.end6(), 2);
        Traffic.tcpTransfer(b1.end(), a2.end(), 7603, 100_000);
        Traffic.tcpTransfer(b1.end6(), a2.end6(), 7604, 100_000);

        long v4After = packets(nodes.a, TrafficFamily.IPV4, Verdict.REDIRECT_PEER) + packets(nodes.a, TrafficFamily.IPV4, Verdict.REDIRECT_NEIGH);
        long v6After = packets(nodes.a, TrafficFamily.IPV6, Verdict.REDIRECT_PEER) + packets(nodes.a, TrafficFamily.IPV6, Verdict.REDIRECT_NEIGH);
        assertTrue(v4After - v4 >= 8, "node A forwarded IPv4: " + (v4After - v4));
        assertTrue(v6After - v6 >= 8, "node A forwarded IPv6: " + (v6After - v6));
    }

    @Test
    void ipv6FromAnotherPodsAddressIsDroppedAndNeverReachesAPodOfEitherNode() {
        a1.ns().ip("-6", "addr", "add", a2.address6() + "/128", "dev", "eth0", "nodad");
        long dropped = spoofedDrops(nodes.a);
        long deliveredB = packets(nodes.b, TrafficFamily.IPV6, Verdict.REDIRECT_PEER);
        long deliveredA = packets(nodes.a, TrafficFamily.IPV6, Verdict.REDIRECT_PEER);

        // No answer can come back to a1 (it would go to a2): ping's exit code says nothing here.
        a1.ns().exec("ping", "-6", "-c", "3", "-i", "0.05", "-W", "1", "-I", a2.address6(), b1.address6());
        a1.ns().exec("ping", "-6", "-c", "3", "-i", "0.05", "-W", "1", "-I", a2.address6(), a2.address6());

        assertTrue(spoofedDrops(nodes.a) - dropped >= 3, "dropped as spoofed on a1's veth");
        assertEquals(deliveredB, packets(nodes.b, TrafficFamily.IPV6, Verdict.REDIRECT_PEER), "nothing reached b1");
        assertEquals(deliveredA, packets(nodes.a, TrafficFamily.IPV6, Verdict.REDIRECT_PEER), "nothing was delivered on node A");
        a1.ns().ip("-6", "addr", "del", a2.address6() + "/128", "dev", "eth0");
        Traffic.ping(a1.end6(), b1.end6(), 1); // as itself, a1 still gets through
    }

    private static long spoofedDrops(AttachedNode node) {
        return node.datapath.counters().global().stream()
                .filter(c -> c.family() == TrafficFamily.IPV6 && c.verdict() == Verdict.DROP && c.reason() == Reason.SPOOFED_SOURCE)
                .mapToLong(DatapathCounter::packets).sum();
    }

    /** Packets a node's programs forwarded with this verdict, both directions, for one family. */
    static long packets(AttachedNode node, TrafficFamily family, Verdict verdict) {
        return node.datapath.counters().global().stream()
                .filter(c -> c.family() == family && c.verdict() == verdict && c.reason() == Reason.FORWARDED)
                .mapToLong(DatapathCounter::packets).sum();
    }
}
