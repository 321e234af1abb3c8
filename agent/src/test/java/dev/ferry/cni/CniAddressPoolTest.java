package dev.ferry.cni;

import dev.ferry.testing.CniNode;
import dev.ferry.testing.FerryCni;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A pod CIDR too small for the next pod: a clear error, and nothing of the refused pod anywhere. */
@RequiresRoot
class CniAddressPoolTest {

    @Test
    void addBeyondThePoolIsCode101NamingTheCidrAndLeavesNothing() throws Exception {
        try (CniNode node = CniNode.start("pool", "10.233.0.0/29", "192.168.233.1")) {
            List<CniNode.Pod> pods = new ArrayList<>();
            for (int i = 0; i < node.ipam().capacity(); i++) {
                pods.add(node.addPod("pool" + i));
            }
            List<String> veths = node.hostVeths();
            List<Path> ipamFiles = node.ipamFiles();
            List<Path> endpointFiles = node.endpointFiles();
            TestNetns ns = node.podNamespace("poolx");

            FerryCni.Result r = node.cni("ADD", CniNode.newContainerId(), "/run/netns/" + ns.name()).run();

            assertEquals(CniError.FERRY_ADDRESSES_EXHAUSTED, r.code(), r.toString());
            assertTrue(r.stdout().contains("10.233.0.0/29"), r.stdout());
            assertEquals(veths, node.hostVeths());
            assertEquals(ipamFiles, node.ipamFiles());
            assertEquals(endpointFiles, node.endpointFiles());
            assertTrue(ns.ip("-o", "link", "show").lines().noneMatch(l -> l.contains("eth0")), "nothing made in the pod");
            assertEquals(CniError.PLUGIN_NOT_AVAILABLE, FerryCni.command("STATUS").stdin(node.config()).run().code(),
                    "STATUS says a full pool cannot take ADDs");

            assertEquals(0, node.del(pods.getFirst()).exitCode());
            FerryCni.Result retry = node.cni("ADD", CniNode.newContainerId(), "/run/netns/" + ns.name()).run();
            assertEquals(0, retry.exitCode(), "a released address is handed out again: " + retry);
        }
    }
}
