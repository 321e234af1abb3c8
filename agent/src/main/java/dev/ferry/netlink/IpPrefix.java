package dev.ferry.netlink;

import java.net.InetAddress;

/**
 * An address with a prefix length: a route destination ({@code 10.244.2.0/24})
 * or an interface address ({@code 10.244.1.5/32}). Host bits are kept as given:
 * an interface address needs them, and the kernel rejects a route destination
 * that has them, with a message that says so.
 */
public record IpPrefix(InetAddress address, int length) {
    public static final IpPrefix DEFAULT_V4 = parse("0.0.0.0/0");
    public static final IpPrefix DEFAULT_V6 = parse("::/0");

    public IpPrefix {
        int max = address.getAddress().length * 8;
        if (length < 0 || length > max) {
            throw new IllegalArgumentException("prefix length " + length + " out of range for " + address.getHostAddress());
        }
    }

    /** Parses {@code 10.0.0.0/8} or {@code fd00::/64}; without a length, the whole address (/32 or /128). Never resolves names. */
    public static IpPrefix parse(String text) {
        int slash = text.indexOf('/');
        InetAddress address = literal(slash < 0 ? text : text.substring(0, slash));
        int length = slash < 0 ? address.getAddress().length * 8 : Integer.parseInt(text.substring(slash + 1));
        return new IpPrefix(address, length);
    }

    /** The prefix covering exactly one address. */
    public static IpPrefix host(InetAddress address) {
        return new IpPrefix(address, address.getAddress().length * 8);
    }

    /** An IP literal; InetAddress.getByName would resolve a host name, which a typo must not trigger. */
    static InetAddress literal(String text) {
        try {
            return InetAddress.ofLiteral(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("not an IP address: '" + text + "'", e);
        }
    }

    public Family family() {
        return Family.of(address);
    }

    @Override
    public String toString() {
        return address.getHostAddress() + "/" + length;
    }
}
