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

    static MethodHandle capturing(String name, FunctionDescriptor descriptor) {
        MemorySegment symbol = LIBC.find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol " + name));
        return LINKER.downcallHandle(symbol, descriptor, Linker.Option.captureCallState("errno"));
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

    // unsigned int if_nametoindex(const char *ifname);
    private static final MethodHandle if_nametoindex = capturing("if_nametoindex",
            FunctionDescriptor.of(JAVA_INT, ADDRESS));

    public static int if_nametoindex(MemorySegment state, MemorySegment ifname) {
        try {
            return (int) if_nametoindex.invokeExact(state, ifname);
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
