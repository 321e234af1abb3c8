package dev.ferry.netlink;

import dev.ferry.net.MacAddress;

import java.net.InetAddress;

/**
 * A neighbour (ARP or NDP) entry.
 *
 * @param index ifindex of the link it lives on
 * @param mac   link-layer address; null while unresolved (state INCOMPLETE or FAILED)
 * @param state NUD_* bits from linux/neighbour.h
 */
public record Neighbour(int index, InetAddress address, MacAddress mac, int state) {
    public static final int NUD_INCOMPLETE = 0x01;
    public static final int NUD_REACHABLE = 0x02;
    public static final int NUD_STALE = 0x04;
    public static final int NUD_DELAY = 0x08;
    public static final int NUD_PROBE = 0x10;
    public static final int NUD_FAILED = 0x20;
    public static final int NUD_NOARP = 0x40;
    public static final int NUD_PERMANENT = 0x80;

    /**
     * An entry the kernel never ages out, flushes on carrier loss, or probes:
     * what lets a pod reach its gateway without ARP.
     */
    public static Neighbour permanent(int index, InetAddress address, MacAddress mac) {
        return new Neighbour(index, address, mac, NUD_PERMANENT);
    }

    public boolean isPermanent() {
        return (state & NUD_PERMANENT) != 0;
    }

    public Family family() {
        return Family.of(address);
    }
}
