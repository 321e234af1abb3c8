package dev.ferry.netlink;

import java.net.Inet4Address;
import java.net.InetAddress;

/** IPv4 or IPv6, as the kernel numbers them (AF_INET, AF_INET6). */
public enum Family {
    V4(Uapi.AF_INET),
    V6(Uapi.AF_INET6);

    final int af;

    Family(int af) {
        this.af = af;
    }

    public static Family of(InetAddress address) {
        return address instanceof Inet4Address ? V4 : V6;
    }

    static Family ofAf(int af) {
        return switch (af) {
            case Uapi.AF_INET -> V4;
            case Uapi.AF_INET6 -> V6;
            default -> null;
        };
    }
}
