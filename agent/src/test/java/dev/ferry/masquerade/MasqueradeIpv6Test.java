package dev.ferry.masquerade;

import dev.ferry.net.IpPrefix;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.Shell;
import dev.ferry.testing.Traffic;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.ferry.masquerade.NodeBehindUplink.CLUSTER_CIDR;
import static dev.ferry.masquerade.NodeBehindUplink.CLUSTER_CIDR6;
import static dev.ferry.masquerade.NodeBehindUplink.NODE_UPLINK;
import static dev.ferry.masquerade.NodeBehindUplink.NODE_UPLINK6;
import static dev.ferry.masquerade.NodeBehindUplink.OTHER_NODE_POD6;
import static dev.ferry.masquerade.NodeBehindUplink.OUTSIDE;
import static dev.ferry.masquerade.NodeBehindUplink.OUTSIDE6;
import static dev.ferry.masquerade.NodeBehindUplink.POD_CIDR;
import static dev.ferry.masquerade.NodeBehindUplink.POD_CIDR6;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** IPv6 and per-family masquerade: real packets through a dual-stack node whose only NAT is Ferry's tables. */
@RequiresRoot
class MasqueradeIpv6Test {
    static final List<IpPrefix> POD_CIDRS = List.of(IpPrefix.parse(POD_CIDR), IpPrefix.parse(POD_CIDR6));
    static final List<IpPrefix> CLUSTER_CIDRS = List.of(IpPrefix.parse(CLUSTER_CIDR), IpPrefix.parse(CLUSTER_CIDR6));
    static final String POD6 = "fd00:f17:a0::2";

    NodeBehindUplink topo;
    Masquerade masquerade;

    @BeforeEach
    void nodeWithUplink() {
        topo = NodeBehindUplink.create();
        masquerade = new Masquerade(topo.node.handle());
    }

    @AfterEach
    void cleanUp() {
        if (topo != null) {
            topo.close();
        }
    }

    @Test
    void anIpv6PodReachingOutsideTheClusterAppearsAsTheNodesIpv6Address() throws Exception {
        Traffic.End pod = topo.addPod(POD6);
        Traffic.End outside = NodeBehindUplink.end(topo.outside, OUTSIDE6);
        AssertionError untranslated = assertThrows(AssertionError.class,
                () -> NodeBehindUplink.sourceSeenBy(pod, outside, 41001), "without masquerade no answer comes back");
        assertTrue(untranslated.getMessage().contains("saw source " + POD6), untranslated.getMessage());

        masquerade.apply(MasqueradeRules.enabled(POD_CIDRS, CLUSTER_CIDRS));

        assertEquals(NODE_UPLINK6, NodeBehindUplink.sourceSeenBy(pod, outside, 41002));
    }

    @Test
    void anIpv6PodToAnotherNodesPodKeepsItsAddress() throws Exception {
        Traffic.End pod = topo.addPod(POD6);
        masquerade.apply(MasqueradeRules.enabled(POD_CIDRS, CLUSTER_CIDRS));

        assertEquals(POD6, NodeBehindUplink.sourceSeenBy(pod, NodeBehindUplink.end(topo.outside, OTHER_NODE_POD6), 41003));
    }

    @Test
    void withIpv6MasqueradeOffTheOutsideSeesTheIpv6PodsAddressWhileIpv4IsStillMasqueraded() throws Exception {
        Traffic.End pod6 = topo.addPod(POD6);
        Traffic.End pod4 = topo.addPod("10.251.0.2");
        masquerade.apply(new MasqueradeRules(new MasqueradeFamilies(true, false), POD_CIDRS, CLUSTER_CIDRS));

        AssertionError untranslated = assertThrows(AssertionError.class,
                () -> NodeBehindUplink.sourceSeenBy(pod6, NodeBehindUplink.end(topo.outside, OUTSIDE6), 41004));
        assertTrue(untranslated.getMessage().contains("saw source " + POD6), untranslated.getMessage());
        assertEquals(NODE_UPLINK, NodeBehindUplink.sourceSeenBy(pod4, NodeBehindUplink.end(topo.outside, OUTSIDE), 41005));
        assertFalse(tableExists("ip6"), "the IPv6 table is removed, not emptied");
    }

    @Test
    void withIpv4MasqueradeOffOnlyIpv6PodsAreTranslated() throws Exception {
        Traffic.End pod6 = topo.addPod(POD6);
        Traffic.End pod4 = topo.addPod("10.251.0.2");
        masquerade.apply(new MasqueradeRules(new MasqueradeFamilies(false, true), POD_CIDRS, CLUSTER_CIDRS));

        assertEquals(NODE_UPLINK6, NodeBehindUplink.sourceSeenBy(pod6, NodeBehindUplink.end(topo.outside, OUTSIDE6), 41006));
        AssertionError untranslated = assertThrows(AssertionError.class,
                () -> NodeBehindUplink.sourceSeenBy(pod4, NodeBehindUplink.end(topo.outside, OUTSIDE), 41007));
        assertTrue(untranslated.getMessage().contains("saw source 10.251.0.2"), untranslated.getMessage());
        assertFalse(tableExists("ip"));
    }

    @Test
    void turningIpv6OffLaterRemovesItsTableAndLeavesTheIpv4One() {
        masquerade.apply(MasqueradeRules.enabled(POD_CIDRS, CLUSTER_CIDRS));
        assertTrue(tableExists("ip") && tableExists("ip6"));
        String ip6 = nft("list", "table", "ip6", "ferry");
        assertTrue(ip6.contains("ip6 saddr @pod_cidrs") && ip6.contains(POD_CIDR6) && ip6.contains("masquerade"), ip6);

        masquerade.apply(new MasqueradeRules(new MasqueradeFamilies(true, false), POD_CIDRS, CLUSTER_CIDRS));

        assertFalse(tableExists("ip6"));
        assertTrue(nft("list", "table", "ip", "ferry").contains(POD_CIDR));
    }

    @Test
    void anIpv4OnlyNodeGetsNoIpv6Table() {
        masquerade.apply(MasqueradeRules.enabled(List.of(IpPrefix.parse(POD_CIDR)), List.of(IpPrefix.parse(CLUSTER_CIDR))));

        assertTrue(tableExists("ip"));
        assertFalse(tableExists("ip6"), "no IPv6 pod CIDR: nothing to translate");
    }

    private String nft(String... args) {
        String[] cmd = new String[args.length + 1];
        cmd[0] = "nft";
        System.arraycopy(args, 0, cmd, 1, args.length);
        Shell.Result r = topo.node.exec(cmd);
        assertTrue(r.ok(), String.join(" ", cmd) + ": " + r.stderr());
        return r.stdout();
    }

    private boolean tableExists(String family) {
        return topo.node.exec("nft", "list", "tables", family).stdout().contains("table " + family + " ferry\n");
    }
}
