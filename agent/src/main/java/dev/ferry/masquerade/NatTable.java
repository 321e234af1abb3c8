package dev.ferry.masquerade;

import dev.ferry.endpoint.HostIfname;
import dev.ferry.net.IpPrefix;

import java.util.List;
import java.util.stream.Collectors;

/**
 * The text of the nft transactions for Ferry's own table, {@code table ip ferry}.
 * Each starts with {@code table ip ferry} (creates it when missing, a no-op otherwise)
 * and {@code delete table ip ferry}, so that it never fails on the table's absence
 * and whatever drifted in the table is replaced; no other table is named.
 */
final class NatTable {
    static final String FAMILY = "ip";
    static final String NAME = "ferry";
    static final String CHAIN = "postrouting";
    static final String POD_CIDRS = "pod_cidrs";
    static final String CLUSTER_CIDRS = "cluster_cidrs";

    private NatTable() {
    }

    /** Deletes the table if it exists, else does nothing. */
    static String removal() {
        return "table " + FAMILY + " " + NAME + "\n"
                + "delete table " + FAMILY + " " + NAME + "\n";
    }

    /**
     * The whole table, replacing what was there. Pod sources leaving for a destination
     * that is neither a cluster nor a pod address, through a device that is not a pod's,
     * take the address of the outgoing device. Flows to the node itself never pass
     * postrouting, so they keep the pod's address without a rule.
     */
    static String replacement(MasqueradeRules rules) {
        return removal()
                + "table " + FAMILY + " " + NAME + " {\n"
                + "  comment \"owned by ferry-agent: replaced whole at every reconcile, edits are lost\"\n"
                + set(POD_CIDRS, rules.podCidrs())
                + set(CLUSTER_CIDRS, rules.clusterCidrs())
                + "  chain " + CHAIN + " {\n"
                + "    type nat hook postrouting priority srcnat; policy accept;\n"
                + "    ip saddr @" + POD_CIDRS + " ip daddr != @" + CLUSTER_CIDRS + " ip daddr != @" + POD_CIDRS
                + " oifname != \"" + HostIfname.PREFIX + "*\" counter masquerade comment \"pods to outside the cluster\"\n"
                + "  }\n"
                + "}\n";
    }

    /** auto-merge: overlapping CIDRs (a pod CIDR inside another) would otherwise be rejected. */
    private static String set(String name, List<IpPrefix> cidrs) {
        String elements = cidrs.isEmpty() ? ""
                : "    elements = { " + cidrs.stream().map(IpPrefix::toString).collect(Collectors.joining(", ")) + " }\n";
        return "  set " + name + " {\n"
                + "    type ipv4_addr\n"
                + "    flags interval\n"
                + "    auto-merge\n"
                + elements
                + "  }\n";
    }
}
