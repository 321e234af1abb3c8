package dev.ferry.net;

import java.net.Inet6Address;
import java.net.InetAddress;

/**
 * Addresses as people and other tools write them. Java's getHostAddress writes
 * IPv6 in full ("fd00:0:0:0:0:0:0:5"); runtimes, reference plugins and iproute2
 * use the RFC 5952 form ("fd00::5"): CNI results compare strings with them, and
 * IPAM names its files by address, where two spellings of one address would
 * break exclusivity.
 */
public final class IpText {
    private IpText() {
    }

    public static String format(IpPrefix prefix) {
        return format(prefix.address()) + "/" + prefix.length();
    }

    public static String format(InetAddress address) {
        if (!(address instanceof Inet6Address)) {
            return address.getHostAddress();
        }
        byte[] b = address.getAddress();
        int[] groups = new int[8];
        for (int i = 0; i < 8; i++) {
            groups[i] = ((b[2 * i] & 0xff) << 8) | (b[2 * i + 1] & 0xff);
        }
        // The longest run of two or more zero groups (the first on a tie) becomes "::".
        int bestStart = -1;
        int bestLength = 1;
        for (int i = 0; i < 8; ) {
            int j = i;
            while (j < 8 && groups[j] == 0) {
                j++;
            }
            if (j - i > bestLength) {
                bestStart = i;
                bestLength = j - i;
            }
            i = j == i ? i + 1 : j;
        }
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                s.append("::");
                i += bestLength - 1;
                continue;
            }
            if (!s.isEmpty() && s.charAt(s.length() - 1) != ':') {
                s.append(':');
            }
            s.append(Integer.toHexString(groups[i]));
        }
        return s.toString();
    }
}
