package dev.ferry.bpf;

import dev.ferry.testing.BpfPins;
import dev.ferry.linux.Errno;
import dev.ferry.testing.RequiresRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;

import static dev.ferry.bpf.BpfFixtures.u32;
import static dev.ferry.bpf.BpfFixtures.u64;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@RequiresRoot
class BpfObjectTest {
    private final BpfPins root = BpfPins.create("ferry-test-bpf");
    private final BpfPins otherRoot = BpfPins.create("ferry-test-bpf");

    @AfterEach
    void removePins() throws IOException {
        root.close();
        otherRoot.close();
    }

    @Test
    void loadedObjectHandsOutItsProgramsAndMapsByName() {
        try (BpfObject object = BpfFixtures.loadLayer(root)) {
            BpfProgram program = object.program("verdict_from_config");
            assertEquals("verdict_from_config", program.name());
            assertTrue(program.fd() > 0);
            assertTrue(program.id() > 0);
            assertEquals(program.id(), object.program("verdict_from_config").id());

            BpfMap state = object.map("fixture_state");
            assertEquals("fixture_state", state.name());
            assertEquals(BpfMap.HASH, state.type());
            assertEquals(4, state.keySize());
            assertEquals(8, state.valueSize());
            assertEquals(64, state.maxEntries());
            assertFalse(state.isPerCpu());
        }
    }

    @Test
    void missingProgramIsReportedByNameAndObject() {
        try (BpfObject object = BpfFixtures.loadLayer(root)) {
            BpfException e = assertThrows(BpfException.class, () -> object.program("no_such_program"));
            assertEquals(Errno.ENOENT, e.errno());
            assertTrue(e.getMessage().contains("'no_such_program'"), e.getMessage());
            assertTrue(e.getMessage().contains("'ferry_test'"), e.getMessage());
        }
    }

    @Test
    void missingMapIsReportedByNameAndObject() {
        try (BpfObject object = BpfFixtures.loadLayer(root)) {
            BpfException e = assertThrows(BpfException.class, () -> object.map("no_such_map"));
            assertEquals(Errno.ENOENT, e.errno());
            assertTrue(e.getMessage().contains("has no map 'no_such_map'"), e.getMessage());
            assertTrue(e.getMessage().contains("'ferry_test'"), e.getMessage());
        }
    }

    @Test
    void verifierRejectionQuotesTheVerifiersComplaint() {
        BpfException e = assertThrows(BpfException.class,
                () -> BpfObject.load("reject", BpfFixtures.elf(BpfFixtures.VERIFIER_REJECT), root.root()));
        assertEquals("failed to load BPF object 'reject'", e.operation());
        assertTrue(e.errno() > 0);
        assertTrue(e.log().contains("invalid access to packet"), e.log());
        assertTrue(e.getMessage().contains("invalid access to packet"), e.getMessage());
        assertTrue(e.getMessage().contains(e.libbpfMessage()), e.getMessage());
    }

    @Test
    void garbageIsRefusedAtOpen() {
        BpfException e = assertThrows(BpfException.class,
                () -> BpfObject.load("garbage", new byte[]{1, 2, 3, 4, 5, 6, 7, 8}, root.root()));
        assertEquals("failed to open BPF object 'garbage'", e.operation());
        assertTrue(e.errno() > 0);
    }

    @Test
    void mapsDeclaredPinnedByNameArePinnedUnderTheBpfPins() {
        try (BpfObject ignored = BpfFixtures.loadLayer(root)) {
            assertTrue(Files.exists(root.resolve("fixture_state")));
            assertFalse(Files.exists(root.resolve("fixture_config")), "only maps declared pinned are pinned");
        }
        assertTrue(Files.exists(root.resolve("fixture_state")), "pins outlive the object");
    }

    @Test
    void secondLoadAdoptsThePinnedMapsAndTheirValues() {
        try (Arena arena = Arena.ofConfined()) {
            try (BpfObject first = BpfFixtures.loadLayer(root)) {
                first.map("fixture_state").update(u32(arena, 7), u64(arena, 42), BpfMap.NOEXIST);
            }
            MemorySegment value = arena.allocate(JAVA_LONG);
            try (BpfObject second = BpfFixtures.loadLayer(root)) {
                assertTrue(second.map("fixture_state").lookup(u32(arena, 7), value));
                assertEquals(42, value.get(JAVA_LONG, 0));
            }
            // The control: under another pin root the same object starts from an empty map.
            try (BpfObject elsewhere = BpfObject.load("ferry_test", BpfFixtures.elf(BpfFixtures.LAYER),
                    otherRoot.root())) {
                assertFalse(elsewhere.map("fixture_state").lookup(u32(arena, 7), value));
            }
        }
    }

    @Test
    void programsOfTwoLoadsAreDistinctKernelObjects() {
        try (BpfObject first = BpfFixtures.loadLayer(root); BpfObject second = BpfFixtures.loadLayer(root)) {
            assertNotEquals(first.program("verdict_shot").id(), second.program("verdict_shot").id());
        }
    }

    @Test
    void closedObjectRefusesItsProgramsAndMaps() {
        BpfObject object = BpfFixtures.loadLayer(root);
        BpfProgram program = object.program("verdict_shot");
        BpfMap map = object.map("fixture_config");
        object.close();
        object.close();
        assertThrows(IllegalStateException.class, program::fd);
        try (Arena arena = Arena.ofConfined()) {
            assertThrows(IllegalStateException.class, () -> map.lookup(u32(arena, 0), arena.allocate(4)));
        }
        assertThrows(IllegalStateException.class, () -> object.map("fixture_config"));
    }
}
