package dev.ferry.netlink;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One received netlink message, copied out of the receive buffer so that it
 * outlives the arena the exchange ran in.
 *
 * @param payload everything after the nlmsghdr, native byte order, position 0
 */
record Message(int type, int flags, int seq, int pid, ByteBuffer payload) {

    /** Reads the messages of one datagram; {@code datagram} holds exactly the bytes received. */
    static java.util.List<Message> split(ByteBuffer datagram) {
        ByteBuffer in = datagram.order(ByteOrder.nativeOrder());
        var messages = new java.util.ArrayList<Message>();
        int offset = 0;
        while (in.limit() - offset >= Uapi.NLMSG_HDRLEN) {
            int len = in.getInt(offset);
            if (len < Uapi.NLMSG_HDRLEN || len > in.limit() - offset) {
                throw new IllegalStateException("malformed netlink message: length " + len
                        + " at offset " + offset + " of a " + in.limit() + "-byte datagram");
            }
            ByteBuffer payload = in.slice(offset + Uapi.NLMSG_HDRLEN, len - Uapi.NLMSG_HDRLEN)
                    .order(ByteOrder.nativeOrder());
            messages.add(new Message(in.getShort(offset + 4) & 0xffff, in.getShort(offset + 6) & 0xffff,
                    in.getInt(offset + 8), in.getInt(offset + 12), payload));
            offset += (len + 3) & ~3;
        }
        return messages;
    }

    boolean hasFlag(int flag) {
        return (flags & flag) != 0;
    }

    int u8(int offset) {
        return payload.get(offset) & 0xff;
    }

    int u16(int offset) {
        return payload.getShort(offset) & 0xffff;
    }

    int i32(int offset) {
        return payload.getInt(offset);
    }

    /** The attributes that follow a family header of {@code headerLength} bytes. */
    Attributes attributes(int headerLength) {
        return Attributes.parse(payload, (headerLength + 3) & ~3);
    }
}
