package dev.ferry.datapath;

import dev.ferry.net.MacAddress;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;

/** Crafts Ethernet frames for BPF_PROG_TEST_RUN and reads back what the programs made of them. */
final class Packets {
    private Packets() {}

    static final int ETH_HLEN = 14;
    static final int ETH_P_IP = 0x0800;
    static final int ETH_P_ARP = 0x0806;
    static final int ETH_P_IPV6 = 0x86dd;
    static final int IPPROTO_ICMP = 1;
    static final int IPPROTO_TCP = 6;
    static final int IPPROTO_UDP = 17;
    static final int IPPROTO_ICMPV6 = 58;
    static final int NO_EXTENSION = -1;

    static final MacAddress SENDER_MAC = MacAddress.parse("02:00:00:00:00:aa");
    static final MacAddress GATEWAY_MAC = MacAddress.parse("02:00:00:00:00:bb");

    /** An IPv4 packet; the builder methods return copies with one thing changed. */
    record Ipv4(String src, String dst, int protocol, int ttl, int fragOff, int optionWords, int payload,
                int srcPort, int dstPort, int tcpFlags) {

        static final int TCP_SYN = 0x02;
        static final int TCP_ACK = 0x10;

        static Ipv4 udp(String src, String dst) {
            return new Ipv4(src, dst, IPPROTO_UDP, 64, 0, 0, 32, 40000, 5353, 0);
        }

        /** A SYN, unless {@link #tcpFlags(int)} says otherwise. */
        static Ipv4 tcp(String src, String dst) {
            return new Ipv4(src, dst, IPPROTO_TCP, 64, 0, 0, 32, 40000, 8080, TCP_SYN);
        }

        static Ipv4 icmp(String src, String dst) {
            return new Ipv4(src, dst, IPPROTO_ICMP, 64, 0, 0, 32, 0, 0, 0);
        }

        Ipv4 ttl(int value) {
            return new Ipv4(src, dst, protocol, value, fragOff, optionWords, payload, srcPort, dstPort, tcpFlags);
        }

        Ipv4 fragOff(int value) {
            return new Ipv4(src, dst, protocol, ttl, value, optionWords, payload, srcPort, dstPort, tcpFlags);
        }

        Ipv4 options(int words) {
            return new Ipv4(src, dst, protocol, ttl, fragOff, words, payload, srcPort, dstPort, tcpFlags);
        }

        Ipv4 payload(int bytes) {
            return new Ipv4(src, dst, protocol, ttl, fragOff, optionWords, bytes, srcPort, dstPort, tcpFlags);
        }

        Ipv4 ports(int source, int destination) {
            return new Ipv4(src, dst, protocol, ttl, fragOff, optionWords, payload, source, destination, tcpFlags);
        }

        Ipv4 tcpFlags(int flags) {
            return new Ipv4(src, dst, protocol, ttl, fragOff, optionWords, payload, srcPort, dstPort, flags);
        }

        /** The whole frame, addressed from the pod to its gateway. */
        byte[] frame() {
            int ihl = 5 + optionWords;
            int l4 = protocol == IPPROTO_TCP ? 20 : protocol == IPPROTO_UDP ? 8 : 8;
            int totLen = ihl * 4 + l4 + payload;
            ByteBuffer b = ByteBuffer.allocate(ETH_HLEN + totLen);
            ethernet(b, GATEWAY_MAC, SENDER_MAC, ETH_P_IP);
            int ip = b.position();
            b.put((byte) (0x40 | ihl)).put((byte) 0).putShort((short) totLen);
            b.putShort((short) 0x1234).putShort((short) fragOff);
            b.put((byte) ttl).put((byte) protocol).putShort((short) 0);
            b.put(addr(src)).put(addr(dst));
            for (int i = 0; i < optionWords; i++) {
                b.putInt(0x01010101); // NOPs
            }
            b.putShort(ip + 10, ipv4Checksum(b.array(), ip, ihl * 4));
            if (protocol == IPPROTO_UDP) {
                b.putShort((short) srcPort).putShort((short) dstPort).putShort((short) (8 + payload)).putShort((short) 0);
            } else if (protocol == IPPROTO_TCP) {
                b.putShort((short) srcPort).putShort((short) dstPort).putInt(1).putInt(0)
                        .put((byte) 0x50).put((byte) tcpFlags).putShort((short) 65535).putShort((short) 0).putShort((short) 0);
            } else {
                b.put((byte) 8).put((byte) 0).putShort((short) 0).putInt(0x00010001);
            }
            return b.array();
        }
    }

