package dev.ferry.datapath;

import java.util.Locale;

/**
 * How a program is hooked to a device: a TCX link (Linux >= 6.6), or a clsact
 * qdisc with a tc filter (any kernel). Both are in use by default, one per
 * program: {@link AttachModes}.
 */
public enum AttachMode {
    TCX,
    TC;

    /** {@code tcx} or {@code tc}, as the configuration spells it. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses the configuration value {@code tcx} or {@code tc}. */
    public static AttachMode parse(String value) {
        return switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "tcx" -> TCX;
            case "tc" -> TC;
            default -> throw new IllegalArgumentException("attach mode must be 'tcx' or 'tc', not '" + value + "'");
        };
    }
}
