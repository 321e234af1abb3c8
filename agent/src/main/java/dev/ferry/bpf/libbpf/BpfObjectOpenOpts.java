package dev.ferry.bpf.libbpf;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BOOLEAN;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** {@code struct bpf_object_open_opts} (libbpf 1.1, libbpf.h). */
public final class BpfObjectOpenOpts {
    private BpfObjectOpenOpts() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("sz"),
            ADDRESS.withName("object_name"),
            JAVA_BOOLEAN.withName("relaxed_maps"),
            MemoryLayout.paddingLayout(7),
            ADDRESS.withName("pin_root_path"),
            MemoryLayout.paddingLayout(4), // __u32 :32, the removed attach_prog_fd
            MemoryLayout.paddingLayout(4),
            ADDRESS.withName("kconfig"),
            ADDRESS.withName("btf_custom_path"),
            ADDRESS.withName("kernel_log_buf"),
            JAVA_LONG.withName("kernel_log_size"),
            JAVA_INT.withName("kernel_log_level"),
            MemoryLayout.paddingLayout(4)
    ).withName("bpf_object_open_opts");

    private static final VarHandle sz = LAYOUT.varHandle(groupElement("sz"));
    private static final VarHandle object_name = LAYOUT.varHandle(groupElement("object_name"));
    private static final VarHandle pin_root_path = LAYOUT.varHandle(groupElement("pin_root_path"));

    /** Zeroed options with {@code sz} set, as LIBBPF_OPTS does. */
    public static MemorySegment allocate(Arena arena) {
        MemorySegment opts = arena.allocate(LAYOUT).fill((byte) 0);
        sz.set(opts, 0L, LAYOUT.byteSize());
        return opts;
    }

    public static void object_name(MemorySegment opts, MemorySegment value) {
        object_name.set(opts, 0L, value);
    }

    public static void pin_root_path(MemorySegment opts, MemorySegment value) {
        pin_root_path.set(opts, 0L, value);
    }
}
