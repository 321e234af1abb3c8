package dev.ferry.datapath;

import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.Traffic;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two IPv6-only nodes: no IPv4 address on the wire or on any pod, the nodes'
 * IPv6 forwarding off, every hook TCX (the runs per attach mode are
 * Ipv6ForwardingTest's). Pods of one node and of both talk over IPv6 by the
 * programs alone, and nothing is counted under IPv4. Addresses fd87::/16 are
 * this class's (inside its namespaces).
 */
@RequiresRoot
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class Ipv6OnlyNodePairTest {
    private TwoNodes nodes;

    @BeforeAll
    void ipv6OnlyNodes() throws Exception {
        nodes = TwoNodes.create(AttachMode.TCX,
                "f7a", List.of("fd87:1::2", "fd87:1::3"),
                "f7b", List.of("fd87:2::2"),
                List.of(new TwoNodes.Family("fd87:ff::1", "fd87:ff::2", 64, "fd87:1::/64", "fd87:2::/64")),
                List.of("fd87::/16"));
    }

    @AfterAll
    void cleanUp() throws Exception {
        if (nodes != null) {
            nodes.close();
        }
    }

    @Test
    void podsOfOneIpv6OnlyNodeTalkByRedirectPeer() throws Exception {
        long before = Ipv6ForwardingTest.packets(nodes.a, TrafficFamily.IPV6, Verdict.REDIRECT_PEER);
        Traffic.ping(nodes.a.pod(0).end6(), nodes.a.pod(1).end6(), 3);
        Traffic.tcpTransfer(nodes.a.pod(1).end6(), nodes.a.pod(0).end6(), 7701, 100_000);
        assertTrue(Ipv6ForwardingTest.packets(nodes.a, TrafficFamily.IPV6, Verdict.REDIRECT_PEER) - before >= 6);
    }

    @Test
    void podsOfTwoIpv6OnlyNodesTalkAcrossTheWire() throws Exception {
        long sentA = Ipv6ForwardingTest.packets(nodes.a, TrafficFamily.IPV6, Verdict.REDIRECT_NEIGH);
        Traffic.ping(nodes.a.pod(0).end6(), nodes.b.pod(0).end6(), 3);
        Traffic.tcpTransfer(nodes.b.pod(0).end6(), nodes.a.pod(1).end6(), 7702, 100_000);
        assertTrue(Ipv6ForwardingTest.packets(nodes.a, TrafficFamily.IPV6, Verdict.REDIRECT_NEIGH) - sentA >= 3);
    }

    @Test
    void nothingIsCountedUnderIpv4() {
        for (AttachedNode node : List.of(nodes.a, nodes.b)) {
            assertEquals(List.of(), node.datapath.counters().global().stream()
                    .filter(c -> c.family() == TrafficFamily.IPV4).toList());
        }
    }
}
