package dev.ferry.bpf.libbpf;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** {@code struct bpf_test_run_opts} (libbpf 1.1, bpf.h). */
public final class BpfTestRunOpts {
    private BpfTestRunOpts() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("sz"),
            ADDRESS.withName("data_in"),
            ADDRESS.withName("data_out"),
            JAVA_INT.withName("data_size_in"),
            JAVA_INT.withName("data_size_out"),
            ADDRESS.withName("ctx_in"),
            ADDRESS.withName("ctx_out"),
            JAVA_INT.withName("ctx_size_in"),
            JAVA_INT.withName("ctx_size_out"),
            JAVA_INT.withName("retval"),
            JAVA_INT.withName("repeat"),
            JAVA_INT.withName("duration"),
            JAVA_INT.withName("flags"),
            JAVA_INT.withName("cpu"),
            JAVA_INT.withName("batch_size")
    ).withName("bpf_test_run_opts");

    private static final VarHandle sz = LAYOUT.varHandle(groupElement("sz"));
    private static final VarHandle data_in = LAYOUT.varHandle(groupElement("data_in"));
    private static final VarHandle data_out = LAYOUT.varHandle(groupElement("data_out"));
    private static final VarHandle data_size_in = LAYOUT.varHandle(groupElement("data_size_in"));
    private static final VarHandle data_size_out = LAYOUT.varHandle(groupElement("data_size_out"));
    private static final VarHandle ctx_in = LAYOUT.varHandle(groupElement("ctx_in"));
    private static final VarHandle ctx_size_in = LAYOUT.varHandle(groupElement("ctx_size_in"));
    private static final VarHandle retval = LAYOUT.varHandle(groupElement("retval"));
    private static final VarHandle repeat = LAYOUT.varHandle(groupElement("repeat"));
    private static final VarHandle duration = LAYOUT.varHandle(groupElement("duration"));

    /** Zeroed options with {@code sz} set, as LIBBPF_OPTS does. */
    public static MemorySegment allocate(Arena arena) {
        MemorySegment opts = arena.allocate(LAYOUT).fill((byte) 0);
        sz.set(opts, 0L, LAYOUT.byteSize());
        return opts;
    }

    public static void data_in(MemorySegment opts, MemorySegment value) {
        data_in.set(opts, 0L, value);
    }

    public static void data_out(MemorySegment opts, MemorySegment value) {
        data_out.set(opts, 0L, value);
    }

    public static void data_size_in(MemorySegment opts, int value) {
        data_size_in.set(opts, 0L, value);
    }

    public static void data_size_out(MemorySegment opts, int value) {
        data_size_out.set(opts, 0L, value);
    }

    public static int data_size_out(MemorySegment opts) {
        return (int) data_size_out.get(opts, 0L);
    }

    public static void ctx_in(MemorySegment opts, MemorySegment value) {
        ctx_in.set(opts, 0L, value);
    }

    public static void ctx_size_in(MemorySegment opts, int value) {
        ctx_size_in.set(opts, 0L, value);
    }

    public static int retval(MemorySegment opts) {
        return (int) retval.get(opts, 0L);
    }

    public static void repeat(MemorySegment opts, int value) {
        repeat.set(opts, 0L, value);
    }

    public static int duration(MemorySegment opts) {
        return (int) duration.get(opts, 0L);
    }
}
