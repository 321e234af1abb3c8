package dev.ferry.egress;

import dev.ferry.masquerade.MasqueradeFamilies;
import dev.ferry.net.IpPrefix;
import dev.ferry.net.IpText;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.List;
import java.util.Optional;

/**
 * What makes a route unusable, the same whether it comes from the
 * configuration or from an EgressRoute object: each check gives the problem
 * as text, and the caller prefixes the key or field it names.
 */
public final class EgressRouteRules {
    private EgressRouteRules() {}

    /** A next hop must be a router on an uplink: not a pod, and not a link-local address without its device. */
    public static Optional<String> nextHop(InetAddress via, Optional<String> device, List<IpPrefix> clusterCidrs) {
        for (IpPrefix cluster : clusterCidrs) {
            if (cluster.contains(via)) {
                return Optional.of(IpText.format(via) + " is a pod address (cluster CIDR " + cluster
                        + "), not a router on an uplink");
            }
        }
        // Every uplink has a subnet of fe80::/64: the address alone names no uplink.
        if (via.isLinkLocalAddress() && device.isEmpty()) {
            return Optional.of(IpText.format(via) + " is link-local, on every uplink's link; name the device");
        }
        return Optional.empty();
    }

    /** A flow keeps its family: a prefix of a family the route has no next hop of could never be routed. */
    public static Optional<String> family(IpPrefix prefix, List<NextHop> nextHops) {
        if (nextHops.stream().noneMatch(h -> (h.via() instanceof Inet4Address) == prefix.isIpv4())) {
            String family = prefix.isIpv4() ? "IPv4" : "IPv6";
            return Optional.of(prefix + " is " + family + " and the route has no " + family + " next hop");
        }
        return Optional.empty();
    }

    /** Pods of the cluster are reached natively, whatever the routes say. */
    public static Optional<String> outsideTheCluster(IpPrefix destination, List<IpPrefix> clusterCidrs) {
        for (IpPrefix cluster : clusterCidrs) {
            if (cluster.isIpv4() == destination.isIpv4() && destination.length() >= cluster.length()
                    && cluster.contains(destination.network())) {
                return Optional.of(destination + " is inside the cluster CIDR " + cluster
                        + "; egress routes serve destinations outside the cluster");
            }
        }
        return Optional.empty();
    }

    /** A masquerading route's packets are SNATed by the node's table of their family, which must exist. */
    public static Optional<String> masquerade(boolean masquerade, List<NextHop> nextHops, MasqueradeFamilies node) {
        for (boolean ipv4 : new boolean[]{true, false}) {
            boolean routed = nextHops.stream().anyMatch(h -> (h.via() instanceof Inet4Address) == ipv4);
            if (masquerade && routed && !(ipv4 ? node.ipv4() : node.ipv6())) {
                String family = ipv4 ? "IPv4" : "IPv6";
                return Optional.of("needs the node's " + family + " masquerade (masquerade." + (ipv4 ? "ipv4" : "ipv6")
                        + ": true, the default), whose table SNATs the route's " + family + " packets");
            }
        }
        return Optional.empty();
    }
}
