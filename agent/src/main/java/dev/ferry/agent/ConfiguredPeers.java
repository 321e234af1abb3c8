package dev.ferry.agent;

import dev.ferry.net.IpPrefix;
import dev.ferry.routes.Peer;

import java.net.Inet4Address;
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
    static final Set<String> KEYS = Set.of("name", "podCIDRs", "address", "address6");

    private ConfiguredPeers() {}

    static List<Peer> parse(YamlFields f, String nodeName, List<IpPrefix> podCidrs) {
        List<Peer> peers = new ArrayList<>();
        List<YamlFields> entries = f.mappings("peers", KEYS).orElse(List.of());
        for (YamlFields p : entries) {
            String name = p.string("name").map(n -> ConfigValues.nodeName(p.key("name"), n))
                    .orElseThrow(() -> new ConfigException("key '" + p.key("name") + "' is required"));
            InetAddress address = p.string("address").map(a -> ConfigValues.address(p.key("address"), a))
                    .orElseThrow(() -> new ConfigException("key '" + p.key("address") + "' is required (the peer node's address)"));
            // A dual-stack peer: its IPv6 CIDRs are routed via address6, its IPv4 ones via address.
            Optional<InetAddress> address6 = p.string("address6").map(a -> ConfigValues.address(p.key("address6"), a));
            if (address6.isPresent() && (address6.get() instanceof Inet4Address || !(address instanceof Inet4Address))) {
                throw new ConfigException("key '" + p.key("address6") + "': " + (address6.get() instanceof Inet4Address
                        ? "'" + address6.get().getHostAddress() + "' is not an IPv6 address"
                        : "the peer's address is IPv6 already; address6 is a dual-stack peer's IPv6 address beside an IPv4 one"));
            }
            List<InetAddress> addresses = address6.map(six -> List.of(address, six)).orElse(List.of(address));
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
                if (addresses.stream().noneMatch(a -> (a instanceof Inet4Address) == cidr.isIpv4())) {
                    throw new ConfigException("key '" + key + "': " + cidr + " and the peer's address "
                            + address.getHostAddress() + " are of different IP families"
                            + (cidr.isIpv4() ? "" : " (a dual-stack peer's IPv6 address goes in address6)"));
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
            peers.add(new Peer(name, cidrs, addresses));
        }
        return peers;
    }

    private static Optional<IpPrefix> overlapping(IpPrefix cidr, List<IpPrefix> others) {
        return others.stream()
                .filter(o -> o.isIpv4() == cidr.isIpv4() && (o.contains(cidr.network()) || cidr.contains(o.network())))
                .findFirst();
    }
}
