package dev.ferry.netlink;

import dev.ferry.net.IpPrefix;
import dev.ferry.net.MacAddress;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

import static dev.ferry.netlink.Uapi.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Message building and parsing on bytes alone: no socket, no root needed. */
class MessageCodecTest {

    @Test
    void attributesStartOnFourByteBoundariesAndTheLengthCountsThePadding() {
        byte[] bytes = new MessageBuilder(RTM_NEWLINK, NLM_F_REQUEST).u8(7).attrString(IFLA_IFNAME, "ab").build();
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder());

        assertEquals(16 + 4 + 8, bytes.length);       // header, one u8 padded to 4, "ab\0" attribute padded to 8
        assertEquals(bytes.length, b.getInt(0));
        assertEquals(RTM_NEWLINK, b.getShort(4));
        assertEquals(NLM_F_REQUEST, b.getShort(6));
        assertEquals(7, b.getShort(20), "nla_len: 4-byte header + 3 bytes, without the padding");
        assertEquals(IFLA_IFNAME, b.getShort(22));
    }

    @Test
    void nestedAttributesAreSizedAndFlaggedAndReadBack() {
        byte[] bytes = new MessageBuilder(RTM_NEWLINK, NLM_F_REQUEST)
                .beginNest(IFLA_LINKINFO).attrString(IFLA_INFO_KIND, "veth").beginNest(IFLA_INFO_DATA)
                .attrU32(VETH_INFO_PEER, 42).endNest().endNest().build();
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder());

        assertEquals(IFLA_LINKINFO | NLA_F_NESTED, b.getShort(18) & 0xffff);
        assertEquals(bytes.length - 16, b.getShort(16), "the outer nest spans the rest of the message");
        Attributes linkinfo = only(bytes).attributes(0).nested(IFLA_LINKINFO);
        assertEquals("veth", linkinfo.string(IFLA_INFO_KIND).orElseThrow());
        assertEquals(42, linkinfo.nested(IFLA_INFO_DATA).u32(VETH_INFO_PEER).orElseThrow());
    }

    @Test
    void vethRequestDescribesThePeerWithItsOwnIfinfomsgAndNamespaceFd() {
        VethPair veth = VethPair.of("ferabc", "eth0").mtu(1450).peerMac(MacAddress.parse("02:00:00:00:00:02"));

        Message m = only(LinkMessages.newVeth(veth, 9));

        assertEquals(NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, m.flags());
        Attributes top = m.attributes(IFINFOMSG_LEN);
        assertEquals("ferabc", top.string(IFLA_IFNAME).orElseThrow());
        assertEquals(1450, top.u32(IFLA_MTU).orElseThrow());
        ByteBuffer peer = top.nested(IFLA_LINKINFO).nested(IFLA_INFO_DATA).raw(VETH_INFO_PEER).orElseThrow();
        Attributes peerAttributes = Attributes.parse(peer, IFINFOMSG_LEN);
        assertEquals("eth0", peerAttributes.string(IFLA_IFNAME).orElseThrow());
        assertEquals(1450, peerAttributes.u32(IFLA_MTU).orElseThrow());
        assertEquals(9, peerAttributes.u32(IFLA_NET_NS_FD).orElseThrow());
        assertEquals("02:00:00:00:00:02", new MacAddress(peerAttributes.bytes(IFLA_ADDRESS).orElseThrow()).toString());
    }

    @Test
    void ipv4SettingIsAnAttributeNamedByItsDevconfNumberInsideAfSpecAfInetInetConf() {
        Message m = only(LinkMessages.setIpv4DevConf(7, Ipv4DevConf.FORWARDING, 1));

        assertEquals(RTM_NEWLINK, m.type());
        assertEquals(0, m.flags() & NLM_F_CREATE, "changes the link, creates nothing");
        assertEquals(7, m.i32(4), "ifinfomsg.ifi_index");
        Attributes conf = m.attributes(IFINFOMSG_LEN).nested(IFLA_AF_SPEC).nested(AF_INET).nested(IFLA_INET_CONF);
        assertEquals(1, conf.u32(1).orElseThrow(), "IPV4_DEVCONF_FORWARDING is 1 in linux/ip.h");
    }

    @Test
    void ipv4SettingsAreReadFromAnArrayThatStartsAtDevconfNumberOne() {
        // What inet_fill_link_af sends: u32 per setting, IPV4_DEVCONF_FORWARDING (1) first.
        byte[] conf = new byte[8];
        ByteBuffer.wrap(conf).order(ByteOrder.nativeOrder()).putInt(0, 1).putInt(4, 0);
        byte[] bytes = new MessageBuilder(RTM_NEWLINK, 0).u8(AF_UNSPEC).u8(0).u16(0).u32(7).u32(0).u32(0)
                .beginNest(IFLA_AF_SPEC).beginNest(AF_INET).attr(IFLA_INET_CONF, conf).endNest().endNest().build();

        assertEquals(java.util.OptionalInt.of(1), LinkMessages.ipv4DevConf(only(bytes), Ipv4DevConf.FORWARDING));
    }

    @Test
    void cappedErrorCarriesErrnoAndTheKernelsMessage() {
        byte[] bytes = new MessageBuilder(NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS)
                .u32(-22).u32(40).u16(RTM_NEWROUTE).u16(NLM_F_REQUEST).u32(7).u32(0)   // nlmsgerr: error, request header
                .attrString(NLMSGERR_ATTR_MSG, "Invalid prefix for given prefix length").build();

        Message m = only(bytes);

        assertEquals(-22, m.errorCode());
        assertEquals("Invalid prefix for given prefix length", m.extendedAck());
    }

    @Test
    void uncappedErrorSkipsTheEchoedRequestBeforeTheMessage() {
        byte[] bytes = new MessageBuilder(NLMSG_ERROR, NLM_F_ACK_TLVS)
                .u32(-17).u32(24).u16(RTM_NEWLINK).u16(NLM_F_REQUEST).u32(7).u32(0).u32(0xdead).u32(0xbeef)
                .attrString(NLMSGERR_ATTR_MSG, "exists").build();

        assertEquals("exists", only(bytes).extendedAck());
    }

    @Test
    void ackWithoutTlvsHasNoMessage() {
        byte[] bytes = new MessageBuilder(NLMSG_ERROR, NLM_F_CAPPED).u32(0).u32(32).u16(RTM_NEWLINK).u16(0).u32(7).u32(0)
                .build();

        assertEquals(0, only(bytes).errorCode());
        assertNull(only(bytes).extendedAck());
    }

    @Test
    void severalMessagesInOneDatagramAreSplitAtAlignedBoundaries() {
        byte[] one = new MessageBuilder(RTM_NEWROUTE, NLM_F_MULTI).u8(1).build();
        byte[] two = new MessageBuilder(NLMSG_DONE, NLM_F_MULTI).u32(0).build();
        ByteBuffer datagram = ByteBuffer.allocate(one.length + two.length).put(one).put(two).flip();

        List<Message> messages = Message.split(datagram);

        assertEquals(List.of(RTM_NEWROUTE, NLMSG_DONE), messages.stream().map(Message::type).toList());
    }

    @Test
    void aLengthBeyondTheDatagramIsRejected() {
        byte[] bytes = new MessageBuilder(RTM_NEWLINK, 0).u32(0).build();
        ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder()).putInt(0, 999);

        assertThrows(IllegalStateException.class, () -> Message.split(ByteBuffer.wrap(bytes)));
    }

    @Test
    void prefixesParseBothFamiliesAndRejectHostNames() {
        assertEquals(24, IpPrefix.parse("10.244.2.0/24").length());
        assertEquals(128, IpPrefix.parse("fd00::5").length());
        assertEquals(Family.V6, Family.of(IpPrefix.DEFAULT_V6.address()));
        assertThrows(IllegalArgumentException.class, () -> IpPrefix.parse("localhost/8"));
        assertThrows(IllegalArgumentException.class, () -> IpPrefix.parse("10.0.0.0/33"));
    }

    private static Message only(byte[] bytes) {
        List<Message> messages = Message.split(ByteBuffer.wrap(bytes));
        assertEquals(1, messages.size());
        return messages.getFirst();
    }
}
