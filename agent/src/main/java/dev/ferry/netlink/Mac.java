package dev.ferry.netlink;

import java.util.Arrays;
import java.util.HexFormat;

/** An Ethernet MAC address. Holds a private copy: a record over an array must not share it. */
public record Mac(byte[] bytes) {
    private static final HexFormat COLONS = HexFormat.ofDelimiter(":");

    public Mac {
        if (bytes.length != 6) {
            throw new IllegalArgumentException("a MAC address has 6 bytes, not " + bytes.length);
        }
        bytes = bytes.clone();
    }

    /** Parses {@code aa:bb:cc:dd:ee:ff}. */
    public static Mac parse(String text) {
        return new Mac(COLONS.parseHex(text));
    }

    @Override
    public byte[] bytes() {
        return bytes.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Mac other && Arrays.equals(bytes, other.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        return COLONS.formatHex(bytes);
    }
}
