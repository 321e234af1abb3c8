package dev.ferry.routes;

import dev.ferry.net.IpPrefix;
import dev.ferry.netlink.NetlinkException;
import dev.ferry.netlink.Route;
import dev.ferry.netlink.RouteFilter;
import dev.ferry.netlink.RtNetlink;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Native routing to the other nodes: one kernel route per peer
 * pod CIDR, {@code podCIDR via peer.address proto 70}, in the main table. The
 * BPF programs' FIB lookup follows these routes, and so does the stack.
 *
 * <p>Ferry's routes are told apart by protocol 70 <em>and</em> a gateway: the
 * endpoint manager's host routes to pods are protocol 70 too, but device routes
 * without a gateway, and reconcile never deletes those. A route of any other
 * protocol is never changed, not even one to a peer's CIDR (that peer is then
 * reached the way the other route says, and a warning says so).
 *
 * <p>Standalone mode reconciles once from the config. Kubernetes mode reconciles
 * once when the node cache is synced, then applies one node's change at a time
 * ({@link #apply}, {@link #remove}): only that node's routes are written, so a
 * change to one of a thousand nodes costs one or two route writes, not a thousand.
 * Not thread-safe: one thread (the cluster watch's) drives it.
 *
 * <p>One peer the kernel will not route (its address on no connected network)
 * or one route that will not go away never stops the others: the failure is
 * logged, counted in the outcome and kept, and {@link #retryFailed} tries it
 * again; the caller retries on its next event, so a node whose network comes
 * up later is routed then.
 */
public final class PeerRoutes {
    private static final Logger log = LoggerFactory.getLogger(PeerRoutes.class);

    /** What one reconcile did; {@code failed}: routes the kernel refused, kept for {@link #retryFailed}. */
    public record Outcome(int added, int replaced, int deleted, int unchanged, int conflicts, int failed) {}

    /** A route to delete that the kernel would not delete yet. */
    private record Undeleted(String nodeName, IpPrefix cidr, InetAddress via) {}

    /** How old the listing of other protocols' routes may be when a node's change is applied. */
    static final Duration FOREIGN_TTL = Duration.ofSeconds(1);

    private final RtNetlink netlink;
    /** Destinations of the main table's routes of other protocols, as last listed; null before the first listing. */
    private Set<IpPrefix> foreign;
    private long foreignListedAt;
    private int listings;
    /** What this object last made true per node: the diff base of {@link #apply} and {@link #remove}. */
    private final Map<String, Peer> routed = new HashMap<>();
    /** Nodes whose routes the kernel refused, as wanted: applied again by {@link #retryFailed}. */
    private final Map<String, Peer> unrouted = new LinkedHashMap<>();
    /** Routes whose delete failed, deleted again by {@link #retryFailed}. */
    private final Map<IpPrefix, Undeleted> undeleted = new LinkedHashMap<>();

    /** @param netlink a socket in the node's network namespace */
    public PeerRoutes(RtNetlink netlink) {
        this.netlink = netlink;
    }

    /**
     * One node's routes as {@code peer} says: its new CIDRs are installed, a changed
     * address replaces, CIDRs it no longer has are deleted; other nodes' routes are
     * not read or written.
     */
    public Outcome apply(Peer peer) {
        unrouted.remove(peer.name());
        Peer before = routed.get(peer.name());
        int added = 0, replaced = 0, deleted = 0, unchanged = 0, conflicts = 0, failed = 0;
        for (IpPrefix cidr : peer.podCidrs()) {
            boolean had = before != null && before.podCidrs().contains(cidr);
            if (had && before.via(cidr).equals(peer.via(cidr))) {
                unchanged++;
            } else if (foreignRouteTo(cidr, had)) {
                log.warn("event=peer_route_conflict peer={} pod_cidr={} action=left_alone why=\"a route of another protocol"
                        + " leads there; the peer is reached the way it says\"", peer.name(), cidr);
                conflicts++;
            } else if (!install(peer, cidr)) {
                failed++;
            } else {
                log.info("event=peer_route_{} peer={} pod_cidr={} via={}", had ? "replaced" : "added", peer.name(), cidr,
                        peer.via(cidr).getHostAddress());
                if (had) {
                    replaced++;
                } else {
                    added++;
                }
            }
        }
        if (before != null) {
            for (IpPrefix cidr : before.podCidrs()) {
                if (!peer.podCidrs().contains(cidr)) {
                    delete(peer.name(), cidr, before.via(cidr));
                    deleted++;
                }
            }
        }
        if (failed > 0) {
            unrouted.put(peer.name(), peer);
            routed.remove(peer.name()); // what is true now is unknown: the retry writes every CIDR again
        } else {
            routed.put(peer.name(), peer);
        }
        return new Outcome(added, replaced, deleted, unchanged, conflicts, failed);
    }

    /**
     * Tries again what failed before: routes of nodes the kernel would not route,
     * deletes it would not do. Cheap when nothing failed.
     *
     * @return how many routes still fail
     */
    public int retryFailed() {
        for (Undeleted u : List.copyOf(undeleted.values())) {
            undeleted.remove(u.cidr());
            delete(u.nodeName(), u.cidr(), u.via());
        }
        int failing = 0;
        for (Peer peer : List.copyOf(unrouted.values())) {
            failing += apply(peer).failed();
        }
        return failing + undeleted.size();
    }

    /** How many times the main table was listed (for tests). */
    int listings() {
        return listings;
    }

    /** Deletes the routes of a node that is gone; nothing when none were written for it. */
    public int remove(String nodeName) {
        unrouted.remove(nodeName);
        Peer before = routed.remove(nodeName);
        if (before == null) {
            return 0;
        }
        before.podCidrs().forEach(cidr -> delete(nodeName, cidr, before.via(cidr)));
        return before.podCidrs().size();
    }

    /**
     * Whether a route of another protocol leads to {@code cidr}, from a listing
     * at most {@link #FOREIGN_TTL} old. Listing the table for every Node event
     * cost thousands of Nodes arriving one by one a dump each of a table holding
     * a route per Node (2000 Nodes took minutes). The price: a route of somebody
     * else's made since the listing is missed for up to that long, where a fresh
     * listing misses it only between the listing and the write. A route of ours about to be replaced (its node's address changed,
     * rare) is checked against a fresh listing, as {@link #reconcile} always is:
     * a replace matches destination and metric, not protocol.
     */
    private boolean foreignRouteTo(IpPrefix cidr, boolean fresh) {
        long now = System.nanoTime();
        if (fresh || foreign == null || now - foreignListedAt > FOREIGN_TTL.toNanos()) {
            remember(netlink.routes(RouteFilter.main()), now);
        }
        return foreign.contains(cidr);
    }

    private void remember(List<Route> main, long listedAt) {
        listings++;
        foreign = main.stream().filter(r -> r.protocol() != Route.PROTO_FERRY).map(Route::destination)
                .collect(Collectors.toSet());
        foreignListedAt = listedAt;
    }

    private void delete(String nodeName, IpPrefix cidr, InetAddress via) {
        try {
            netlink.deleteRoute(Route.to(cidr).via(via).protocol(Route.PROTO_FERRY));
            log.info("event=peer_route_deleted peer={} pod_cidr={} was_via={}", nodeName, cidr, via.getHostAddress());
        } catch (NetlinkException.NotFound gone) {
            // Deleted by hand, or with its device: what was wanted is true.
            log.info("event=peer_route_already_gone peer={} pod_cidr={}", nodeName, cidr);
        } catch (RuntimeException e) {
            undeleted.put(cidr, new Undeleted(nodeName, cidr, via));
            log.warn("event=peer_route_delete_failed peer={} pod_cidr={} action=retried_later error=\"{}\"", nodeName, cidr,
                    e.getMessage());
        }
    }

    /** Makes Ferry's peer routes exactly the ones {@code peers} ask for: adds, replaces, deletes. */
    public Outcome reconcile(List<Peer> peers) {
        Map<IpPrefix, Peer> wanted = new LinkedHashMap<>();
        peers.forEach(p -> p.podCidrs().forEach(cidr -> wanted.put(cidr, p)));
        List<Route> main = netlink.routes(RouteFilter.main());
        remember(main, System.nanoTime());
        Map<IpPrefix, Route> ours = main.stream().filter(PeerRoutes::isPeerRoute)
                .collect(Collectors.toMap(Route::destination, r -> r, (a, b) -> a, LinkedHashMap::new));

        int added = 0, replaced = 0, unchanged = 0, conflicts = 0, deleted = 0, failed = 0;
        unrouted.clear();
        for (Map.Entry<IpPrefix, Peer> e : wanted.entrySet()) {
            IpPrefix cidr = e.getKey();
            Peer peer = e.getValue();
            Route existing = ours.get(cidr);
            if (foreign.contains(cidr)) {
                // A replace could land on the other route (the kernel matches destination and metric, not
                // protocol), so nothing to this destination is written while it is there.
                log.warn("event=peer_route_conflict peer={} pod_cidr={} action=left_alone why=\"a route of another protocol"
                        + " leads there; the peer is reached the way it says\"", peer.name(), cidr);
                conflicts++;
            } else if (existing != null && peer.via(cidr).equals(existing.gateway())) {
                unchanged++;
            } else if (!install(peer, cidr)) {
                unrouted.put(peer.name(), peer);
                failed++;
            } else if (existing == null) {
                log.info("event=peer_route_added peer={} pod_cidr={} via={}", peer.name(), cidr, peer.via(cidr).getHostAddress());
                added++;
            } else {
                log.info("event=peer_route_replaced peer={} pod_cidr={} via={} was_via={}", peer.name(), cidr,
                        peer.via(cidr).getHostAddress(), existing.gateway().getHostAddress());
                replaced++;
            }
        }
        for (Route route : ours.values()) {
            if (!wanted.containsKey(route.destination())) {
                delete("-", route.destination(), route.gateway());
                deleted++;
            }
        }
        routed.clear();
        peers.stream().filter(p -> !unrouted.containsKey(p.name())).forEach(p -> routed.put(p.name(), p));
        return new Outcome(added, replaced, deleted, unchanged, conflicts, failed);
    }

    /** Routes one CIDR of a peer; false, logged, when the kernel refuses (the caller keeps it for a retry). */
    private boolean install(Peer peer, IpPrefix cidr) {
        InetAddress via = peer.via(cidr);
        try {
            netlink.replaceRoute(Route.to(cidr).via(via).protocol(Route.PROTO_FERRY));
            return true;
        } catch (RuntimeException e) {
            log.error("event=peer_route_failed peer={} pod_cidr={} via={} action=retried_later error=\"failed to route"
                    + " via '{}' (is the peer's address on a connected network of the uplink?): {}\"", peer.name(), cidr,
                    via.getHostAddress(), via.getHostAddress(), e.getMessage());
            return false;
        }
    }

    /** Protocol 70 with a next hop: a route to another node, never a host route to a local pod. */
    static boolean isPeerRoute(Route route) {
        return route.protocol() == Route.PROTO_FERRY && route.gateway() != null;
    }
}
