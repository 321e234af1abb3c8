package dev.ferry.datapath;

import dev.ferry.bpf.TcAttachment;
import dev.ferry.bpf.TcHook;
import dev.ferry.testing.RequiresRoot;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An agent whose pod attach mode differs from the one that hooked a pod (an
 * upgrade to tc pods, or back) leaves exactly one hook of from_pod on the veth:
 * two would both run, and count every passed packet twice.
 */
@RequiresRoot
class AttachModeSwitchTest {

    @Test
    void attachingInTcModeReplacesThePinnedTcxLink() throws Exception {
        try (AttachedNode node = AttachedNode.create("ams", AttachMode.TCX, List.of("10.239.0.1"))) {
            NodeWithPods.Pod pod = node.pod(0);
            assertTrue(Files.exists(pin(node, pod)), "the TCX agent pinned its link");

            try (Datapath tcPods = Datapath.load(node.pins.root(), AttachModes.uplinks(AttachMode.TCX))) {
                Attachment a = node.topology.node.handle().call(
                        () -> tcPods.attach(DatapathProgram.FROM_POD, pod.hostIfname(), pod.hostIfindex()));

                assertEquals(AttachMode.TC, a.mode());
                assertEquals(Optional.of(tcPods.program(DatapathProgram.FROM_POD).id()), tcFilterProgram(node, pod));
                assertFalse(Files.exists(pin(node, pod)), "the TCX link is gone with its pin");
                assertEquals(Optional.of(a), node.topology.node.handle().call(
                        () -> tcPods.attached(DatapathProgram.FROM_POD, pod.hostIfname(), pod.hostIfindex())));
            }
        }
    }

    @Test
    void attachingInTcxModeRemovesOurTcFilter() throws Exception {
        try (AttachedNode node = AttachedNode.create("amt", AttachMode.TC, List.of("10.239.1.1"))) {
            NodeWithPods.Pod pod = node.pod(0);
            assertTrue(tcFilterProgram(node, pod).isPresent(), "the tc agent attached a filter");

            try (Datapath tcxPods = Datapath.load(node.pins.root(), AttachMode.TCX)) {
                Attachment a = node.topology.node.handle().call(
                        () -> tcxPods.attach(DatapathProgram.FROM_POD, pod.hostIfname(), pod.hostIfindex()));

                assertEquals(AttachMode.TCX, a.mode());
                assertTrue(Files.exists(pin(node, pod)));
                assertEquals(Optional.empty(), tcFilterProgram(node, pod));
            }
        }
    }

    private static Path pin(AttachedNode node, NodeWithPods.Pod pod) {
        return node.pins.root().resolve("links").resolve("from_pod").resolve(pod.hostIfname());
    }

    private static Optional<Integer> tcFilterProgram(AttachedNode node, NodeWithPods.Pod pod) throws Exception {
        return node.topology.node.handle().call(() -> TcAttachment.find(pod.hostIfindex(), TcHook.INGRESS,
                Datapath.TC_HANDLE, Datapath.TC_PRIORITY).map(tc -> {
                    try (tc) {
                        return tc.programId();
                    }
                }));
    }
}
