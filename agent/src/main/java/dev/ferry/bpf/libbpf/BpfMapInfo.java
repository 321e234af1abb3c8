package dev.ferry.bpf.libbpf;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * {@code struct bpf_map_info} as the 6.1 uapi headers define it. Newer kernels
 * append fields; BPF_OBJ_GET_INFO_BY_FD fills only the size we pass.
 */
public final class BpfMapInfo {
    private BpfMapInfo() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("type"),
            JAVA_INT.withName("id"),
            JAVA_INT.withName("key_size"),
            JAVA_INT.withName("value_size"),
            JAVA_INT.withName("max_entries"),
            JAVA_INT.withName("map_flags"),
            MemoryLayout.sequenceLayout(Bpf.BPF_OBJ_NAME_LEN, JAVA_BYTE).withName("name"),
            JAVA_INT.withName("ifindex"),
            JAVA_INT.withName("btf_vmlinux_value_type_id"),
            JAVA_LONG.withName("netns_dev"),
            JAVA_LONG.withName("netns_ino"),
            JAVA_INT.withName("btf_id"),
            JAVA_INT.withName("btf_key_type_id"),
            JAVA_INT.withName("btf_value_type_id"),
            MemoryLayout.paddingLayout(4),
            JAVA_LONG.withName("map_extra")
    ).withName("bpf_map_info");

    private static final VarHandle type = LAYOUT.varHandle(groupElement("type"));
    private static final VarHandle id = LAYOUT.varHandle(groupElement("id"));
    private static final VarHandle key_size = LAYOUT.varHandle(groupElement("key_size"));
    private static final VarHandle value_size = LAYOUT.varHandle(groupElement("value_size"));
    private static final VarHandle max_entries = LAYOUT.varHandle(groupElement("max_entries"));
    private static final long NAME_OFFSET = LAYOUT.byteOffset(groupElement("name"));

    public static int type(MemorySegment info) {
        return (int) type.get(info, 0L);
    }

    public static int id(MemorySegment info) {
        return (int) id.get(info, 0L);
    }

    public static int key_size(MemorySegment info) {
        return (int) key_size.get(info, 0L);
    }

    public static int value_size(MemorySegment info) {
        return (int) value_size.get(info, 0L);
    }

    public static int max_entries(MemorySegment info) {
        return (int) max_entries.get(info, 0L);
    }

    /** The NUL-terminated name (the kernel keeps at most 15 characters of it). */
    public static String name(MemorySegment info) {
        return info.asSlice(NAME_OFFSET, Bpf.BPF_OBJ_NAME_LEN).getString(0);
    }
}
