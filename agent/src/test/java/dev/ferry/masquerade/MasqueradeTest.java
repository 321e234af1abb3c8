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
import static dev.ferry.masquerade.NodeBehindUplink.NODE_UPLINK;
import static dev.ferry.masquerade.NodeBehindUplink.OTHER_NODE_POD;
import static dev.ferry.masquerade.NodeBehindUplink.OUTSIDE;
import static dev.ferry.masquerade.NodeBehindUplink.POD_CIDR;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Real packets through a node namespace whose only NAT is Ferry's table. */
@RequiresRoot
class MasqueradeTest {
    static final MasqueradeRules RULES = MasqueradeRules.enabled(
            List.of(IpPrefix.parse(POD_CIDR)), List.of(IpPrefix.parse(CLUSTER_CIDR)));

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
    void podReachingOutsideTheClusterAppearsAsTheNode() throws Exception {
        Traffic.End pod = topo.addPod("10.251.0.2");
        Traffic.End outside = NodeBehindUplink.end(topo.outside, OUTSIDE);
        AssertionError untranslated = assertThrows(AssertionError.class,
                () -> NodeBehindUplink.sourceSeenBy(pod, outside, 40001), "without masquerade no answer comes back");
        assertTrue(untranslated.getMessage().contains("saw source 10.251.0.2"), untranslated.getMessage());

        masquerade.apply(RULES);

        assertEquals(NODE_UPLINK, NodeBehindUplink.sourceSeenBy(pod, outside, 40002));
    }

    @Test
    void podToPodOnTheNodeKeepsThePodAddress() throws Exception {
        Traffic.End a = topo.addPod("10.251.0.2");
        Traffic.End b = topo.addPod("10.251.0.3");
        masquerade.apply(RULES);

        assertEquals("10.251.0.2", NodeBehindUplink.sourceSeenBy(a, b, 40003));
        assertEquals("10.251.0.3", NodeBehindUplink.sourceSeenBy(b, a, 40004));
    }

    @Test
    void podToAnotherNodesPodKeepsThePodAddress() throws Exception {
        Traffic.End pod = topo.addPod("10.251.0.2");
        masquerade.apply(RULES);

        assertEquals("10.251.0.2",
                NodeBehindUplink.sourceSeenBy(pod, NodeBehindUplink.end(topo.outside, OTHER_NODE_POD), 40005));
    }

    @Test
    void applyingAgainRestoresAFlushedChain() throws Exception {
        Traffic.End pod = topo.addPod("10.251.0.2");
        Traffic.End outside = NodeBehindUplink.end(topo.outside, OUTSIDE);
        masquerade.apply(RULES);
        nft("flush", "chain", "ip", "ferry", "postrouting");
        nft("delete", "element", "ip", "ferry", "pod_cidrs", "{", POD_CIDR, "}");
        assertFalse(nft("list", "table", "ip", "ferry").contains("masquerade"));

        masquerade.apply(RULES);

        String table = nft("list", "table", "ip", "ferry");
        assertTrue(table.contains("masquerade") && table.contains(POD_CIDR), table);
        assertEquals(NODE_UPLINK, NodeBehindUplink.sourceSeenBy(pod, outside, 40006));
    }

    @Test
    void anotherTableSurvivesApplyReapplyAndDisable() {
        nft("add", "table", "ip", "other");
        nft("add", "chain", "ip", "other", "input", "{ type filter hook input priority 0; policy accept; }");
        nft("add", "rule", "ip", "other", "input", "ip saddr 192.0.2.1 counter accept");
        String before = nft("list", "table", "ip", "other");

        masquerade.apply(RULES);
        assertEquals(before, nft("list", "table", "ip", "other"));
        masquerade.apply(RULES);
        assertEquals(before, nft("list", "table", "ip", "other"));
        masquerade.apply(MasqueradeRules.disabled());
        assertEquals(before, nft("list", "table", "ip", "other"));
        assertFalse(tableExists("ferry"));
    }

    @Test
    void disablingIsIdempotent() {
        masquerade.apply(MasqueradeRules.disabled());
        masquerade.apply(RULES);
        masquerade.apply(MasqueradeRules.disabled());
        masquerade.apply(MasqueradeRules.disabled());
        assertFalse(tableExists("ferry"));
    }

    @Test
    void disabledRemovesTheTableAndNeverCreatesIt() throws Exception {
        masquerade.apply(MasqueradeRules.disabled());
        assertFalse(tableExists("ferry"), "disabled creates no table");

        masquerade.apply(RULES);
        assertTrue(tableExists("ferry"));
        masquerade.apply(MasqueradeRules.disabled());
        assertFalse(tableExists("ferry"), "disabling removes the table");

        Traffic.End pod = topo.addPod("10.251.0.2");
        assertThrows(AssertionError.class,
                () -> NodeBehindUplink.sourceSeenBy(pod, NodeBehindUplink.end(topo.outside, OUTSIDE), 40007));
    }

    @Test
    void overlappingAndUnalignedCidrsAreAccepted() {
        masquerade.apply(MasqueradeRules.enabled(
                List.of(IpPrefix.parse("10.251.0.7/24"), IpPrefix.parse(POD_CIDR)),
                List.of(IpPrefix.parse(CLUSTER_CIDR), IpPrefix.parse(POD_CIDR))));
        assertTrue(nft("list", "set", "ip", "ferry", "pod_cidrs").contains(POD_CIDR));
    }

    private String nft(String... args) {
        String[] cmd = new String[args.length + 1];
        cmd[0] = "nft";
        System.arraycopy(args, 0, cmd, 1, args.length);
        Shell.Result r = topo.node.exec(cmd);
        assertTrue(r.ok(), String.join(" ", cmd) + ": " + r.stderr());
        return r.stdout();
    }

    private boolean tableExists(String name) {
        return topo.node.exec("nft", "list", "tables", "ip").stdout().contains("table ip " + name + "\n");
    }
}