    /**
     * An IPv6 packet; the builder methods return copies with one thing changed.
     * {@code extension}: the next header value of one 8-byte extension header
     * between the fixed header and the upper layer, or {@link #NO_EXTENSION}.
     */
    record Ipv6(String src, String dst, int protocol, int hopLimit, int extension, int payload, int srcPort,
                int dstPort, int tcpFlags, int icmpType) {

        static final int ECHO_REQUEST = 128;

        static Ipv6 udp(String src, String dst) {
            return new Ipv6(src, dst, IPPROTO_UDP, 64, NO_EXTENSION, 32, 40000, 5353, 0, 0);
        }

        /** A SYN, unless {@link #tcpFlags(int)} says otherwise. */
        static Ipv6 tcp(String src, String dst) {
            return new Ipv6(src, dst, IPPROTO_TCP, 64, NO_EXTENSION, 32, 40000, 8080, Ipv4.TCP_SYN, 0);
        }

        /** An echo request, unless {@link #icmpType(int)} says otherwise. */
        static Ipv6 icmp(String src, String dst) {
            return new Ipv6(src, dst, IPPROTO_ICMPV6, 64, NO_EXTENSION, 32, 0, 0, 0, ECHO_REQUEST);
        }

        Ipv6 hopLimit(int value) {
            return new Ipv6(src, dst, protocol, value, extension, payload, srcPort, dstPort, tcpFlags, icmpType);
        }

        Ipv6 extension(int nextHeader) {
            return new Ipv6(src, dst, protocol, hopLimit, nextHeader, payload, srcPort, dstPort, tcpFlags, icmpType);
        }

        Ipv6 payload(int bytes) {
            return new Ipv6(src, dst, protocol, hopLimit, extension, bytes, srcPort, dstPort, tcpFlags, icmpType);
        }

        Ipv6 ports(int source, int destination) {
            return new Ipv6(src, dst, protocol, hopLimit, extension, payload, source, destination, tcpFlags, icmpType);
        }

        Ipv6 tcpFlags(int flags) {
            return new Ipv6(src, dst, protocol, hopLimit, extension, payload, srcPort, dstPort, flags, icmpType);
        }

        Ipv6 icmpType(int type) {
            return new Ipv6(src, dst, protocol, hopLimit, extension, payload, srcPort, dstPort, tcpFlags, type);
        }

        /** The whole frame, addressed from the pod to its gateway. */
        byte[] frame() {
            int l4 = protocol == IPPROTO_TCP ? 20 : 8;
            int ext = extension == NO_EXTENSION ? 0 : 8;
            int payloadLength = ext + l4 + payload;
            ByteBuffer b = ByteBuffer.allocate(ETH_HLEN + 40 + payloadLength);
            ethernet(b, GATEWAY_MAC, SENDER_MAC, ETH_P_IPV6);
            b.putInt(0x60000000).putShort((short) payloadLength)
                    .put((byte) (extension == NO_EXTENSION ? protocol : extension)).put((byte) hopLimit);
            b.put(addr(src)).put(addr(dst));
            if (extension != NO_EXTENSION) {
                // Next header, length 0 (8 bytes), then a PadN option of 4 bytes: valid for every kind tested.
                b.put((byte) protocol).put((byte) 0).put((byte) 1).put((byte) 4).putInt(0);
            }
            if (protocol == IPPROTO_UDP) {
                b.putShort((short) srcPort).putShort((short) dstPort).putShort((short) (8 + payload)).putShort((short) 0);
            } else if (protocol == IPPROTO_TCP) {
                b.putShort((short) srcPort).putShort((short) dstPort).putInt(1).putInt(0)
                        .put((byte) 0x50).put((byte) tcpFlags).putShort((short) 65535).putShort((short) 0).putShort((short) 0);
            } else {
                b.put((byte) icmpType).put((byte) 0).putShort((short) 0).putInt(0x00010001);
            }
            return b.array();
        }
    }

