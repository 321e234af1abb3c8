package dev.ferry.cni;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.datapath.Direction;
import dev.ferry.datapath.EndpointCounter;
import dev.ferry.datapath.Verdict;
import dev.ferry.endpoint.Endpoint;
import dev.ferry.testing.CniNode;
import dev.ferry.testing.FerryCni;
import dev.ferry.testing.NothingLeftBehind;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.Shell;
import dev.ferry.testing.Traffic;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Three pods made through the real ferry-cni binary by the agent's CNI service:
 * they talk ICMP, UDP and TCP to each other through bpf_redirect_peer, the node
 * reaches each of them through its host route, and DEL leaves nothing.
 */
@RequiresRoot
class CniEndToEndTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static CniNode node;
    private static CniNode.Pod a;
    private static CniNode.Pod b;
    private static CniNode.Pod c;

    @BeforeAll
    static void threePods() throws Exception {
        node = CniNode.start("e2e", "10.231.0.0/24", "192.168.231.1");
        a = node.addPod("e2ea");
        b = node.addPod("e2eb");
        c = node.addPod("e2ec");
    }

    @AfterAll
    static void close() throws Exception {
        node.close();
    }

    @RegisterExtension
    static final NothingLeftBehind nothingLeft = new NothingLeftBehind(() -> node);

    @Test
    void addResultNamesBothVethEndsTheAddressTheGatewayAndTheConfiguredDns() throws Exception {
        JsonNode result = JSON.readTree(a.add().stdout());
        Endpoint endpoint = node.endpoints().list().stream()
                .filter(e -> e.containerId().equals(a.containerId())).findFirst().orElseThrow();

        assertEquals("1.1.0", result.path("cniVersion").asText());
        assertEquals(endpoint.hostIfname(), result.path("interfaces").path(0).path("name").asText());
        assertEquals("eth0", result.path("interfaces").path(1).path("name").asText());
        assertEquals(a.netnsPath(), result.path("interfaces").path(1).path("sandbox").asText());
        assertEquals(a.ns().ip("-o", "link", "show", "eth0").replaceAll("(?s).*link/ether (\\S+).*", "$1").trim(),
                result.path("interfaces").path(1).path("mac").asText());
        assertEquals(a.address().getHostAddress() + "/32", result.path("ips").path(0).path("address").asText());
        assertEquals(1, result.path("ips").path(0).path("interface").asInt());
        assertEquals("169.254.1.1", result.path("ips").path(0).path("gateway").asText());
        assertEquals("0.0.0.0/0", result.path("routes").path(0).path("dst").asText());
        assertEquals("10.96.0.10", result.path("dns").path("nameservers").path(0).asText());
    }

    @Test
    void threePodsGetDistinctAddressesFromThePodCidr() {
        assertEquals(3, List.of(a.address(), b.address(), c.address()).stream().distinct().count());
        for (CniNode.Pod p : List.of(a, b, c)) {
            assertTrue(node.ipam().podCidr().contains(p.address()), p.address() + " in " + node.ipam().podCidr());
        }
    }

    @Test
    void podsPingEachOtherThroughRedirectPeer() {
        long before = redirectPeerEgress(a);
        Traffic.ping(a.end(), b.end(), 3);
        Traffic.ping(b.end(), c.end(), 3);
        Traffic.ping(c.end(), a.end(), 3);
        assertTrue(redirectPeerEgress(a) - before >= 3 + 3, "a's redirect_peer egress counter grew by its pings and replies");
    }

    @Test
    void podsExchangeUdpDatagrams() throws Exception {
        long before = redirectPeerEgress(b);
        Traffic.udpEcho(a.end(), b.end(), 7101, 20);
        assertTrue(redirectPeerEgress(b) - before >= 20, "b's echoes went through redirect_peer");
    }

    @Test
    void podsExchangeTcpStreams() throws Exception {
        long before = redirectPeerEgress(c);
        Traffic.tcpTransfer(c.end(), a.end(), 7102, 1 << 20);
        assertTrue(redirectPeerEgress(c) - before > 0, "c's segments went through redirect_peer");
    }

    @Test
    void theNodeReachesEveryPodThroughItsHostRoute() {
        for (CniNode.Pod p : List.of(a, b, c)) {
            Shell.Result r = node.node().exec("ping", "-c", "1", "-W", "2", p.address().getHostAddress());
            assertEquals(0, r.exitCode(), "node -> " + p.address() + ": " + r.stdout() + r.stderr());
        }
    }

    @Test
    void delLeavesNoLinkNoMapEntryNoAllocationNoStateFile() {
        CniNode.Pod d = node.addPod("e2ed");
        Endpoint endpoint = node.endpoints().list().stream()
                .filter(e -> e.containerId().equals(d.containerId())).findFirst().orElseThrow();
        Traffic.ping(d.end(), a.end(), 1);

        FerryCni.Result del = node.del(d);

        assertEquals(0, del.exitCode(), del.stdout() + del.stderr());
        assertEquals("", del.stdout(), "DEL prints nothing on success");
        assertTrue(!node.hostVeths().contains(endpoint.hostIfname()), "host veth gone");
        assertTrue(d.ns().ip("-o", "link", "show").lines().noneMatch(l -> l.contains("eth0")), "pod veth gone");
        assertTrue(node.datapath().endpoints().get(d.address()).isEmpty(), "map entry gone");
        assertTrue(node.ipam().find(d.containerId(), "eth0").isEmpty(), "allocation released");
        assertTrue(node.endpoints().get(new dev.ferry.endpoint.EndpointKey(d.containerId(), "eth0")).isEmpty(), "state gone");
        assertTrue(node.datapath().counters().endpoints().stream().noneMatch(x -> x.endpointId() == endpoint.endpointId()),
                "counters gone");
        assertTrue(node.fromPodPins().stream().noneMatch(p -> p.getFileName().toString().equals(endpoint.hostIfname())),
                "pinned link gone");
        assertTrue(node.node().ip("route", "show", "proto", "70").lines()
                .noneMatch(l -> l.startsWith(d.address().getHostAddress() + " ")), "host route gone");
    }

    private static long redirectPeerEgress(CniNode.Pod pod) {
        int id = node.endpoints().list().stream()
                .filter(e -> e.containerId().equals(pod.containerId())).findFirst().orElseThrow().endpointId();
        return node.datapath().counters().endpoints().stream()
                .filter(x -> x.endpointId() == id && x.direction() == Direction.EGRESS && x.verdict() == Verdict.REDIRECT_PEER)
                .mapToLong(EndpointCounter::packets).sum();
    }
}
