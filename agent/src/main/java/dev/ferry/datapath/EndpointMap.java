package dev.ferry.datapath;

import dev.ferry.bpf.BpfMap;
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
import static dev.ferry.datapath.MapLayouts.offset;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/** Typed access to ferry_endpoints: pod address to {@link EndpointEntry}. */
public final class EndpointMap {
    static final String NAME = "ferry_endpoints";

    private static final long KEY_FAMILY = offset(ENDPOINT_KEY, "family");
    private static final long KEY_ADDR = offset(ENDPOINT_KEY, "addr");
    private static final long IFINDEX = offset(ENDPOINT_INFO, "ifindex");
    private static final long ENDPOINT_ID = offset(ENDPOINT_INFO, "endpoint_id");
    private static final long FLAGS = offset(ENDPOINT_INFO, "flags");
    private static final long POD_MAC = offset(ENDPOINT_INFO, "pod_mac");
    private static final long HOST_MAC = offset(ENDPOINT_INFO, "host_mac");

    private final BpfMap map;

    EndpointMap(BpfMap map) {
        this.map = map;
    }

    public void put(InetAddress address, EndpointEntry entry) {
        try (Arena arena = Arena.ofConfined()) {
            map.update(key(arena, address), value(arena, entry), BpfMap.ANY);
        }
    }

    public Optional<EndpointEntry> get(InetAddress address) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(ENDPOINT_INFO);
            return map.lookup(key(arena, address), value) ? Optional.of(entry(value)) : Optional.empty();
        }
    }

    /** Returns whether an entry was there. */
    public boolean delete(InetAddress address) {
        try (Arena arena = Arena.ofConfined()) {
            return map.delete(key(arena, address));
        }
    }

    public Map<InetAddress, EndpointEntry> entries() {
        Map<InetAddress, EndpointEntry> entries = new LinkedHashMap<>();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment key = arena.allocate(ENDPOINT_KEY);
            MemorySegment next = arena.allocate(ENDPOINT_KEY);
            MemorySegment value = arena.allocate(ENDPOINT_INFO);
            MemorySegment previous = null; // null: start from the first key
            while (map.nextKey(previous, next)) {
                key.copyFrom(next);
                if (map.lookup(key, value)) {
                    entries.put(address(key), entry(value));
                }
                previous = key;
            }
        }
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

    private static MemorySegment value(Arena arena, EndpointEntry entry) {
        MemorySegment value = arena.allocate(ENDPOINT_INFO);
        value.set(JAVA_INT, IFINDEX, entry.ifindex());
        value.set(JAVA_INT, ENDPOINT_ID, entry.endpointId());
        value.set(JAVA_INT, FLAGS, entry.flags());
        MemorySegment.copy(entry.podMac().bytes(), 0, value, JAVA_BYTE, POD_MAC, 6);
        MemorySegment.copy(entry.hostMac().bytes(), 0, value, JAVA_BYTE, HOST_MAC, 6);
        return value;
    }

    private static EndpointEntry entry(MemorySegment value) {
        return new EndpointEntry(
                value.get(JAVA_INT, IFINDEX),
                value.get(JAVA_INT, ENDPOINT_ID),
                value.get(JAVA_INT, FLAGS),
                new MacAddress(value.asSlice(POD_MAC, 6).toArray(JAVA_BYTE)),
                new MacAddress(value.asSlice(HOST_MAC, 6).toArray(JAVA_BYTE)));
    }
}
