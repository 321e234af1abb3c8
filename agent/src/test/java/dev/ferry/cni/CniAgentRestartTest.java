package dev.ferry.cni;

import dev.ferry.datapath.Direction;
import dev.ferry.datapath.EndpointCounter;
import dev.ferry.datapath.Verdict;
import dev.ferry.endpoint.EndpointKey;
import dev.ferry.testing.CniNode;
import dev.ferry.testing.FerryCni;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.Traffic;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The agent stops and a new one starts between ADD and DEL: the pods forward
 * while no agent runs, the new agent knows them (CHECK), DEL cleans up, and
 * IPAM does not hand out an address that is still in use.
 */
@RequiresRoot
class CniAgentRestartTest {

    @Test
    void podsForwardAcrossAnAgentRestartAndTheNewAgentDeletesThemAndHandsOutNoDuplicate() throws Exception {
        try (CniNode node = CniNode.start("rst", "10.235.0.0/29", "192.168.235.1")) {
            CniNode.Pod a = node.addPod("rsta");
            CniNode.Pod b = node.addPod("rstb");
            Traffic.ping(a.end(), b.end(), 1);

            int aId = node.endpoints().get(new EndpointKey(a.containerId(), "eth0")).orElseThrow().endpointId();
            long redirectedBefore = redirectPeerEgress(node, aId);
            node.stopAgent();
            FerryCni.Result whileDown = node.cni("ADD", CniNode.newContainerId(), b.netnsPath()).run();
            Traffic.ping(a.end(), b.end(), 3); // no agent: the pinned datapath forwards on
            Traffic.udpEcho(b.end(), a.end(), 7201, 10);
            node.startAgent();
            assertTrue(redirectPeerEgress(node, aId) - redirectedBefore >= 3 + 10,
                    "while no agent ran, a's pings and datagrams went through bpf_redirect_peer");

            assertEquals(CniError.TRY_AGAIN_LATER, whileDown.code(), "ADD while the agent is down: " + whileDown);
            assertEquals(2, node.endpoints().list().size(), "the new agent knows both pods");
            assertEquals(0, node.cni("CHECK", a.containerId(), a.netnsPath()).run().exitCode(), "a is intact under the new agent");
            Traffic.ping(a.end(), b.end(), 3);

            FerryCni.Result del = node.del(a);
            assertEquals(0, del.exitCode(), del.toString());
            assertTrue(node.endpoints().get(new EndpointKey(a.containerId(), "eth0")).isEmpty(), "a's state gone");
            assertEquals(List.of(node.endpoints().get(new EndpointKey(b.containerId(), "eth0")).orElseThrow().hostIfname()),
                    node.hostVeths(), "only b's veth is left");

            // Fill the rest of the /29: none of the new pods may get b's address.
            int free = node.ipam().capacity() - node.ipam().used();
            for (int i = 0; i < free; i++) {
                CniNode.Pod p = node.addPod("rstn" + i);
                assertNotEquals(b.address(), p.address(), "b's address is still in use");
                Traffic.ping(p.end(), b.end(), 1);
            }
        }
    }

    private static long redirectPeerEgress(CniNode node, int endpointId) {
        return node.datapath().counters().endpoints().stream()
                .filter(c -> c.endpointId() == endpointId && c.direction() == Direction.EGRESS && c.verdict() == Verdict.REDIRECT_PEER)
                .mapToLong(EndpointCounter::packets).sum();
    }
}
