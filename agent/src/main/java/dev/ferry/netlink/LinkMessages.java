package dev.ferry.netlink;

import dev.ferry.net.MacAddress;

import java.util.Optional;
import java.util.OptionalInt;

import static dev.ferry.netlink.Uapi.*;

/** RTM_*LINK requests and the parsing of their replies. */
final class LinkMessages {
    private LinkMessages() {}

    private static final int REQUEST = NLM_F_REQUEST | NLM_F_ACK;

    /** A veth pair; the peer is made directly in the namespace {@code peerNetnsFd} refers to, or beside this end when it is -1. */
    static byte[] newVeth(VethPair veth, int peerNetnsFd) {
        MessageBuilder m = ifinfomsg(new MessageBuilder(RTM_NEWLINK, REQUEST | NLM_F_CREATE | NLM_F_EXCL), 0, 0, 0);
        endAttributes(m, veth.name(), veth.mtu(), veth.mac());
        m.beginNest(IFLA_LINKINFO)
                .attrString(IFLA_INFO_KIND, "veth")
                .beginNest(IFLA_INFO_DATA)
                .beginNest(VETH_INFO_PEER);
        // The peer is described by a whole ifinfomsg and its own attributes, as if it were a request of its own.
        ifinfomsg(m, 0, 0, 0);
        endAttributes(m, veth.peerName(), veth.mtu(), veth.peerMac());
        if (peerNetnsFd >= 0) {
            m.attrU32(IFLA_NET_NS_FD, peerNetnsFd);
        }
        return m.endNest().endNest().endNest().build();
    }

    private static void endAttributes(MessageBuilder m, String name, int mtu, MacAddress mac) {
        m.attrString(IFLA_IFNAME, name);
        if (mtu > 0) {
            m.attrU32(IFLA_MTU, mtu);
        }
        if (mac != null) {
            m.attr(IFLA_ADDRESS, mac.bytes());
        }
    }

    static byte[] get(int index) {
        return withoutStats(ifinfomsg(new MessageBuilder(RTM_GETLINK, REQUEST), index, 0, 0)).build();
    }

    static byte[] get(String name) {
        return withoutStats(ifinfomsg(new MessageBuilder(RTM_GETLINK, REQUEST), 0, 0, 0))
                .attrString(IFLA_IFNAME, name).build();
    }

    static byte[] dump() {
        return withoutStats(ifinfomsg(new MessageBuilder(RTM_GETLINK, REQUEST | NLM_F_DUMP), 0, 0, 0)).build();
    }

    /** Counters are most of a link message and nothing here reads them. */
    private static MessageBuilder withoutStats(MessageBuilder m) {
        return m.attrU32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
    }

    static byte[] setUp(int index, boolean up) {
        return ifinfomsg(change(), index, up ? IFF_UP : 0, IFF_UP).build();
    }

    static byte[] setMtu(int index, int mtu) {
        return ifinfomsg(change(), index, 0, 0).attrU32(IFLA_MTU, mtu).build();
    }

    static byte[] setMac(int index, MacAddress mac) {
        return ifinfomsg(change(), index, 0, 0).attr(IFLA_ADDRESS, mac.bytes()).build();
    }

    static byte[] rename(int index, String name) {
        return ifinfomsg(change(), index, 0, 0).attrString(IFLA_IFNAME, name).build();
    }

    /**
     * One per-device IPv4 setting: {@code IFLA_AF_SPEC { AF_INET { IFLA_INET_CONF
     * { [IPV4_DEVCONF_x] = u32 } } }}, which the kernel's inet_set_link_af
     * stores as a write of the sysctl would.
     */
    static byte[] setIpv4DevConf(int index, Ipv4DevConf key, int value) {
        return ifinfomsg(change(), index, 0, 0)
                .beginNest(IFLA_AF_SPEC).beginNest(AF_INET).beginNest(IFLA_INET_CONF)
                .attrU32(key.id, value)
                .endNest().endNest().endNest().build();
    }

    /** {@code IFLA_AF_SPEC { AF_INET6 { IFLA_INET6_ADDR_GEN_MODE = u8 } }}, as inet6_set_link_af reads it. */
    static byte[] setIpv6AddrGenMode(int index, Ipv6AddrGenMode mode) {
        return ifinfomsg(change(), index, 0, 0)
                .beginNest(IFLA_AF_SPEC).beginNest(AF_INET6)
                .attr(IFLA_INET6_ADDR_GEN_MODE, new byte[]{(byte) mode.ordinal()})
                .endNest().endNest().build();
    }

    /** RTM_NEWLINK without NLM_F_CREATE changes an existing link, as {@code ip link set} does. */
    private static MessageBuilder change() {
        return new MessageBuilder(RTM_NEWLINK, REQUEST);
    }

    static byte[] delete(int index) {
        return ifinfomsg(new MessageBuilder(RTM_DELLINK, REQUEST), index, 0, 0).build();
    }

    static byte[] delete(String name) {
        return ifinfomsg(new MessageBuilder(RTM_DELLINK, REQUEST), 0, 0, 0).attrString(IFLA_IFNAME, name).build();
    }

    /**
     * A setting from a link message's {@code IFLA_AF_SPEC / AF_INET /
     * IFLA_INET_CONF}: not attributes as in a request but an array of u32 that
     * starts at IPV4_DEVCONF_FORWARDING (inet_fill_link_af). Empty when the
     * link has no IPv4 settings (no in_device).
     */
    static OptionalInt ipv4DevConf(Message m, Ipv4DevConf key) {
        return m.attributes(IFINFOMSG_LEN).nested(IFLA_AF_SPEC).nested(AF_INET).raw(IFLA_INET_CONF)
                .filter(conf -> conf.remaining() >= key.id * 4)
                .map(conf -> OptionalInt.of(conf.getInt((key.id - 1) * 4)))
                .orElse(OptionalInt.empty());
    }

    /** {@code IFLA_AF_SPEC / AF_INET6 / IFLA_INET6_ADDR_GEN_MODE}; empty when the link has no IPv6 settings. */
    static Optional<Ipv6AddrGenMode> ipv6AddrGenMode(Message m) {
        return m.attributes(IFINFOMSG_LEN).nested(IFLA_AF_SPEC).nested(AF_INET6).bytes(IFLA_INET6_ADDR_GEN_MODE)
                .filter(b -> b.length >= 1)
                .map(b -> Ipv6AddrGenMode.of(b[0] & 0xff));
    }

    /** struct ifinfomsg { u8 family; u8 pad; u16 type; s32 index; u32 flags; u32 change; } */
    private static MessageBuilder ifinfomsg(MessageBuilder m, int index, int flags, int change) {
        return m.u8(AF_UNSPEC).u8(0).u16(0).u32(index).u32(flags).u32(change);
    }

    static Link parse(Message m) {
        Attributes a = m.attributes(IFINFOMSG_LEN);
        MacAddress mac = a.bytes(IFLA_ADDRESS).filter(b -> b.length == 6).map(MacAddress::new).orElse(null);
        return new Link(m.i32(4), a.string(IFLA_IFNAME).orElse(""), mac, a.u32(IFLA_MTU).orElse(0),
                (m.i32(8) & IFF_UP) != 0, a.nested(IFLA_LINKINFO).string(IFLA_INFO_KIND).orElse(null));
    }
}
