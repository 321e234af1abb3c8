package dev.ferry.netlink;

/**
 * How the kernel makes a device's IPv6 link-local address
 * ({@code net.ipv6.conf.DEV.addr_gen_mode}), as {@code IN6_ADDR_GEN_MODE_*} in
 * linux/if_link.h numbers them. It is the one IPv6 per-device setting
 * rtnetlink can write besides the token: the kernel's inet6_validate_link_af
 * accepts IFLA_INET6_TOKEN and IFLA_INET6_ADDR_GEN_MODE only, and reports
 * IFLA_INET6_CONF (forwarding and the rest) without taking it back.
 */
public enum Ipv6AddrGenMode {
    EUI64, NONE, STABLE_PRIVACY, RANDOM;

    static Ipv6AddrGenMode of(int value) {
        Ipv6AddrGenMode[] all = values();
        if (value < 0 || value >= all.length) {
            throw new IllegalStateException("unknown IPv6 address generation mode " + value);
        }
        return all[value];
    }
}
