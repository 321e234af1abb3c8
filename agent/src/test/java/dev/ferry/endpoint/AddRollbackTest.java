package dev.ferry.endpoint;

import dev.ferry.cni.CniError;
import dev.ferry.testing.CniNode;
import dev.ferry.testing.FerryCni;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import org.junit.jupiter.api.Test;

import dev.ferry.datapath.EndpointEntry;
import dev.ferry.datapath.EndpointMap;
import dev.ferry.net.MacAddress;

import java.net.InetAddress;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** ADD fails after the veth is plumbed (the endpoint map is full): every earlier step is undone. */
@RequiresRoot
class AddRollbackTest {

    @Test
    void addThatCannotWriteItsMapEntryUndoesVethRoutesAndAddress() throws Exception {
        try (CniNode node = CniNode.start("rb", "10.236.0.0/24", "192.168.236.1")) {
            TestNetns ns = node.podNamespace("rbp");
            EndpointMap map = node.datapath().endpoints();
            EndpointEntry filler = new EndpointEntry(1, 1, 0, MacAddress.parse("02:00:00:00:00:01"), MacAddress.parse("02:00:00:00:00:02"));
            for (int i = 0; i < map.capacity(); i++) {
                map.put(InetAddress.getByAddress(new byte[]{(byte) 172, 16, (byte) (i >> 8), (byte) i}), filler);
            }
            Set<InetAddress> fillers = Set.copyOf(map.entries().keySet());

            FerryCni.Result r = node.cni("ADD", CniNode.newContainerId(), "/run/netns/" + ns.name()).run();

            assertEquals(CniError.FERRY_ADD_FAILED, r.code(), r.toString());
            assertTrue(r.stdout().contains("failed to write the endpoint map entry"), r.stdout());
            assertEquals(fillers, map.entries().keySet(), "no entry of the failed ADD");
            fillers.forEach(map::delete);
            assertEquals(List.of(), node.hostVeths(), "host veth rolled back");
            assertTrue(ns.ip("-o", "link", "show").lines().noneMatch(l -> l.contains("eth0")), "pod veth rolled back");
            assertEquals(List.of(), node.ipamFiles(), "address released");
            assertEquals(List.of(), node.fromPodPins(), "hook removed");
            assertTrue(node.node().ip("route", "show", "proto", "70").isBlank(), "host route gone");
        }
    }
}
