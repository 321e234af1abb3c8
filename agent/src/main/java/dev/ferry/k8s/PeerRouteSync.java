package dev.ferry.k8s;

import dev.ferry.net.IpPrefix;
import dev.ferry.routes.Peer;
import dev.ferry.routes.PeerRoutes;
import io.fabric8.kubernetes.api.model.Node;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Every other node's pod CIDRs routed via its InternalIP ({@link PeerRoutes}):
 * a full reconcile on the whole list, then only the changed node's routes per
 * event, so a change to one of a thousand nodes costs one or two route writes.
 *
 * <p>The API server takes Nodes that standalone mode's configuration refuses, so
 * what a Node says is checked here, and what fails is left unrouted with a warning:
 * a pod CIDR overlapping this node's (up to 0.0.0.0/0) would take this node's own
 * addresses away from its pods, and a next hop that is this node's own address
 * would loop. A pod CIDR that two Nodes claim is routed to the first of them, and
 * to the other once the first lets it go, so deleting either never leaves it
 * unrouted while the other still has it.
 */
final class PeerRouteSync implements NodeInformer.Listener {
    private static final Logger log = LoggerFactory.getLogger(PeerRouteSync.class);

    private final PeerRoutes routes;
    private final String nodeName;
    private final Supplier<List<IpPrefix>> ownPodCidr;
    /** Every other node as its Node says, in the order they came: the first to claim a pod CIDR routes it. */
    private final Map<String, Peer> wanted = new LinkedHashMap<>();
    /** This node's pod CIDR and addresses that the routes were last checked against. */
    private List<IpPrefix> own = List.of();
    private Set<InetAddress> ownAddresses = Set.of();

    /** @param ownPodCidr this node's pod CIDRs (one per family), once known (told before this listener of this node's changes) */
    PeerRouteSync(PeerRoutes routes, String nodeName, Supplier<List<IpPrefix>> ownPodCidr) {
        this.routes = routes;
        this.nodeName = nodeName;
        this.ownPodCidr = ownPodCidr;
    }

    @Override
    public void synced(List<Node> nodes) {
        long started = System.nanoTime();
        wanted.clear();
        for (Node n : nodes) {
            if (Nodes.name(n).equals(nodeName)) {
                ownAddresses = Nodes.addresses(n);
            } else {
                Nodes.peer(n).ifPresent(p -> wanted.put(p.name(), p));
            }
        }
        own = ownPodCidr.get();
        List<Peer> peers = routable();
        PeerRoutes.Outcome o = routes.reconcile(peers);
        log.info("event=nodes_reconciled nodes={} peers={} added={} replaced={} deleted={} unchanged={} conflicts={} failed={}"
                        + " took_ms={}", nodes.size(), peers.size(), o.added(), o.replaced(), o.deleted(), o.unchanged(),
                o.conflicts(), o.failed(), (System.nanoTime() - started) / 1_000_000);
    }

    /** One node's change, then whatever failed before: a node's network that came up since gets its routes. */
    @Override
    public void changed(Node node) {
        String name = Nodes.name(node);
        if (name.equals(nodeName)) {
            List<IpPrefix> cidr = ownPodCidr.get();
            Set<InetAddress> addresses = Nodes.addresses(node);
            if (!cidr.equals(own) || !addresses.equals(ownAddresses)) {
                // Rare (the pod CIDR becomes known once): every peer is checked against this node anew.
                own = cidr;
                ownAddresses = addresses;
                routes.reconcile(routable());
            }
        } else {
            Optional<Peer> now = Nodes.peer(node);
            Peer before = now.isPresent() ? wanted.put(name, now.get()) : wanted.remove(name);
            route(name);
            released(name, before);
        }
        routes.retryFailed();
    }

    @Override
    public void removed(String name) {
        if (!name.equals(nodeName)) {
            Peer before = wanted.remove(name);
            routes.remove(name);
            released(name, before);
        }
        routes.retryFailed();
    }

    /** One node's routes as its usable pod CIDRs say; none when it has none. */
    private void route(String name) {
        Optional.ofNullable(wanted.get(name)).flatMap(this::usable).ifPresentOrElse(routes::apply, () -> routes.remove(name));
    }

    /** The pod CIDRs {@code name} had may be another node's to route now. */
    private void released(String name, Peer before) {
        if (before == null) {
            return;
        }
        for (Peer other : List.copyOf(wanted.values())) {
            if (!other.name().equals(name) && other.podCidrs().stream().anyMatch(before.podCidrs()::contains)) {
                route(other.name());
            }
        }
    }

    private List<Peer> routable() {
        return wanted.values().stream().map(this::usable).flatMap(Optional::stream).toList();
    }

    /** The peer with the pod CIDRs it may have routed; empty when none is left or its next hop is this node. */
    private Optional<Peer> usable(Peer peer) {
        Optional<InetAddress> mine = peer.addresses().stream().filter(ownAddresses::contains).findFirst();
        if (mine.isPresent()) {
            log.warn("event=peer_skipped peer={} address={} why=\"its InternalIP is this node's own address\"", peer.name(),
                    mine.get().getHostAddress());
            return Optional.empty();
        }
        List<IpPrefix> cidrs = new ArrayList<>();
        for (IpPrefix cidr : peer.podCidrs()) {
            Optional<String> owner = claimedBefore(peer, cidr);
            Optional<IpPrefix> ours = own.stream().filter(o -> overlap(cidr, o)).findFirst();
            if (ours.isPresent()) {
                log.warn("event=peer_pod_cidr_skipped peer={} pod_cidr={} why=\"overlaps this node's pod CIDR {}\"",
                        peer.name(), cidr, ours.get());
            } else if (owner.isPresent()) {
                log.warn("event=peer_pod_cidr_skipped peer={} pod_cidr={} why=\"node {} has it too and came first\"",
                        peer.name(), cidr, owner.get());
            } else {
                cidrs.add(cidr);
            }
        }
        return cidrs.isEmpty() ? Optional.empty() : Optional.of(new Peer(peer.name(), cidrs, peer.addresses()));
    }

    /** The node before {@code peer} (in arrival order) that claims {@code cidr} and may route it, if any. */
    private Optional<String> claimedBefore(Peer peer, IpPrefix cidr) {
        for (Peer other : wanted.values()) {
            if (other.name().equals(peer.name())) {
                return Optional.empty();
            }
            if (other.podCidrs().contains(cidr) && other.addresses().stream().noneMatch(ownAddresses::contains)) {
                return Optional.of(other.name());
            }
        }
        return Optional.empty();
    }

    static boolean overlap(IpPrefix a, IpPrefix b) {
        return a.isIpv4() == b.isIpv4() && (a.contains(b.network()) || b.contains(a.network()));
    }
}
