package dev.ferry.ipam;

import dev.ferry.net.IpPrefix;

import java.math.BigInteger;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Set;

/**
 * The usable addresses of a pod CIDR as numbers, so that IPv4 and IPv6 share one
 * walk and a /64 is never enumerated: only the next candidate is computed.
 *
 * <p>The network address is never usable (on IPv6 it is the subnet-router
 * anycast address), nor is the IPv4 broadcast address; point-to-point prefixes
 * follow RFC 3021 (and RFC 6164 for IPv6): a /31 (/127) has two usable addresses,
 * a /32 (/128) one.
 */
record AddressRange(IpPrefix cidr, BigInteger first, BigInteger last) {

    static AddressRange of(IpPrefix podCidr) {
        IpPrefix cidr = new IpPrefix(podCidr.network(), podCidr.length());
        int bits = bits(cidr);
        BigInteger network = toNumber(cidr.address());
        BigInteger top = network.add(BigInteger.ONE.shiftLeft(bits - cidr.length())).subtract(BigInteger.ONE);
        int hostBits = bits - cidr.length();
        if (hostBits <= 1) {
            return new AddressRange(cidr, network, top);
        }
        BigInteger last = cidr.isIpv4() ? top.subtract(BigInteger.ONE) : top;
        return new AddressRange(cidr, network.add(BigInteger.ONE), last);
    }

    boolean isIpv6() {
        return bits(cidr) == 128;
    }

    boolean sameFamily(InetAddress address) {
        return address.getAddress().length * 8 == bits(cidr);
    }

    BigInteger size() {
        return last.subtract(first).add(BigInteger.ONE);
    }

    boolean contains(InetAddress address) {
        if (address.getAddress().length * 8 != bits(cidr)) {
            return false;
        }
        BigInteger n = toNumber(address);
        return n.compareTo(first) >= 0 && n.compareTo(last) <= 0;
    }

    /** The usable address after {@code n}, wrapping from the last to the first. */
    BigInteger next(BigInteger n) {
        return n.compareTo(last) >= 0 ? first : n.add(BigInteger.ONE);
    }

    /**
     * Every usable address once, from {@code start} round the range, leaving out
     * {@code taken}; lazy, so a /64 costs only what is walked.
     */
    Iterator<InetAddress> walk(BigInteger start, Set<BigInteger> taken) {
        return new Iterator<>() {
            private BigInteger position = start;
            private BigInteger remaining = size();

            @Override
            public boolean hasNext() {
                while (remaining.signum() > 0 && taken.contains(position)) {
                    step();
                }
                return remaining.signum() > 0;
            }

            @Override
            public InetAddress next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                InetAddress address = toAddress(position);
                step();
                return address;
            }

            private void step() {
                position = AddressRange.this.next(position);
                remaining = remaining.subtract(BigInteger.ONE);
            }
        };
    }

    InetAddress toAddress(BigInteger n) {
        byte[] raw = n.toByteArray(); // big-endian, may carry a leading sign byte or be short
        byte[] bytes = new byte[bits(cidr) / 8];
        int copy = Math.min(raw.length, bytes.length);
        System.arraycopy(raw, raw.length - copy, bytes, bytes.length - copy, copy);
        try {
            return InetAddress.getByAddress(bytes);
        } catch (UnknownHostException e) {
            throw new AssertionError(e); // only thrown for a wrong length
        }
    }

    static BigInteger toNumber(InetAddress address) {
        return new BigInteger(1, address.getAddress());
    }

    private static int bits(IpPrefix cidr) {
        return cidr.address().getAddress().length * 8;
    }
}
