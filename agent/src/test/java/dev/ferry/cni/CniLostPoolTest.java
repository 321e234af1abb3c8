package dev.ferry.cni;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.endpoint.EndpointKey;
import dev.ferry.ipam.Ipam;
import dev.ferry.net.IpPrefix;
import dev.ferry.net.IpText;
import dev.ferry.testing.CniNode;
import dev.ferry.testing.FerryCni;
import dev.ferry.testing.RequiresRoot;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A node that loses its IPv6 pool (its agent restarted with only the IPv4 CIDR, as a
 * changed configuration or a Node without its IPv6 CIDR makes it): the IPv6 addresses
 * pods still hold stay theirs until their DEL or GC, which frees them; one held by no
 * endpoint is freed at start; none is handed out while the pool is gone, and none a pod
 * still holds when it comes back. Each test its own node (closing it DELs every pod and
 * fails unless every address file is gone). 10.216.0.0/24 and fd00:f17:b1::/120 are this class's.
 */
@RequiresRoot
class CniLostPoolTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String V4 = "10.216.0.0/24";
    private static final String V6 = "fd00:f17:b1::/120";

    @Test
    void aPodsIpv6AddressIsFreedAtItsDelAfterTheNodeLostItsIpv6Pool() throws Exception {
        try (CniNode node = CniNode.start("lpd", List.of(V4, V6), "192.168.216.1")) {
            CniNode.Pod a = node.addPod("lpda");
            InetAddress a6 = ipv6Of(a.add());

            node.stopAgent();
            node.startAgent(List.of(V4));

            assertEquals(a6, node.endpoints().get(new EndpointKey(a.containerId(), "eth0")).orElseThrow()
                    .address6().orElseThrow().address(), "the pod keeps its IPv6 address until its DEL");
            assertTrue(ipamFileNames(node).contains(fileName(a6)), ipamFileNames(node).toString());

            FerryCni.Result del = node.del(a);

            assertEquals(0, del.exitCode(), del.toString());
            assertEquals(List.of(), ipamFileNames(node), "both of the pod's addresses are freed");
        }
    }

    @Test
    void aNodeWithoutItsIpv6PoolHandsOutIpv4AddressesOnly() throws Exception {
        try (CniNode node = CniNode.start("lpo", List.of(V4, V6), "192.168.216.2")) {
            node.addPod("lpoa");
            node.stopAgent();
            node.startAgent(List.of(V4));

            JsonNode ips = JSON.readTree(node.addPod("lpob").add().stdout()).path("ips");

            assertEquals(1, ips.size(), ips.toString());
            assertTrue(ips.path(0).path("address").asText().startsWith("10.216.0."), ips.toString());
        }
    }

    @Test
    void anIpv6AddressHeldByNoEndpointIsFreedAtTheStartWithoutTheIpv6Pool() throws Exception {
        try (CniNode node = CniNode.start("lph", List.of(V4, V6), "192.168.216.3")) {
            node.stopAgent();
            // An ADD that crashed after reserving its IPv6 address and before persisting the endpoint.
            InetAddress orphan = Ipam.open(node.stateDir(), IpPrefix.parse(V6)).allocate("c0ffee0000", "eth0").address();
            assertTrue(ipamFileNames(node).contains(fileName(orphan)));

            node.startAgent(List.of(V4));

            assertEquals(List.of(), ipamFileNames(node));
        }
    }

    @Test
    void whenTheIpv6PoolComesBackAnAddressAPodStillHoldsIsNotHandedOutAgain() throws Exception {
        try (CniNode node = CniNode.start("lpb", List.of(V4, V6), "192.168.216.4")) {
            CniNode.Pod a = node.addPod("lpba");
            InetAddress a6 = ipv6Of(a.add());
            node.stopAgent();
            node.startAgent(List.of(V4));
            node.stopAgent();
            node.startAgent(List.of(V4, V6));

            List<InetAddress> handedOut = new java.util.ArrayList<>();
            for (int i = 0; i < 3; i++) {
                handedOut.add(ipv6Of(node.addPod("lpb" + i).add()));
            }

            assertFalse(handedOut.contains(a6), a6 + " is a's: " + handedOut);
            assertEquals(a6, node.endpoints().get(new EndpointKey(a.containerId(), "eth0")).orElseThrow()
                    .address6().orElseThrow().address());
        }
    }

    private static InetAddress ipv6Of(FerryCni.Result add) throws Exception {
        return IpPrefix.parse(JSON.readTree(add.stdout()).path("ips").path(1).path("address").asText()).address();
    }

    private static List<String> ipamFileNames(CniNode node) {
        return node.ipamFiles().stream().map(Path::getFileName).map(Path::toString).toList();
    }

    private static String fileName(InetAddress address) {
        return IpText.format(address);
    }
}
