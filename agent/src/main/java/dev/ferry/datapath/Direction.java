package dev.ferry.datapath;

/** Mirrors {@code enum ferry_direction} in bpf/lib/reasons.h; labels are the Prometheus label values. */
public enum Direction {
    /** Towards a pod: to_pod on the uplink; the pod's receive side in endpoint counters. */
    INGRESS(0, "ingress"),
    /** Out of a pod: from_pod on the host-side veth. */
    EGRESS(1, "egress");

    private final int code;
    private final String label;

    Direction(int code, String label) {
        this.code = code;
        this.label = label;
    }

    public int code() {
        return code;
    }

    public String label() {
        return label;
    }

    public static Direction of(int code) {
        for (Direction d : values()) {
            if (d.code == code) {
                return d;
            }
        }
        throw new IllegalArgumentException("unknown datapath direction " + code);
    }
}
