package dev.ferry.capture;

import dev.ferry.linux.Errno;
import dev.ferry.linux.Libc;
import dev.ferry.netns.NetNamespace;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * An AF_PACKET socket bound to one device: every frame that arrives there, as
 * it arrived (packet taps run before tc ingress). Reads wait at most
 * {@link #POLL_MILLIS}, so a reader notices a capture that ended without one.
 */
final class PacketSocket implements AutoCloseable {
    private static final int AF_PACKET = 17;
    private static final int SOCK_RAW = 3;
    private static final short ETH_P_ALL_BE = (short) 0x0300; // htons(ETH_P_ALL = 3)
    private static final int SOL_SOCKET = 1;
    private static final int SO_RCVBUFFORCE = 33;
    private static final int SO_RCVTIMEO = 20;
    private static final int EAGAIN = 11;
    /** 4 MiB of kernel buffer: a burst outruns one read per packet, and the socket drops rather than the datapath. */
    private static final int RECEIVE_BUFFER = 4 << 20;
    static final int POLL_MILLIS = 200;

    private final int fd;
    private volatile boolean closed;

    private PacketSocket(int fd) {
        this.fd = fd;
    }

    /** Opens the socket in {@code node}'s namespace (an ifindex means something only there) and binds it to the device. */
    static PacketSocket open(NetNamespace node, int ifindex) {
        return node.run(() -> {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment state = Libc.callState(arena);
                int fd = Libc.socket(state, AF_PACKET, SOCK_RAW | Libc.SOCK_CLOEXEC, Short.toUnsignedInt(ETH_P_ALL_BE));
                if (fd < 0) {
                    int errno = Libc.errno(state);
                    throw new Errno("failed to open a packet socket to read the capture", errno,
                            errno == Errno.EPERM ? "needs CAP_NET_RAW" : null);
                }
                PacketSocket socket = new PacketSocket(fd);
                try {
                    socket.configure(arena, state, ifindex);
                } catch (RuntimeException e) {
                    socket.close();
                    throw e;
                }
                return socket;
            }
        });
    }

    private void configure(Arena arena, MemorySegment state, int ifindex) {
        MemorySegment size = arena.allocateFrom(JAVA_INT, RECEIVE_BUFFER);
        if (Libc.setsockopt(state, fd, SOL_SOCKET, SO_RCVBUFFORCE, size, 4) != 0) {
            throw new Errno("failed to size the packet socket's buffer", Libc.errno(state));
        }
        MemorySegment timeout = arena.allocate(16, 8); // struct timeval
        timeout.set(JAVA_LONG, 8, POLL_MILLIS * 1000L);
        if (Libc.setsockopt(state, fd, SOL_SOCKET, SO_RCVTIMEO, timeout, 16) != 0) {
            throw new Errno("failed to set the packet socket's read timeout", Libc.errno(state));
        }
        MemorySegment address = arena.allocate(20, 4); // struct sockaddr_ll
        address.set(JAVA_SHORT, 0, (short) AF_PACKET);
        address.set(JAVA_SHORT, 2, ETH_P_ALL_BE);
        address.set(JAVA_INT, 4, ifindex);
        if (Libc.bind(state, fd, address, 20) != 0) {
            throw new Errno("failed to bind a packet socket to ifindex " + ifindex, Libc.errno(state));
        }
    }

    /**
     * Reads one frame into {@code buffer}: returns its full length (which may
     * exceed the buffer; the rest is cut), or -1 when none came within the poll
     * interval or the socket is closed.
     */
    long receive(MemorySegment buffer) {
        if (closed) {
            return -1;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Libc.callState(arena);
            long n = Libc.recvfrom(state, fd, buffer, buffer.byteSize(), Libc.MSG_TRUNC, MemorySegment.NULL, MemorySegment.NULL);
            if (n >= 0) {
                return n;
            }
            int errno = Libc.errno(state);
            if (errno == EAGAIN || errno == Libc.EINTR || closed) {
                return -1;
            }
            throw new Errno("failed to read the packet socket", errno);
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try (Arena arena = Arena.ofConfined()) {
            Libc.close(Libc.callState(arena), fd);
        }
    }

    static byte[] bytes(MemorySegment buffer, long length) {
        return buffer.asSlice(0, Math.min(length, buffer.byteSize())).toArray(JAVA_BYTE);
    }
}
