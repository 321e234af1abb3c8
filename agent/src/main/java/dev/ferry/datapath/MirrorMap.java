package dev.ferry.datapath;

import dev.ferry.bpf.BpfMap;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;

import static dev.ferry.datapath.MapLayouts.MIRROR_COUNTERS;
import static dev.ferry.datapath.MapLayouts.MIRROR_SLOT;
import static dev.ferry.datapath.MapLayouts.offset;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * ferry_mirrors, the capture slots of bpf/lib/mirror.h, and their per-CPU clone
 * counters (ferry_mirror_counters). Which slot is whose is the agent's business
 * ({@code dev.ferry.capture.MirrorSlots}); this class only reads and writes them.
 */
public final class MirrorMap {
    public static final String NAME = "ferry_mirrors";
    public static final String COUNTERS = "ferry_mirror_counters";

    private static final long IFINDEX = offset(MIRROR_SLOT, "ifindex");
    private static final long DIRECTIONS = offset(MIRROR_SLOT, "directions");
    private static final long PROTOCOL = offset(MIRROR_SLOT, "protocol");
    private static final long PORT = offset(MIRROR_SLOT, "port");
    private static final long PEER_FAMILY = offset(MIRROR_SLOT, "peer_family");
    private static final long PEER = offset(MIRROR_SLOT, "peer");
    private static final long CLONED = offset(MIRROR_COUNTERS, "cloned");
    private static final long FAILED = offset(MIRROR_COUNTERS, "failed");

    /** Copies sent and copies the kernel refused, summed over CPUs. */
    public record Clones(long cloned, long failed) {
        Clones plus(Clones other) {
            return new Clones(cloned + other.cloned, failed + other.failed);
        }
    }

    private final BpfMap slots;
    private final BpfMap counters;

    MirrorMap(BpfMap slots, BpfMap counters) {
        this.slots = slots;
        this.counters = counters;
    }

    public void put(int slot, MirrorSlot mirror) {
        check(slot);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(MIRROR_SLOT); // zeroed: pad and unused peer bytes
            value.set(JAVA_INT, IFINDEX, mirror.ifindex());
            value.set(JAVA_BYTE, DIRECTIONS, (byte) mirror.directions());
            value.set(JAVA_BYTE, PROTOCOL, (byte) mirror.protocol());
            value.set(JAVA_BYTE, PORT, (byte) (mirror.port() >> 8)); // network order
            value.set(JAVA_BYTE, PORT + 1, (byte) mirror.port());
            value.set(JAVA_BYTE, PEER_FAMILY, (byte) mirror.peerFamily());
            mirror.peer().map(InetAddress::getAddress)
                    .ifPresent(a -> MemorySegment.copy(a, 0, value, JAVA_BYTE, PEER, a.length));
            slots.update(arena.allocateFrom(JAVA_INT, slot), value, BpfMap.ANY);
        }
    }

    /** Frees the slot: the programs skip a slot whose ifindex is 0. */
    public void clear(int slot) {
        check(slot);
        try (Arena arena = Arena.ofConfined()) {
            slots.update(arena.allocateFrom(JAVA_INT, slot), arena.allocate(MIRROR_SLOT), BpfMap.ANY);
        }
    }

    /** The device of the slot, 0 when it is free. */
    public int ifindex(int slot) {
        check(slot);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(MIRROR_SLOT);
            return slots.lookup(arena.allocateFrom(JAVA_INT, slot), value) ? value.get(JAVA_INT, IFINDEX) : 0;
        }
    }

    public Clones clones(int slot) {
        check(slot);
        int cpus = BpfMap.possibleCpus();
        long stride = counters.perCpuValueStride();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment values = arena.allocate(counters.valueSegmentSize(), 8);
            if (!counters.lookup(arena.allocateFrom(JAVA_INT, slot), values)) {
                return new Clones(0, 0);
            }
            long cloned = 0;
            long failed = 0;
            for (int cpu = 0; cpu < cpus; cpu++) {
                cloned += values.get(JAVA_LONG, cpu * stride + CLONED);
                failed += values.get(JAVA_LONG, cpu * stride + FAILED);
            }
            return new Clones(cloned, failed);
        }
    }

    /** Every slot's clones together: the node's ferry_capture_packets and failures. */
    public Clones totalClones() {
        Clones total = new Clones(0, 0);
        for (int slot = 0; slot < MapLayouts.MIRROR_SLOTS; slot++) {
            total = total.plus(clones(slot));
        }
        return total;
    }

    private static void check(int slot) {
        if (slot < 0 || slot >= MapLayouts.MIRROR_SLOTS) {
            throw new IllegalArgumentException("no mirror slot " + slot + " (0.." + (MapLayouts.MIRROR_SLOTS - 1) + ")");
        }
    }
}
