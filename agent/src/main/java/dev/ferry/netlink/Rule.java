package dev.ferry.netlink;

/**
 * A policy routing rule of the form Ferry uses: packets whose mark is
 * {@code fwmark} (under {@code fwmask}) look their route up in {@code table}.
 */
public record Rule(Family family, int fwmark, int fwmask, int table, int priority, int protocol) {
    @Override
    public String toString() {
        return "rule pref " + Integer.toUnsignedString(priority) + " fwmark 0x" + Integer.toHexString(fwmark) + "/0x"
                + Integer.toHexString(fwmask) + " lookup " + Integer.toUnsignedString(table) + " proto " + protocol;
    }
}
