package dev.ferry.bpf;

import dev.ferry.testing.BpfPins;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** The compiled fixtures of bpf/test and the throwaway pin roots the bpf layer tests load them under. */
final class BpfFixtures {
    private BpfFixtures() {}

    static final String LAYER = "layer_fixture";
    static final String VERIFIER_REJECT = "verifier_reject";

    static final int TC_ACT_OK = 0;
    static final int TC_ACT_SHOT = 2;

    /** The object bpf/Makefile built from bpf/test/NAME.bpf.c. */
    static byte[] elf(String name) {
        String resource = "/bpf/" + name + ".bpf.o";
        try (InputStream in = BpfFixtures.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("no test fixture " + resource + " on the classpath (built by bpf/Makefile)");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static BpfObject loadLayer(BpfPins root) {
        return BpfObject.load("ferry_test", elf(LAYER), root.root());
    }

    static MemorySegment u32(Arena arena, int value) {
        return arena.allocateFrom(JAVA_INT, value);
    }

    static MemorySegment u64(Arena arena, long value) {
        return arena.allocateFrom(JAVA_LONG, value);
    }

    /** Sum over CPUs of the u32 counter at key 0 of a per-CPU array (fixture_packets). */
    static long perCpuSum(BpfMap map) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment values = arena.allocate(map.valueSegmentSize());
            if (!map.lookup(u32(arena, 0), values)) {
                throw new IllegalStateException(map + " has no key 0");
            }
            long sum = 0;
            for (int cpu = 0; cpu < BpfMap.possibleCpus(); cpu++) {
                sum += values.get(JAVA_INT, cpu * map.perCpuValueStride());
            }
            return sum;
        }
    }

    /** An Ethernet frame with distinct MACs and an IPv4 ethertype, padded to 64 bytes. */
    static byte[] frame() {
        byte[] frame = new byte[64];
        byte[] dst = {0x02, 0, 0, 0, 0, 0x01};
        byte[] src = {0x02, 0, 0, 0, 0, 0x02};
        System.arraycopy(dst, 0, frame, 0, 6);
        System.arraycopy(src, 0, frame, 6, 6);
        frame[12] = 0x08;
        for (int i = 14; i < frame.length; i++) {
            frame[i] = (byte) i;
        }
        return frame;
    }
}
