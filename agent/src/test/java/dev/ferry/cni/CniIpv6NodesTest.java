package dev.ferry.cni;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.endpoint.Endpoint;
import dev.ferry.endpoint.EndpointKey;
import dev.ferry.ipam.Ipam;
import dev.ferry.net.IpPrefix;
import dev.ferry.testing.CniNode;
import dev.ferry.testing.FerryCni;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.Traffic;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Nodes with an IPv6 pool, each test its own node (closing it DELs every pod and
 * fails unless the node is as the agent found it): an IPv6-only node, a restart
 * of a dual-stack node's agent, and an IPv6 pool that runs out first.
 */
@RequiresRoot
class CniIpv6NodesTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void anIpv6OnlyNodeGivesPodsOneIpv6AddressAndTheyTalk() throws Exception {
        try (CniNode node = CniNode.start("v6o", List.of("fd00:f17:2::/120"), "192.168.218.1")) {
            CniNode.Pod a = node.addPod("v6oa");
            CniNode.Pod b = node.addPod("v6ob");
            JsonNode result = JSON.readTree(a.add().stdout());

            assertEquals(1, result.path("ips").size(), result.toString());
            assertTrue(result.path("ips").path(0).path("address").asText().matches("fd00:f17:2::[0-9a-f]+/128"), result.toString());
            assertEquals("fe80::1", result.path("ips").path(0).path("gateway").asText());
            assertEquals(1, result.path("routes").size(), result.toString());
            assertEquals("::/0", result.path("routes").path(0).path("dst").asText());
            assertTrue(a.ns().ip("-4", "addr", "show", "dev", "eth0").isBlank(), "no IPv4 address on an IPv6-only pod");
            Traffic.ping(a.end(), b.end(), 3);
            Traffic.tcpTransfer(a.end(), b.end(), 7319, 100_000);
            assertEquals(0, node.cni("CHECK", a.containerId(), a.netnsPath()).run().exitCode());
        }
    }

    @Test
    void anAgentRestartKeepsBothAddressesOfADualStackPodAndIpv6KeepsFlowing() throws Exception {
        try (CniNode node = CniNode.start("v6r", List.of("10.218.0.0/24", "fd00:f17:4::/120"), "192.168.219.1")) {
            CniNode.Pod a = node.addPod("v6ra");
            CniNode.Pod b = node.addPod("v6rb");
            InetAddress a6 = ipv6Of(a);
            InetAddress b6 = ipv6Of(b);

            node.stopAgent();
            Traffic.ping(new Traffic.End(a.ns(), a6), new Traffic.End(b.ns(), b6), 2); // no agent: the stack forwards
            node.startAgent();

            Endpoint e = node.endpoints().get(new EndpointKey(a.containerId(), "eth0")).orElseThrow();
            assertEquals(a.address(), e.address().address());
            assertEquals(a6, e.address6().orElseThrow().address());
            assertEquals(0, node.cni("CHECK", a.containerId(), a.netnsPath()).run().exitCode(), "a is intact under the new agent");
            Traffic.ping(new Traffic.End(a.ns(), a6), new Traffic.End(b.ns(), b6), 2);
            Traffic.ping(a.end(), b.end(), 2);
        }
    }

    @Test
    void anExhaustedIpv6PoolFailsTheAddNamingItAndLeavesTheIpv4AddressFree() throws Exception {
        // A /126 has three usable addresses (the subnet-router anycast one is never handed out).
        try (CniNode node = CniNode.start("v6x", List.of("10.219.0.0/24", "fd00:f17:3::/126"), "192.168.220.1")) {
            for (int i = 0; i < 3; i++) {
                node.addPod("v6x" + i);
            }
            Ipam v4 = node.pools().get(0);
            Ipam v6 = node.pools().get(1);
            List<String> vethsBefore = node.hostVeths();

            FerryCni.Result add = node.cni("ADD", CniNode.newContainerId(), "/run/netns/" + node.podNamespace("v6xf").name()).run();

            assertEquals(CniError.FERRY_ADDRESSES_EXHAUSTED, add.code(), add.toString());
            assertTrue(add.details().contains("IPv6 pod CIDR fd00:f17:3::/126 has no free address"), add.toString());
            assertEquals(3, v4.used(), "the IPv4 address the failed ADD took is free again");
            assertEquals(3, v6.used());
            assertEquals(vethsBefore, node.hostVeths(), "no veth of the failed ADD");
        }
    }

    private static InetAddress ipv6Of(CniNode.Pod pod) throws Exception {
        return IpPrefix.parse(JSON.readTree(pod.add().stdout()).path("ips").path(1).path("address").asText()).address();
    }
}
