package dev.ferry.masquerade;

/**
 * Which address families are masqueraded. Each has its own table ({@code table ip
 * ferry}, {@code table ip6 ferry}), so turning one off removes that table alone:
 * pods with global IPv6 addresses usually need no NAT while their IPv4 does.
 */
public record MasqueradeFamilies(boolean ipv4, boolean ipv6) {
    public static final MasqueradeFamilies ALL = new MasqueradeFamilies(true, true);
    public static final MasqueradeFamilies NONE = new MasqueradeFamilies(false, false);

    /** Whether the family is masqueraded: IPv4 when {@code ipv4Family}, else IPv6. */
    boolean covers(boolean ipv4Family) {
        return ipv4Family ? ipv4 : ipv6;
    }

    /** {ipv4: true, ipv6: false}: how the configuration writes it, for log lines. */
    @Override
    public String toString() {
        return "{ipv4: " + ipv4 + ", ipv6: " + ipv6 + "}";
    }
}
