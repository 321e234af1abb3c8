package dev.ferry.cni;

import dev.ferry.endpoint.EndpointKey;
import dev.ferry.endpoint.HostIfname;
import dev.ferry.net.IpPrefix;
import dev.ferry.testing.CniNode;
import dev.ferry.testing.FerryCni;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.nio.file.Files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What an agent killed in the middle of an ADD leaves, and what the next agent
 * makes of it before it serves: the kill is played by deleting the parts a
 * crash at that instant would not have made yet, with the agent stopped.
 */
@RequiresRoot
class CniCrashRecoveryTest {
    private CniNode node;

    @BeforeEach
    void node() throws Exception {
        node = CniNode.start("crash", "10.236.0.0/29", "192.168.236.1");
    }

    @AfterEach
    void close() throws Exception {
        node.close();
    }

    /** A pod whose ADD got as far as the interface and its address, then the agent died before persisting. */
    private CniNode.Pod addThenLoseTheStateFile(String prefix) throws Exception {
        CniNode.Pod pod = node.addPod(prefix);
        node.stopAgent();
        Files.delete(node.stateDir().resolve("endpoints").resolve(pod.containerId() + "@eth0.json"));
        return pod;
    }

    @Test
    void anAddThatDiedBeforePersistingIsRemovedAtStartAndItsRetrySucceeds() throws Exception {
        CniNode.Pod pod = addThenLoseTheStateFile("crasha");

        node.startAgent();

        assertFalse(pod.ns().ip("-o", "link", "show").contains("eth0"), "the half-made interface is gone");
        assertEquals(0, node.ipam().used(), "its address is free");
        assertEquals(0, node.datapath().endpoints().entries().size(), "and its map entry");
        FerryCni.Result retry = node.cni("ADD", pod.containerId(), pod.netnsPath()).run();
        assertEquals(0, retry.exitCode(), "the runtime's retried ADD finds a clean slate: " + retry);
        assertEquals(0, node.cni("DEL", pod.containerId(), pod.netnsPath()).run().exitCode());
    }

    @Test
    void theAddressOfAHalfMadePodIsNeverHandedToAnotherPodWhileItHoldsIt() throws Exception {
        CniNode.Pod half = addThenLoseTheStateFile("crashb");
        node.startAgent();

        CniNode.Pod next = node.addPod("crashc");
        FerryCni.Result retry = node.cni("ADD", half.containerId(), half.netnsPath()).run();

        assertEquals(0, retry.exitCode(), retry.toString());
        assertNotEquals(next.address(), CniNode.addressOf(retry), "two pods, two addresses");
        assertTrue(half.ns().ip("-o", "addr", "show", "eth0").contains(cidrOf(CniNode.addressOf(retry))));
    }

    @Test
    void aPodWhoseStateFileIsQuarantinedKeepsItsNetworkUntilItsDel() throws Exception {
        CniNode.Pod pod = node.addPod("crashq");
        node.stopAgent();
        Files.writeString(node.stateDir().resolve("endpoints").resolve(pod.containerId() + "@eth0.json"), "{ cut short");

        node.startAgent();

        assertTrue(Files.exists(node.stateDir().resolve("quarantine/endpoints").resolve(pod.containerId() + "@eth0.json")));
        assertTrue(pod.ns().ip("-o", "addr", "show", "eth0").contains(cidrOf(pod.address())), "the pod keeps its interface");
        assertTrue(node.datapath().endpoints().entries().containsKey(pod.address()), "and its map entry");
        assertNotEquals(pod.address(), node.addPod("crashr").address(), "its address is not handed out");
        assertEquals(0, node.cni("DEL", pod.containerId(), pod.netnsPath()).run().exitCode());
        assertTrue(node.ipam().find(pod.containerId(), "eth0").isEmpty(), "DEL freed it");
        assertFalse(pod.ns().ip("-o", "link", "show").contains("eth0"));
    }

    @Test
    void anEndpointWhoseAddressFileIsGoneGetsItBack() throws Exception {
        CniNode.Pod pod = node.addPod("crashd");
        node.stopAgent();
        Files.delete(node.stateDir().resolve("ipam").resolve(pod.address().getHostAddress()));

        node.startAgent();

        assertEquals(pod.address(), node.ipam().find(pod.containerId(), "eth0").orElseThrow().address());
        assertNotEquals(pod.address(), node.addPod("crashe").address(), "the next pod gets another address");
        assertEquals(0, node.cni("CHECK", pod.containerId(), pod.netnsPath()).run().exitCode());
    }

    @Test
    void hostVethsAndMapEntriesNoEndpointAccountsForAreRemovedAtStart() throws Exception {
        TestNetns other = node.podNamespace("crashf");
        String stray = HostIfname.of("gone0123", "eth0");
        node.node().ip("link", "add", stray, "type", "veth", "peer", "name", "eth0", "netns", other.name());
        InetAddress strayAddress = IpPrefix.literal("10.236.0.6");
        CniNode.Pod kept = node.addPod("crashg");
        // What a DEL killed between two steps can leave: a map entry for an address nobody holds any more.
        node.datapath().endpoints().put(strayAddress, node.datapath().endpoints().get(kept.address()).orElseThrow());
        node.stopAgent();

        node.startAgent();

        assertFalse(node.node().ip("-o", "link", "show").contains(stray), "the stray veth is gone");
        assertFalse(node.datapath().endpoints().entries().containsKey(strayAddress), "the stray map entry is gone");
        assertTrue(node.endpoints().get(new EndpointKey(kept.containerId(), "eth0")).isPresent(), "the real pod stays");
        assertEquals(0, node.cni("CHECK", kept.containerId(), kept.netnsPath()).run().exitCode());
    }

    @Test
    void delRemovesAHostRouteToThePodThatNoLongerGoesThroughItsVeth() throws Exception {
        CniNode.Pod pod = node.addPod("crashh");
        // Ferry's route to the pod, left on another device (as by a hand-made repair, or a device renamed under it).
        node.node().ip("route", "replace", cidrOf(pod.address()), "dev", "lo", "proto", "70");

        assertEquals(0, node.cni("DEL", pod.containerId(), pod.netnsPath()).run().exitCode());

        assertTrue(node.node().ip("route", "show", "proto", "70").isBlank(),
                "no route of Ferry's is left: " + node.node().ip("route", "show", "proto", "70"));
    }

    private static String cidrOf(InetAddress address) {
        return address.getHostAddress() + "/32";
    }
}
