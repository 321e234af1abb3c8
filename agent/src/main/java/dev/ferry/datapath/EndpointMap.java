package dev.ferry.datapath;

import dev.ferry.bpf.BpfException;
import dev.ferry.bpf.BpfMap;
import dev.ferry.linux.Errno;
import dev.ferry.net.MacAddress;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

import static dev.ferry.datapath.MapLayouts.ENDPOINT_INFO;
import static dev.ferry.datapath.MapLayouts.ENDPOINT_KEY;
import static dev.ferry.datapath.MapLayouts.ENDPOINT_VALUE;
import static dev.ferry.datapath.MapLayouts.offset;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Typed access to ferry_endpoints_v3: pod address to {@link EndpointEntry}. Its
 * values are per CPU: the same info on every CPU, followed by that CPU's counters
 * (read by {@link CounterMaps}), which the writes here keep.
 *
 * <p>Beside every entry it keeps ferry_veth_endpoints, the entry's host veth
 * ifindex to its address: from_pod finds through it the pod to count a packet
 * against when the packet's source address is not that pod's own (spoofed). One
 * address per veth, as the agent plumbs them; with several, the last written wins.
 */
public final class EndpointMap {
    /** The map's name in bpf/lib/endpoint.h, and so its pin under the bpffs root. */
    public static final String NAME = "ferry_endpoints_v3";
    /** Host veth ifindex to endpoint key, in bpf/lib/endpoint.h. */
    public static final String VETHS = "ferry_veth_endpoints";

    private static final long KEY_FAMILY = offset(ENDPOINT_KEY, "family");
    private static final long KEY_ADDR = offset(ENDPOINT_KEY, "addr");
    private static final long INFO = offset(ENDPOINT_VALUE, "info");
    private static final long IFINDEX = offset(ENDPOINT_INFO, "ifindex");
    private static final long ENDPOINT_ID = offset(ENDPOINT_INFO, "endpoint_id");
    private static final long FLAGS = offset(ENDPOINT_INFO, "flags");
    private static final long POD_MAC = offset(ENDPOINT_INFO, "pod_mac");
    private static final long HOST_MAC = offset(ENDPOINT_INFO, "host_mac");
    private static final long EGRESS_ROUTE = offset(ENDPOINT_INFO, "egress_route");
    private static final long MIRROR = offset(ENDPOINT_INFO, "mirror");

    private static final int ENOMEM_ATTEMPTS = 8;

    private final BpfMap map;
    private final BpfMap veths;

    EndpointMap(BpfMap map, BpfMap veths) {
        this.map = map;
        this.veths = veths;
    }

