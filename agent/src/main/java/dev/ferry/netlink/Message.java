package dev.ferry.netlink;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * One received netlink message, copied out of the receive buffer so that it
 * outlives the arena the exchange ran in.
 *
 * @param payload everything after the nlmsghdr, native byte order, position 0
 */
record Message(int type, int flags, int seq, int pid, ByteBuffer payload) {

    /** Reads the messages of one datagram; {@code datagram} holds exactly the bytes received. */
    static List<Message> split(ByteBuffer datagram) {
        ByteBuffer in = datagram.order(ByteOrder.nativeOrder());
        List<Message> messages = new ArrayList<>();
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

    /** For NLMSG_ERROR and NLMSG_DONE: a negative errno, or 0 for an ack or a clean end of dump. */
    int errorCode() {
        return payload.remaining() >= 4 ? payload.getInt(0) : 0;
    }

    /**
     * NLMSGERR_ATTR_MSG of an error or done message, or null. An error carries
     * the failed request's header, then (unless NLM_F_CAPPED) its payload, then
     * the TLVs; a done message carries the TLVs right after its error code.
     */
    String extendedAck() {
        if (!hasFlag(Uapi.NLM_F_ACK_TLVS)) {
            return null;
        }
        int offset = 4;
        if (type == Uapi.NLMSG_ERROR) {
            offset += hasFlag(Uapi.NLM_F_CAPPED) ? Uapi.NLMSG_HDRLEN : (payload.getInt(4) + 3) & ~3;
        }
        if (offset > payload.limit()) {
            return null;
        }
        return Attributes.parse(payload, offset).string(Uapi.NLMSGERR_ATTR_MSG).filter(s -> !s.isEmpty()).orElse(null);
    }

    /** The attributes that follow a family header of {@code headerLength} bytes. */
    Attributes attributes(int headerLength) {
        return Attributes.parse(payload, (headerLength + 3) & ~3);
    }
}
