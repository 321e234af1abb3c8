package dev.ferry.egress;

import dev.ferry.selection.PodSelection;
import dev.ferry.selection.SelectablePod;
import dev.ferry.net.IpPrefix;

import java.util.List;

/**
 * One egress route: traffic of the pods it selects ({@code pods}: by address in
 * standalone mode, by labels in Kubernetes mode), to {@code destinations} outside
 * the cluster CIDRs, leaves through {@code nextHops} (one flow, one next hop)
 * instead of the node's default route.
 *
 * @param destinations  prefixes outside the cluster CIDRs; 0.0.0.0/0 and ::/0 are everything outside them
 * @param masquerade    SNAT to the node's address on the chosen uplink (the stack does it, by Ferry's rule);
 *                      without it the next hop sees the pod's address and must route replies back to the node
 * @param fallback      what happens while no next hop is live
 */
public record EgressRoute(String name, PodSelection pods, List<IpPrefix> destinations, List<NextHop> nextHops,
                          boolean masquerade, Fallback fallback) {
    /** A route takes at most this many next hops (FERRY_EGRESS_NEXTHOPS). */
    public static final int MAX_NEXT_HOPS = 8;
    /** Every IPv4 destination outside the cluster CIDRs (a route's default adds ::/0 when it has IPv6 next hops). */
    public static final List<IpPrefix> OUTSIDE_THE_CLUSTER = List.of(IpPrefix.DEFAULT_V4);

    public EgressRoute {
        destinations = List.copyOf(destinations);
        nextHops = List.copyOf(nextHops);
    }

    /** A route of standalone mode: the pods whose address is in {@code sources}. */
    public EgressRoute(String name, List<IpPrefix> sources, List<IpPrefix> destinations, List<NextHop> nextHops,
                       boolean masquerade, Fallback fallback) {
        this(name, new PodSelection.SourceCidrs(sources), destinations, nextHops, masquerade, fallback);
    }

    /** Every destination outside the cluster, for each family the next hops have: the default when a route names none. */
    public static List<IpPrefix> outsideTheCluster(List<NextHop> nextHops) {
        List<IpPrefix> all = new java.util.ArrayList<>();
        if (nextHops.stream().anyMatch(h -> h.via() instanceof java.net.Inet4Address)) {
            all.add(IpPrefix.DEFAULT_V4);
        }
        if (nextHops.stream().anyMatch(h -> !(h.via() instanceof java.net.Inet4Address))) {
            all.add(IpPrefix.DEFAULT_V6);
        }
        return List.copyOf(all);
    }

    public boolean selects(SelectablePod pod) {
        return pods.selects(pod);
    }
}
