package dev.ferry.masquerade;

import dev.ferry.endpoint.HostIfname;
import dev.ferry.net.IpPrefix;

import java.util.List;
import java.util.stream.Collectors;

/**
 * The text of the nft transactions for Ferry's own tables, {@code table ip ferry}
 * (IPv4) and {@code table ip6 ferry} (IPv6): one per family, so that a family's
 * masquerade is turned off by removing its table alone, and the IPv4 table is the
 * one agents before IPv6 masquerade wrote. Each table's text starts with
 * {@code table <family> ferry} (creates it when missing, a no-op otherwise) and
 * {@code delete table <family> ferry}, so that it never fails on the table's
 * absence and whatever drifted in the table is replaced; no other table is named.
 * Both families go to nft in one transaction: both tables change, or neither.
 */
final class NatTable {
    static final String NAME = "ferry";
    static final String CHAIN = "postrouting";
    static final String POD_CIDRS = "pod_cidrs";
    static final String CLUSTER_CIDRS = "cluster_cidrs";

    /** An nftables family with what its rules and sets are written with. */
    enum Family {
        IPV4("ip", "ipv4_addr"),
        IPV6("ip6", "ipv6_addr");

        final String nft;
        final String addressType;

        Family(String nft, String addressType) {
            this.nft = nft;
            this.addressType = addressType;
        }

        boolean ipv4() {
            return this == IPV4;
        }
    }

    private NatTable() {
    }

    /** Both tables as {@code rules} say: a family masqueraded with pod CIDRs of its own gets its table, else none. */
    static String transaction(MasqueradeRules rules) {
        StringBuilder text = new StringBuilder();
        for (Family family : Family.values()) {
            List<IpPrefix> podCidrs = rules.podCidrs(family.ipv4());
            boolean on = rules.families().covers(family.ipv4());
            // No pod CIDR of the family: the rule could match nothing, and an IPv4-only cluster gets no ip6 table.
            text.append(on && !podCidrs.isEmpty()
                    ? replacement(family, podCidrs, rules.clusterCidrs(family.ipv4()))
                    : removal(family));
        }
        return text.toString();
    }

    /** Deletes the family's table if it exists, else does nothing. */
    static String removal(Family family) {
        return "table " + family.nft + " " + NAME + "\n"
                + "delete table " + family.nft + " " + NAME + "\n";
    }

    /**
     * The family's whole table, replacing what was there. Pod sources leaving for a
     * destination that is neither a cluster nor a pod address, through a device that
     * is not a pod's, take the address of the outgoing device (of the same family).
     * Flows to the node itself never pass postrouting, so they keep the pod's address
     * without a rule.
     */
    static String replacement(Family family, List<IpPrefix> podCidrs, List<IpPrefix> clusterCidrs) {
        String f = family.nft;
        return removal(family)
                + "table " + f + " " + NAME + " {\n"
                + "  comment \"owned by ferry-agent: replaced whole at every reconcile, edits are lost\"\n"
                + set(family, POD_CIDRS, podCidrs)
                + set(family, CLUSTER_CIDRS, clusterCidrs)
                + "  chain " + CHAIN + " {\n"
                + "    type nat hook postrouting priority srcnat; policy accept;\n"
                + "    " + f + " saddr @" + POD_CIDRS + " " + f + " daddr != @" + CLUSTER_CIDRS + " " + f + " daddr != @"
                + POD_CIDRS + " oifname != \"" + HostIfname.PREFIX + "*\" counter masquerade comment \"pods to outside the cluster\"\n"
                + "  }\n"
                + "}\n";
    }

    /** auto-merge: overlapping CIDRs (a pod CIDR inside another) would otherwise be rejected. */
    private static String set(Family family, String name, List<IpPrefix> cidrs) {
        String elements = cidrs.isEmpty() ? ""
                : "    elements = { " + cidrs.stream().map(IpPrefix::toString).collect(Collectors.joining(", ")) + " }\n";
        return "  set " + name + " {\n"
                + "    type " + family.addressType + "\n"
                + "    flags interval\n"
                + "    auto-merge\n"
                + elements
                + "  }\n";
    }
}
