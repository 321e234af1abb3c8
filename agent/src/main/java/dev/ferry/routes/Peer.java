package dev.ferry.routes;

import dev.ferry.net.IpPrefix;

import java.net.InetAddress;
import java.util.List;

/**
 * Another node as routing sees it: its pod CIDRs are reached via its address.
 * Standalone mode lists them in the configuration; kubernetes mode makes one per
 * Node with a pod CIDR and an IPv4 InternalIP.
 */
public record Peer(String name, List<IpPrefix> podCidrs, InetAddress address) {
    public Peer {
        podCidrs = List.copyOf(podCidrs);
    }
}
