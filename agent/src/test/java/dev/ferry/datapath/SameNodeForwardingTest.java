package dev.ferry.datapath;

import dev.ferry.testing.Traffic;

import dev.ferry.testing.RequiresRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two pods on one node, the programs attached through the Java layer: ICMP, UDP
 * and TCP between the pods travel by bpf_redirect_peer. The node's forwarding is
 * off, so the stack could not have carried them, and the counters show the path.
 * Runs once per attach mode (subclasses).
 */
@RequiresRoot
abstract class SameNodeForwardingTest {
    AttachedNode node;
    Datapath datapath;
    NodeWithPods.Pod a;
    NodeWithPods.Pod b;

    abstract AttachMode mode();

    abstract String linkPrefix();

    @BeforeEach
    void podsOnTheDatapath() throws Exception {
        node = AttachedNode.create(linkPrefix(), mode(), List.of("10.78.1.2", "10.78.1.3"));
        datapath = node.datapath;
        a = node.pod(0);
        b = node.pod(1);
    }

    @AfterEach
    void cleanUp() throws Exception {
        if (node != null) {
            node.close();
        }
    }

    @Test
    void nodeStackCannotForwardOnItsOwn() throws Exception {
        node.detach(a);
        node.detach(b);
        var r = a.ns().exec("ping", "-c", "1", "-W", "1", b.address());
        assertEquals(1, r.exitCode(), "without the datapath the pods must not reach each other: " + r.stdout());
    }

    @Test
    void icmpTravelsByRedirectPeer() {
        Map<String, Long> before = redirectPeerPackets();
        Traffic.ping(a.end(), b.end(), 5);
        assertAtLeast(before, 5, 5);
    }

    @Test
    void udpTravelsByRedirectPeer() throws Exception {
        Map<String, Long> before = redirectPeerPackets();
        Traffic.udpEcho(a.end(), b.end(), 7001, 50);
        assertAtLeast(before, 50, 50);
    }

    @Test
    void tcpTravelsByRedirectPeer() throws Exception {
        Map<String, Long> before = redirectPeerPackets();
        int bytes = 4 << 20;
        Traffic.tcpTransfer(a.end(), b.end(), 7002, bytes);
        // A's segments are GSO packets of at most 64 KiB; B answers at least SYN-ACK, ACK and the acknowledgement.
        assertAtLeast(before, bytes / 65536, 3);
    }

    /** Packets each pod sent by redirect_peer (its endpoint egress counter), keyed "a"/"b", and globally. */
    private Map<String, Long> redirectPeerPackets() {
        Map<String, Long> m = new HashMap<>();
        for (EndpointCounter c : datapath.counters().endpoints()) {
            if (c.direction() == Direction.EGRESS && c.verdict() == Verdict.REDIRECT_PEER) {
                m.put(c.endpointId() == a.endpointId() ? "a" : c.endpointId() == b.endpointId() ? "b" : "other", c.packets());
            }
        }
        for (DatapathCounter c : datapath.counters().global()) {
            if (c.direction() == Direction.EGRESS && c.verdict() == Verdict.REDIRECT_PEER && c.reason() == Reason.FORWARDED) {
                m.put("global", c.packets());
            }
        }
        return m;
    }

    private void assertAtLeast(Map<String, Long> before, long fromA, long fromB) {
        Map<String, Long> after = redirectPeerPackets();
        long sentA = after.getOrDefault("a", 0L) - before.getOrDefault("a", 0L);
        long sentB = after.getOrDefault("b", 0L) - before.getOrDefault("b", 0L);
        long global = after.getOrDefault("global", 0L) - before.getOrDefault("global", 0L);
        assertTrue(sentA >= fromA, "pod a sent " + sentA + " packets by redirect_peer, expected at least " + fromA);
        assertTrue(sentB >= fromB, "pod b sent " + sentB + " packets by redirect_peer, expected at least " + fromB);
        assertEquals(sentA + sentB, global, "the global redirect_peer counter agrees with the endpoints'");
    }
}
