package dev.ferry.datapath;

/**
 * Mirrors {@code enum ferry_reason} in bpf/lib/reasons.h, number for number (numbers
 * are never reused). Labels are the Prometheus {@code reason} label values.
 */
public enum Reason {
    FORWARDED(0, "forwarded"),
    NOT_IP(1, "not_ip"),
    TRUNCATED(2, "truncated"),
    MALFORMED(3, "malformed"),
    IP_OPTIONS(4, "ip_options"),
    FRAGMENT(5, "fragment"),
    TTL_EXPIRED(6, "ttl_expired"),
    NOT_LOCAL_ENDPOINT(7, "not_local_endpoint"),
    OUTSIDE_CLUSTER(8, "outside_cluster"),
    FIB_MISS(9, "fib_miss"),
    FRAG_NEEDED(10, "frag_needed"),
    NAT_FLOW(11, "nat_flow"),
    /** Retired: counted by programs before IPv6 was forwarded; no program counts it now, the number stays taken. */
    IPV6(12, "ipv6"),
    STACK_ONLY(13, "stack_only"),
    REDIRECT_FAILED(14, "redirect_failed"),
    SPOOFED_SOURCE(15, "spoofed_source"),
    NAT_CLASH(16, "nat_clash"),
    IPV6_HOP_BY_HOP(17, "ipv6_hop_by_hop"),
    IPV6_ROUTING(18, "ipv6_routing"),
    IPV6_EXT_HEADER(19, "ipv6_ext_header"),
    IPV6_NDP(20, "ipv6_ndp"),
    IPV6_MLD(21, "ipv6_mld"),
    IPV6_LINK_SCOPE(22, "ipv6_link_scope"),
    // 23: unassigned
    EGRESS_ROUTE(24, "egress_route"),
    EGRESS_FALLBACK(25, "egress_fallback"),
    EGRESS_MASQUERADE(26, "egress_masquerade");

    /** FERRY_REASON_MAX: one past the highest number; MapLayoutsTest checks it against the C header. */
    public static final int MAX = 27;

    private final int code;
    private final String label;

    Reason(int code, String label) {
        this.code = code;
        this.label = label;
    }

    public int code() {
        return code;
    }

    public String label() {
        return label;
    }

    /** A reason a newer program may count that this agent does not know yet is reported, not fatal. */
    public static Reason of(int code) {
        for (Reason r : values()) {
            if (r.code == code) {
                return r;
            }
        }
        throw new IllegalArgumentException("unknown datapath reason " + code);
    }
}
