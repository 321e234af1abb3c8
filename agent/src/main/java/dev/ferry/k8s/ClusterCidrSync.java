package dev.ferry.k8s;

import dev.ferry.datapath.ClusterCidrMap;
import dev.ferry.net.IpPrefix;
import dev.ferry.net.PrefixAggregation;
import io.fabric8.kubernetes.api.model.Node;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Every node's pod CIDRs (this one's too), of both families: into the BPF
 * cluster-CIDR map (the programs forward IPv6 as IPv4), unless the configuration
 * sets clusterCIDRs, and to a listener (the masquerade rules follow them, a table
 * per family). Told on the whole list and on every change, never when a Node's
 * update left its pod CIDRs as they were.
 *
 * <p>The map gets the CIDRs aggregated (two halves become their parent), which
 * folds a large cluster's node CIDRs into a few prefixes without adding an
 * address. Should they still not fit, the map takes the widest that do and the
 * rest is left to the stack (still delivered, by the kernel's routing): a full
 * map must not stop the node from becoming ready.
 *
 * <p>Another node's pod CIDR that overlaps this node's of its family (a Node claiming 0.0.0.0/0
 * would make every destination a pod's, and turn masquerading off) is left out,
 * as {@link PeerRouteSync} leaves it unrouted.
 */
final class ClusterCidrSync implements NodeInformer.Listener {
    private static final Logger log = LoggerFactory.getLogger(ClusterCidrSync.class);

    private final String nodeName;
    private final Supplier<List<IpPrefix>> ownPodCidrs;
    private final Optional<ClusterCidrMap> map;
    private final Consumer<Set<IpPrefix>> listener;
    /** Every node's pod CIDRs of both families as last applied: the map's diff base. Worker thread only. */
    private final Map<String, List<IpPrefix>> nodeCidrs = new HashMap<>();

    /**
     * @param ownPodCidrs this node's pod CIDRs (one per family), empty until known (told before this listener of
     *                    this node's changes)
     * @param map         the BPF map to keep; empty when the configuration's clusterCIDRs fill it
     * @param listener    told the pod CIDRs of every node, both families
     */
    ClusterCidrSync(String nodeName, Supplier<List<IpPrefix>> ownPodCidrs, Optional<ClusterCidrMap> map,
                    Consumer<Set<IpPrefix>> listener) {
        this.nodeName = nodeName;
        this.ownPodCidrs = ownPodCidrs;
        this.map = map;
        this.listener = listener;
    }

    @Override
    public void synced(List<Node> nodes) {
        nodeCidrs.clear();
        nodes.forEach(n -> nodeCidrs.put(Nodes.name(n), Nodes.podCidrsOfEveryFamily(n)));
        Set<IpPrefix> all = all();
        map.ifPresent(this::write);
        listener.accept(all);
    }

    @Override
    public void changed(Node node) {
        update(Nodes.name(node), Nodes.podCidrsOfEveryFamily(node));
    }

    @Override
    public void removed(String name) {
        update(name, List.of());
    }

    private void update(String name, List<IpPrefix> now) {
        List<IpPrefix> before = now.isEmpty() ? nodeCidrs.remove(name) : nodeCidrs.put(name, now);
        if (Objects.equals(before, now)) {
            return;
        }
        listener.accept(all());
        map.ifPresent(this::write);
    }

    /** The aggregated CIDRs, as many as fit; {@link ClusterCidrMap#replaceAll} writes only what differs. */
    private void write(ClusterCidrMap m) {
        List<IpPrefix> aggregated = PrefixAggregation.of(all());
        if (aggregated.size() > m.capacity()) {
            log.error("event=cluster_cidrs_over_capacity prefixes={} capacity={} action=widest_kept_rest_via_stack",
                    aggregated.size(), m.capacity());
            aggregated = aggregated.stream().sorted(Comparator.comparingInt(IpPrefix::length)).limit(m.capacity()).toList();
        }
        m.replaceAll(new LinkedHashSet<>(aggregated));
    }

    private Set<IpPrefix> all() {
        List<IpPrefix> own = ownPodCidrs.get();
        Set<IpPrefix> all = new LinkedHashSet<>();
        nodeCidrs.forEach((name, cidrs) -> cidrs.stream()
                .filter(c -> name.equals(nodeName) || own.stream().noneMatch(o -> PeerRouteSync.overlap(c, o)))
                .forEach(all::add));
        return all;
    }
}
