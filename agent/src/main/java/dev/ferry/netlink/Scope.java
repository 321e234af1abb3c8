package dev.ferry.netlink;

/**
 * How far an address or route reaches (rtm_scope, ifa_scope). A record rather
 * than an enum because the kernel accepts any value 0-255 and a listing must
 * not fail on one somebody else set.
 */
public record Scope(int value) {
    public static final Scope UNIVERSE = new Scope(0);
    public static final Scope SITE = new Scope(200);
    public static final Scope LINK = new Scope(253);
    public static final Scope HOST = new Scope(254);
    public static final Scope NOWHERE = new Scope(255);

    public Scope {
        if (value < 0 || value > 255) {
            throw new IllegalArgumentException("scope " + value + " is not a u8");
        }
    }

    @Override
    public String toString() {
        return switch (value) {
            case 0 -> "universe";
            case 200 -> "site";
            case 253 -> "link";
            case 254 -> "host";
            case 255 -> "nowhere";
            default -> Integer.toString(value);
        };
    }
}
