package dev.ferry.masquerade;

import dev.ferry.net.IpPrefix;

import java.util.LinkedHashSet;
import java.util.List;

/**
 * What the masquerade tables are made from; both families' CIDRs in one list,
 * each family's table gets its own.
 *
 * @param families     which families are masqueraded; a family that is not has its table removed (and never created)
 * @param podCidrs     the sources to translate: this node's pod CIDRs and, in Kubernetes
 *                     mode, every node's (a pod's flow may be forwarded through this node)
 * @param clusterCidrs destinations that keep the pod's address (pods of any node); pod
 *                     CIDRs are exempt as destinations too, even when not listed here
 */
public record MasqueradeRules(MasqueradeFamilies families, List<IpPrefix> podCidrs, List<IpPrefix> clusterCidrs) {

    /** Host bits are cleared, duplicates dropped. */
    public MasqueradeRules {
        if (families == null) {
            throw new IllegalArgumentException("masquerade: the families are missing");
        }
        podCidrs = networks("pod CIDR", podCidrs);
        clusterCidrs = networks("cluster CIDR", clusterCidrs);
    }

    /** Both families masqueraded. */
    public static MasqueradeRules enabled(List<IpPrefix> podCidrs, List<IpPrefix> clusterCidrs) {
        return new MasqueradeRules(MasqueradeFamilies.ALL, podCidrs, clusterCidrs);
    }

    public static MasqueradeRules disabled() {
        return new MasqueradeRules(MasqueradeFamilies.NONE, List.of(), List.of());
    }

    /** The pod CIDRs of one family. */
    List<IpPrefix> podCidrs(boolean ipv4) {
        return podCidrs.stream().filter(p -> p.isIpv4() == ipv4).toList();
    }

    /** The cluster CIDRs of one family. */
    List<IpPrefix> clusterCidrs(boolean ipv4) {
        return clusterCidrs.stream().filter(p -> p.isIpv4() == ipv4).toList();
    }

    private static List<IpPrefix> networks(String what, List<IpPrefix> prefixes) {
        if (prefixes == null) {
            throw new IllegalArgumentException("masquerade: the " + what + "s are missing");
        }
        LinkedHashSet<IpPrefix> out = new LinkedHashSet<>();
        for (IpPrefix p : prefixes) {
            if (p == null) {
                throw new IllegalArgumentException("masquerade: a " + what + " is missing (null)");
            }
            out.add(new IpPrefix(p.network(), p.length()));
        }
        return List.copyOf(out);
    }
}
