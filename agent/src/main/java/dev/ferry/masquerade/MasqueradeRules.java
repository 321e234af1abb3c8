package dev.ferry.masquerade;

import dev.ferry.net.IpPrefix;

import java.util.LinkedHashSet;
import java.util.List;

/**
 * What the masquerade table is made from.
 *
 * @param enabled      false: the table is removed (and never created)
 * @param podCidrs     the sources to translate: this node's pod CIDRs and, in Kubernetes
 *                     mode, every node's (a pod's flow may be forwarded through this node)
 * @param clusterCidrs destinations that keep the pod's address (pods of any node); pod
 *                     CIDRs are exempt as destinations too, even when not listed here
 */
public record MasqueradeRules(boolean enabled, List<IpPrefix> podCidrs, List<IpPrefix> clusterCidrs) {

    /** IPv4 only, like the rest of the agent for now; host bits are cleared, duplicates dropped. */
    public MasqueradeRules {
        podCidrs = networks("pod CIDR", podCidrs);
        clusterCidrs = networks("cluster CIDR", clusterCidrs);
    }

    public static MasqueradeRules enabled(List<IpPrefix> podCidrs, List<IpPrefix> clusterCidrs) {
        return new MasqueradeRules(true, podCidrs, clusterCidrs);
    }

    public static MasqueradeRules disabled() {
        return new MasqueradeRules(false, List.of(), List.of());
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
            if (!p.isIpv4()) {
                throw new IllegalArgumentException("masquerade: " + what + " '" + p
                        + "' is not IPv4; Ferry masquerades IPv4 only for now");
            }
            out.add(new IpPrefix(p.network(), p.length()));
        }
        return List.copyOf(out);
    }
}
