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

    /** FERRY_METRICS_FAMILY_COUNT: the families ferry_metrics_v3 counts apart. */
    public static final int FAMILY_COUNT = TrafficFamily.values().length;
    /** FERRY_METRICS_REASON_SLOTS: reasons per (family, direction, verdict) in ferry_metrics_v3, with room to grow. */
    public static final int METRICS_REASON_SLOTS = 32;
    /** FERRY_METRICS_SLOTS: the entries of ferry_metrics_v3. */
    public static final int METRICS_SLOTS = FAMILY_COUNT * DIRECTION_COUNT * VERDICT_COUNT * METRICS_REASON_SLOTS;

    /** A ferry_endpoints_v3 value, one per CPU: the same info on every CPU, each CPU's own counters. */
    public static final StructLayout ENDPOINT_VALUE = MemoryLayout.structLayout(
            ENDPOINT_INFO.withName("info"),
            MemoryLayout.sequenceLayout(DIRECTION_COUNT,
                    MemoryLayout.sequenceLayout(VERDICT_COUNT, METRICS_VALUE)).withName("counters")
    ).withName("endpoint_value");

    /** One record of the ferry_events ring buffer (lib/monitor.h). */
    public static final StructLayout MONITOR_EVENT = MemoryLayout.structLayout(
            JAVA_LONG.withName("timestamp"),
            MemoryLayout.sequenceLayout(16, JAVA_BYTE).withName("saddr"),
            MemoryLayout.sequenceLayout(16, JAVA_BYTE).withName("daddr"),
            JAVA_INT.withName("ifindex"),
            JAVA_INT.withName("src_endpoint"),
            JAVA_INT.withName("dst_endpoint"),
            JAVA_INT.withName("len"),
            JAVA_SHORT.withName("reason"),
            JAVA_BYTE.withName("direction"),
            JAVA_BYTE.withName("verdict"),
            JAVA_BYTE.withName("family"),
            JAVA_BYTE.withName("protocol"),
            JAVA_SHORT.withName("sport"),
            JAVA_SHORT.withName("dport"),
            MemoryLayout.sequenceLayout(6, JAVA_BYTE).withName("pad")
    ).withName("monitor_event");

    /** The one value of ferry_monitor_config. */
    public static final StructLayout MONITOR_CONFIG = MemoryLayout.structLayout(
            JAVA_INT.withName("enabled"),
            JAVA_INT.withName("sample_redirects"),
            JAVA_LONG.withName("event_cost_ns"),
            JAVA_LONG.withName("burst_ns")
    ).withName("monitor_config");

    /** The one value of ferry_monitor_state, per CPU. */
    public static final StructLayout MONITOR_STATE = MemoryLayout.structLayout(
            JAVA_LONG.withName("tokens_ns"),
            JAVA_LONG.withName("last_ns"),
            JAVA_LONG.withName("emitted"),
            JAVA_LONG.withName("suppressed"),
            JAVA_LONG.withName("lost"),
            JAVA_LONG.withName("redirects_seen")
    ).withName("monitor_state");
    /** FERRY_EGRESS_ROUTES_MAX: route ids are 1 up to this, exclusive. */
    public static final int EGRESS_ROUTES_MAX = 256;
    /** FERRY_EGRESS_NEXTHOPS: next hops per route. */
    public static final int EGRESS_NEXTHOPS = 8;
    /** FERRY_EGRESS_SLOTS: flow hash buckets per route. */
    public static final int EGRESS_SLOTS = 64;
    /** FERRY_EGRESS_SLOTS_PER_FAMILY: IPv4 flows take the first half of the buckets, IPv6 flows the second. */
    public static final int EGRESS_SLOTS_PER_FAMILY = EGRESS_SLOTS / 2;
    /** The table and family words of an egress_dest_key prefix. */
    public static final int EGRESS_KEY_BITS = 64;

    public static final StructLayout EGRESS_DEST_KEY = MemoryLayout.structLayout(
            JAVA_INT.withName("prefixlen"),
            JAVA_INT.withName("table"),
            JAVA_BYTE.withName("family"),
            MemoryLayout.sequenceLayout(3, JAVA_BYTE).withName("pad"),
            MemoryLayout.sequenceLayout(16, JAVA_BYTE).withName("addr")
    ).withName("egress_dest_key");

    public static final StructLayout EGRESS_DEST_VALUE = MemoryLayout.structLayout(
            JAVA_INT.withName("route")
    ).withName("egress_dest_value");

    public static final StructLayout EGRESS_NEXTHOP = MemoryLayout.structLayout(
            JAVA_INT.withName("ifindex"),
            JAVA_BYTE.withName("family"),
            MemoryLayout.sequenceLayout(3, JAVA_BYTE).withName("pad"),
            MemoryLayout.sequenceLayout(16, JAVA_BYTE).withName("addr")
    ).withName("egress_nexthop");

    public static final StructLayout EGRESS_ROUTE_VALUE = MemoryLayout.structLayout(
            JAVA_INT.withName("flags"),
            JAVA_INT.withName("mark"),
            JAVA_BYTE.withName("live"),
            MemoryLayout.sequenceLayout(7, JAVA_BYTE).withName("pad"),
            MemoryLayout.sequenceLayout(EGRESS_SLOTS, JAVA_BYTE).withName("slots"),
            MemoryLayout.sequenceLayout(EGRESS_NEXTHOPS, EGRESS_NEXTHOP).withName("nexthops")
    ).withName("egress_route_value");

    /** Every layout, for tests and diagnostics. */
    public static final java.util.List<StructLayout> ALL = java.util.List.of(
            ENDPOINT_KEY, ENDPOINT_INFO, CIDR_KEY, CIDR_INFO, METRICS_VALUE, ENDPOINT_VALUE,
            MONITOR_EVENT, MONITOR_CONFIG, MONITOR_STATE,
            EGRESS_DEST_KEY, EGRESS_DEST_VALUE, EGRESS_NEXTHOP, EGRESS_ROUTE_VALUE,
            MIRROR_SLOT, MIRROR_COUNTERS);

    /** The ferry_metrics_v3 slot of a counter: metrics_index() in bpf/lib/metrics.h. */
    public static int metricsIndex(TrafficFamily family, Direction direction, Verdict verdict, int reason) {
        if (reason < 0 || reason >= METRICS_REASON_SLOTS) {
            throw new IllegalArgumentException("reason " + reason + " has no slot in ferry_metrics_v3");
        }
        return ((family.code() * DIRECTION_COUNT + direction.code()) * VERDICT_COUNT + verdict.code()) * METRICS_REASON_SLOTS
                + reason;
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
