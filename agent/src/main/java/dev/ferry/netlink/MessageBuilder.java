package dev.ferry.netlink;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;

/**
 * Builds one netlink request: the nlmsghdr, a family header written field by
 * field, then attributes, nested ones included. Attributes start on 4-byte
 * boundaries (NLA_ALIGNTO); lengths are patched when a nest or the message ends.
 * Sequence number and port id are left zero: the socket fills them in when it
 * sends.
 */
final class MessageBuilder {
    private static final int NLA_HDRLEN = 4;

    private ByteBuffer buf = ByteBuffer.allocate(256).order(ByteOrder.nativeOrder());
    private final Deque<Integer> nests = new ArrayDeque<>();

    MessageBuilder(int type, int flags) {
        buf.putInt(0);                  // nlmsg_len, patched by build()
        buf.putShort((short) type);
        buf.putShort((short) flags);
        buf.putInt(0);                  // nlmsg_seq
        buf.putInt(0);                  // nlmsg_pid
    }

    // Family header fields (ifinfomsg, rtmsg, ...), in the C struct's order.

    MessageBuilder u8(int value) {
        room(1).put((byte) value);
        return this;
    }

    MessageBuilder u16(int value) {
        room(2).putShort((short) value);
        return this;
    }

    MessageBuilder u32(int value) {
        room(4).putInt(value);
        return this;
    }

    // Attributes.

    MessageBuilder attr(int type, byte[] value) {
        align();
        room(NLA_HDRLEN + value.length);
        buf.putShort((short) (NLA_HDRLEN + value.length)).putShort((short) type).put(value);
        return this;
    }

    MessageBuilder attrU32(int type, int value) {
        align();
        room(NLA_HDRLEN + 4).putShort((short) (NLA_HDRLEN + 4)).putShort((short) type).putInt(value);
        return this;
    }

    /** A C string: the kernel wants the terminating NUL inside the attribute. */
    MessageBuilder attrString(int type, String value) {
        byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
        return attr(type, Arrays.copyOf(bytes, bytes.length + 1));
    }

    /** Opens a nested attribute; everything added until {@link #endNest} goes inside it. */
    MessageBuilder beginNest(int type) {
        align();
        nests.push(buf.position());
        room(NLA_HDRLEN).putShort((short) 0).putShort((short) (type | Uapi.NLA_F_NESTED));
        return this;
    }

    MessageBuilder endNest() {
        int start = nests.pop();
        buf.putShort(start, (short) (buf.position() - start));
        return this;
    }

    /** The finished message; its length counts the padding of the last attribute, as NLMSG_ALIGN does. */
    byte[] build() {
        if (!nests.isEmpty()) {
            throw new IllegalStateException("unclosed nested attribute");
        }
        align();
        buf.putInt(0, buf.position());
        return Arrays.copyOf(buf.array(), buf.position());
    }

    private void align() {
        int padding = -buf.position() & 3;
        room(padding).put(new byte[padding]);
    }

    private ByteBuffer room(int bytes) {
        if (buf.remaining() < bytes) {
            ByteBuffer bigger = ByteBuffer.allocate(Math.max(buf.capacity() * 2, buf.position() + bytes))
                    .order(ByteOrder.nativeOrder());
            buf.flip();
            bigger.put(buf);
            buf = bigger;
        }
        return buf;
    }
}
