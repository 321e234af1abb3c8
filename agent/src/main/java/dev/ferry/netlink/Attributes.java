package dev.ferry.netlink;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The attributes of a message or of a nested attribute, by type. The kernel
 * sends each type at most once at one level for everything this package reads,
 * so a map is enough; the last one wins if not.
 */
final class Attributes {
    private static final int NLA_HDRLEN = 4;

    private final Map<Integer, ByteBuffer> byType;

    private Attributes(Map<Integer, ByteBuffer> byType) {
        this.byType = byType;
    }

    /** Parses the attributes in {@code buf} from {@code offset} to its limit. */
    static Attributes parse(ByteBuffer attributes, int offset) {
        // duplicate() and slice() come back big-endian; netlink lengths and types are in host order.
        ByteBuffer buf = attributes.duplicate().order(ByteOrder.nativeOrder());
        Map<Integer, ByteBuffer> byType = new HashMap<>();
        while (buf.limit() - offset >= NLA_HDRLEN) {
            int len = buf.getShort(offset) & 0xffff;
            int type = buf.getShort(offset + 2) & Uapi.NLA_TYPE_MASK;
            if (len < NLA_HDRLEN || len > buf.limit() - offset) {
                break; // truncated tail: keep what parsed, as the kernel's nla_for_each_attr does
            }
            byType.put(type, buf.slice(offset + NLA_HDRLEN, len - NLA_HDRLEN).order(ByteOrder.nativeOrder()));
            offset += (len + 3) & ~3;
        }
        return new Attributes(byType);
    }

    Optional<byte[]> bytes(int type) {
        ByteBuffer value = byType.get(type);
        if (value == null) {
            return Optional.empty();
        }
        byte[] out = new byte[value.remaining()];
        value.duplicate().get(out);
        return Optional.of(out);
    }

    OptionalInt u32(int type) {
        ByteBuffer value = byType.get(type);
        return value == null || value.remaining() < 4 ? OptionalInt.empty() : OptionalInt.of(value.getInt(0));
    }

    /** A C string attribute, without its NUL. */
    Optional<String> string(int type) {
        return bytes(type).map(b -> {
            int end = 0;
            while (end < b.length && b[end] != 0) {
                end++;
            }
            return new String(b, 0, end, StandardCharsets.UTF_8);
        });
    }

    Optional<InetAddress> address(int type) {
        return bytes(type).map(b -> {
            try {
                return InetAddress.getByAddress(b);
            } catch (UnknownHostException e) {
                throw new IllegalStateException("attribute " + type + " is not an IP address: " + b.length + " bytes");
            }
        });
    }

    Attributes nested(int type) {
        ByteBuffer value = byType.get(type);
        return value == null ? new Attributes(Map.of()) : parse(value, 0);
    }

    /** The raw value of an attribute that carries a struct (e.g. rtnexthop in RTA_MULTIPATH). */
    Optional<ByteBuffer> raw(int type) {
        return Optional.ofNullable(byType.get(type)).map(b -> b.duplicate().order(ByteOrder.nativeOrder()));
    }
}
