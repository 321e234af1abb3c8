package dev.ferry.datapath;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.Optional;

/**
 * A ferry_mirrors value: where the copies of a slot go and which packets are
 * copied. Every filter left at 0 (or empty) matches any packet.
 *
 * @param ifindex    the device copies are sent out of; never 0 (0 marks a free slot in the map)
 * @param directions {@link #IN}, {@link #OUT} or both, seen from the pod
 * @param protocol   an IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6); 0: any
 * @param port       a TCP/UDP port, source or destination; 0: any
 * @param peer       the other end's address; empty: any
 */
public record MirrorSlot(int ifindex, int directions, int protocol, int port, Optional<InetAddress> peer) {
    /** FERRY_MIRROR_DIR_IN: packets delivered into the pod. */
    public static final int IN = 1;
    /** FERRY_MIRROR_DIR_OUT: packets the pod sends. */
    public static final int OUT = 2;

    public MirrorSlot {
        if (ifindex <= 0) {
            throw new IllegalArgumentException("a mirror needs a device, not ifindex " + ifindex);
        }
        if (directions == 0 || (directions & ~(IN | OUT)) != 0) {
            throw new IllegalArgumentException("directions must be IN, OUT or both, not " + directions);
        }
        if (protocol < 0 || protocol > 255) {
            throw new IllegalArgumentException("not an IP protocol number: " + protocol);
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("not a port: " + port);
        }
    }

    int peerFamily() {
        return peer.map(p -> p instanceof Inet4Address ? MapLayouts.FAMILY_IPV4 : MapLayouts.FAMILY_IPV6).orElse(0);
    }
}
