package dev.ferry.datapath;

import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Optional;

import static dev.ferry.datapath.MapLayouts.MONITOR_EVENT;
import static dev.ferry.datapath.MapLayouts.offset;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * One decision the datapath reported (a {@code struct monitor_event} of
 * ferry_events, lib/monitor.h), decoded.
 *
 * @param timestampNanos CLOCK_MONOTONIC when the program ran
 * @param source         the packet's source address; empty when it is not IP
 * @param protocol       IP protocol number, 0 when not IP
 * @param sourcePort     TCP/UDP only, else 0
 * @param ifindex        the device the program ran on
 * @param sourceEndpoint endpoint id of the sending local pod, 0 when none
 * @param destinationEndpoint endpoint id of the local pod delivered into, 0 when none
 * @param length         the packet's length as the program got it
 */
public record MonitorEvent(long timestampNanos, Direction direction, Verdict verdict, Reason reason,
                           Optional<InetAddress> source, Optional<InetAddress> destination, int protocol,
                           int sourcePort, int destinationPort, int ifindex, int sourceEndpoint,
                           int destinationEndpoint, int length) {

    static final int SIZE = (int) MONITOR_EVENT.byteSize();
    private static final long TIMESTAMP = offset(MONITOR_EVENT, "timestamp");
    private static final long SADDR = offset(MONITOR_EVENT, "saddr");
    private static final long DADDR = offset(MONITOR_EVENT, "daddr");
    private static final long IFINDEX = offset(MONITOR_EVENT, "ifindex");
    private static final long SRC_ENDPOINT = offset(MONITOR_EVENT, "src_endpoint");
    private static final long DST_ENDPOINT = offset(MONITOR_EVENT, "dst_endpoint");
    private static final long LEN = offset(MONITOR_EVENT, "len");
    private static final long REASON = offset(MONITOR_EVENT, "reason");
    private static final long DIRECTION = offset(MONITOR_EVENT, "direction");
    private static final long VERDICT = offset(MONITOR_EVENT, "verdict");
    private static final long FAMILY = offset(MONITOR_EVENT, "family");
    private static final long PROTOCOL = offset(MONITOR_EVENT, "protocol");
    private static final long SPORT = offset(MONITOR_EVENT, "sport");
    private static final long DPORT = offset(MONITOR_EVENT, "dport");
    private static final java.lang.foreign.ValueLayout.OfShort NET_SHORT =
            JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN).withByteAlignment(1);

    /**
     * Decodes one ring buffer record; fails on a record too short, or with a
     * direction, verdict or reason this agent does not know (a newer program's).
     */
    public static MonitorEvent decode(byte[] record) {
        if (record.length < SIZE) {
            throw new IllegalArgumentException("a monitor event has " + SIZE + " bytes, got " + record.length);
        }
        MemorySegment e = MemorySegment.ofArray(record);
        int family = Byte.toUnsignedInt(e.get(JAVA_BYTE, FAMILY));
        return new MonitorEvent(
                e.get(JAVA_LONG.withByteAlignment(1), TIMESTAMP),
                Direction.of(Byte.toUnsignedInt(e.get(JAVA_BYTE, DIRECTION))),
                Verdict.of(Byte.toUnsignedInt(e.get(JAVA_BYTE, VERDICT))),
                Reason.of(Short.toUnsignedInt(e.get(JAVA_SHORT.withByteAlignment(1), REASON))),
                address(record, (int) SADDR, family), address(record, (int) DADDR, family),
                Byte.toUnsignedInt(e.get(JAVA_BYTE, PROTOCOL)),
                Short.toUnsignedInt(e.get(NET_SHORT, SPORT)),
                Short.toUnsignedInt(e.get(NET_SHORT, DPORT)),
                e.get(JAVA_INT.withByteAlignment(1), IFINDEX),
                e.get(JAVA_INT.withByteAlignment(1), SRC_ENDPOINT),
                e.get(JAVA_INT.withByteAlignment(1), DST_ENDPOINT),
                e.get(JAVA_INT.withByteAlignment(1), LEN));
    }

    private static Optional<InetAddress> address(byte[] record, int at, int family) {
        int length = switch (family) {
            case MapLayouts.FAMILY_IPV4 -> 4;
            case MapLayouts.FAMILY_IPV6 -> 16;
            default -> 0;
        };
        if (length == 0) {
            return Optional.empty();
        }
        try {
            return Optional.of(InetAddress.getByAddress(Arrays.copyOfRange(record, at, at + length)));
        } catch (UnknownHostException e) {
            throw new AssertionError("4 and 16 bytes are addresses", e);
        }
    }
}
