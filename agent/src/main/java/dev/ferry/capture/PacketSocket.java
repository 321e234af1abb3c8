package dev.ferry.capture;

import dev.ferry.linux.Errno;
import dev.ferry.linux.Libc;
import dev.ferry.net.MacAddress;
import dev.ferry.netns.NetNamespace;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * An AF_PACKET socket bound to the reading end of a capture device: every copy
 * that arrives there, as it arrived (packet taps run before tc ingress), and
 * nothing the device's two ends send of their own. Those are the kernel's: on a
 * node that forwards IPv6 (every dual-stack node) each end joins ff02::2 and
 * sends MLD reports for it when it comes up, which a capture would show as the
 * pod's whatever its filter (the filter runs in the datapath, on the pod's
 * packets). A socket filter drops them before they are queued: what the reading
 * end sends (PACKET_OUTGOING) and what arrives from the writing end with that
 * end's own MAC as its source (a copy carries the MACs of the packet it copies).
 * Reads wait at most {@link #POLL_MILLIS}, so a reader notices a capture that
 * ended without one.
 */
final class PacketSocket implements AutoCloseable {
    private static final int AF_PACKET = 17;
    private static final int SOCK_RAW = 3;
    private static final short ETH_P_ALL_BE = (short) 0x0300; // htons(ETH_P_ALL = 3)
    private static final int SOL_SOCKET = 1;
    private static final int SO_RCVBUFFORCE = 33;
    private static final int SO_RCVTIMEO = 20;
    private static final int SO_ATTACH_FILTER = 26;
    private static final int PACKET_OUTGOING = 4;
    // Classic BPF (linux/filter.h, linux/bpf_common.h).
    private static final int BPF_LD = 0x00;
    private static final int BPF_JMP = 0x05;
    private static final int BPF_RET = 0x06;
    private static final int BPF_W = 0x00;
    private static final int BPF_H = 0x08;
    private static final int BPF_ABS = 0x20;
    private static final int BPF_JEQ = 0x10;
    private static final int BPF_K = 0x00;
    /** The ancillary load of skb->pkt_type. */
    private static final int SKF_AD_OFF = -0x1000;
    private static final int SKF_AD_PKTTYPE = 4;
    private static final int EAGAIN = 11;
    /** 4 MiB of kernel buffer: a burst outruns one read per packet, and the socket drops rather than the datapath. */
    private static final int RECEIVE_BUFFER = 4 << 20;
    static final int POLL_MILLIS = 200;

    private final int fd;
    private volatile boolean closed;

    private PacketSocket(int fd) {
        this.fd = fd;
    }

    /**
     * Opens the socket in {@code node}'s namespace (an ifindex means something
     * only there) and binds it to the reading end {@code ifindex}; frames from
     * {@code writeEnd}, the device's other end, are left out.
     */
    static PacketSocket open(NetNamespace node, int ifindex, MacAddress writeEnd) {
        return node.run(() -> {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment state = Libc.callState(arena);
                // Protocol 0: the socket takes nothing until bind names the device and ETH_P_ALL. Opened with
                // ETH_P_ALL it would take every device's frames from here to bind, and read them as the capture's.
                int fd = Libc.socket(state, AF_PACKET, SOCK_RAW | Libc.SOCK_CLOEXEC, 0);
                if (fd < 0) {
                    int errno = Libc.errno(state);
                    throw new Errno("failed to open a packet socket to read the capture", errno,
                            errno == Errno.EPERM ? "needs CAP_NET_RAW" : null);
                }
                PacketSocket socket = new PacketSocket(fd);
                try {
                    socket.configure(arena, state, ifindex, writeEnd);
                } catch (RuntimeException e) {
                    socket.close();
                    throw e;
                }
                return socket;
            }
        });
    }

    private void configure(Arena arena, MemorySegment state, int ifindex, MacAddress writeEnd) {
        MemorySegment size = arena.allocateFrom(JAVA_INT, RECEIVE_BUFFER);
        if (Libc.setsockopt(state, fd, SOL_SOCKET, SO_RCVBUFFORCE, size, 4) != 0) {
            throw new Errno("failed to size the packet socket's buffer", Libc.errno(state));
        }
        MemorySegment timeout = arena.allocate(16, 8); // struct timeval
        timeout.set(JAVA_LONG, 8, POLL_MILLIS * 1000L);
        if (Libc.setsockopt(state, fd, SOL_SOCKET, SO_RCVTIMEO, timeout, 16) != 0) {
            throw new Errno("failed to set the packet socket's read timeout", Libc.errno(state));
        }
        // On before bind: every frame of the device that is read has passed it.
        MemorySegment program = ownFramesFilter(arena, writeEnd);
        MemorySegment fprog = arena.allocate(16, 8); // struct sock_fprog
        fprog.set(JAVA_SHORT, 0, (short) (program.byteSize() / 8));
        fprog.set(ADDRESS, 8, program);
        if (Libc.setsockopt(state, fd, SOL_SOCKET, SO_ATTACH_FILTER, fprog, 16) != 0) {
            throw new Errno("failed to attach the packet socket's filter", Libc.errno(state));
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

    /**
     * Classic BPF (struct sock_filter[]): drop what the reading end sends and
     * what carries the writing end's MAC as its source; keep the rest whole.
     */
    private static MemorySegment ownFramesFilter(Arena arena, MacAddress writeEnd) {
        byte[] mac = writeEnd.bytes();
        int high = ((mac[0] & 0xff) << 24) | ((mac[1] & 0xff) << 16) | ((mac[2] & 0xff) << 8) | (mac[3] & 0xff);
        int low = ((mac[4] & 0xff) << 8) | (mac[5] & 0xff);
        int[][] program = {
                {BPF_LD | BPF_W | BPF_ABS, 0, 0, SKF_AD_OFF + SKF_AD_PKTTYPE},
                {BPF_JMP | BPF_JEQ | BPF_K, 4, 0, PACKET_OUTGOING},   // -> drop
                {BPF_LD | BPF_W | BPF_ABS, 0, 0, 6},                  // source MAC, first 4 bytes
                {BPF_JMP | BPF_JEQ | BPF_K, 0, 3, high},             // else -> keep
                {BPF_LD | BPF_H | BPF_ABS, 0, 0, 10},                 // its last 2
                {BPF_JMP | BPF_JEQ | BPF_K, 0, 1, low},              // else -> keep
                {BPF_RET | BPF_K, 0, 0, 0},                           // drop
                {BPF_RET | BPF_K, 0, 0, -1},                          // keep, whole
        };
        MemorySegment filter = arena.allocate(8L * program.length, 4);
        for (int i = 0; i < program.length; i++) {
            filter.set(JAVA_SHORT, 8L * i, (short) program[i][0]);
            filter.set(JAVA_BYTE, 8L * i + 2, (byte) program[i][1]);
            filter.set(JAVA_BYTE, 8L * i + 3, (byte) program[i][2]);
            filter.set(JAVA_INT, 8L * i + 4, program[i][3]);
        }
        return filter;
    }

    static byte[] bytes(MemorySegment buffer, long length) {
        return buffer.asSlice(0, Math.min(length, buffer.byteSize())).toArray(JAVA_BYTE);
    }
}
