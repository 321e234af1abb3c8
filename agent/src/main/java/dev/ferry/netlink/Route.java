package dev.ferry.netlink;

import dev.ferry.net.IpPrefix;

import java.net.InetAddress;

/**
 * A unicast route. Built like the ip command line reads:
 * {@code Route.to(IpPrefix.parse("10.244.2.0/24")).via(nodeB)} or
 * {@code Route.to(podIp).dev(hostVeth).scope(Scope.LINK).protocol(Route.PROTO_FERRY)}.
 *
 * @param gateway     next hop; null for a directly connected destination
 * @param outputIndex ifindex of the output device; 0 lets the kernel pick it from the gateway
 * @param protocol    who made the route (RTPROT_*); Ferry tags its own with {@link #PROTO_FERRY}
 * @param metric      RTA_PRIORITY; 0 is the kernel's default (IPv6 turns it into 1024)
 * @param onlink      the gateway is on the link even though no route says so (RTNH_F_ONLINK)
 */
public record Route(IpPrefix destination, InetAddress gateway, int outputIndex, Scope scope,
                    int protocol, int table, int metric, boolean onlink) {
    public static final int PROTO_KERNEL = 2;
    public static final int PROTO_BOOT = 3;
    public static final int PROTO_STATIC = 4;
    /**
     * Ferry's own routes. Not in rtnetlink.h nor iproute2's rt_protos, so no
     * routing daemon claims it; {@code ip route show proto 70} lists them.
     */
    public static final int PROTO_FERRY = 70;

    public static final int TABLE_MAIN = 254;
    public static final int TABLE_LOCAL = 255;

    public Route {
        if (gateway != null && Family.of(gateway) != Family.of(destination.address())) {
            throw new IllegalArgumentException("gateway " + gateway.getHostAddress() + " is not of the family of " + destination);
        }
        if (protocol < 0 || protocol > 255) {
            throw new IllegalArgumentException("route protocol " + protocol + " is not a u8");
        }
    }

    /**
     * A route in the main table, universe scope, protocol "boot" (what
     * {@code ip route add} uses), without gateway or device yet.
     */
    public static Route to(IpPrefix destination) {
        return new Route(destination, null, 0, Scope.UNIVERSE, PROTO_BOOT, TABLE_MAIN, 0, false);
    }

    public Route via(InetAddress gateway) {
        return new Route(destination, gateway, outputIndex, scope, protocol, table, metric, onlink);
    }

    public Route dev(int outputIndex) {
        return new Route(destination, gateway, outputIndex, scope, protocol, table, metric, onlink);
    }

    public Route scope(Scope scope) {
        return new Route(destination, gateway, outputIndex, scope, protocol, table, metric, onlink);
    }

    public Route protocol(int protocol) {
        return new Route(destination, gateway, outputIndex, scope, protocol, table, metric, onlink);
    }

    public Route metric(int metric) {
        return new Route(destination, gateway, outputIndex, scope, protocol, table, metric, onlink);
    }

    public Route onlink(boolean onlink) {
        return new Route(destination, gateway, outputIndex, scope, protocol, table, metric, onlink);
    }

    public Family family() {
        return Family.of(destination.address());
    }

    public boolean isDefault() {
        return destination.length() == 0;
    }

    /** The route as ip would print it, with devices named by {@code deviceName}, for error messages. */
    String describe(java.util.function.IntFunction<String> deviceName) {
        StringBuilder s = new StringBuilder(isDefault() ? "default" : destination.toString());
        if (gateway != null) {
            s.append(" via ").append(gateway.getHostAddress());
        }
        if (outputIndex != 0) {
            s.append(" dev ").append(deviceName.apply(outputIndex));
        }
        if (!scope.equals(Scope.UNIVERSE)) {
            s.append(" scope ").append(scope);
        }
        if (protocol != PROTO_BOOT) {
            s.append(" proto ").append(protocol);
        }
        if (table != TABLE_MAIN) {
            s.append(" table ").append(table);
        }
        if (onlink) {
            s.append(" onlink");
        }
        return s.toString();
    }
}
