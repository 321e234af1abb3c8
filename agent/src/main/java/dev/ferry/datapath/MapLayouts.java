package dev.ferry.datapath;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

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
            MemoryLayout.sequenceLayout(6, JAVA_BYTE).withName("host_mac")
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

    public static final StructLayout METRICS_KEY = MemoryLayout.structLayout(
            JAVA_BYTE.withName("direction"),
            JAVA_BYTE.withName("verdict"),
            JAVA_SHORT.withName("reason")
    ).withName("metrics_key");

    public static final StructLayout METRICS_VALUE = MemoryLayout.structLayout(
            JAVA_LONG.withName("packets"),
            JAVA_LONG.withName("bytes")
    ).withName("metrics_value");

    public static final StructLayout ENDPOINT_METRICS_KEY = MemoryLayout.structLayout(
            JAVA_INT.withName("endpoint_id"),
            JAVA_BYTE.withName("direction"),
            JAVA_BYTE.withName("verdict"),
            JAVA_SHORT.withName("pad")
    ).withName("endpoint_metrics_key");

    /** Every layout, for tests and diagnostics. */
    public static final java.util.List<StructLayout> ALL = java.util.List.of(
            ENDPOINT_KEY, ENDPOINT_INFO, CIDR_KEY, CIDR_INFO, METRICS_KEY, METRICS_VALUE, ENDPOINT_METRICS_KEY);

    public static long offset(StructLayout layout, String field) {
        return layout.byteOffset(groupElement(field));
    }
}
