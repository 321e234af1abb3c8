package dev.ferry.datapath;

import dev.ferry.bpf.BpfMap;
import dev.ferry.net.IpPrefix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.ferry.datapath.MapLayouts.EGRESS_DEST_KEY;
import static dev.ferry.datapath.MapLayouts.EGRESS_DEST_VALUE;
import static dev.ferry.datapath.MapLayouts.EGRESS_NEXTHOP;
import static dev.ferry.datapath.MapLayouts.EGRESS_ROUTE_VALUE;
import static dev.ferry.datapath.MapLayouts.METRICS_VALUE;
import static dev.ferry.datapath.MapLayouts.offset;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Typed access to the egress route maps of bpf/lib/egress.h: the tables
 * (ferry_egress_routes: table and destination to route id), the routes' next
 * hops (ferry_egress_nexthops) and their per-CPU counters (ferry_egress_counters).
 */
public final class EgressMaps {
    public static final String DESTINATIONS = "ferry_egress_routes";
    public static final String NEXTHOPS = "ferry_egress_nexthops";
    public static final String COUNTERS = "ferry_egress_counters";

    /** FERRY_EGRESS_F_* in bpf/lib/abi.h. */
    static final int F_MASQUERADE = 1;
    static final int F_FALLBACK_DROP = 1 << 1;

    private static final long KEY_PREFIXLEN = offset(EGRESS_DEST_KEY, "prefixlen");
    private static final long KEY_TABLE = offset(EGRESS_DEST_KEY, "table");
    private static final long KEY_FAMILY = offset(EGRESS_DEST_KEY, "family");
    private static final long KEY_ADDR = offset(EGRESS_DEST_KEY, "addr");
    private static final long DEST_ROUTE = offset(EGRESS_DEST_VALUE, "route");
    private static final long FLAGS = offset(EGRESS_ROUTE_VALUE, "flags");
    private static final long MARK = offset(EGRESS_ROUTE_VALUE, "mark");
    private static final long LIVE = offset(EGRESS_ROUTE_VALUE, "live");
    private static final long SLOTS = offset(EGRESS_ROUTE_VALUE, "slots");
    private static final long NEXTHOPS_AT = offset(EGRESS_ROUTE_VALUE, "nexthops");
    private static final long NH_IFINDEX = offset(EGRESS_NEXTHOP, "ifindex");
    private static final long NH_FAMILY = offset(EGRESS_NEXTHOP, "family");
    private static final long NH_ADDR = offset(EGRESS_NEXTHOP, "addr");
    private static final long PACKETS = offset(METRICS_VALUE, "packets");
    private static final long BYTES = offset(METRICS_VALUE, "bytes");
    private static final int COUNTERS_PER_ROUTE = MapLayouts.EGRESS_NEXTHOPS + 1;

    /** One prefix of one table. */
    public record Destination(int table, IpPrefix prefix) {}

    private final BpfMap destinations;
    private final BpfMap nextHops;
    private final BpfMap counters;

    EgressMaps(BpfMap destinations, BpfMap nextHops, BpfMap counters) {
        this.destinations = destinations;
        this.nextHops = nextHops;
        this.counters = counters;
    }

