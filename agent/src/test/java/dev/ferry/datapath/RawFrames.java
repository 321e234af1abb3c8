package dev.ferry.datapath;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * Sends arbitrary Ethernet frames out of a device with an AF_PACKET socket, for
 * frames no socket of the IP stack would build (truncated headers). Call it on a
 * thread inside the namespace that owns the device.
 */
final class RawFrames {
    private RawFrames() {}

    private static final int AF_PACKET = 17;
    private static final int SOCK_RAW = 3;
    private static final short ETH_P_ALL_BE = (short) 0x0300; // htons(0x0003)

    // struct sockaddr_ll (linux/if_packet.h)
    private static final StructLayout SOCKADDR_LL = MemoryLayout.structLayout(
            JAVA_SHORT.withName("sll_family"),
            JAVA_SHORT.withName("sll_protocol"),
            JAVA_INT.withName("sll_ifindex"),
            JAVA_SHORT.withName("sll_hatype"),
            JAVA_BYTE.withName("sll_pkttype"),
            JAVA_BYTE.withName("sll_halen"),
            MemoryLayout.sequenceLayout(8, JAVA_BYTE).withName("sll_addr"));

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle SOCKET = LINKER.downcallHandle(
            LINKER.defaultLookup().find("socket").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle SENDTO = LINKER.downcallHandle(
            LINKER.defaultLookup().find("sendto").orElseThrow(),
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle CLOSE = LINKER.downcallHandle(
            LINKER.defaultLookup().find("close").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT));

    /** Sends {@code frame} as-is out of the device {@code ifindex} of the calling thread's namespace. */
    static void send(int ifindex, byte[] frame) throws Throwable {
        int fd = (int) SOCKET.invokeExact(AF_PACKET, SOCK_RAW, (int) ETH_P_ALL_BE);
        if (fd < 0) {
            throw new IllegalStateException("socket(AF_PACKET) failed");
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment addr = arena.allocate(SOCKADDR_LL);
            addr.set(JAVA_SHORT, 0, (short) AF_PACKET);
            addr.set(JAVA_SHORT, 2, ETH_P_ALL_BE);
            addr.set(JAVA_INT, 4, ifindex);
            MemorySegment buf = arena.allocateFrom(JAVA_BYTE, frame);
            long sent = (long) SENDTO.invokeExact(fd, buf, (long) frame.length, 0, addr, (int) SOCKADDR_LL.byteSize());
            if (sent != frame.length) {
                throw new IllegalStateException("sendto(AF_PACKET) sent " + sent + " of " + frame.length + " bytes");
            }
        } finally {
            int ignored = (int) CLOSE.invokeExact(fd);
        }
    }
}
