package dev.ferry.egress;

import dev.ferry.net.IpPrefix;

import java.net.InetAddress;
import java.util.List;

/**
 * One egress route: traffic of the pods whose address is in {@code sources}, to
 * {@code destinations} outside the cluster CIDRs, leaves through {@code nextHops}
 * (one flow, one next hop) instead of the node's default route.
 *
 * @param destinations  prefixes outside the cluster CIDRs; 0.0.0.0/0 and ::/0 are everything outside them
 * @param masquerade    SNAT to the node's address on the chosen uplink (the stack does it, by Ferry's rule);
 *                      without it the next hop sees the pod's address and must route replies back to the node
 * @param fallback      what happens while no next hop is live
 */
public record EgressRoute(String name, List<IpPrefix> sources, List<IpPrefix> destinations, List<NextHop> nextHops,
                          boolean masquerade, Fallback fallback) {
    /** A route takes at most this many next hops (FERRY_EGRESS_NEXTHOPS). */
    public static final int MAX_NEXT_HOPS = 8;
    /** Every IPv4 destination outside the cluster CIDRs (a route's default adds ::/0 when it has IPv6 next hops). */
    public static final List<IpPrefix> OUTSIDE_THE_CLUSTER = List.of(IpPrefix.DEFAULT_V4);

    public EgressRoute {
        sources = List.copyOf(sources);
        destinations = List.copyOf(destinations);
        nextHops = List.copyOf(nextHops);
    }

    /** Whether the route selects the pod with this address. */
    public boolean selects(InetAddress pod) {
        return sources.stream().anyMatch(s -> s.contains(pod));
    }
}
