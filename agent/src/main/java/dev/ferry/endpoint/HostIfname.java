package dev.ferry.endpoint;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The host-side veth's name: {@code fer} + 11 hex characters of a hash of the
 * container id and ifname. Derived, never stored only, so that DEL finds the
 * link of an ADD that crashed before it wrote any state; the ifname is part of
 * the hash because one container may have several Ferry interfaces.
 */
public final class HostIfname {
    public static final String PREFIX = "fer";
    private static final int HEX_CHARS = 11; // "fer" + 11 = 14, within IFNAMSIZ - 1 = 15

    private HostIfname() {
    }

    public static String of(String containerId, String ifname) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256")
                    .digest((containerId + "/" + ifname).getBytes(StandardCharsets.UTF_8));
            return PREFIX + HexFormat.of().formatHex(digest).substring(0, HEX_CHARS);
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("every JDK has SHA-256", e);
        }
    }
}
