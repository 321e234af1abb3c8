package dev.ferry.bpf.libbpf;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * {@code struct bpf_link_info}: the 6.1 uapi size (48 bytes), with the union's
 * {@code tcx} member from Linux 6.6 spelled out since the 6.1 headers lack it.
 * Only the members Ferry reads are named; the rest of the union is padding.
 */
public final class BpfLinkInfo {
    private BpfLinkInfo() {}

    private static final long UNION_SIZE = 32;

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("type"),
            JAVA_INT.withName("id"),
            JAVA_INT.withName("prog_id"),
            MemoryLayout.paddingLayout(4), // the union holds __aligned_u64 members
            MemoryLayout.unionLayout(
                    MemoryLayout.structLayout(
                            JAVA_INT.withName("ifindex"),
                            JAVA_INT.withName("attach_type")
                    ).withName("tcx"),
                    MemoryLayout.paddingLayout(UNION_SIZE)
            ).withName("u")
    ).withName("bpf_link_info");

    private static final VarHandle type = LAYOUT.varHandle(groupElement("type"));
    private static final VarHandle id = LAYOUT.varHandle(groupElement("id"));
    private static final VarHandle prog_id = LAYOUT.varHandle(groupElement("prog_id"));
    private static final VarHandle tcx_ifindex =
            LAYOUT.varHandle(groupElement("u"), groupElement("tcx"), groupElement("ifindex"));
    private static final VarHandle tcx_attach_type =
            LAYOUT.varHandle(groupElement("u"), groupElement("tcx"), groupElement("attach_type"));

    public static int type(MemorySegment info) {
        return (int) type.get(info, 0L);
    }

    public static int id(MemorySegment info) {
        return (int) id.get(info, 0L);
    }

    public static int prog_id(MemorySegment info) {
        return (int) prog_id.get(info, 0L);
    }

    public static int tcx_ifindex(MemorySegment info) {
        return (int) tcx_ifindex.get(info, 0L);
    }

    public static int tcx_attach_type(MemorySegment info) {
        return (int) tcx_attach_type.get(info, 0L);
    }
}
