package dev.ferry.netlink;

import dev.ferry.net.IpPrefix;

import java.net.InetAddress;

import static dev.ferry.netlink.Uapi.*;

/** RTM_*ADDR requests and the parsing of their replies. */
final class AddressMessages {
    private AddressMessages() {}

    /**
     * Adds ({@code replace} false) or adds-or-updates an address. IPv6 ones skip
     * duplicate address detection: IPAM already guarantees uniqueness, and a
     * tentative address cannot be a source for a second or two, which would
     * fail a pod's first connections.
     */
    static byte[] add(Address address, boolean replace) {
        int flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL);
        int ifaFlags = address.family() == Family.V6 ? IFA_F_NODAD : 0;
        return body(new MessageBuilder(RTM_NEWADDR, flags), address, ifaFlags)
                .attrU32(IFA_FLAGS, ifaFlags).build();
    }

    static byte[] delete(Address address) {
        return body(new MessageBuilder(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK), address, 0).build();
    }

    /** IFA_LOCAL and IFA_ADDRESS both hold the address, as ip does for an address without a peer. */
    private static MessageBuilder body(MessageBuilder m, Address address, int ifaFlags) {
        byte[] bytes = address.prefix().address().getAddress();
        // struct ifaddrmsg { u8 family; u8 prefixlen; u8 flags; u8 scope; u32 index; }
        return m.u8(address.family().af).u8(address.prefix().length()).u8(ifaFlags & 0xff)
                .u8(address.scope().value()).u32(address.index())
                .attr(IFA_LOCAL, bytes).attr(IFA_ADDRESS, bytes);
    }

    static byte[] dump(Family family) {
        int af = family == null ? AF_UNSPEC : family.af;
        return new MessageBuilder(RTM_GETADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP)
                .u8(af).u8(0).u8(0).u8(0).u32(0).build();
    }

    /** IPv4 reports the interface's own address in IFA_LOCAL (IFA_ADDRESS is the peer's); IPv6 only sends IFA_ADDRESS. */
    static Address parse(Message m) {
        Attributes a = m.attributes(IFADDRMSG_LEN);
        InetAddress address = a.address(IFA_LOCAL).or(() -> a.address(IFA_ADDRESS))
                .orElseThrow(() -> new IllegalStateException("RTM_NEWADDR without an address"));
        return new Address(m.i32(4), new IpPrefix(address, m.u8(1)), new Scope(m.u8(3)));
    }
}
