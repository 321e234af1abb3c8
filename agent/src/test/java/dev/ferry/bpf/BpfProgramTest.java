package dev.ferry.bpf;

import dev.ferry.testing.BpfPins;
import dev.ferry.linux.Errno;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import static dev.ferry.bpf.BpfFixtures.u32;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@RequiresRoot
class BpfProgramTest {
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
    void testRunReturnsTheProgramsVerdictAndItsOutputPacket() {
        BpfProgram program = object.program("verdict_from_config");
        byte[] in = BpfFixtures.frame();

        TestRunResult result = program.testRun(TestRun.of(in));
        assertEquals(BpfFixtures.TC_ACT_OK, result.retval());
        byte[] expected = in.clone();
        System.arraycopy(in, 6, expected, 0, 6);
        System.arraycopy(in, 0, expected, 6, 6);
        assertArrayEquals(expected, result.packet(), "the program swaps the MAC addresses");
        assertTrue(result.durationNs() >= 0);

        try (Arena arena = Arena.ofConfined()) {
            object.map("fixture_config").update(u32(arena, 0), u32(arena, 7), BpfMap.ANY);
        }
        assertEquals(7, program.testRun(TestRun.of(in)).retval(), "the verdict follows the config map");
    }

    @Test
    void eachProgramReturnsItsOwnVerdict() {
        TestRunResult result = object.program("verdict_shot").testRun(TestRun.of(BpfFixtures.frame()));
        assertEquals(BpfFixtures.TC_ACT_SHOT, result.retval());
        assertArrayEquals(BpfFixtures.frame(), result.packet(), "verdict_shot leaves the packet alone");
    }

    @Test
    void programsHaveDistinctStableKernelIds() {
        BpfProgram a = object.program("verdict_from_config");
        BpfProgram b = object.program("verdict_shot");
        assertTrue(a.id() > 0);
        assertNotEquals(a.id(), b.id());
        assertEquals(a.id(), a.id());
    }

    @Test
    void testRunWithIfindexRunsOnThatDeviceOfTheCallersNamespace() throws Exception {
        BpfProgram program = object.program("verdict_from_config");
        try (TestNetns ns = TestNetns.create("fbp"); Arena arena = Arena.ofConfined()) {
            ns.ip("link", "add", "fbp-a", "type", "veth", "peer", "name", "fbp-b");
            int ifindex = ns.ifindex("fbp-a");
            assertTrue(ifindex > 1);

            ns.handle().call(() -> program.testRun(new TestRun(BpfFixtures.frame(), ifindex, 42, 1)));
            MemorySegment seen = arena.allocate(JAVA_INT);
            object.map("fixture_seen").lookup(u32(arena, 0), seen);
            assertEquals(ifindex, seen.get(JAVA_INT, 0), "skb->ifindex");
            object.map("fixture_seen").lookup(u32(arena, 1), seen);
            assertEquals(42, seen.get(JAVA_INT, 0), "skb->ingress_ifindex");

            // Without a device the kernel runs the packet on the loopback device (ifindex 1).
            program.testRun(TestRun.of(BpfFixtures.frame()));
            object.map("fixture_seen").lookup(u32(arena, 0), seen);
            assertEquals(1, seen.get(JAVA_INT, 0));
        }
    }

    @Test
    void testRunOnADeviceMissingFromTheNamespaceFailsWithEnodev() {
        BpfProgram program = object.program("verdict_shot");
        BpfException e = assertThrows(BpfException.class,
                () -> program.testRun(new TestRun(BpfFixtures.frame(), 999_999, 0, 1)));
        assertEquals(Errno.ENODEV, e.errno());
        assertTrue(e.getMessage().contains("'verdict_shot'"), e.getMessage());
    }

    @Test
    void testRunInputIsValidatedAndCopied() {
        assertThrows(IllegalArgumentException.class, () -> TestRun.of(new byte[13]));
        assertThrows(IllegalArgumentException.class, () -> new TestRun(BpfFixtures.frame(), -1, 0, 1));
        byte[] packet = BpfFixtures.frame();
        TestRun run = TestRun.of(packet);
        Arrays.fill(packet, (byte) 0);
        assertArrayEquals(BpfFixtures.frame(), run.packet());
    }
}