    /**
     * An IPv6 extension header as a packet carries it; its first byte, the next
     * header, is filled in by {@link #ipv6Behind}. {@code type} is the value that
     * names it in the header before.
     */
    record Extension(int type, byte[] bytes) {
        static final int HOP_BY_HOP = 0;
        static final int ROUTING = 43;
        static final int FRAGMENT = 44;
        static final int AUTH = 51;
        static final int DESTINATION = 60;

        static Extension hopByHop() {
            return options(HOP_BY_HOP, 0);
        }

        /** Destination options of 8 * (1 + {@code extraUnits}) bytes, all padding. */
        static Extension destination(int extraUnits) {
            return options(DESTINATION, extraUnits);
        }

        /** A segment routing header with no segment left: the receiver reads on past it. */
        static Extension routing() {
            ByteBuffer b = ByteBuffer.allocate(24);
            b.put((byte) 0).put((byte) 2).put((byte) 4).put((byte) 0); // length 2 (24 bytes), type 4 (SRH), segments left 0
            b.put((byte) 0).put((byte) 0).putShort((short) 0).put(addr("fd77:1::99")); // last entry, flags, tag, one segment
            return new Extension(ROUTING, b.array());
        }

        /** A fragment header: {@code offset} in 8-octet units, {@code more} the M flag. */
        static Extension fragment(int offset, boolean more) {
            ByteBuffer b = ByteBuffer.allocate(8);
            b.put((byte) 0).put((byte) 0).putShort((short) (offset << 3 | (more ? 1 : 0))).putInt(0x0f0f0f0f);
            return new Extension(FRAGMENT, b.array());
        }

        /** An authentication header with a 12-byte ICV: 24 bytes, its length counted in 4-octet units (RFC 4302). */
        static Extension auth() {
            ByteBuffer b = ByteBuffer.allocate(24);
            b.put((byte) 0).put((byte) 4).putShort((short) 0).putInt(0x100).putInt(1);
            return new Extension(AUTH, b.array());
        }

        private static Extension options(int type, int extraUnits) {
            ByteBuffer b = ByteBuffer.allocate(8 * (1 + extraUnits));
            b.put((byte) 0).put((byte) extraUnits).put((byte) 1).put((byte) (b.capacity() - 4)); // PadN over the rest
            return new Extension(type, b.array());
        }
    }

    /** UDP or TCP over IPv6 behind {@code chain}, in its order, from the pod to its gateway. */
    static byte[] ipv6Behind(String src, String dst, int protocol, int srcPort, int dstPort, Extension... chain) {
        int ext = java.util.Arrays.stream(chain).mapToInt(e -> e.bytes().length).sum();
        int l4 = protocol == IPPROTO_TCP ? 20 : 8;
        int payload = 16;
        ByteBuffer b = ByteBuffer.allocate(ETH_HLEN + 40 + ext + l4 + payload);
        ethernet(b, GATEWAY_MAC, SENDER_MAC, ETH_P_IPV6);
        b.putInt(0x60000000).putShort((short) (ext + l4 + payload))
                .put((byte) (chain.length > 0 ? chain[0].type() : protocol)).put((byte) 64);
        b.put(addr(src)).put(addr(dst));
        for (int i = 0; i < chain.length; i++) {
            int start = b.position();
            b.put(chain[i].bytes());
            b.put(start, (byte) (i + 1 < chain.length ? chain[i + 1].type() : protocol));
        }
        if (protocol == IPPROTO_UDP) {
            b.putShort((short) srcPort).putShort((short) dstPort).putShort((short) (8 + payload)).putShort((short) 0);
        } else {
            b.putShort((short) srcPort).putShort((short) dstPort).putInt(1).putInt(0)
                    .put((byte) 0x50).put((byte) Ipv4.TCP_SYN).putShort((short) 65535).putShort((short) 0).putShort((short) 0);
        }
        return b.array();
    }

