package dev.ferry.datapath;

/** Mirrors {@code enum ferry_verdict} in bpf/lib/reasons.h; labels are the Prometheus label values. */
public enum Verdict {
    PASS(0, "pass"),
    REDIRECT_PEER(1, "redirect_peer"),
    REDIRECT_NEIGH(2, "redirect_neigh"),
    DROP(3, "drop");

    private final int code;
    private final String label;

    Verdict(int code, String label) {
        this.code = code;
        this.label = label;
    }

    public int code() {
        return code;
    }

    public String label() {
        return label;
    }

    public static Verdict of(int code) {
        for (Verdict v : values()) {
            if (v.code == code) {
                return v;
            }
        }
        throw new IllegalArgumentException("unknown datapath verdict " + code);
    }
}