    public void putDestination(Destination destination, int route) {
        checkRoute(route);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(EGRESS_DEST_VALUE);
            value.set(JAVA_INT, DEST_ROUTE, route);
            destinations.update(key(arena, destination), value, BpfMap.ANY);
        }
    }

    /** Returns whether the prefix was there. */
    public boolean removeDestination(Destination destination) {
        try (Arena arena = Arena.ofConfined()) {
            return destinations.delete(key(arena, destination));
        }
    }

    /** Every prefix of every table with the route that serves it. */
    public Map<Destination, Integer> destinations() {
        Map<Destination, Integer> all = new LinkedHashMap<>();
        destinations.forEach((key, value) -> all.put(destination(key), value.get(JAVA_INT, DEST_ROUTE)));
        return all;
    }

    /** Writes the route's value: its next hops, and each family's flow buckets spread over its live ones. */
    public void putRoute(int route, EgressRouteEntry entry) {
        checkRoute(route);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(EGRESS_ROUTE_VALUE); // zeroed: pad and unused next hops are 0
            value.set(JAVA_INT, FLAGS, (entry.masquerade() ? F_MASQUERADE : 0) | (entry.fallbackDrop() ? F_FALLBACK_DROP : 0));
            value.set(JAVA_INT, MARK, entry.mark());
            value.set(JAVA_BYTE, LIVE, (byte) entry.liveCount());
            boolean[] live = new boolean[entry.nextHops().size()];
            boolean[] ipv6 = new boolean[live.length];
            for (int i = 0; i < live.length; i++) {
                EgressNextHop hop = entry.nextHops().get(i);
                live[i] = hop.live();
                ipv6[i] = !(hop.address() instanceof java.net.Inet4Address);
                long at = NEXTHOPS_AT + i * EGRESS_NEXTHOP.byteSize();
                byte[] address = hop.address().getAddress();
                value.set(JAVA_INT, at + NH_IFINDEX, hop.ifindex());
                value.set(JAVA_BYTE, at + NH_FAMILY, (byte) EndpointMap.family(hop.address()));
                MemorySegment.copy(address, 0, value, JAVA_BYTE, at + NH_ADDR, address.length);
            }
            int[] slots = EgressSlots.assign(live, ipv6);
            for (int s = 0; s < slots.length; s++) {
                value.set(JAVA_BYTE, SLOTS + s, (byte) slots[s]);
            }
            nextHops.update(arena.allocateFrom(JAVA_INT, route), value, BpfMap.ANY);
        }
    }

    /** An array slot cannot be deleted: a cleared route has no next hop and no flags. No table names it any more. */
    public void clearRoute(int route) {
        checkRoute(route);
        try (Arena arena = Arena.ofConfined()) {
            nextHops.update(arena.allocateFrom(JAVA_INT, route), arena.allocate(EGRESS_ROUTE_VALUE), BpfMap.ANY);
        }
    }

    /** Whether the route's slot holds nothing (no route ever had the id, or it was cleared). */
    public boolean isClear(int route) {
        checkRoute(route);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(EGRESS_ROUTE_VALUE);
            nextHops.lookup(arena.allocateFrom(JAVA_INT, route), value);
            return value.mismatch(arena.allocate(EGRESS_ROUTE_VALUE)) == -1;
        }
    }

    /** The flow bucket assignment of a route as the datapath has it ({@link EgressSlots#NONE} for none). */
    public int[] slots(int route) {
        checkRoute(route);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(EGRESS_ROUTE_VALUE);
            nextHops.lookup(arena.allocateFrom(JAVA_INT, route), value);
            int[] slots = new int[MapLayouts.EGRESS_SLOTS];
            for (int s = 0; s < slots.length; s++) {
                slots[s] = Byte.toUnsignedInt(value.get(JAVA_BYTE, SLOTS + s));
            }
            return slots;
        }
    }

    /** The counters of {@code route} that have counted something. */
    public List<EgressCounter> counters(int route) {
        checkRoute(route);
        List<EgressCounter> result = new ArrayList<>();
        int cpus = BpfMap.possibleCpus();
        long stride = counters.perCpuValueStride();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment index = arena.allocate(JAVA_INT);
            MemorySegment values = arena.allocate(counters.valueSegmentSize(), 8);
            for (int slot = 0; slot < COUNTERS_PER_ROUTE; slot++) {
                index.set(JAVA_INT, 0, route * COUNTERS_PER_ROUTE + slot);
                if (!counters.lookup(index, values)) {
                    continue;
                }
                long packets = 0;
                long bytes = 0;
                for (int cpu = 0; cpu < cpus; cpu++) {
                    packets += values.get(JAVA_LONG, cpu * stride + PACKETS);
                    bytes += values.get(JAVA_LONG, cpu * stride + BYTES);
                }
                if (packets > 0) {
                    result.add(new EgressCounter(route, slot == MapLayouts.EGRESS_NEXTHOPS ? EgressCounter.FALLBACK : slot,
                            packets, bytes));
                }
            }
        }
        return result;
    }

    /** A route id given to another route starts its counters at zero. */
    public void resetCounters(int route) {
        checkRoute(route);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment index = arena.allocate(JAVA_INT);
            MemorySegment zero = arena.allocate(counters.valueSegmentSize(), 8);
            for (int slot = 0; slot < COUNTERS_PER_ROUTE; slot++) {
                index.set(JAVA_INT, 0, route * COUNTERS_PER_ROUTE + slot);
                counters.update(index, zero, BpfMap.ANY);
            }
        }
    }

    private static void checkRoute(int route) {
        if (route <= 0 || route >= MapLayouts.EGRESS_ROUTES_MAX) {
            throw new IllegalArgumentException("egress route id " + route + " is outside 1.." + (MapLayouts.EGRESS_ROUTES_MAX - 1));
        }
    }

    private static MemorySegment key(Arena arena, Destination destination) {
        IpPrefix prefix = destination.prefix();
        byte[] network = prefix.network().getAddress();
        MemorySegment key = arena.allocate(EGRESS_DEST_KEY); // zeroed: pad must be 0
        key.set(JAVA_INT, KEY_PREFIXLEN, MapLayouts.EGRESS_KEY_BITS + prefix.length());
        key.set(JAVA_INT, KEY_TABLE, destination.table());
        key.set(JAVA_BYTE, KEY_FAMILY, (byte) EndpointMap.family(prefix.address()));
        MemorySegment.copy(network, 0, key, JAVA_BYTE, KEY_ADDR, network.length);
        return key;
    }

    private static Destination destination(MemorySegment key) {
        int length = key.get(JAVA_BYTE, KEY_FAMILY) == MapLayouts.FAMILY_IPV4 ? 4 : 16;
        try {
            InetAddress address = InetAddress.getByAddress(key.asSlice(KEY_ADDR, length).toArray(JAVA_BYTE));
            return new Destination(key.get(JAVA_INT, KEY_TABLE),
                    new IpPrefix(address, key.get(JAVA_INT, KEY_PREFIXLEN) - MapLayouts.EGRESS_KEY_BITS));
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }
}
