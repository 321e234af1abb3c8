package dev.ferry.netlink;

import dev.ferry.linux.Errno;
import dev.ferry.linux.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * One NETLINK_ROUTE socket and the request/reply exchange on it: numbering,
 * sending, reading replies up to the ack or the end of a dump, turning
 * NLMSG_ERROR into {@link NetlinkException}.
 *
 * <p>The kernel ties a socket to the network namespace of the thread that
 * creates it, for good; after that any thread may use it. Exchanges are
 * serialised, because replies are matched to requests by reading in order.
 */
final class NetlinkSocket implements AutoCloseable {
    private static final int SOCKADDR_NL_LEN = 12;
    /**
     * The kernel builds dump datagrams of at most 32 KiB (netlink_recvmsg caps
     * max_recvmsg_len there); twice that leaves room for a large single reply.
     * A datagram that still does not fit is an error, never silently cut.
     */
    private static final int RECEIVE_BUFFER = 64 * 1024;
    private static final int DUMP_ATTEMPTS = 10;

    private final int fd;
    private final int portId;
    private final ReentrantLock lock = new ReentrantLock();
    private int sequence;
    private boolean closed;

    private NetlinkSocket(int fd, int portId) {
        this.fd = fd;
        this.portId = portId;
        // Distinct starting points keep replies to a previous socket's requests from ever matching.
        this.sequence = (int) (System.nanoTime() & 0x3fffffff);
    }

