package dev.ferry.cni;

import dev.ferry.datapath.AttachMode;
import dev.ferry.datapath.AttachModes;
import dev.ferry.endpoint.EndpointKey;
import dev.ferry.testing.CniNode;
import dev.ferry.testing.Footprint;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.Traffic;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Pods on TCX ({@code podAttach: tcx}), the mode other than the shipped one:
 * ADD hooks each pod's host veth with a pinned TCX link instead of a tc
 * filter, the pods forward, and DEL takes link and pin away.
 */
@RequiresRoot
class CniTcxPodsTest {

    @Test
    void withPodAttachTcxEachPodGetsAPinnedTcxLinkAndNoTcFilterAndDelRemovesTheLink() throws Exception {
        try (CniNode node = CniNode.start("tcxp", "10.239.0.0/24", "192.168.239.1", AttachModes.all(AttachMode.TCX))) {
            CniNode.Pod a = node.addPod("tcxpa");
            CniNode.Pod b = node.addPod("tcxpb");
            Traffic.ping(a.end(), b.end(), 3);
            String aVeth = hostVeth(node, a);
            String bVeth = hostVeth(node, b);

            Footprint withTwoPods = node.footprint();
            assertEquals(List.of("from_pod/" + aVeth, "from_pod/" + bVeth).stream().sorted().toList(), withTwoPods.linkPins());
            assertEquals(2, withTwoPods.bpfLinks().size(), withTwoPods.bpfLinks().toString());
            assertEquals(List.of(), withTwoPods.tcHooks(), "no clsact qdisc, no tc filter");

            assertEquals(0, node.del(a).exitCode());

            Footprint withOne = node.footprint();
            assertEquals(List.of("from_pod/" + bVeth), withOne.linkPins());
            assertEquals(1, withOne.bpfLinks().size(), withOne.bpfLinks().toString());
        }
    }

    private static String hostVeth(CniNode node, CniNode.Pod pod) {
        return node.endpoints().get(new EndpointKey(pod.containerId(), "eth0")).orElseThrow().hostIfname();
    }
}
