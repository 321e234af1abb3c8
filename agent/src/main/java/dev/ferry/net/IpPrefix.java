package dev.ferry.net;

import java.math.BigInteger;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

/** An IPv4 or IPv6 prefix such as 10.244.1.0/24; the address is kept as given (host bits allowed). */
public record IpPrefix(InetAddress address, int length) {

    public IpPrefix {
        int max = address.getAddress().length * 8;
        if (length < 0 || length > max) {
            throw new IllegalArgumentException("prefix length " + length + " is out of range for " + address.getHostAddress());
        }
    }

    /** Parses {@code 10.244.1.0/24}, {@code fd00::/64}, or a bare address as a host prefix. */
    public static IpPrefix parse(String text) {
        String t = text.trim();
        int slash = t.indexOf('/');
        String addr = slash < 0 ? t : t.substring(0, slash);
        if (addr.isEmpty() || !(addr.indexOf(':') >= 0 || addr.chars().allMatch(c -> c == '.' || Character.isDigit(c)))) {
            throw new IllegalArgumentException("not an IP prefix: '" + text + "'");
        }
        try {
            InetAddress address = InetAddress.getByName(addr); // literal only: checked above, no DNS
            int length = slash < 0 ? address.getAddress().length * 8 : Integer.parseInt(t.substring(slash + 1));
            return new IpPrefix(address, length);
        } catch (UnknownHostException | NumberFormatException e) {
            throw new IllegalArgumentException("not an IP prefix: '" + text + "'", e);
        }
    }

    public static IpPrefix host(InetAddress address) {
        return new IpPrefix(address, address.getAddress().length * 8);
    }

    public boolean isIpv4() {
        return address instanceof Inet4Address;
    }

    /** The prefix with its host bits cleared. */
    public InetAddress network() {
        byte[] b = address.getAddress();
        for (int bit = length; bit < b.length * 8; bit++) {
            b[bit / 8] &= (byte) ~(0x80 >>> (bit % 8));
        }
        try {
            return InetAddress.getByAddress(b);
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    public boolean contains(InetAddress candidate) {
        byte[] a = address.getAddress();
        byte[] c = candidate.getAddress();
        if (a.length != c.length) {
            return false;
        }
        BigInteger mask = BigInteger.ONE.shiftLeft(a.length * 8).subtract(BigInteger.ONE)
                .shiftRight(length).not();
        return new BigInteger(1, a).and(mask).equals(new BigInteger(1, c).and(mask));
    }

    @Override
    public String toString() {
        return address.getHostAddress() + "/" + length;
    }
}
