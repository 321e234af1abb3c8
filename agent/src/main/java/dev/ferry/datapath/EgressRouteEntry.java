package dev.ferry.datapath;

import java.util.List;

/**
 * A ferry_egress_nexthops value: what from_pod does with a packet a route serves.
 *
 * @param masquerade   leave it to the stack marked with {@code mark} (Ferry's rule routes and SNATs it)
 * @param fallbackDrop drop when no next hop is live, instead of the node's normal path
 * @param nextHops     in configured order; the live ones share the flows
 */
public record EgressRouteEntry(boolean masquerade, boolean fallbackDrop, int mark, List<EgressNextHop> nextHops) {
    public EgressRouteEntry {
        nextHops = List.copyOf(nextHops);
        if (nextHops.size() > MapLayouts.EGRESS_NEXTHOPS) {
            throw new IllegalArgumentException(nextHops.size() + " next hops; a route takes at most " + MapLayouts.EGRESS_NEXTHOPS);
        }
    }

    public long liveCount() {
        return nextHops.stream().filter(EgressNextHop::live).count();
    }
}
