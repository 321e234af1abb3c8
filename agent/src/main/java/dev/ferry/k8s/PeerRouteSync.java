package dev.ferry.k8s;

import dev.ferry.routes.Peer;
import dev.ferry.routes.PeerRoutes;
import io.fabric8.kubernetes.api.model.Node;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Optional;

/**
 * Every other node's pod CIDRs routed via its InternalIP ({@link PeerRoutes}):
 * a full reconcile on the whole list, then only the changed node's routes per
 * event, so a change to one of a thousand nodes costs one or two route writes.
 */
final class PeerRouteSync implements NodeInformer.Listener {
    private static final Logger log = LoggerFactory.getLogger(PeerRouteSync.class);

    private final PeerRoutes routes;
    private final String nodeName;

    PeerRouteSync(PeerRoutes routes, String nodeName) {
        this.routes = routes;
        this.nodeName = nodeName;
    }

    @Override
    public void synced(List<Node> nodes) {
        long started = System.nanoTime();
        List<Peer> peers = nodes.stream()
                .filter(n -> !Nodes.name(n).equals(nodeName))
                .map(Nodes::peer)
                .flatMap(Optional::stream)
                .toList();
        PeerRoutes.Outcome o = routes.reconcile(peers);
        log.info("event=nodes_reconciled nodes={} peers={} added={} replaced={} deleted={} unchanged={} conflicts={} failed={}"
                        + " took_ms={}", nodes.size(), peers.size(), o.added(), o.replaced(), o.deleted(), o.unchanged(),
                o.conflicts(), o.failed(), (System.nanoTime() - started) / 1_000_000);
    }

    /** One node's change, then whatever failed before: a node's network that came up since gets its routes. */
    @Override
    public void changed(Node node) {
        String name = Nodes.name(node);
        if (!name.equals(nodeName)) {
            Nodes.peer(node).ifPresentOrElse(routes::apply, () -> routes.remove(name));
        }
        routes.retryFailed();
    }

    @Override
    public void removed(String name) {
        if (!name.equals(nodeName)) {
            routes.remove(name);
        }
        routes.retryFailed();
    }
}
