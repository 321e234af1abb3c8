package dev.ferry.datapath;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The structs of bpf/lib/abi.h, field by field with the C names. A change there
 * must be made here too; MapLayoutsTest compares both sides. Multi-byte fields
 * are host order except addresses, which are network order byte arrays.
 */
public final class MapLayouts {
    private MapLayouts() {}

    public static final int FAMILY_IPV4 = 4;
    public static final int FAMILY_IPV6 = 6;

    /** The LPM key's family word is part of every prefix. */
    public static final int CIDR_FAMILY_BITS = 32;

    public static final StructLayout ENDPOINT_KEY = MemoryLayout.structLayout(
            JAVA_BYTE.withName("family"),
            MemoryLayout.sequenceLayout(3, JAVA_BYTE).withName("pad"),
            MemoryLayout.sequenceLayout(16, JAVA_BYTE).withName("addr")
    ).withName("endpoint_key");

    public static final StructLayout ENDPOINT_INFO = MemoryLayout.structLayout(
            JAVA_INT.withName("ifindex"),
            JAVA_INT.withName("endpoint_id"),
            JAVA_INT.withName("flags"),
            MemoryLayout.sequenceLayout(6, JAVA_BYTE).withName("pod_mac"),
            MemoryLayout.sequenceLayout(6, JAVA_BYTE).withName("host_mac"),
            JAVA_INT.withName("egress_route"),
            JAVA_INT.withName("mirror")
    ).withName("endpoint_info");

    public static final StructLayout CIDR_KEY = MemoryLayout.structLayout(
            JAVA_INT.withName("prefixlen"),
            JAVA_BYTE.withName("family"),
            MemoryLayout.sequenceLayout(3, JAVA_BYTE).withName("pad"),
            MemoryLayout.sequenceLayout(16, JAVA_BYTE).withName("addr")
    ).withName("cidr_key");

    public static final StructLayout CIDR_INFO = MemoryLayout.structLayout(
            JAVA_INT.withName("flags")
    ).withName("cidr_info");

    public static final StructLayout METRICS_VALUE = MemoryLayout.structLayout(
            JAVA_LONG.withName("packets"),
            JAVA_LONG.withName("bytes")
    ).withName("metrics_value");

    /** FERRY_MIRROR_SLOTS: capture slots in ferry_mirrors, the bits of an endpoint's mirror word. */
    public static final int MIRROR_SLOTS = 32;

    public static final StructLayout MIRROR_SLOT = MemoryLayout.structLayout(
            JAVA_INT.withName("ifindex"),
            JAVA_BYTE.withName("directions"),
            JAVA_BYTE.withName("protocol"),
            MemoryLayout.sequenceLayout(2, JAVA_BYTE).withName("port"),
            JAVA_BYTE.withName("peer_family"),
            MemoryLayout.sequenceLayout(3, JAVA_BYTE).withName("pad"),
            MemoryLayout.sequenceLayout(16, JAVA_BYTE).withName("peer")
    ).withName("mirror_slot");

    public static final StructLayout MIRROR_COUNTERS = MemoryLayout.structLayout(
            JAVA_LONG.withName("cloned"),
            JAVA_LONG.withName("failed")
    ).withName("mirror_counters");

    /** FERRY_DIR_COUNT and FERRY_VERDICT_COUNT: the dimensions of an endpoint's counters. */
    public static final int DIRECTION_COUNT = Direction.values().length;
    public static final int VERDICT_COUNT = Verdict.values().length;

    /** FERRY_METRICS_REASON_SLOTS: reasons per (direction, verdict) in ferry_metrics_v2, with room to grow. */
    public static final int METRICS_REASON_SLOTS = 32;
    /** FERRY_METRICS_SLOTS: the entries of ferry_metrics_v2. */
    public static final int METRICS_SLOTS = DIRECTION_COUNT * VERDICT_COUNT * METRICS_REASON_SLOTS;

    /** A ferry_endpoints_v3 value, one per CPU: the same info on every CPU, each CPU's own counters. */
    public static final StructLayout ENDPOINT_VALUE = MemoryLayout.structLayout(
            ENDPOINT_INFO.withName("info"),
            MemoryLayout.sequenceLayout(DIRECTION_COUNT,
                    MemoryLayout.sequenceLayout(VERDICT_COUNT, METRICS_VALUE)).withName("counters")
    ).withName("endpoint_value");

    /** Every layout, for tests and diagnostics. */
    public static final java.util.List<StructLayout> ALL = java.util.List.of(
            ENDPOINT_KEY, ENDPOINT_INFO, CIDR_KEY, CIDR_INFO, METRICS_VALUE, ENDPOINT_VALUE,
            MIRROR_SLOT, MIRROR_COUNTERS);

    /** The ferry_metrics_v2 slot of a counter: metrics_index() in bpf/lib/metrics.h. */
    public static int metricsIndex(Direction direction, Verdict verdict, int reason) {
        if (reason < 0 || reason >= METRICS_REASON_SLOTS) {
            throw new IllegalArgumentException("reason " + reason + " has no slot in ferry_metrics_v2");
        }
        return (direction.code() * VERDICT_COUNT + verdict.code()) * METRICS_REASON_SLOTS + reason;
    }

    /** Where the counter of (direction, verdict) starts in one CPU's ferry_endpoints_v3 value. */
    public static long endpointCounterOffset(Direction direction, Verdict verdict) {
        return ENDPOINT_VALUE.byteOffset(groupElement("counters"),
                MemoryLayout.PathElement.sequenceElement(direction.code()),
                MemoryLayout.PathElement.sequenceElement(verdict.code()));
    }

    public static long offset(StructLayout layout, String field) {
        return layout.byteOffset(groupElement(field));
    }
}
