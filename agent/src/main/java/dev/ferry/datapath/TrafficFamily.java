package dev.ferry.datapath;

/**
 * Mirrors {@code enum ferry_metrics_family} in bpf/lib/reasons.h: the family of
 * what a program decided on, by ethertype (ARP and every non-IP frame is
 * {@link #OTHER}). A dimension of ferry_metrics_v3 only; labels are the
 * Prometheus {@code family} label values.
 */
public enum TrafficFamily {
    OTHER(0, "other"),
    IPV4(1, "ipv4"),
    IPV6(2, "ipv6");

    private final int code;
    private final String label;

    TrafficFamily(int code, String label) {
        this.code = code;
        this.label = label;
    }

    public int code() {
        return code;
    }

    public String label() {
        return label;
    }

    public static TrafficFamily of(int code) {
        for (TrafficFamily f : values()) {
            if (f.code == code) {
                return f;
            }
        }
        throw new IllegalArgumentException("unknown datapath family " + code);
    }
}
