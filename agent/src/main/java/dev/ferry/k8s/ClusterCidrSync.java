package dev.ferry.k8s;

import dev.ferry.datapath.ClusterCidrMap;
import dev.ferry.net.IpPrefix;
import io.fabric8.kubernetes.api.model.Node;

import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Every node's pod CIDRs (this one's too): into the BPF cluster-CIDR map, unless
 * the configuration sets clusterCIDRs, and to a listener (the masquerade rules
 * follow them). Told on the whole list and on every change, never when a Node's
 * update left its pod CIDRs as they were.
 */
final class ClusterCidrSync implements NodeInformer.Listener {
    private final Optional<ClusterCidrMap> map;
    private final Consumer<Set<IpPrefix>> listener;
    /** Every node's pod CIDRs as last applied: the map's diff base. Worker thread only. */
    private final Map<String, List<IpPrefix>> nodeCidrs = new HashMap<>();

    /** @param map the BPF map to keep; empty when the configuration's clusterCIDRs fill it */
    ClusterCidrSync(Optional<ClusterCidrMap> map, Consumer<Set<IpPrefix>> listener) {
        this.map = map;
        this.listener = listener;
    }

    @Override
    public void synced(List<Node> nodes) {
        nodeCidrs.clear();
        nodes.forEach(n -> nodeCidrs.put(Nodes.name(n), Nodes.podCidrs(n)));
        Set<IpPrefix> all = all();
        map.ifPresent(m -> m.replaceAll(all));
        listener.accept(all);
    }

    @Override
    public void changed(Node node) {
        update(Nodes.name(node), Nodes.podCidrs(node));
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
        Set<IpPrefix> all = all();
        listener.accept(all);
        map.ifPresent(m -> {
            // This node's difference only; a CIDR another node still lists stays in the map.
            if (before != null) {
                before.stream().filter(c -> !all.contains(c)).forEach(m::remove);
            }
            now.forEach(m::add);
        });
    }

    private Set<IpPrefix> all() {
        Set<IpPrefix> all = new LinkedHashSet<>();
        nodeCidrs.values().forEach(all::addAll);
        return all;
    }
}
