package dev.ferry.netlink;

import dev.ferry.net.IpPrefix;

/**
 * An IP address on a link.
 *
 * @param index  ifindex of the link
 * @param prefix the address with its prefix length, host bits included ({@code 10.244.1.5/32})
 */
public record Address(int index, IpPrefix prefix, Scope scope) {

    /** A global (universe-scope) address, which is what pod and node addresses are. */
    public static Address of(int index, IpPrefix prefix) {
        return new Address(index, prefix, Scope.UNIVERSE);
    }

    public Address scope(Scope scope) {
        return new Address(index, prefix, scope);
    }

    public Family family() {
        return Family.of(prefix.address());
    }
}
