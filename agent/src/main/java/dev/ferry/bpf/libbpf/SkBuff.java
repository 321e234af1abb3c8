package dev.ferry.bpf.libbpf;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * {@code struct __sk_buff} (6.1 uapi), the context a sched_cls program sees,
 * here used as BPF_PROG_TEST_RUN's ctx_in. The kernel rejects a ctx_in with any
 * field set other than mark, priority, ingress_ifindex, ifindex, cb, tstamp,
 * wire_len, gso_segs, gso_size and hwtstamp (net/bpf/test_run.c).
 */
public final class SkBuff {
    private SkBuff() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("len"),
            JAVA_INT.withName("pkt_type"),
            JAVA_INT.withName("mark"),
            JAVA_INT.withName("queue_mapping"),
            JAVA_INT.withName("protocol"),
            JAVA_INT.withName("vlan_present"),
            JAVA_INT.withName("vlan_tci"),
            JAVA_INT.withName("vlan_proto"),
            JAVA_INT.withName("priority"),
            JAVA_INT.withName("ingress_ifindex"),
            JAVA_INT.withName("ifindex"),
            JAVA_INT.withName("tc_index"),
            MemoryLayout.sequenceLayout(5, JAVA_INT).withName("cb"),
            JAVA_INT.withName("hash"),
            JAVA_INT.withName("tc_classid"),
            JAVA_INT.withName("data"),
            JAVA_INT.withName("data_end"),
            JAVA_INT.withName("napi_id"),
            JAVA_INT.withName("family"),
            JAVA_INT.withName("remote_ip4"),
            JAVA_INT.withName("local_ip4"),
            MemoryLayout.sequenceLayout(4, JAVA_INT).withName("remote_ip6"),
            MemoryLayout.sequenceLayout(4, JAVA_INT).withName("local_ip6"),
            JAVA_INT.withName("remote_port"),
            JAVA_INT.withName("local_port"),
            JAVA_INT.withName("data_meta"),
            JAVA_LONG.withName("flow_keys"), // __bpf_md_ptr: a pointer widened to 64 bits
            JAVA_LONG.withName("tstamp"),
            JAVA_INT.withName("wire_len"),
            JAVA_INT.withName("gso_segs"),
            JAVA_LONG.withName("sk"),        // __bpf_md_ptr
            JAVA_INT.withName("gso_size"),
            JAVA_BYTE.withName("tstamp_type"),
            MemoryLayout.paddingLayout(3),
            JAVA_LONG.withName("hwtstamp")
    ).withName("__sk_buff");

    private static final VarHandle ingress_ifindex = LAYOUT.varHandle(groupElement("ingress_ifindex"));
    private static final VarHandle ifindex = LAYOUT.varHandle(groupElement("ifindex"));

    /** A zeroed context: every field the caller does not set must stay zero. */
    public static MemorySegment allocate(Arena arena) {
        return arena.allocate(LAYOUT).fill((byte) 0);
    }

    public static void ingress_ifindex(MemorySegment skb, int value) {
        ingress_ifindex.set(skb, 0L, value);
    }

    public static void ifindex(MemorySegment skb, int value) {
        ifindex.set(skb, 0L, value);
    }
}
