package dev.ferry.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Raw bindings to the few libc functions Ferry calls, in jextract's style: one
 * handle per function with its descriptor beside it, a wrapper named after the C
 * function. Every handle captures errno; wrappers return the raw result and
 * leave the check to the caller, who knows what failed ({@link Errno}).
 */
public final class Libc {
    private Libc() {}

    public static final int O_RDONLY = 0;
    public static final int O_CLOEXEC = 0x80000;
    public static final int CLONE_NEWNET = 0x40000000;
    /** open(2): a FIFO opens at once instead of waiting for a writer. */
    public static final int O_NONBLOCK = 0x800;
    /** ioctl_ns(2): _IO(NSIO = 0xb7, 0x3), the CLONE_NEW* type of a namespace file; ENOTTY on any other file. */
    public static final long NS_GET_NSTYPE = 0xb703L;

    public static final int AF_NETLINK = 16;
    public static final int SOCK_RAW = 3;
    public static final int SOCK_CLOEXEC = O_CLOEXEC;
    public static final int MSG_TRUNC = 0x20;
    public static final int MSG_DONTWAIT = 0x40;
    public static final int SOL_SOCKET = 1;
    public static final int SO_RCVBUF = 8;
    /** SO_RCVBUF past net.core.rmem_max; needs CAP_NET_ADMIN. */
    public static final int SO_RCVBUFFORCE = 33;
    public static final int EFD_CLOEXEC = O_CLOEXEC;
    public static final short POLLIN = 0x1;
    public static final int EINTR = 4;
    public static final int EAGAIN = 11;
    /** On a netlink socket: the kernel dropped notifications that did not fit the receive buffer. */
    public static final int ENOBUFS = 105;

    static final Linker LINKER = Linker.nativeLinker();
    static final SymbolLookup LIBC = LINKER.defaultLookup();
    static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CALL_STATE.varHandle(java.lang.foreign.MemoryLayout.PathElement.groupElement("errno"));

    /** Allocates the buffer a capturing call writes errno into. */
    public static MemorySegment callState(Arena arena) {
        return arena.allocate(CALL_STATE);
    }

    /** errno as captured by the last call that wrote {@code state}. */
    public static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    static MethodHandle capturing(String name, FunctionDescriptor descriptor, Linker.Option... more) {
        MemorySegment symbol = LIBC.find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol " + name));
        Linker.Option[] options = java.util.Arrays.copyOf(more, more.length + 1);
        options[more.length] = Linker.Option.captureCallState("errno");
        return LINKER.downcallHandle(symbol, descriptor, options);
    }

    // int ioctl(int fd, unsigned long request, ...); the one argument after request is variadic
    private static final MethodHandle ioctl = capturing("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), Linker.Option.firstVariadicArg(2));

    /** ioctl(2) for requests that take no argument or an integer one. */
    public static int ioctl(MemorySegment state, int fd, long request, long argument) {
        try {
            return (int) ioctl.invokeExact(state, fd, request, argument);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int open(const char *pathname, int flags);
    private static final MethodHandle open = capturing("open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));

    public static int open(MemorySegment state, MemorySegment path, int flags) {
        try {
            return (int) open.invokeExact(state, path, flags);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int close(int fd);
    private static final MethodHandle close = capturing("close",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT));

    public static int close(MemorySegment state, int fd) {
        try {
            return (int) close.invokeExact(state, fd);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int setns(int fd, int nstype);
    private static final MethodHandle setns = capturing("setns",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));

    public static int setns(MemorySegment state, int fd, int nstype) {
        try {
            return (int) setns.invokeExact(state, fd, nstype);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int socket(int domain, int type, int protocol);
    private static final MethodHandle socket = capturing("socket",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));

    public static int socket(MemorySegment state, int domain, int type, int protocol) {
        try {
            return (int) socket.invokeExact(state, domain, type, protocol);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int bind(int sockfd, const struct sockaddr *addr, socklen_t addrlen);
    private static final MethodHandle bind = capturing("bind",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));

    public static int bind(MemorySegment state, int fd, MemorySegment addr, int addrlen) {
        try {
            return (int) bind.invokeExact(state, fd, addr, addrlen);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int getsockname(int sockfd, struct sockaddr *addr, socklen_t *addrlen);
    private static final MethodHandle getsockname = capturing("getsockname",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));

    public static int getsockname(MemorySegment state, int fd, MemorySegment addr, MemorySegment addrlen) {
        try {
            return (int) getsockname.invokeExact(state, fd, addr, addrlen);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int setsockopt(int sockfd, int level, int optname, const void *optval, socklen_t optlen);
    private static final MethodHandle setsockopt = capturing("setsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));

    public static int setsockopt(MemorySegment state, int fd, int level, int optname, MemorySegment optval, int optlen) {
        try {
            return (int) setsockopt.invokeExact(state, fd, level, optname, optval, optlen);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // ssize_t sendto(int sockfd, const void *buf, size_t len, int flags,
    //                const struct sockaddr *dest_addr, socklen_t addrlen);
    private static final MethodHandle sendto = capturing("sendto",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));

    public static long sendto(MemorySegment state, int fd, MemorySegment buf, long len, int flags,
                              MemorySegment destAddr, int addrlen) {
        try {
            return (long) sendto.invokeExact(state, fd, buf, len, flags, destAddr, addrlen);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // ssize_t recvfrom(int sockfd, void *buf, size_t len, int flags,
    //                  struct sockaddr *src_addr, socklen_t *addrlen);
    private static final MethodHandle recvfrom = capturing("recvfrom",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS));

    public static long recvfrom(MemorySegment state, int fd, MemorySegment buf, long len, int flags,
                                MemorySegment srcAddr, MemorySegment addrlen) {
        try {
            return (long) recvfrom.invokeExact(state, fd, buf, len, flags, srcAddr, addrlen);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int poll(struct pollfd *fds, nfds_t nfds, int timeout);  struct pollfd { int fd; short events; short revents; }
    private static final MethodHandle poll = capturing("poll",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));

    public static int poll(MemorySegment state, MemorySegment fds, long nfds, int timeout) {
        try {
            return (int) poll.invokeExact(state, fds, nfds, timeout);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int eventfd(unsigned int initval, int flags);
    private static final MethodHandle eventfd = capturing("eventfd",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));

    public static int eventfd(MemorySegment state, int initval, int flags) {
        try {
            return (int) eventfd.invokeExact(state, initval, flags);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // ssize_t write(int fd, const void *buf, size_t count);
    private static final MethodHandle write = capturing("write",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));

    public static long write(MemorySegment state, int fd, MemorySegment buf, long count) {
        try {
            return (long) write.invokeExact(state, fd, buf, count);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // char *strerror_r(int errnum, char *buf, size_t buflen);  (GNU variant: returns the message)
    private static final MethodHandle strerror_r = LINKER.downcallHandle(
            LIBC.find("strerror_r").orElseThrow(),
            FunctionDescriptor.of(ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG));

    public static String strerror(int errnum) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(256);
            MemorySegment msg = (MemorySegment) strerror_r.invokeExact(errnum, buf, 256L);
            return msg.reinterpret(256).getString(0);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
