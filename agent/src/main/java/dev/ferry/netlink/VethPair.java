package dev.ferry.netlink;

import dev.ferry.net.MacAddress;

/**
 * What to create: a veth device and its peer, with optional MTU and MACs.
 *
 * @param mtu     both ends' MTU; 0 leaves the kernel's default (1500)
 * @param mac     this end's MAC; null lets the kernel pick a random one
 * @param peerMac the peer's MAC; null lets the kernel pick a random one
 */
public record VethPair(String name, String peerName, int mtu, MacAddress mac, MacAddress peerMac) {
    public VethPair {
        Link.checkName(name);
        Link.checkName(peerName);
        if (mtu < 0) {
            throw new IllegalArgumentException("negative MTU " + mtu);
        }
    }

    public static VethPair of(String name, String peerName) {
        return new VethPair(name, peerName, 0, null, null);
    }

    public VethPair mtu(int mtu) {
        return new VethPair(name, peerName, mtu, mac, peerMac);
    }

    public VethPair mac(MacAddress mac) {
        return new VethPair(name, peerName, mtu, mac, peerMac);
    }

    public VethPair peerMac(MacAddress peerMac) {
        return new VethPair(name, peerName, mtu, mac, peerMac);
    }
}
