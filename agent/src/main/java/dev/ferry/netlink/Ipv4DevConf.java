package dev.ferry.netlink;

/**
 * Per-device IPv4 settings, the {@code net.ipv4.conf.DEV.*} sysctls, that
 * rtnetlink reads and writes ({@link RtNetlink#setIpv4DevConf}). Each is
 * numbered as its {@code IPV4_DEVCONF_*} in linux/ip.h: the kernel takes the
 * number as the attribute type inside {@code IFLA_INET_CONF} and reports the
 * values as an array indexed from number 1. Only the settings Ferry uses are
 * here; a new one is its line from ip.h.
 */
public enum Ipv4DevConf {
    /** bpf_fib_lookup answers FWD_DISABLED, and the stack drops, what enters a device without it. */
    FORWARDING(1, "forwarding");

    final int id;
    private final String sysctl;

    Ipv4DevConf(int id, String sysctl) {
        this.id = id;
        this.sysctl = sysctl;
    }

    /** The sysctl's own name ({@code forwarding}), for messages and logs. */
    public String sysctlName() {
        return sysctl;
    }
}