    /** Opens a socket in the calling thread's network namespace. */
    static NetlinkSocket open() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Libc.callState(arena);
            int fd = Libc.socket(state, Libc.AF_NETLINK, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, Uapi.NETLINK_ROUTE);
            if (fd < 0) {
                throw new Errno("failed to open a NETLINK_ROUTE socket", Libc.errno(state));
            }
            try {
                // Errors then carry the kernel's explanation, and do not echo our request back.
                enable(arena, state, fd, Uapi.NETLINK_EXT_ACK, "NETLINK_EXT_ACK");
                enable(arena, state, fd, Uapi.NETLINK_CAP_ACK, "NETLINK_CAP_ACK");
                MemorySegment addr = sockaddr(arena, 0);
                if (Libc.bind(state, fd, addr, SOCKADDR_NL_LEN) != 0) {
                    throw new Errno("failed to bind the NETLINK_ROUTE socket", Libc.errno(state));
                }
                MemorySegment len = arena.allocateFrom(JAVA_INT, SOCKADDR_NL_LEN);
                if (Libc.getsockname(state, fd, addr, len) != 0) {
                    throw new Errno("failed to read the NETLINK_ROUTE socket's port id", Libc.errno(state));
                }
                return new NetlinkSocket(fd, addr.get(JAVA_INT, 4));
            } catch (RuntimeException e) {
                Libc.close(state, fd);
                throw e;
            }
        }
    }

    /**
     * Sends a request (flags must include NLM_F_ACK) and returns the data
     * messages that came before the kernel's ack. An error whose errno is
     * {@code notFoundErrno} becomes {@link NetlinkException.NotFound}.
     */
    List<Message> request(byte[] request, Supplier<String> operation, int notFoundErrno) {
        return exchange(request, operation, notFoundErrno).messages();
    }

    /** Sends a dump request and returns all parts, starting over when the kernel says the dump was inconsistent. */
    List<Message> dump(byte[] request, Supplier<String> operation) {
        for (int attempt = 1; ; attempt++) {
            Reply reply = exchange(request, operation, 0);
            if (!reply.interrupted()) {
                return reply.messages();
            }
            if (attempt == DUMP_ATTEMPTS) {
                throw new IllegalStateException(operation.get() + ": the table kept changing during "
                        + DUMP_ATTEMPTS + " dumps (NLM_F_DUMP_INTR)");
            }
        }
    }

    private record Reply(List<Message> messages, boolean interrupted) {}

    private Reply exchange(byte[] request, Supplier<String> operation, int notFoundErrno) {
        lock.lock();
        try (Arena arena = Arena.ofConfined()) {
            if (closed) {
                throw new IllegalStateException("netlink socket is closed");
            }
            int seq = ++sequence;
            MemorySegment state = Libc.callState(arena);
            send(arena, state, request, seq);
            MemorySegment buffer = arena.allocate(RECEIVE_BUFFER);
            List<Message> messages = new ArrayList<>();
            boolean interrupted = false;
            while (true) {
                for (Message m : Message.split(receive(state, buffer))) {
                    if (m.seq() != seq || m.pid() != portId) {
                        continue; // left over from an exchange that was abandoned half-way
                    }
                    switch (m.type()) {
                        case Uapi.NLMSG_NOOP -> { }
                        case Uapi.NLMSG_ERROR, Uapi.NLMSG_DONE -> {
                            int error = m.errorCode();
                            if (error < 0) {
                                throw failure(operation.get(), -error, m.extendedAck(), notFoundErrno);
                            }
                            return new Reply(messages, interrupted);
                        }
                        case Uapi.NLMSG_OVERRUN -> throw new IllegalStateException(
                                operation.get() + ": netlink reported lost data (NLMSG_OVERRUN)");
                        default -> {
                            interrupted |= m.hasFlag(Uapi.NLM_F_DUMP_INTR);
                            messages.add(m);
                        }
                    }
                }
            }
        } finally {
            lock.unlock();
        }
    }

    private static NetlinkException failure(String operation, int errno, String kernelMessage, int notFoundErrno) {
        return errno == notFoundErrno
                ? new NetlinkException.NotFound(operation, errno, kernelMessage)
                : new NetlinkException(operation, errno, kernelMessage);
    }

    private void send(Arena arena, MemorySegment state, byte[] request, int seq) {
        MemorySegment message = arena.allocate(request.length, 4);
        MemorySegment.copy(request, 0, message, JAVA_BYTE, 0, request.length);
        message.set(JAVA_INT, 8, seq);
        message.set(JAVA_INT, 12, portId);
        MemorySegment kernel = sockaddr(arena, 0);
        while (true) {
            long sent = Libc.sendto(state, fd, message, request.length, 0, kernel, SOCKADDR_NL_LEN);
            if (sent == request.length) {
                return;
            }
            int errno = sent < 0 ? Libc.errno(state) : 0;
            if (errno != Libc.EINTR) {
                throw errno != 0
                        ? new Errno("failed to send a netlink request", errno)
                        : new IllegalStateException("netlink request sent in part: " + sent + " of " + request.length);
            }
        }
    }

    /** One datagram, copied to the heap. MSG_TRUNC makes recvfrom report its real size, so a cut one is seen. */
    private ByteBuffer receive(MemorySegment state, MemorySegment buffer) {
        while (true) {
            long n = Libc.recvfrom(state, fd, buffer, buffer.byteSize(), Libc.MSG_TRUNC,
                    MemorySegment.NULL, MemorySegment.NULL);
            if (n < 0) {
                int errno = Libc.errno(state);
                if (errno == Libc.EINTR) {
                    continue;
                }
                throw new Errno("failed to receive a netlink reply", errno);
            }
            if (n > buffer.byteSize()) {
                throw new IllegalStateException("netlink reply of " + n + " bytes exceeds the "
                        + buffer.byteSize() + "-byte receive buffer");
            }
            return ByteBuffer.wrap(buffer.asSlice(0, n).toArray(JAVA_BYTE));
        }
    }

    private static void enable(Arena arena, MemorySegment state, int fd, int option, String name) {
        if (Libc.setsockopt(state, fd, Uapi.SOL_NETLINK, option, arena.allocateFrom(JAVA_INT, 1), 4) != 0) {
            throw new Errno("failed to set " + name + " on the netlink socket", Libc.errno(state));
        }
    }

    /** struct sockaddr_nl { sa_family_t nl_family; unsigned short nl_pad; __u32 nl_pid; __u32 nl_groups; } */
    private static MemorySegment sockaddr(Arena arena, int pid) {
        MemorySegment addr = arena.allocate(SOCKADDR_NL_LEN, 4);
        addr.set(JAVA_SHORT, 0, (short) Libc.AF_NETLINK);
        addr.set(JAVA_INT, 4, pid);
        return addr;
    }

    @Override
    public void close() {
        lock.lock();
        try (Arena arena = Arena.ofConfined()) {
            if (!closed) {
                closed = true;
                Libc.close(Libc.callState(arena), fd);
            }
        } finally {
            lock.unlock();
        }
    }
}
