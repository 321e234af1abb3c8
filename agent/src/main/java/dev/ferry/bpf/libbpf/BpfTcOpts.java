package dev.ferry.bpf.libbpf;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** {@code struct bpf_tc_opts} (libbpf 1.1, libbpf.h). */
public final class BpfTcOpts {
    private BpfTcOpts() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("sz"),
            JAVA_INT.withName("prog_fd"),
            JAVA_INT.withName("flags"),
            JAVA_INT.withName("prog_id"),
            JAVA_INT.withName("handle"),
            JAVA_INT.withName("priority"),
            MemoryLayout.paddingLayout(4)
    ).withName("bpf_tc_opts");

    private static final VarHandle sz = LAYOUT.varHandle(groupElement("sz"));
    private static final VarHandle prog_fd = LAYOUT.varHandle(groupElement("prog_fd"));
    private static final VarHandle flags = LAYOUT.varHandle(groupElement("flags"));
    private static final VarHandle prog_id = LAYOUT.varHandle(groupElement("prog_id"));
    private static final VarHandle handle = LAYOUT.varHandle(groupElement("handle"));
    private static final VarHandle priority = LAYOUT.varHandle(groupElement("priority"));

    /** Zeroed options with {@code sz} set, as LIBBPF_OPTS does. */
    public static MemorySegment allocate(Arena arena) {
        MemorySegment opts = arena.allocate(LAYOUT).fill((byte) 0);
        sz.set(opts, 0L, LAYOUT.byteSize());
        return opts;
    }

    public static void prog_fd(MemorySegment opts, int value) {
        prog_fd.set(opts, 0L, value);
    }

    public static void flags(MemorySegment opts, int value) {
        flags.set(opts, 0L, value);
    }

    public static int prog_id(MemorySegment opts) {
        return (int) prog_id.get(opts, 0L);
    }

    public static void handle(MemorySegment opts, int value) {
        handle.set(opts, 0L, value);
    }

    public static void priority(MemorySegment opts, int value) {
        priority.set(opts, 0L, value);
    }
}