    /**
     * Writes the entry on every CPU, keeping the counters of an existing key: the
     * values are read, their info replaced and written back. Increments the
     * programs make between the read and the write are lost; that window is
     * microseconds and opens only on repairs and restarts (CNI ADD writes a new
     * key), and an unchanged entry is not written at all. An address taken over
     * by another endpoint id starts from zero: the counters were the other
     * endpoint's, and would otherwise be reported as the new pod's.
     *
     * <p>The words {@link EndpointEntry} does not carry, egress_route and mirror,
     * are others' to set (egress routes, captures): a rewrite of the same
     * endpoint keeps them as they are. A new endpoint id on the address starts
     * with both 0, as with its counters: they were set for the other pod.
     *
     * <p>The veth's entry in ferry_veth_endpoints is written every time, changed
     * or not: a restart's restore fills it for endpoints made by an agent that
     * had no such map.
     */
    public synchronized void put(InetAddress address, EndpointEntry entry) {
        int cpus = BpfMap.possibleCpus();
        long stride = map.perCpuValueStride();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment key = key(arena, address);
            MemorySegment info = info(arena, entry);
            MemorySegment values = arena.allocate(map.valueSegmentSize(), 8); // zeroed: a new key's counters start at 0
            if (map.lookup(key, values)) {
                // The egress route and the mirror are written by their own setters, not by the endpoint's owner;
                // a new endpoint on the address starts without them.
                MemorySegment current = infoOf(values, 0, stride);
                if (current.get(JAVA_INT, ENDPOINT_ID) == entry.endpointId()) {
                    info.set(JAVA_INT, EGRESS_ROUTE, current.get(JAVA_INT, EGRESS_ROUTE));
                    info.set(JAVA_INT, MIRROR, current.get(JAVA_INT, MIRROR));
                }
                if (onEveryCpu(values, cpus, stride, info)) {
                    update(veths, ifindexKey(arena, entry.ifindex()), key);
                    return;
                }
                MemorySegment old = infoOf(values, 0, stride);
                if (old.get(JAVA_INT, IFINDEX) != entry.ifindex()) {
                    forgetVeth(arena, old.get(JAVA_INT, IFINDEX), key);
                }
                if (old.get(JAVA_INT, ENDPOINT_ID) != entry.endpointId()) {
                    values.fill((byte) 0);
                }
            }
            for (int cpu = 0; cpu < cpus; cpu++) {
                infoOf(values, cpu, stride).copyFrom(info);
            }
            update(map, key, values);
            update(veths, ifindexKey(arena, entry.ifindex()), key);
        }
    }

    /**
     * Neither map is preallocated, so a new key's value (per CPU, in the
     * endpoints map) comes from the kernel's pools for atomic allocations, which
     * a burst of inserts (a fill, or the first reconcile after an upgrade to new
     * map names) can drain before the kernel's worker refills them: ENOMEM that
     * passes within milliseconds. A full map is E2BIG and fails at once.
     */
    private static void update(BpfMap target, MemorySegment key, MemorySegment value) {
        for (int attempt = 1; ; attempt++) {
            try {
                target.update(key, value, BpfMap.ANY);
                return;
            } catch (BpfException e) {
                if (e.errno() != Errno.ENOMEM || attempt == ENOMEM_ATTEMPTS) {
                    throw e;
                }
            }
            try {
                Thread.sleep(attempt); // 1 + 2 + ... ms: the refill is a workqueue item away
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while the kernel refilled its allocation pool", e);
            }
        }
    }

    /**
     * Sets the egress table the endpoint's traffic follows (0: none) on every
     * CPU, keeping the rest of its info and its counters. Returns false when
     * there is no such endpoint.
     */
    public synchronized boolean setEgressRoute(InetAddress address, int table) {
        return setWord(address, EGRESS_ROUTE, table);
    }

    /**
     * Sets the endpoint's mirror word (bits of ferry_mirrors slots; 0: not
     * mirrored) on every CPU, keeping the rest of its info and its counters.
     * Returns false when no endpoint has the address.
     */
    public synchronized boolean setMirror(InetAddress address, int mirror) {
        return setWord(address, MIRROR, mirror);
    }

    /** The endpoint's mirror word, when it has an entry. */
    public Optional<Integer> mirror(InetAddress address) {
        return word(address, MIRROR);
    }

    /** The endpoint's egress_route word (0: none), when it has an entry. */
    public Optional<Integer> egressRoute(InetAddress address) {
        return word(address, EGRESS_ROUTE);
    }

    /** Every endpoint's non-zero mirror word, by address. */
    public Map<InetAddress, Integer> mirrors() {
        Map<InetAddress, Integer> mirrors = new LinkedHashMap<>();
        map.forEach((key, values) -> {
            int mirror = infoOf(values, 0, 0).get(JAVA_INT, MIRROR);
            if (mirror != 0) {
                mirrors.put(address(key), mirror);
            }
        });
        return mirrors;
    }

    private Optional<Integer> word(InetAddress address, long offset) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment values = arena.allocate(map.valueSegmentSize(), 8);
            return map.lookup(key(arena, address), values)
                    ? Optional.of(infoOf(values, 0, 0).get(JAVA_INT, offset)) : Optional.empty();
        }
    }

    /**
     * Read-modify-write of one info word on every CPU. Counter increments the
     * programs make between the read and the write are lost, as in {@link #put};
     * BPF_EXIST: an endpoint deleted meanwhile is not brought back.
     */
    private boolean setWord(InetAddress address, long offset, int value) {
        int cpus = BpfMap.possibleCpus();
        long stride = map.perCpuValueStride();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment key = key(arena, address);
            MemorySegment values = arena.allocate(map.valueSegmentSize(), 8);
            if (!map.lookup(key, values)) {
                return false;
            }
            boolean same = true;
            for (int cpu = 0; cpu < cpus; cpu++) {
                same &= infoOf(values, cpu, stride).get(JAVA_INT, offset) == value;
            }
            // Reconcilers set words on every tick: a word already so is not written, so no count is lost.
            if (same) {
                return true;
            }
            for (int cpu = 0; cpu < cpus; cpu++) {
                infoOf(values, cpu, stride).set(JAVA_INT, offset, value);
            }
            try {
                map.update(key, values, BpfMap.EXIST);
            } catch (BpfException e) {
                if (e.errno() == Errno.ENOENT) {
                    return false;
                }
                throw e;
            }
            return true;
        }
    }

    /** The entry of {@code address}; every CPU holds the same, CPU 0's is read. */
    public Optional<EndpointEntry> get(InetAddress address) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment values = arena.allocate(map.valueSegmentSize(), 8);
            return map.lookup(key(arena, address), values)
                    ? Optional.of(entry(infoOf(values, 0, 0))) : Optional.empty();
        }
    }

    /** Returns whether an entry was there. Its counters go with it, and its veth's entry if it names this address. */
    public boolean delete(InetAddress address) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment key = key(arena, address);
            MemorySegment values = arena.allocate(map.valueSegmentSize(), 8);
            if (!map.lookup(key, values)) {
                return false;
            }
            boolean deleted = map.delete(key);
            forgetVeth(arena, infoOf(values, 0, 0).get(JAVA_INT, IFINDEX), key);
            return deleted;
        }
    }

    /** The address ferry_veth_endpoints names for the host veth {@code ifindex}. */
    public Optional<InetAddress> addressOfVeth(int ifindex) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment key = arena.allocate(ENDPOINT_KEY);
            return veths.lookup(ifindexKey(arena, ifindex), key) ? Optional.of(address(key)) : Optional.empty();
        }
    }

    /** Removes the veth's entry when it names {@code key}: another address may have taken the veth since. */
    private void forgetVeth(Arena arena, int ifindex, MemorySegment key) {
        MemorySegment vethKey = ifindexKey(arena, ifindex);
        MemorySegment named = arena.allocate(ENDPOINT_KEY);
        if (veths.lookup(vethKey, named) && named.mismatch(key) == -1) {
            veths.delete(vethKey);
        }
    }

    private static MemorySegment ifindexKey(Arena arena, int ifindex) {
        return arena.allocateFrom(JAVA_INT, ifindex);
    }

    public Map<InetAddress, EndpointEntry> entries() {
        Map<InetAddress, EndpointEntry> entries = new LinkedHashMap<>();
        map.forEach((key, values) -> entries.put(address(key), entry(infoOf(values, 0, 0))));
        return entries;
    }

    public int capacity() {
        return map.maxEntries();
    }

    static MemorySegment key(Arena arena, InetAddress address) {
        MemorySegment key = arena.allocate(ENDPOINT_KEY); // zeroed: pad and unused address bytes must be 0
        key.set(JAVA_BYTE, KEY_FAMILY, (byte) family(address));
        MemorySegment.copy(address.getAddress(), 0, key, JAVA_BYTE, KEY_ADDR, address.getAddress().length);
        return key;
    }

    static int family(InetAddress address) {
        return address instanceof Inet4Address ? MapLayouts.FAMILY_IPV4 : MapLayouts.FAMILY_IPV6;
    }

    private static InetAddress address(MemorySegment key) {
        int length = key.get(JAVA_BYTE, KEY_FAMILY) == MapLayouts.FAMILY_IPV4 ? 4 : 16;
        try {
            return InetAddress.getByAddress(key.asSlice(KEY_ADDR, length).toArray(JAVA_BYTE));
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    private static boolean onEveryCpu(MemorySegment values, int cpus, long stride, MemorySegment info) {
        for (int cpu = 0; cpu < cpus; cpu++) {
            if (infoOf(values, cpu, stride).mismatch(info) != -1) {
                return false;
            }
        }
        return true;
    }

    /** One CPU's info in a per-CPU value buffer. */
    static MemorySegment infoOf(MemorySegment values, int cpu, long stride) {
        return values.asSlice(cpu * stride + INFO, ENDPOINT_INFO.byteSize());
    }

    private static MemorySegment info(Arena arena, EndpointEntry entry) {
        MemorySegment info = arena.allocate(ENDPOINT_INFO);
        info.set(JAVA_INT, IFINDEX, entry.ifindex());
        info.set(JAVA_INT, ENDPOINT_ID, entry.endpointId());
        info.set(JAVA_INT, FLAGS, entry.flags());
        MemorySegment.copy(entry.podMac().bytes(), 0, info, JAVA_BYTE, POD_MAC, 6);
        MemorySegment.copy(entry.hostMac().bytes(), 0, info, JAVA_BYTE, HOST_MAC, 6);
        return info;
    }

    private static EndpointEntry entry(MemorySegment info) {
        return new EndpointEntry(
                info.get(JAVA_INT, IFINDEX),
                info.get(JAVA_INT, ENDPOINT_ID),
                info.get(JAVA_INT, FLAGS),
                new MacAddress(info.asSlice(POD_MAC, 6).toArray(JAVA_BYTE)),
                new MacAddress(info.asSlice(HOST_MAC, 6).toArray(JAVA_BYTE)));
    }
}
