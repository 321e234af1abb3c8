package dev.ferry.datapath;

import dev.ferry.bpf.TcxLink;
import dev.ferry.testing.BpfPins;
import dev.ferry.testing.Cleanup;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Where attachments are pinned, and how a new agent takes them over. */
@RequiresRoot
class DatapathPinsTest {
    TestNetns node;
    BpfPins pins;

    @BeforeEach
    void node() {
        node = TestNetns.create("fpn");
        pins = BpfPins.create("ferry-test-pins");
    }

    @AfterEach
    void cleanUp() throws Exception {
        Cleanup.all(() -> pins.close(), () -> node.close());
    }

    @Test
    void interfaceNameWithADotIsPinnedAndAdoptedUnderItsOwnName() throws Exception {
        node.ip("link", "add", "fpn.100", "type", "veth", "peer", "name", "fpn-peer");
        int ifindex = node.ifindex("fpn.100");
        try (Datapath first = Datapath.load(pins.root(), AttachMode.TCX)) {
            node.handle().call(() -> first.attach(DatapathProgram.FROM_POD, "fpn.100", ifindex));
        }
        assertTrue(Files.exists(pins.root().resolve("links/from_pod/fpn:100")));

        try (Datapath second = Datapath.load(pins.root(), AttachMode.TCX)) {
            List<Attachment> adopted = second.adoptPinnedLinks();
            assertEquals(List.of(new Attachment(DatapathProgram.FROM_POD, "fpn.100", ifindex, AttachMode.TCX,
                    second.program(DatapathProgram.FROM_POD).id())), adopted);
            node.handle().execute(() -> second.detach(DatapathProgram.FROM_POD, "fpn.100", ifindex));
        }
        assertFalse(Files.exists(pins.root().resolve("links/from_pod/fpn:100")));
    }

    @Test
    void pinOfADeletedDeviceIsDroppedOnAdoption() throws Exception {
        node.ip("link", "add", "fpn-gone", "type", "veth", "peer", "name", "fpn-peer");
        int ifindex = node.ifindex("fpn-gone");
        try (Datapath first = Datapath.load(pins.root(), AttachMode.TCX)) {
            node.handle().call(() -> first.attach(DatapathProgram.FROM_POD, "fpn-gone", ifindex));
        }
        node.ip("link", "del", "fpn-gone");

        try (Datapath second = Datapath.load(pins.root(), AttachMode.TCX)) {
            assertEquals(List.of(), second.adoptPinnedLinks());
        }
        assertFalse(Files.exists(pins.root().resolve("links/from_pod/fpn-gone")), "stale pin removed");
    }

    @Test
    void attachingTwiceKeepsOneLinkOnTheSameProgram() throws Exception {
        node.ip("link", "add", "fpn-twice", "type", "veth", "peer", "name", "fpn-peer");
        int ifindex = node.ifindex("fpn-twice");
        try (Datapath dp = Datapath.load(pins.root(), AttachMode.TCX)) {
            Attachment one = node.handle().call(() -> dp.attach(DatapathProgram.FROM_POD, "fpn-twice", ifindex));
            Attachment two = node.handle().call(() -> dp.attach(DatapathProgram.FROM_POD, "fpn-twice", ifindex));
            assertEquals(one, two);
            try (TcxLink link = TcxLink.openPinned(pins.root().resolve("links/from_pod/fpn-twice"))) {
                assertEquals(dp.program(DatapathProgram.FROM_POD).id(), link.programId());
            }
            node.handle().execute(() -> dp.detach(DatapathProgram.FROM_POD, "fpn-twice", ifindex));
        }
    }
}
