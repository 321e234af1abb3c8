package dev.ferry.datapath;

import dev.ferry.bpf.BpfObject;
import dev.ferry.bpf.TcxLink;
import dev.ferry.testing.BpfPins;
import dev.ferry.testing.Cleanup;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
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

    /** An agent upgraded across a layout change (bpf/lib/abi.h) leaves no map of the old shape pinned. */
    @Test
    void pinsOfRetiredMapsAreRemovedAtLoad() throws Exception {
        Path pinned = pinAnyMap();
        for (String retired : Datapath.RETIRED_MAPS) {
            Files.createLink(pins.resolve(retired), pinned);
        }

        try (Datapath dp = Datapath.load(pins.root(), AttachMode.TCX)) {
            for (String retired : Datapath.RETIRED_MAPS) {
                assertFalse(Files.exists(pins.resolve(retired)), retired + " unpinned");
            }
            assertTrue(Files.exists(pins.resolve(EndpointMap.NAME)));
            assertTrue(Files.exists(pins.resolve(CounterMaps.GLOBAL)));
        }
    }

    /** A map pinned under the pin root by another object, standing in for an earlier agent's. */
    private Path pinAnyMap() throws Exception {
        byte[] elf;
        try (InputStream in = DatapathPinsTest.class.getResourceAsStream("/bpf/layer_fixture.bpf.o")) {
            elf = in.readAllBytes();
        }
        Path earlier = pins.resolve("earlier");
        BpfObject.load("ferry_test", elf, earlier).close();
        return earlier.resolve("fixture_state");
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
