package dev.ferry.netlink;

import dev.ferry.net.MacAddress;

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
