package dev.ferry.egress;

import java.util.List;

/**
 * What {@code ferry egress list} and {@code GET /v1/egress} show: every route
 * with the pods it selects on this node, its next hops and their health, and
 * the conflicts between routes.
 *
 * @param known   false while Kubernetes mode waits for the API server's first list (the pinned routes stay in force)
 * @param refused objects of the API server that are not in force, with why
 */
public record EgressStatus(boolean known, List<Route> routes, List<ConflictView> conflicts, List<Refused> refused) {
    public EgressStatus {
        routes = List.copyOf(routes);
        conflicts = List.copyOf(conflicts);
        refused = List.copyOf(refused);
    }

    /**
     * @param id      the route's id in the datapath (its counters' index)
     * @param selects which pods it takes: source CIDRs, or namespace and pod selectors
     */
    public record Route(String name, int id, String selects, List<String> destinations, boolean masquerade,
                        String fallback, List<Pod> pods, List<Hop> nextHops, long fallbackPackets,
                        long fallbackBytes) {
        public Route {
            destinations = List.copyOf(destinations);
            pods = List.copyOf(pods);
            nextHops = List.copyOf(nextHops);
        }
    }

    /** A {@link Conflict} as text: the destination as a CIDR. */
    public record ConflictView(String destination, String winner, String loser, String rule) {
        static ConflictView of(Conflict c) {
            return new ConflictView(c.destination().toString(), c.winner(), c.loser(), c.rule());
        }
    }

    /** An EgressRoute object the agent cannot use (the others are in force), and why. */
    public record Refused(String name, String reason) {}

    /** A selected pod of this node: its address, and namespace/name when the runtime gave them. */
    public record Pod(String address, String name) {}

    /** @param neighbour the kernel's neighbour state of the next hop on its device */
    public record Hop(String via, String device, boolean live, String neighbour, long packets, long bytes) {}
}
