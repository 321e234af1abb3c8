package dev.ferry.netlink;

import dev.ferry.net.IpPrefix;

import java.net.InetAddress;
import java.nio.ByteBuffer;

import static dev.ferry.netlink.Uapi.*;

/** RTM_*ROUTE requests and the parsing of their replies. */
final class RouteMessages {
    private RouteMessages() {}

    private static final int NEW = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE;

    static byte[] add(Route route) {
        return body(new MessageBuilder(RTM_NEWROUTE, NEW | NLM_F_EXCL), route, route.scope()).build();
    }

    static byte[] replace(Route route) {
        return body(new MessageBuilder(RTM_NEWROUTE, NEW | NLM_F_REPLACE), route, route.scope()).build();
    }

    /**
     * The kernel deletes the first route that matches every field given. The
     * protocol is always given, so Ferry's deletes never hit a route somebody
     * else made; the scope is the wildcard RT_SCOPE_NOWHERE, as ip sends it, so
     * a route read back from a listing or built by hand both match.
     */
    static byte[] delete(Route route) {
        return body(new MessageBuilder(RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK), route, Scope.NOWHERE).build();
    }

    private static MessageBuilder body(MessageBuilder m, Route route, Scope scope) {
        // struct rtmsg { u8 family, dst_len, src_len, tos, table, protocol, scope, type; u32 flags; }
        m.u8(route.family().af).u8(route.destination().length()).u8(0).u8(0)
                .u8(route.table() < 256 ? route.table() : 0).u8(route.protocol()).u8(scope.value()).u8(RTN_UNICAST)
                .u32(route.onlink() ? RTNH_F_ONLINK : 0);
        m.attrU32(RTA_TABLE, route.table());
        if (!route.isDefault()) {
            m.attr(RTA_DST, route.destination().address().getAddress());
        }
        if (route.gateway() != null) {
            m.attr(RTA_GATEWAY, route.gateway().getAddress());
        }
        if (route.outputIndex() != 0) {
            m.attrU32(RTA_OIF, route.outputIndex());
        }
        if (route.metric() != 0) {
            m.attrU32(RTA_PRIORITY, route.metric());
        }
        return m;
    }

    static byte[] dump(Family family) {
        int af = family == null ? AF_UNSPEC : family.af;
        return new MessageBuilder(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP)
                .u8(af).u8(0).u8(0).u8(0).u8(0).u8(0).u8(0).u8(0).u32(0).build();
    }

    /**
     * Null for what {@link Route} does not model: other route types (local,
     * broadcast, blackhole, multicast) and IPv6's cached clones. A multipath
     * route is reported with its first next hop.
     */
    static Route parse(Message m) {
        Family family = Family.ofAf(m.u8(0));
        int flags = m.i32(8);
        if (family == null || m.u8(7) != RTN_UNICAST || (flags & RTM_F_CLONED) != 0) {
            return null;
        }
        Attributes a = m.attributes(RTMSG_LEN);
        InetAddress dst = a.address(RTA_DST).orElseGet(() -> family == Family.V4 ? IpPrefix.DEFAULT_V4.address()
                : IpPrefix.DEFAULT_V6.address());
        InetAddress gateway = a.address(RTA_GATEWAY).orElse(null);
        int oif = a.u32(RTA_OIF).orElse(0);
        var multipath = a.raw(RTA_MULTIPATH);
        if (multipath.isPresent() && multipath.get().remaining() >= RTNEXTHOP_LEN) {
            // struct rtnexthop { u16 len; u8 flags; u8 hops; s32 ifindex; } then its own attributes
            ByteBuffer hop = multipath.get();
            int hopLength = hop.getShort(0) & 0xffff;
            oif = hop.getInt(4);
            flags |= hop.get(2) & 0xff;
            if (hopLength <= hop.remaining()) {
                gateway = Attributes.parse(hop.slice(0, hopLength), RTNEXTHOP_LEN)
                        .address(RTA_GATEWAY).orElse(gateway);
            }
        }
        int table = a.u32(RTA_TABLE).orElse(m.u8(4));
        return new Route(new IpPrefix(dst, m.u8(1)), gateway, oif, new Scope(m.u8(6)), m.u8(5), table,
                a.u32(RTA_PRIORITY).orElse(0), (flags & RTNH_F_ONLINK) != 0);
    }
}
