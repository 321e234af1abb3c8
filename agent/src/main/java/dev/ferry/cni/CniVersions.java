package dev.ferry.cni;

import java.util.List;

/**
 * The spec versions the plugin advertises and which commands each has. 0.1.0
 * and 0.2.0 are left out: their results have another shape (ip4/ip6) that no
 * current runtime asks for.
 */
public final class CniVersions {
    /** Exactly what VERSION advertises, oldest first. */
    public static final List<String> SUPPORTED = List.of("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0");
    public static final String LATEST = "1.1.0";

    private CniVersions() {
    }

    public static boolean isSupported(String version) {
        return SUPPORTED.contains(version);
    }

    /** CHECK arrived in 0.4.0, STATUS and GC in 1.1.0; the rest exist in every supported version. */
    public static String introducedIn(CniCommand command) {
        return switch (command) {
            case CHECK -> "0.4.0";
            case STATUS, GC -> "1.1.0";
            case ADD, DEL, VERSION -> "0.1.0";
        };
    }

    public static boolean hasCommand(String version, CniCommand command) {
        return compare(version, introducedIn(command)) >= 0;
    }

    /** Results before 1.0.0 carry "version" in each ips entry. */
    public static boolean ipsCarryVersion(String version) {
        return compare(version, "1.0.0") < 0;
    }

    /** Compares dotted numeric versions ("0.4.0" < "1.0.0"); a malformed part counts as 0. */
    public static int compare(String a, String b) {
        String[] x = a.split("\\.");
        String[] y = b.split("\\.");
        for (int i = 0; i < Math.max(x.length, y.length); i++) {
            int c = Integer.compare(part(x, i), part(y, i));
            if (c != 0) {
                return c;
            }
        }
        return 0;
    }

    private static int part(String[] parts, int i) {
        if (i >= parts.length) {
            return 0;
        }
        try {
            return Integer.parseInt(parts[i]);
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
