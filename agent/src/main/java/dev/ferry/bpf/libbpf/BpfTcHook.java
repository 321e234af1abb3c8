package dev.ferry.bpf.libbpf;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** {@code struct bpf_tc_hook} (libbpf 1.1, libbpf.h). */
public final class BpfTcHook {
    private BpfTcHook() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("sz"),
            JAVA_INT.withName("ifindex"),
            JAVA_INT.withName("attach_point"), // enum bpf_tc_attach_point
            JAVA_INT.withName("parent"),
            MemoryLayout.paddingLayout(4)
    ).withName("bpf_tc_hook");

    private static final VarHandle sz = LAYOUT.varHandle(groupElement("sz"));
    private static final VarHandle ifindex = LAYOUT.varHandle(groupElement("ifindex"));
    private static final VarHandle attach_point = LAYOUT.varHandle(groupElement("attach_point"));

    /** Zeroed hook with {@code sz} set, as LIBBPF_OPTS does. */
    public static MemorySegment allocate(Arena arena) {
        MemorySegment hook = arena.allocate(LAYOUT).fill((byte) 0);
        sz.set(hook, 0L, LAYOUT.byteSize());
        return hook;
    }

    public static void ifindex(MemorySegment hook, int value) {
        ifindex.set(hook, 0L, value);
    }

    public static void attach_point(MemorySegment hook, int value) {
        attach_point.set(hook, 0L, value);
    }
}
