package dev.ferry.routes;

import dev.ferry.net.IpPrefix;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.List;

/**
 * Another node as routing sees it: each of its pod CIDRs is reached via its
 * address of the CIDR's family (a dual-stack node has one of each). Standalone
 * mode lists them in the configuration; kubernetes mode makes one per Node with
 * a pod CIDR and an InternalIP of its family.
 *
 * @param addresses one per family, the first one's family first; every pod CIDR has one of its family
 */
public record Peer(String name, List<IpPrefix> podCidrs, List<InetAddress> addresses) {
    public Peer {
        podCidrs = List.copyOf(podCidrs);
        addresses = List.copyOf(addresses);
        if (addresses.isEmpty()) {
            throw new IllegalArgumentException("peer '" + name + "' has no address");
        }
        for (IpPrefix cidr : podCidrs) {
            if (addresses.stream().noneMatch(a -> (a instanceof Inet4Address) == cidr.isIpv4())) {
                throw new IllegalArgumentException("peer '" + name + "' has no " + (cidr.isIpv4() ? "IPv4" : "IPv6")
                        + " address to route " + cidr + " via");
            }
        }
    }

    /** A single-stack peer: every pod CIDR via {@code address}. */
    public Peer(String name, List<IpPrefix> podCidrs, InetAddress address) {
        this(name, podCidrs, List.of(address));
    }

    /** The peer's first address (its only one, unless dual-stack). */
    public InetAddress address() {
        return addresses.getFirst();
    }

    /** The next hop for {@code cidr}: the peer's address of its family. */
    public InetAddress via(IpPrefix cidr) {
        return addresses.stream().filter(a -> (a instanceof Inet4Address) == cidr.isIpv4()).findFirst().orElseThrow();
    }
}
