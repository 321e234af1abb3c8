package dev.ferry.datapath;

import dev.ferry.bpf.BpfMap;
import dev.ferry.net.IpPrefix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.LinkedHashSet;
import java.util.Set;

import static dev.ferry.datapath.MapLayouts.CIDR_INFO;
import static dev.ferry.datapath.MapLayouts.CIDR_KEY;
import static dev.ferry.datapath.MapLayouts.offset;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/** Typed access to ferry_cluster_cidrs: the pod CIDRs that may leave through bpf_redirect_neigh. */
public final class ClusterCidrMap {
    /** The map's name in bpf/lib/cidr.h, and so its pin under the bpffs root. */
    public static final String NAME = "ferry_cluster_cidrs";

    private static final long PREFIXLEN = offset(CIDR_KEY, "prefixlen");
    private static final long FAMILY = offset(CIDR_KEY, "family");
    private static final long ADDR = offset(CIDR_KEY, "addr");

    private final BpfMap map;

    ClusterCidrMap(BpfMap map) {
        this.map = map;
    }

    public void add(IpPrefix cidr) {
        try (Arena arena = Arena.ofConfined()) {
            map.update(key(arena, cidr), arena.allocate(CIDR_INFO), BpfMap.ANY);
        }
    }

    /** Returns whether the prefix was there. */
    public boolean remove(IpPrefix cidr) {
        try (Arena arena = Arena.ofConfined()) {
            return map.delete(key(arena, cidr));
        }
    }

    public Set<IpPrefix> cidrs() {
        Set<IpPrefix> cidrs = new LinkedHashSet<>();
        map.forEachKey(key -> cidrs.add(prefix(key)));
        return cidrs;
    }

    /** How many prefixes the map takes (max_entries). */
    public int capacity() {
        return map.maxEntries();
    }

    /**
     * Makes the map hold exactly {@code wanted}, touching only the prefixes that
     * differ; removals first, so a full map has room for what comes in.
     */
    public void replaceAll(Set<IpPrefix> wanted) {
        Set<IpPrefix> current = cidrs();
        for (IpPrefix cidr : current) {
            if (!wanted.contains(cidr)) {
                remove(cidr);
            }
        }
        for (IpPrefix cidr : wanted) {
            if (!current.contains(cidr)) {
                add(cidr);
            }
        }
    }

    private static MemorySegment key(Arena arena, IpPrefix cidr) {
        byte[] network = cidr.network().getAddress();
        MemorySegment key = arena.allocate(CIDR_KEY); // zeroed: pad must be 0
        key.set(JAVA_INT, PREFIXLEN, MapLayouts.CIDR_FAMILY_BITS + cidr.length());
        key.set(JAVA_BYTE, FAMILY, (byte) EndpointMap.family(cidr.address()));
        MemorySegment.copy(network, 0, key, JAVA_BYTE, ADDR, network.length);
        return key;
    }

    private static IpPrefix prefix(MemorySegment key) {
        int length = key.get(JAVA_BYTE, FAMILY) == MapLayouts.FAMILY_IPV4 ? 4 : 16;
        try {
            InetAddress address = InetAddress.getByAddress(key.asSlice(ADDR, length).toArray(JAVA_BYTE));
            return new IpPrefix(address, key.get(JAVA_INT, PREFIXLEN) - MapLayouts.CIDR_FAMILY_BITS);
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }
}
