package dev.ferry.net;

import java.math.BigInteger;
import java.net.Inet4Address;
import java.net.InetAddress;

/**
 * An address with a prefix length: a CIDR ({@code 10.244.1.0/24}), a route
 * destination or an interface address ({@code 10.244.1.5/32}). Host bits are
 * kept as given: an interface address needs them; {@link #network()} clears them.
 */
public record IpPrefix(InetAddress address, int length) {
    public static final IpPrefix DEFAULT_V4 = parse("0.0.0.0/0");
    public static final IpPrefix DEFAULT_V6 = parse("::/0");

    public IpPrefix {
        int max = address.getAddress().length * 8;
        if (length < 0 || length > max) {
            throw new IllegalArgumentException("prefix length " + length + " is out of range for " + address.getHostAddress());
        }
    }

    /** Parses {@code 10.0.0.0/8} or {@code fd00::/64}; without a length, the whole address (/32 or /128). Never resolves names. */
    public static IpPrefix parse(String text) {
        String t = text.trim();
        int slash = t.indexOf('/');
        InetAddress address = literal(slash < 0 ? t : t.substring(0, slash));
        try {
            int length = slash < 0 ? address.getAddress().length * 8 : Integer.parseInt(t.substring(slash + 1));
            return new IpPrefix(address, length);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not an IP prefix: '" + text + "'", e);
        }
    }

    /**
     * A CIDR as an operator writes one: an address, a length, and no host bits
     * ({@code 10.244.1.0/24}, not {@code 10.244.1.7/24} and not a bare address).
     * Refused with a message that quotes the text and, for host bits, says what
     * was probably meant.
     */
    public static IpPrefix parseNetwork(String text) {
        IpPrefix prefix;
        try {
            if (!text.contains("/")) {
                throw new IllegalArgumentException("no prefix length");
            }
            prefix = parse(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'" + text + "' is not a CIDR (" + e.getMessage() + ")", e);
        }
        if (!prefix.network().equals(prefix.address())) {
            throw new IllegalArgumentException("'" + text + "' has host bits set; did you mean "
                    + new IpPrefix(prefix.network(), prefix.length()) + "?");
        }
        return prefix;
    }

    /** The prefix covering exactly one address. */
    public static IpPrefix host(InetAddress address) {
        return new IpPrefix(address, address.getAddress().length * 8);
    }

    /** An IP literal; InetAddress.getByName would resolve a host name, which a typo must not trigger. */
    public static InetAddress literal(String text) {
        try {
            return InetAddress.ofLiteral(text.trim());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("not an IP address: '" + text + "'", e);
        }
    }

    public boolean isIpv4() {
        return address instanceof Inet4Address;
    }

    /** The prefix's first address: the host bits cleared. */
    public InetAddress network() {
        byte[] b = address.getAddress();
        for (int bit = length; bit < b.length * 8; bit++) {
            b[bit / 8] &= (byte) ~(0x80 >>> (bit % 8));
        }
        return literalOf(b);
    }

    public boolean contains(InetAddress candidate) {
        byte[] a = address.getAddress();
        byte[] c = candidate.getAddress();
        if (a.length != c.length) {
            return false;
        }
        BigInteger all = BigInteger.ONE.shiftLeft(a.length * 8).subtract(BigInteger.ONE);
        BigInteger mask = all.shiftRight(length).xor(all);
        return new BigInteger(1, a).and(mask).equals(new BigInteger(1, c).and(mask));
    }

    private static InetAddress literalOf(byte[] bytes) {
        try {
            return InetAddress.getByAddress(bytes);
        } catch (java.net.UnknownHostException e) {
            throw new AssertionError(e); // only thrown for a wrong length
        }
    }

    @Override
    public String toString() {
        return IpText.format(this);
    }
}
