package dev.ferry.net;

import java.math.BigInteger;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.TreeSet;

/**
 * The fewest prefixes that cover exactly the addresses of a set of prefixes: a
 * prefix inside another goes, and two halves of one prefix become that prefix.
 * A thousand nodes' /24 pod CIDRs cut from one cluster range fold into a handful
 * of prefixes, so they fit the BPF cluster-CIDR map, and no address the nodes do
 * not hold is added.
 */
public final class PrefixAggregation {
    private PrefixAggregation() {}

    /** Aggregated {@code prefixes}, IPv4 before IPv6, each family in address order. */
    public static List<IpPrefix> of(Collection<IpPrefix> prefixes) {
        List<IpPrefix> out = new ArrayList<>();
        out.addAll(family(prefixes.stream().filter(IpPrefix::isIpv4).toList(), 32));
        out.addAll(family(prefixes.stream().filter(p -> !p.isIpv4()).toList(), 128));
        return out;
    }

    /** A prefix as (first address, length) in numbers, for one family. */
    private record Block(BigInteger start, int length) {
        BigInteger end(int bits) {
            return start.add(BigInteger.ONE.shiftLeft(bits - length));
        }
    }

    private static List<IpPrefix> family(List<IpPrefix> prefixes, int bits) {
        TreeSet<Block> blocks = new TreeSet<>(Comparator.comparing(Block::start).thenComparingInt(Block::length));
        prefixes.forEach(p -> blocks.add(new Block(new BigInteger(1, p.network().getAddress()), p.length())));
        boolean merged = true;
        List<Block> result = new ArrayList<>(blocks);
        while (merged) {
            merged = false;
            List<Block> next = new ArrayList<>();
            for (Block b : result) {
                if (!next.isEmpty()) {
                    Block last = next.getLast();
                    if (b.start().compareTo(last.end(bits)) < 0) {
                        continue; // inside the one before (sorted by start, shorter prefix first)
                    }
                    if (last.length() == b.length() && last.length() > 0 && last.end(bits).equals(b.start())
                            && !last.start().testBit(bits - last.length())) {
                        next.set(next.size() - 1, new Block(last.start(), last.length() - 1)); // two halves of one
                        merged = true;
                        continue;
                    }
                }
                next.add(b);
            }
            result = next;
        }
        return result.stream().map(b -> new IpPrefix(address(b.start(), bits), b.length())).toList();
    }

    private static InetAddress address(BigInteger value, int bits) {
        byte[] raw = value.toByteArray();
        byte[] bytes = new byte[bits / 8];
        int copy = Math.min(raw.length, bytes.length);
        System.arraycopy(raw, raw.length - copy, bytes, bytes.length - copy, copy);
        try {
            return InetAddress.getByAddress(bytes);
        } catch (UnknownHostException e) {
            throw new AssertionError(e); // only for a wrong length
        }
    }
}
