package dev.ferry.testing;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.atomic.AtomicReference;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Runs code on a platform thread of its own without one capability in its
 * effective set (Linux capabilities are per thread; the permitted set keeps it,
 * so nothing else changes). How a test makes the kernel refuse one call for
 * real: rtnetlink checks the sending task's CAP_NET_ADMIN on every change.
 */
public final class ThreadCapabilities {
    public static final int CAP_NET_ADMIN = 12;

    /** _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set. */
    private static final int VERSION_3 = 0x20080522;
    private static final MethodHandle CAPGET;
    private static final MethodHandle CAPSET;

    static {
        Linker linker = Linker.nativeLinker();
        FunctionDescriptor fd = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS);
        CAPGET = linker.downcallHandle(linker.defaultLookup().find("capget").orElseThrow(), fd);
        CAPSET = linker.downcallHandle(linker.defaultLookup().find("capset").orElseThrow(), fd);
    }

    private ThreadCapabilities() {
    }

    /** Runs {@code task} on a new thread whose effective set lacks {@code capability}; rethrows what it throws. */
    public static void without(int capability, Runnable task) {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread thread = Thread.ofPlatform().name("without-cap-" + capability).start(() -> {
            try {
                dropEffective(capability);
                task.run();
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        Throwable t = failure.get();
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        if (t != null) {
            throw new IllegalStateException(t);
        }
    }

    private static void dropEffective(int capability) throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment header = arena.allocate(8, 4);
            header.set(JAVA_INT, 0, VERSION_3);
            header.set(JAVA_INT, 4, 0); // this thread
            MemorySegment data = arena.allocate(24, 4); // { effective, permitted, inheritable } x 2
            if ((int) CAPGET.invokeExact(header, data) != 0) {
                throw new IllegalStateException("capget failed");
            }
            int word = capability / 32 * 12;
            data.set(JAVA_INT, word, data.get(JAVA_INT, word) & ~(1 << (capability % 32)));
            if ((int) CAPSET.invokeExact(header, data) != 0) {
                throw new IllegalStateException("capset failed");
            }
        }
    }
}
