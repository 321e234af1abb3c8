package dev.ferry.netlink;

import dev.ferry.linux.Errno;
import dev.ferry.linux.Libc;
import dev.ferry.netns.NetNamespace;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The neighbour (ARP and NDP) notifications of one network namespace: a
 * NETLINK_ROUTE socket of its own in the RTNLGRP_NEIGH group, read by one
 * platform thread that hands each RTM_NEWNEIGH and RTM_DELNEIGH, decoded, to the
 * consumer, in the kernel's order. When the kernel had to drop notifications
 * (the socket's buffer was full) the consumer gets {@link NeighbourEvent.Resync}
 * instead of them and of those still queued, and must read the table again.
 * Entries nobody manages (proxy, bridge fdb, the kernel's multicast NOARP ones)
 * are skipped, as {@link RtNetlink#neighbours} skips them.
 *
 * <p>The consumer runs on the reading thread: while it runs, notifications wait
 * in the socket's buffer. An exception it throws is logged and the next event
 * delivered. Closing wakes the thread (an eventfd it polls beside the socket),
 * waits for it to end and only then closes both descriptors, so no read ever
 * lands on a reused descriptor and the consumer is never called afterwards.
 */
public final class NeighbourEvents implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NeighbourEvents.class);
    private static final int SOCKADDR_NL_LEN = 12;
    /** One notification is a few hundred bytes; a datagram never holds more than one. */
    private static final int DATAGRAM_BUFFER = 64 * 1024;
    /** What the kernel may hold for us while the consumer works: thousands of notifications. */
    static final int SOCKET_BUFFER = 4 << 20;
    private static final int POLLFD_SIZE = 8;

    private final int socket;
    private final int wakeup;
    private final Consumer<NeighbourEvent> consumer;
    private final Thread thread;
    /** Set by close; the reader stops at the next event. Not a lock: the consumer may close while another thread does. */
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Closed from the consumer: the reader closes the descriptors on its way out. */
    private volatile boolean readerCloses;

    private NeighbourEvents(int socket, int wakeup, Consumer<NeighbourEvent> consumer, String namespace) {
        this.socket = socket;
        this.wakeup = wakeup;
        this.consumer = consumer;
        this.thread = Thread.ofPlatform().name("neighbour-events " + namespace).daemon().unstarted(this::run);
    }

    /** Subscribes in {@code namespace} (the caller's thread stays where it is) and starts delivering. */
    public static NeighbourEvents open(NetNamespace namespace, Consumer<NeighbourEvent> consumer) {
        return open(namespace, consumer, SOCKET_BUFFER);
    }

    /** With a receive buffer of {@code socketBuffer} bytes (the kernel doubles it and keeps a floor of its own). */
    static NeighbourEvents open(NetNamespace namespace, Consumer<NeighbourEvent> consumer, int socketBuffer) {
        int socket = namespace.run(() -> subscribe(socketBuffer));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Libc.callState(arena);
            int wakeup = Libc.eventfd(state, 0, Libc.EFD_CLOEXEC);
            if (wakeup < 0) {
                int errno = Libc.errno(state);
                Libc.close(state, socket);
                throw new Errno("failed to create the eventfd that stops the neighbour notifications' reader", errno);
            }
            NeighbourEvents events = new NeighbourEvents(socket, wakeup, consumer, namespace.path().toString());
            events.thread.start();
            return events;
        }
    }

    /** A NETLINK_ROUTE socket in the calling thread's namespace, a member of RTNLGRP_NEIGH. */
    private static int subscribe(int socketBuffer) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Libc.callState(arena);
            int fd = Libc.socket(state, Libc.AF_NETLINK, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, Uapi.NETLINK_ROUTE);
            if (fd < 0) {
                throw new Errno("failed to open a NETLINK_ROUTE socket for neighbour notifications", Libc.errno(state));
            }
            try {
                MemorySegment size = arena.allocateFrom(JAVA_INT, socketBuffer);
                // Past rmem_max where CAP_NET_ADMIN allows (the agent has it); within it otherwise.
                if (Libc.setsockopt(state, fd, Libc.SOL_SOCKET, Libc.SO_RCVBUFFORCE, size, 4) != 0
                        && Libc.setsockopt(state, fd, Libc.SOL_SOCKET, Libc.SO_RCVBUF, size, 4) != 0) {
                    throw new Errno("failed to size the neighbour notifications' socket buffer", Libc.errno(state));
                }
                MemorySegment addr = arena.allocate(SOCKADDR_NL_LEN, 4);
                addr.set(JAVA_SHORT, 0, (short) Libc.AF_NETLINK);
                if (Libc.bind(state, fd, addr, SOCKADDR_NL_LEN) != 0) {
                    throw new Errno("failed to bind the neighbour notifications' socket", Libc.errno(state));
                }
                if (Libc.setsockopt(state, fd, Uapi.SOL_NETLINK, Uapi.NETLINK_ADD_MEMBERSHIP,
                        arena.allocateFrom(JAVA_INT, Uapi.RTNLGRP_NEIGH), 4) != 0) {
                    throw new Errno("failed to join RTNLGRP_NEIGH", Libc.errno(state));
                }
                return fd;
            } catch (RuntimeException e) {
                Libc.close(state, fd);
                throw e;
            }
        }
    }

    private void run() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Libc.callState(arena);
            MemorySegment fds = arena.allocate(2 * POLLFD_SIZE, 4);
            fds.set(JAVA_INT, 0, socket);
            fds.set(JAVA_SHORT, 4, Libc.POLLIN);
            fds.set(JAVA_INT, POLLFD_SIZE, wakeup);
            fds.set(JAVA_SHORT, POLLFD_SIZE + 4, Libc.POLLIN);
            MemorySegment buffer = arena.allocate(DATAGRAM_BUFFER);
            while (!closed.get()) { // checked before waiting: a consumer that closed wrote no wakeup
                if (Libc.poll(state, fds, 2, -1) < 0) {
                    int errno = Libc.errno(state);
                    if (errno == Libc.EINTR) {
                        continue;
                    }
                    throw new Errno("failed to wait for neighbour notifications", errno);
                }
                if (fds.get(JAVA_SHORT, POLLFD_SIZE + 6) != 0) {
                    return;
                }
                if (fds.get(JAVA_SHORT, 6) != 0) {
                    drain(state, buffer);
                }
            }
        } catch (RuntimeException e) {
            // Nothing is delivered any more; the consumer's own reads of the table are all it has.
            log.error("event=neighbour_events_failed thread=\"{}\" cause={}", thread.getName(), e.toString());
        } finally {
            if (readerCloses) {
                closeDescriptors();
            }
        }
    }

    /** Reads every datagram waiting, without blocking. */
    private void drain(MemorySegment state, MemorySegment buffer) {
        while (!closed.get()) {
            long n = receive(state, buffer);
            if (n == -Libc.EAGAIN) {
                return;
            }
            // A datagram cut by the buffer is never seen (one neighbour per datagram); lost all the same.
            if (n == -Libc.ENOBUFS || n > buffer.byteSize()) {
                discardQueued(state, buffer);
                deliver(new NeighbourEvent.Resync());
                return;
            }
            if (n < 0) {
                throw new Errno("failed to receive neighbour notifications", (int) -n);
            }
            for (Message m : Message.split(ByteBuffer.wrap(buffer.asSlice(0, n).toArray(JAVA_BYTE)))) {
                NeighbourEvent event = decode(m);
                if (event != null) {
                    deliver(event);
                }
            }
        }
    }

    /**
     * After an overrun, what is still queued is older than the notifications
     * the kernel dropped: delivered after the consumer's fresh read, it would
     * undo what that read found (a REACHABLE queued before a lost FAILED). The
     * socket takes notifications again once it is empty, so all that follows
     * is newer than the consumer's read and may be delivered.
     */
    private void discardQueued(MemorySegment state, MemorySegment buffer) {
        for (long n = receive(state, buffer); n != -Libc.EAGAIN; n = receive(state, buffer)) {
            if (n < 0 && n != -Libc.ENOBUFS) {
                throw new Errno("failed to receive neighbour notifications", (int) -n);
            }
        }
    }

    /** One datagram without waiting: its full length (MSG_TRUNC: more than the buffer when cut), or -errno. */
    private long receive(MemorySegment state, MemorySegment buffer) {
        while (true) {
            long n = Libc.recvfrom(state, socket, buffer, buffer.byteSize(), Libc.MSG_TRUNC | Libc.MSG_DONTWAIT,
                    MemorySegment.NULL, MemorySegment.NULL);
            if (n >= 0) {
                return n;
            }
            int errno = Libc.errno(state);
            if (errno != Libc.EINTR) {
                return -errno;
            }
        }
    }

    static NeighbourEvent decode(Message m) {
        if (m.type() != Uapi.RTM_NEWNEIGH && m.type() != Uapi.RTM_DELNEIGH) {
            return null;
        }
        Neighbour n = NeighbourMessages.parse(m);
        if (n == null) {
            return null;
        }
        return m.type() == Uapi.RTM_NEWNEIGH ? new NeighbourEvent.Changed(n) : new NeighbourEvent.Deleted(n);
    }

    private void deliver(NeighbourEvent event) {
        try {
            consumer.accept(event);
        } catch (RuntimeException e) {
            log.warn("event=neighbour_event_failed event={} cause={}", event, e.toString());
        }
    }

    /** The reading thread (for tests: it has ended once close returns). */
    Thread thread() {
        return thread;
    }

    /** The subscribed socket's descriptor (for tests: it is closed once close returns). */
    int socketFd() {
        return socket;
    }

    /**
     * Stops the thread and closes the socket. Called from the consumer itself
     * (on the reading thread) it cannot wait: the thread ends, and closes the
     * descriptors, when the consumer returns.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        if (Thread.currentThread() == thread) {
            readerCloses = true;
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Libc.callState(arena);
            if (Libc.write(state, wakeup, arena.allocateFrom(JAVA_LONG, 1L), 8) != 8) {
                log.error("event=neighbour_events_wakeup_failed errno={}", Libc.errno(state));
            }
        }
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true; // the descriptors may close only once the reader is gone
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        closeDescriptors();
    }

    private void closeDescriptors() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Libc.callState(arena);
            Libc.close(state, socket);
            Libc.close(state, wakeup);
        }
    }
}
