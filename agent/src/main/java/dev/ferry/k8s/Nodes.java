package dev.ferry.k8s;

import dev.ferry.ipam.Ipam;
import dev.ferry.net.IpPrefix;
import dev.ferry.routes.Peer;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/** What Ferry reads from a Node object: pools and peer routes of both families, cluster CIDRs IPv4 only. */
final class Nodes {
    private static final Logger log = LoggerFactory.getLogger(Nodes.class);

    private Nodes() {}

    static String name(Node node) {
        return node.getMetadata().getName();
    }

    /**
     * The node's IPv4 pod CIDRs ({@code spec.podCIDRs}, else the older {@code spec.podCIDR}), sorted. One with
     * host bits set (the API server takes it: Go's ParseCIDR does) is its network, as Kubernetes reads it; the
     * kernel refuses a route to it as written.
     */
    static List<IpPrefix> podCidrs(Node node) {
        return podCidrsOfEveryFamily(node).stream().filter(IpPrefix::isIpv4).toList();
    }

    /** {@link #podCidrs} of both families: a dual-stack peer's routes. */
    static List<IpPrefix> podCidrsOfEveryFamily(Node node) {
        if (node.getSpec() == null) {
            return List.of();
        }
        List<IpPrefix> cidrs = new ArrayList<>();
        for (String text : podCidrTexts(node)) {
            try {
                IpPrefix cidr = IpPrefix.parse(text);
                IpPrefix network = new IpPrefix(cidr.network(), cidr.length());
                if (!network.equals(cidr)) {
                    log.warn("event=node_pod_cidr_host_bits node={} pod_cidr=\"{}\" used={}", name(node), text, network);
                }
                if (!cidrs.contains(network)) {
                    cidrs.add(network);
                }
            } catch (RuntimeException e) {
                log.warn("event=node_pod_cidr_invalid node={} pod_cidr=\"{}\"", name(node), text);
            }
        }
        return List.copyOf(cidrs);
    }

    /**
     * This node's pools from its Node: the first IPv4 and the first IPv6 pod
     * CIDR of {@code spec.podCIDRs} that can be one (IPv6 sizes bounded by
     * {@link Ipam#unusableAsPool}), IPv4 first; empty when it has none.
     */
    static List<IpPrefix> ownPodCidrs(Node node) {
        List<IpPrefix> all = new ArrayList<>();
        for (String text : podCidrTexts(node)) {
            try {
                IpPrefix cidr = IpPrefix.parse(text);
                all.add(new IpPrefix(cidr.network(), cidr.length()));
            } catch (RuntimeException e) {
                // junk: the not-ready reason lists what the Node holds
            }
        }
        List<IpPrefix> pools = new ArrayList<>();
        all.stream().filter(IpPrefix::isIpv4).findFirst().ifPresent(pools::add);
        all.stream().filter(c -> !c.isIpv4()).filter(c -> {
            Optional<String> why = Ipam.unusableAsPool(c);
            why.ifPresent(w -> log.warn("event=node_pod_cidr_unusable node={} pod_cidr={} why=\"{}\"", name(node), c, w));
            return why.isEmpty();
        }).findFirst().ifPresent(pools::add);
        return List.copyOf(pools);
    }

    /** {@code spec.podCIDRs} (else the older {@code spec.podCIDR}) as written, sorted, without repeats or nulls. */
    static List<String> podCidrTexts(Node node) {
        if (node.getSpec() == null) {
            return List.of();
        }
        List<String> texts = node.getSpec().getPodCIDRs() != null && !node.getSpec().getPodCIDRs().isEmpty()
                ? node.getSpec().getPodCIDRs()
                : node.getSpec().getPodCIDR() == null ? List.of() : List.of(node.getSpec().getPodCIDR());
        return texts.stream().filter(Objects::nonNull).distinct().sorted().toList();
    }

    /** The node's addresses of every type that parse as IP literals (its own addresses, to refuse as a peer's next hop). */
    static Set<InetAddress> addresses(Node node) {
        Set<InetAddress> addresses = new HashSet<>();
        if (node.getStatus() != null && node.getStatus().getAddresses() != null) {
            for (NodeAddress a : node.getStatus().getAddresses()) {
                try {
                    addresses.add(IpPrefix.literal(a.getAddress()));
                } catch (RuntimeException e) {
                    // A host name, or junk: not an address to compare with.
                }
            }
        }
        return Set.copyOf(addresses);
    }

    /**
     * Another node as a peer: its pod CIDRs of each family via its InternalIP of
     * that family (the first of each); a family it has no InternalIP of is not
     * routed, with a warning (a peer with one family only); empty when nothing
     * is left.
     */
    static Optional<Peer> peer(Node node) {
        List<IpPrefix> all = podCidrsOfEveryFamily(node);
        if (all.isEmpty() || node.getStatus() == null || node.getStatus().getAddresses() == null) {
            return Optional.empty();
        }
        InetAddress v4 = null;
        InetAddress v6 = null;
        for (NodeAddress a : node.getStatus().getAddresses()) {
            if ("InternalIP".equals(a.getType())) {
                try {
                    InetAddress address = IpPrefix.literal(a.getAddress());
                    if (address instanceof Inet4Address) {
                        v4 = v4 == null ? address : v4;
                    } else {
                        v6 = v6 == null ? address : v6;
                    }
                } catch (RuntimeException e) {
                    log.warn("event=node_address_invalid node={} address=\"{}\"", name(node), a.getAddress());
                }
            }
        }
        List<InetAddress> addresses = new ArrayList<>();
        if (v4 != null) {
            addresses.add(v4);
        }
        if (v6 != null) {
            addresses.add(v6);
        }
        List<IpPrefix> cidrs = new ArrayList<>();
        for (IpPrefix cidr : all) {
            if (cidr.isIpv4() ? v4 != null : v6 != null) {
                cidrs.add(cidr);
            } else if (!cidr.isIpv4() || v6 != null) {
                // A peer with an InternalIP of one family only. (A Node with none at all, not yet reporting its
                // status, is silent as it always was: its IPv4 CIDR waits for the address without a warning.)
                log.warn("event=peer_pod_cidr_skipped peer={} pod_cidr={} why=\"the Node has no {} InternalIP to route it via\"",
                        name(node), cidr, cidr.isIpv4() ? "IPv4" : "IPv6");
            }
        }
        return cidrs.isEmpty() ? Optional.empty() : Optional.of(new Peer(name(node), cidrs, addresses));
    }
}
