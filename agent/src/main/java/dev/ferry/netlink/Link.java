package dev.ferry.netlink;

import dev.ferry.net.MacAddress;

/**
 * A network device as the kernel reports it.
 *
 * @param index ifindex, unique within its namespace
 * @param mac   the Ethernet address; null for a device without one (tun, wireguard, ipip)
 * @param up    administratively up (IFF_UP); says nothing about the carrier
 * @param kind  IFLA_INFO_KIND ("veth", "bridge"); null for loopback and physical NICs
 */
public record Link(int index, String name, MacAddress mac, int mtu, boolean up, String kind) {
    /** IFNAMSIZ less the NUL. */
    public static final int MAX_NAME_LENGTH = 15;

    /** Rejects a name the kernel would refuse (dev_valid_name), before a request is wasted on it. */
    static String checkName(String name) {
        if (name.isEmpty() || name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > MAX_NAME_LENGTH
                || name.equals(".") || name.equals("..") || name.chars().anyMatch(c -> c == '/' || c == ':' || Character.isWhitespace(c))) {
            throw new IllegalArgumentException("invalid interface name '" + name + "' (1-" + MAX_NAME_LENGTH
                    + " bytes, no '/', ':' or whitespace)");
        }
        return name;
    }
}
