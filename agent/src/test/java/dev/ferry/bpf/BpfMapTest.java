package dev.ferry.bpf;

import dev.ferry.testing.BpfPins;
import dev.ferry.linux.Errno;
import dev.ferry.testing.RequiresRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static dev.ferry.bpf.BpfFixtures.u32;
import static dev.ferry.bpf.BpfFixtures.u64;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@RequiresRoot
class BpfMapTest {
    private final BpfPins root = BpfPins.create("ferry-test-bpf");
    private BpfObject object;

    @BeforeEach
    void load() {
        object = BpfFixtures.loadLayer(root);
    }

    @AfterEach
    void close() throws IOException {
        try {
            object.close();
        } finally {
            root.close();
        }
    }

    @Test
    void updateLookupDeleteRoundTripWithMissingKeysAsFalse() {
        BpfMap map = object.map("fixture_state");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(JAVA_LONG);
            assertFalse(map.lookup(u32(arena, 1), value));

            map.update(u32(arena, 1), u64(arena, 100), BpfMap.ANY);
            assertTrue(map.lookup(u32(arena, 1), value));
            assertEquals(100, value.get(JAVA_LONG, 0));

            map.update(u32(arena, 1), u64(arena, 101), BpfMap.EXIST);
            assertTrue(map.lookup(u32(arena, 1), value));
            assertEquals(101, value.get(JAVA_LONG, 0));

            assertTrue(map.delete(u32(arena, 1)));
            assertFalse(map.lookup(u32(arena, 1), value));
            assertFalse(map.delete(u32(arena, 1)));
        }
    }

    @Test
    void updateFlagsAreEnforcedByTheKernel() {
        BpfMap map = object.map("fixture_state");
        try (Arena arena = Arena.ofConfined()) {
            BpfException missing = assertThrows(BpfException.class,
                    () -> map.update(u32(arena, 2), u64(arena, 1), BpfMap.EXIST));
            assertEquals(Errno.ENOENT, missing.errno());
            map.update(u32(arena, 2), u64(arena, 1), BpfMap.NOEXIST);
            BpfException exists = assertThrows(BpfException.class,
                    () -> map.update(u32(arena, 2), u64(arena, 2), BpfMap.NOEXIST));
            assertEquals(Errno.EEXIST, exists.errno());
            assertTrue(exists.getMessage().contains("'fixture_state'"), exists.getMessage());
        }
    }

    @Test
    void nextKeyVisitsEveryKeyOnceAndThenReportsTheEnd() {
        BpfMap map = object.map("fixture_state");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment next = arena.allocate(JAVA_INT);
            assertFalse(map.nextKey(null, next), "an empty map has no first key");
            for (int k = 1; k <= 5; k++) {
                map.update(u32(arena, k), u64(arena, k * 10L), BpfMap.NOEXIST);
            }
            Set<Integer> seen = new HashSet<>();
            MemorySegment key = null;
            while (map.nextKey(key, next)) {
                assertTrue(seen.add(next.get(JAVA_INT, 0)), "key visited twice: " + next.get(JAVA_INT, 0));
                key = arena.allocate(JAVA_INT).copyFrom(next);
            }
            assertEquals(Set.of(1, 2, 3, 4, 5), seen);
        }
    }

    @Test
    void heapSegmentsWorkLikeNativeOnes() {
        BpfMap map = object.map("fixture_state");
        MemorySegment key = MemorySegment.ofArray(new int[]{9});
        map.update(key, MemorySegment.ofArray(new long[]{99}), BpfMap.ANY);
        long[] out = new long[1];
        assertTrue(map.lookup(key, MemorySegment.ofArray(out)));
        assertEquals(99, out[0]);
        int[] next = new int[1];
        assertTrue(map.nextKey(null, MemorySegment.ofArray(next)));
        assertEquals(9, next[0]);
    }

    @Test
    void segmentsOfTheWrongSizeAreRefusedBeforeTheKernelSeesThem() {
        BpfMap map = object.map("fixture_state");
        try (Arena arena = Arena.ofConfined()) {
            var shortKey = assertThrows(IllegalArgumentException.class,
                    () -> map.update(arena.allocate(2), u64(arena, 1), BpfMap.ANY));
            assertTrue(shortKey.getMessage().contains("key of 4 bytes, got 2"), shortKey.getMessage());
            var shortValue = assertThrows(IllegalArgumentException.class,
                    () -> map.lookup(u32(arena, 1), arena.allocate(4)));
            assertTrue(shortValue.getMessage().contains("value of 8 bytes, got 4"), shortValue.getMessage());
            BpfMap perCpu = object.map("fixture_packets");
            var oneCpu = assertThrows(IllegalArgumentException.class,
                    () -> perCpu.lookup(u32(arena, 0), arena.allocate(8)));
            assertTrue(oneCpu.getMessage().contains(BpfMap.possibleCpus() + " CPUs x 8"), oneCpu.getMessage());
        }
    }

    @Test
    void perCpuValuesReadPerCpuSumToTheNumberOfRuns() throws Exception {
        BpfMap packets = object.map("fixture_packets");
        assertTrue(packets.isPerCpu());
        assertEquals(BpfMap.PERCPU_ARRAY, packets.type());
        assertEquals(4, packets.valueSize());
        assertEquals(8, packets.perCpuValueStride(), "each CPU's 4-byte value is padded to 8");
        assertEquals(BpfMap.possibleCpus() * 8L, packets.valueSegmentSize());

        BpfProgram program = object.program("verdict_from_config");
        int threads = 4;
        int runsPerThread = 25;
        int repeat = 3;
        // Several threads so that, scheduler willing, more than one CPU's slot counts.
        try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            Future<?>[] done = new Future<?>[threads];
            for (int t = 0; t < threads; t++) {
                done[t] = pool.submit(() -> {
                    for (int i = 0; i < runsPerThread; i++) {
                        program.testRun(new TestRun(BpfFixtures.frame(), 0, 0, repeat));
                    }
                });
            }
            for (Future<?> f : done) {
                f.get();
            }
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment values = arena.allocate(packets.valueSegmentSize());
            assertTrue(packets.lookup(u32(arena, 0), values));
            long sum = 0;
            for (int cpu = 0; cpu < BpfMap.possibleCpus(); cpu++) {
                int count = values.get(JAVA_INT, cpu * packets.perCpuValueStride());
                assertTrue(count >= 0);
                sum += count;
                assertEquals(0, values.get(JAVA_INT, cpu * packets.perCpuValueStride() + 4), "padding stays zero");
            }
            assertEquals((long) threads * runsPerThread * repeat, sum);
        }
    }

    @Test
    void openPinnedReadsThePinnedMapsMetadataAndSharesItsContents() {
        try (Arena arena = Arena.ofConfined();
             BpfMap pinned = BpfMap.openPinned(root.resolve("fixture_state"))) {
            assertEquals("fixture_state", pinned.name());
            assertEquals(BpfMap.HASH, pinned.type());
            assertEquals(4, pinned.keySize());
            assertEquals(8, pinned.valueSize());
            assertEquals(64, pinned.maxEntries());

            object.map("fixture_state").update(u32(arena, 3), u64(arena, 33), BpfMap.ANY);
            MemorySegment value = arena.allocate(JAVA_LONG);
            assertTrue(pinned.lookup(u32(arena, 3), value));
            assertEquals(33, value.get(JAVA_LONG, 0));
        }
    }

    @Test
    void closingAPinnedMapClosesOnlyItsOwnFd() {
        BpfMap pinned = BpfMap.openPinned(root.resolve("fixture_state"));
        pinned.close();
        try (Arena arena = Arena.ofConfined()) {
            assertThrows(IllegalStateException.class, () -> pinned.lookup(u32(arena, 1), arena.allocate(8)));
            BpfMap borrowed = object.map("fixture_state");
            borrowed.close();
            assertFalse(borrowed.lookup(u32(arena, 1), arena.allocate(8)), "a borrowed map ignores close");
        }
    }

    @Test
    void openPinnedOfAMissingPinFailsWithEnoent() {
        BpfException e = assertThrows(BpfException.class, () -> BpfMap.openPinned(root.resolve("nothing")));
        assertEquals(Errno.ENOENT, e.errno());
        assertTrue(e.getMessage().contains(root.resolve("nothing").toString()), e.getMessage());
    }
}
