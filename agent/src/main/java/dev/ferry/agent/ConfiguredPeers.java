package dev.ferry.agent;

import dev.ferry.net.IpPrefix;
import dev.ferry.routes.Peer;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Standalone mode's {@code peers}: every other node with its address and pod
 * CIDRs. A peer whose CIDRs overlap this node's or another peer's, or whose
 * address is of another family, is refused at start: its routes would shadow
 * each other.
 */
final class ConfiguredPeers {
    static final Set<String> KEYS = Set.of("name", "podCIDRs", "address");

    private ConfiguredPeers() {}

    static List<Peer> parse(YamlFields f, String nodeName, List<IpPrefix> podCidrs) {
        List<Peer> peers = new ArrayList<>();
        List<YamlFields> entries = f.mappings("peers", KEYS).orElse(List.of());
        for (YamlFields p : entries) {
            String name = p.string("name").map(n -> ConfigValues.nodeName(p.key("name"), n))
                    .orElseThrow(() -> new ConfigException("key '" + p.key("name") + "' is required"));
            InetAddress address = p.string("address").map(a -> ConfigValues.address(p.key("address"), a))
                    .orElseThrow(() -> new ConfigException("key '" + p.key("address") + "' is required (the peer node's address)"));
            List<IpPrefix> cidrs = p.list("podCIDRs", ConfigValues::cidr)
                    .filter(l -> !l.isEmpty())
                    .orElseThrow(() -> new ConfigException("key '" + p.key("podCIDRs") + "' is required (the peer node's pod CIDRs)"));
            if (name.equals(nodeName)) {
                throw new ConfigException("key '" + p.key("name") + "': '" + name + "' is this node's own name");
            }
            if (peers.stream().anyMatch(other -> other.name().equals(name))) {
                throw new ConfigException("key '" + p.key("name") + "': peer '" + name + "' is listed twice");
            }
            for (int i = 0; i < cidrs.size(); i++) {
                IpPrefix cidr = cidrs.get(i);
                String key = p.key("podCIDRs") + "[" + i + "]";
                if (cidr.isIpv4() != (address.getAddress().length == 4)) {
                    throw new ConfigException("key '" + key + "': " + cidr + " and the peer's address "
                            + address.getHostAddress() + " are of different IP families");
                }
                overlapping(cidr, podCidrs).ifPresent(own -> {
                    throw new ConfigException("key '" + key + "': " + cidr + " overlaps this node's pod CIDR " + own);
                });
                for (Peer other : peers) {
                    overlapping(cidr, other.podCidrs()).ifPresent(theirs -> {
                        throw new ConfigException("key '" + key + "': " + cidr + " overlaps " + theirs
                                + " of peer '" + other.name() + "'");
                    });
                }
            }
            peers.add(new Peer(name, cidrs, address));
        }
        return peers;
    }

    private static Optional<IpPrefix> overlapping(IpPrefix cidr, List<IpPrefix> others) {
        return others.stream()
                .filter(o -> o.isIpv4() == cidr.isIpv4() && (o.contains(cidr.network()) || cidr.contains(o.network())))
                .findFirst();
    }
}
