package dev.ferry.netlink;

import dev.ferry.net.MacAddress;

import static dev.ferry.netlink.Uapi.*;

/** RTM_*NEIGH requests and the parsing of their replies. */
final class NeighbourMessages {
    private NeighbourMessages() {}

    static byte[] add(Neighbour n, boolean replace) {
        int flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL);
        MessageBuilder m = ndmsg(new MessageBuilder(RTM_NEWNEIGH, flags), n.family(), n.index(), n.state())
                .attr(NDA_DST, n.address().getAddress());
        if (n.mac() != null) {
            m.attr(NDA_LLADDR, n.mac().bytes());
        }
        return m.build();
    }

    /**
     * Asks the kernel to resolve the neighbour as if a packet were waiting for it
     * (NTF_USE: neigh_event_send), creating the entry when there is none.
     */
    static byte[] use(int index, java.net.InetAddress address) {
        return new MessageBuilder(RTM_NEWNEIGH, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE)
                .u8(Family.of(address).af).u8(0).u16(0).u32(index).u16(0).u8(NTF_USE).u8(0)
                .attr(NDA_DST, address.getAddress()).build();
    }

    /** Changes an existing entry's state (no lladdr: the kernel keeps the one it has); ENOENT when there is none. */
    static byte[] changeState(int index, java.net.InetAddress address, int state) {
        return ndmsg(new MessageBuilder(RTM_NEWNEIGH, NLM_F_REQUEST | NLM_F_ACK | NLM_F_REPLACE), Family.of(address), index, state)
                .attr(NDA_DST, address.getAddress()).build();
    }

    static byte[] delete(int index, java.net.InetAddress address) {
        return ndmsg(new MessageBuilder(RTM_DELNEIGH, NLM_F_REQUEST | NLM_F_ACK), Family.of(address), index, 0)
                .attr(NDA_DST, address.getAddress()).build();
    }

    static byte[] dump() {
        return new MessageBuilder(RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP)
                .u8(AF_UNSPEC).u8(0).u16(0).u32(0).u16(0).u8(0).u8(0).build();
    }

    /** struct ndmsg { u8 family; u8 pad1; u16 pad2; s32 ifindex; u16 state; u8 flags; u8 type; } */
    private static MessageBuilder ndmsg(MessageBuilder m, Family family, int index, int state) {
        return m.u8(family.af).u8(0).u16(0).u32(index).u16(state).u8(0).u8(0);
    }

    /**
     * Null for what is not a neighbour anybody manages: bridge fdb and proxy
     * entries, and the NOARP-only ones the kernel makes for multicast
     * addresses (ff02::16 appears as soon as IPv6 sends an MLD report), which
     * {@code ip neigh show} hides too.
     */
    static Neighbour parse(Message m) {
        Family family = Family.ofAf(m.u8(0));
        if (family == null || (m.u8(10) & NTF_PROXY) != 0 || m.u16(8) == Neighbour.NUD_NOARP) {
            return null;
        }
        Attributes a = m.attributes(NDMSG_LEN);
        MacAddress mac = a.bytes(NDA_LLADDR).filter(b -> b.length == 6).map(MacAddress::new).orElse(null);
        return a.address(NDA_DST).map(dst -> new Neighbour(m.i32(4), dst, mac, m.u16(8))).orElse(null);
    }
}