    /**
     * An MLDv2 report as hosts send it: from {@code src} to ff02::16, hop limit 1,
     * behind a hop-by-hop header with the router alert option (RFC 3810).
     */
    static byte[] mldReport(String src) {
        ByteBuffer b = ByteBuffer.allocate(ETH_HLEN + 40 + 8 + 8);
        ethernet(b, MacAddress.parse("33:33:00:00:00:16"), SENDER_MAC, ETH_P_IPV6);
        b.putInt(0x60000000).putShort((short) 16).put((byte) 0).put((byte) 1);
        b.put(addr(src)).put(addr("ff02::16"));
        b.put((byte) IPPROTO_ICMPV6).put((byte) 0).put((byte) 5).put((byte) 2).putShort((short) 0) // router alert: MLD
                .put((byte) 1).put((byte) 0); // PadN
        b.put((byte) 143).put((byte) 0).putShort((short) 0).putInt(0); // no multicast address records
        return b.array();
    }

    /** An ARP request for the pod's gateway that claims {@code senderIp} as the sender's address. */
    static byte[] arp(String senderIp) {
        return arp(SENDER_MAC, senderIp, "169.254.1.1");
    }

    /** An Ethernet/IPv4 ARP request, broadcast: "who has {@code targetIp}? tell {@code senderIp} at {@code senderMac}". */
    static byte[] arp(MacAddress senderMac, String senderIp, String targetIp) {
        ByteBuffer b = ByteBuffer.allocate(ETH_HLEN + 28);
        ethernet(b, MacAddress.parse("ff:ff:ff:ff:ff:ff"), senderMac, ETH_P_ARP);
        b.putShort((short) 1).putShort((short) ETH_P_IP).put((byte) 6).put((byte) 4).putShort((short) 1);
        b.put(senderMac.bytes()).put(addr(senderIp)).put(new byte[6]).put(addr(targetIp));
        return b.array();
    }

    /** An Ethernet header that announces IPv4 and then ends, or carries only {@code ipBytes} of it. */
    static byte[] truncatedIpv4(int ipBytes) {
        byte[] full = Ipv4.udp("10.77.1.2", "10.77.1.3").frame();
        return java.util.Arrays.copyOf(full, ETH_HLEN + ipBytes);
    }

    /** A UDP datagram over IPv6. */
    static byte[] ipv6(String src, String dst) {
        ByteBuffer b = ByteBuffer.allocate(ETH_HLEN + 40 + 8);
        ethernet(b, GATEWAY_MAC, SENDER_MAC, ETH_P_IPV6);
        b.putInt(0x60000000).putShort((short) 8).put((byte) IPPROTO_UDP).put((byte) 64);
        b.put(addr(src)).put(addr(dst));
        b.putShort((short) 1).putShort((short) 2).putShort((short) 8).putShort((short) 0);
        return b.array();
    }

    private static void ethernet(ByteBuffer b, MacAddress dst, MacAddress src, int type) {
        b.put(dst.bytes()).put(src.bytes()).putShort((short) type);
    }

    static byte[] addr(String literal) {
        try {
            return InetAddress.getByName(literal).getAddress();
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }

    static short ipv4Checksum(byte[] data, int offset, int length) {
        long sum = 0;
        for (int i = 0; i < length; i += 2) {
            sum += ((data[offset + i] & 0xff) << 8) | (data[offset + i + 1] & 0xff);
        }
        while ((sum >> 16) != 0) {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        return (short) ~sum;
    }

    // Readers of a frame the program returned.

    static MacAddress dstMac(byte[] frame) {
        return new MacAddress(java.util.Arrays.copyOfRange(frame, 0, 6));
    }

    static MacAddress srcMac(byte[] frame) {
        return new MacAddress(java.util.Arrays.copyOfRange(frame, 6, 12));
    }

    static int hopLimit(byte[] frame) {
        return frame[ETH_HLEN + 7] & 0xff;
    }

    static int ttl(byte[] frame) {
        return frame[ETH_HLEN + 8] & 0xff;
    }

    /** True when the IPv4 header checksum verifies (the one's complement sum folds to 0xffff). */
    static boolean ipv4ChecksumValid(byte[] frame) {
        int ihl = (frame[ETH_HLEN] & 0x0f) * 4;
        return ipv4Checksum(frame, ETH_HLEN, ihl) == 0;
    }
}
