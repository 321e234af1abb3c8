package dev.ferry.bpf;

import dev.ferry.testing.BpfPins;
import dev.ferry.linux.Errno;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@RequiresRoot
class TcxLinkTest {
    private final BpfPins root = BpfPins.create("ferry-test-bpf");
    private TestNetns ns;
    private BpfObject object;
    private int ifindex;

    @BeforeEach
    void setUp() {
        ns = TestNetns.create("fbt");
        ns.ip("link", "add", "fbt-a", "type", "veth", "peer", "name", "fbt-b");
        ifindex = ns.ifindex("fbt-a");
        object = BpfFixtures.loadLayer(root);
    }

    @AfterEach
    void tearDown() throws Exception {
        try {
            object.close();
            ns.close();
        } finally {
            root.close();
        }
    }

    private TcxLink attach(String program, TcxHook hook) throws Exception {
        BpfProgram p = object.program(program);
        return ns.handle().call(() -> TcxLink.attach(p, ifindex, hook));
    }

    @Test
    void attachedLinkReportsItsProgramAndDevice() throws Exception {
        try (TcxLink ingress = attach("verdict_from_config", TcxHook.INGRESS);
             TcxLink egress = attach("verdict_shot", TcxHook.EGRESS)) {
            assertEquals(object.program("verdict_from_config").id(), ingress.programId());
            assertEquals(ifindex, ingress.ifindex());
            assertEquals(object.program("verdict_shot").id(), egress.programId());
            assertEquals(ifindex, egress.ifindex());
        }
    }

    @Test
    void attachingToAMissingDeviceFailsWithEnodev() {
        BpfProgram program = object.program("verdict_shot");
        BpfException e = assertThrows(BpfException.class, () -> TcxLink.attach(program, 999_999, TcxHook.INGRESS));
        assertEquals(Errno.ENODEV, e.errno());
        assertTrue(e.getMessage().contains("'verdict_shot'"), e.getMessage());
    }

    @Test
    void updateSwapsTheProgramOnTheLiveLink() throws Exception {
        try (TcxLink link = attach("verdict_from_config", TcxHook.INGRESS)) {
            int before = link.programId();
            link.update(object.program("verdict_shot"));
            assertNotEquals(before, link.programId());
            assertEquals(object.program("verdict_shot").id(), link.programId());
            assertEquals(ifindex, link.ifindex(), "the swap keeps the attachment");
        }
    }

    @Test
    void pinnedLinkSurvivesClosingEveryFdOfThisProcess() throws Exception {
        Path pin = root.resolve("links/fbt-a/ingress");
        int programId;
        try (TcxLink link = attach("verdict_from_config", TcxHook.INGRESS)) {
            programId = link.programId();
            link.pin(pin);
        }
        object.close(); // the program fds too: the link holds the program
        try (TcxLink reopened = TcxLink.openPinned(pin)) {
            assertEquals(programId, reopened.programId());
            assertEquals(ifindex, reopened.ifindex());
        }
        TcxLink.unpin(pin);
        assertFalse(Files.exists(pin));
        assertTrue(TcxLink.openPinnedIfExists(pin).isEmpty());
        TcxLink.unpin(pin); // a missing pin is fine
    }

    @Test
    void attachedProgramRunsOnTheDevicesTrafficAndTheSwapTakesEffect() throws Exception {
        try (TestNetns peer = TestNetns.create("fbt")) {
            ns.ip("link", "add", "fbt-c", "type", "veth", "peer", "name", "fbt-d", "netns", peer.name());
            ns.ip("addr", "add", "10.199.0.2/24", "dev", "fbt-c");
            ns.ip("link", "set", "fbt-c", "up");
            peer.ip("addr", "add", "10.199.0.1/24", "dev", "fbt-d");
            peer.ip("link", "set", "fbt-d", "up");
            int c = ns.ifindex("fbt-c");
            BpfProgram count = object.program("verdict_from_config");
            try (TcxLink link = ns.handle().call(() -> TcxLink.attach(count, c, TcxHook.INGRESS))) {
                BpfMap packets = object.map("fixture_packets");
                await().atMost(Duration.ofSeconds(10)).until(() ->
                        peer.exec("ping", "-c", "1", "-W", "1", "10.199.0.2").ok());
                assertTrue(BpfFixtures.perCpuSum(packets) > 0, "the program saw the ping");

                link.update(object.program("verdict_shot"));
                assertFalse(peer.exec("ping", "-c", "1", "-W", "1", "10.199.0.2").ok(),
                        "verdict_shot drops everything arriving at fbt-c");
            }
        }
    }

    @Test
    void detachLeavesTheLinkAttachedToNothing() throws Exception {
        try (TcxLink link = attach("verdict_from_config", TcxHook.INGRESS)) {
            link.detach();
            assertEquals(0, link.ifindex());
        }
    }

    @Test
    void deletingTheDeviceLeavesThePinnedLinkAttachedToNothing() throws Exception {
        Path pin = root.resolve("links/gone");
        try (TcxLink link = attach("verdict_from_config", TcxHook.INGRESS)) {
            link.pin(pin);
            ns.ip("link", "del", "fbt-a");
            await().atMost(Duration.ofSeconds(5)).until(() -> link.ifindex() == 0);
        }
        try (TcxLink reopened = TcxLink.openPinned(pin)) {
            assertEquals(0, reopened.ifindex());
        }
    }

    @Test
    void pinsOfOtherKindsAreRefused() throws Exception {
        Path mapPin = root.resolve("fixture_state");
        BpfException notALink = assertThrows(BpfException.class, () -> TcxLink.openPinned(mapPin));
        assertTrue(notALink.getMessage().contains("not a bpf-link"), notALink.getMessage());

        Path linkPin = root.resolve("links/kind");
        try (TcxLink link = attach("verdict_shot", TcxHook.EGRESS)) {
            link.pin(linkPin);
        }
        BpfException notAMap = assertThrows(BpfException.class, () -> BpfMap.openPinned(linkPin));
        assertTrue(notAMap.getMessage().contains("not a bpf-map"), notAMap.getMessage());
    }

    @Test
    void openPinnedOfAMissingPinFailsWithEnoent() {
        BpfException e = assertThrows(BpfException.class, () -> TcxLink.openPinned(root.resolve("none")));
        assertEquals(Errno.ENOENT, e.errno());
    }
}
