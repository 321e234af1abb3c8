package dev.ferry.endpoint;

import dev.ferry.cni.CniError;
import dev.ferry.datapath.EndpointEntry;
import dev.ferry.datapath.EndpointMap;
import dev.ferry.ipam.Allocation;
import dev.ferry.net.MacAddress;
import dev.ferry.testing.CniNode;
import dev.ferry.testing.FerryCni;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A failed ADD undoes what it made, and only that. */
@RequiresRoot
class AddRollbackTest {

    /** The endpoint map is full: the last step before persisting fails, every earlier one is undone. */
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
            assertTrue(r.stdout().contains("failed to write endpoint map entry '10.236.0.1'"), r.stdout());
            assertEquals(fillers, map.entries().keySet(), "no entry of the failed ADD");
            fillers.forEach(map::delete);
            assertEquals(List.of(), node.hostVeths(), "host veth rolled back");
            assertTrue(ns.ip("-o", "link", "show").lines().noneMatch(l -> l.contains("eth0")), "pod veth rolled back");
            assertEquals(List.of(), node.ipamFiles(), "address released");
            assertEquals(List.of(), node.fromPodPins(), "hook removed");
            assertTrue(node.node().ip("route", "show", "proto", "70").isBlank(), "host route gone");
        }
    }

    /** The same on a dual-stack node: both addresses are released and no IPv6 route or neighbour stays. */
    @Test
    void dualStackAddThatCannotWriteItsMapEntriesReleasesBothAddressesAndLeavesNoIpv6Route() throws Exception {
        try (CniNode node = CniNode.start("rb6", List.of("10.236.1.0/24", "fd00:f17:236::/120"), "192.168.236.2")) {
            TestNetns ns = node.podNamespace("rb6p");
            EndpointMap map = node.datapath().endpoints();
            EndpointEntry filler = new EndpointEntry(1, 1, 0, MacAddress.parse("02:00:00:00:00:01"), MacAddress.parse("02:00:00:00:00:02"));
            for (int i = 0; i < map.capacity(); i++) {
                map.put(InetAddress.getByAddress(new byte[]{(byte) 172, 17, (byte) (i >> 8), (byte) i}), filler);
            }
            Set<InetAddress> fillers = Set.copyOf(map.entries().keySet());

            FerryCni.Result r = node.cni("ADD", CniNode.newContainerId(), "/run/netns/" + ns.name()).run();

            assertEquals(CniError.FERRY_ADD_FAILED, r.code(), r.toString());
            assertTrue(r.stdout().contains("failed to write endpoint map entry 'fd00:f17:236::1'"), r.stdout());
            assertEquals(fillers, map.entries().keySet(), "no entry of the failed ADD");
            fillers.forEach(map::delete);
            assertEquals(List.of(), node.hostVeths(), "host veth rolled back");
            assertEquals(List.of(), node.ipamFiles(), "both addresses released");
            assertTrue(node.node().ip("-6", "route", "show", "proto", "70").isBlank(), "no IPv6 host route");
            assertTrue(node.node().ip("-6", "neigh", "show", "nud", "permanent").isBlank(), "no IPv6 neighbour");
        }
    }

    /**
     * What a runtime's retry meets after the agent died between plumbing a pod
     * and persisting it: the pod has its interface and address, IPAM holds the
     * address, no endpoint is on file. The retried ADD fails (the interface
     * exists); its rollback must leave the address held, or the next pod gets
     * the address this one still uses.
     */
    @Test
    void failedRetryOfAnAddKeepsTheAddressThePodStillHolds() throws Exception {
        try (CniNode node = CniNode.start("rr", "10.237.0.0/24", "192.168.237.1")) {
            CniNode.Pod pod = node.addPod("rrp");
            for (Path file : node.endpointFiles()) {
                Files.delete(file);
            }

            FerryCni.Result retry = node.cni("ADD", pod.containerId(), pod.netnsPath()).run();

            assertEquals(CniError.FERRY_ALREADY_EXISTS, retry.code(), retry.toString());
            assertTrue(pod.ns().ip("-o", "addr", "show", "dev", "eth0").contains(pod.address().getHostAddress()),
                    "the pod still uses the address");
            assertEquals(Optional.of(pod.address()), node.ipam().find(pod.containerId(), "eth0").map(Allocation::address),
                    "IPAM still holds it for the pod");
            assertEquals(0, node.del(pod).exitCode(), "the runtime's DEL, which the node's own cleanup cannot know of");
        }
    }
}
