package dev.ferry.cni;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.datapath.DatapathCounter;
import dev.ferry.datapath.EndpointCounter;
import dev.ferry.datapath.Reason;
import dev.ferry.datapath.TrafficFamily;
import dev.ferry.datapath.Verdict;
import dev.ferry.endpoint.Endpoint;
import dev.ferry.net.IpPrefix;
import dev.ferry.testing.CniNode;
import dev.ferry.testing.FerryCni;
import dev.ferry.testing.NothingLeftBehind;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.Traffic;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.InetAddress;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Pods of a dual-stack node (an IPv4 and an IPv6 pool) made through the real
 * ferry-cni binary: one address per family, both in the result, IPv4 and IPv6
 * between pods (both by the BPF programs' redirect_peer), CHECK of
 * both families, and DEL that leaves nothing (CniIpv6NodesTest has the restart).
 */
@RequiresRoot
class CniDualStackTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static CniNode node;
    private static CniNode.Pod a;
    private static CniNode.Pod b;

    @BeforeAll
    static void twoPods() throws Exception {
        node = CniNode.start("ds", List.of("10.217.0.0/24", "fd00:f17:1::/120"), "192.168.217.1");
        a = node.addPod("dsa");
        b = node.addPod("dsb");
    }

    @AfterAll
    static void close() throws Exception {
        node.close();
    }

    @RegisterExtension
    static final NothingLeftBehind nothingLeft = new NothingLeftBehind(() -> node);

    static InetAddress ipv6Of(CniNode.Pod pod) throws Exception {
        return IpPrefix.parse(JSON.readTree(pod.add().stdout()).path("ips").path(1).path("address").asText()).address();
    }

    @Test
    void addResultListsOneAddressPerFamilyOnThePodInterfaceWithADefaultRouteForEach() throws Exception {
        JsonNode result = JSON.readTree(a.add().stdout());
        Endpoint endpoint = node.endpoints().list().stream()
                .filter(e -> e.containerId().equals(a.containerId())).findFirst().orElseThrow();

        assertEquals(2, result.path("ips").size(), result.toString());
        assertEquals(a.address().getHostAddress() + "/32", result.path("ips").path(0).path("address").asText());
        assertEquals("169.254.1.1", result.path("ips").path(0).path("gateway").asText());
        assertEquals(1, result.path("ips").path(0).path("interface").asInt());
        assertEquals(endpoint.address6().orElseThrow().toString(), result.path("ips").path(1).path("address").asText());
        assertTrue(result.path("ips").path(1).path("address").asText().startsWith("fd00:f17:1::"), result.toString());
        assertTrue(result.path("ips").path(1).path("address").asText().endsWith("/128"), result.toString());
        assertEquals("fe80::1", result.path("ips").path(1).path("gateway").asText());
        assertEquals(1, result.path("ips").path(1).path("interface").asInt());
        assertEquals("0.0.0.0/0", result.path("routes").path(0).path("dst").asText());
        assertEquals("::/0", result.path("routes").path(1).path("dst").asText());
        assertEquals("fe80::1", result.path("routes").path(1).path("gw").asText());
    }

    @Test
    void podsReachEachOtherOverIpv6ByRedirectPeer() throws Exception {
        Traffic.End a6 = new Traffic.End(a.ns(), ipv6Of(a));
        Traffic.End b6 = new Traffic.End(b.ns(), ipv6Of(b));
        long before = ipv6RedirectedPeer();
        Traffic.ping(a6, b6, 3);
        Traffic.tcpTransfer(b6, a6, 7317, 200_000);
        assertTrue(ipv6RedirectedPeer() - before >= 6, "the echo requests and replies at least, counted under family ipv6");
    }

    private static long ipv6RedirectedPeer() {
        return node.datapath().counters().global().stream()
                .filter(c -> c.family() == TrafficFamily.IPV6 && c.verdict() == Verdict.REDIRECT_PEER)
                .mapToLong(DatapathCounter::packets).sum();
    }

    @Test
    void podsStillReachEachOtherOverIpv4() throws Exception {
        Traffic.ping(a.end(), b.end(), 3);
        Traffic.tcpTransfer(a.end(), b.end(), 7318, 200_000);
    }

    @Test
    void podHasNoLinkLocalAddressAndSendsNoNeighbourSolicitationForItsGateway() throws Exception {
        String addresses = a.ns().ip("-6", "addr", "show", "dev", "eth0");
        assertTrue(!addresses.contains("fe80"), "no link-local address on the pod's eth0:\n" + addresses);
        assertTrue(a.ns().ip("-6", "neigh", "show", "dev", "eth0").contains("fe80::1 lladdr"),
                "permanent neighbour for the gateway");
        assertTrue(a.ns().ip("-6", "neigh", "show", "dev", "eth0").contains("PERMANENT"));
    }

    @Test
    void ipv6APodSendsToTheNodeItselfIsHandedToTheStackAndCountedAgainstThePod() throws Exception {
        int id = node.endpoints().list().stream().filter(x -> x.containerId().equals(a.containerId())).findFirst()
                .orElseThrow().endpointId();
        long globalBefore = ipv6Passed();
        long podBefore = podPassed(id);

        // All-routers multicast, as a router solicitation is addressed: nothing to forward, the node's stack takes it.
        a.ns().exec("ping", "-6", "-c", "2", "-i", "0.2", "-W", "1", "ff02::2%eth0");

        assertTrue(ipv6Passed() >= globalBefore + 2, "from_pod passed the pod's IPv6 multicast to the stack under reason ipv6_link_scope");
        assertTrue(podPassed(id) >= podBefore + 2, "and counted it against the pod");
    }

    private static long ipv6Passed() {
        return node.datapath().counters().global().stream()
                .filter(c -> c.verdict() == Verdict.PASS && c.reason() == Reason.IPV6_LINK_SCOPE)
                .mapToLong(DatapathCounter::packets).sum();
    }

    private static long podPassed(int endpointId) {
        return node.datapath().counters().endpoints().stream()
                .filter(c -> c.endpointId() == endpointId && c.verdict() == Verdict.PASS)
                .mapToLong(EndpointCounter::packets).sum();
    }

    @Test
    void checkReportsAMissingIpv6DefaultRouteAndPassesOnceItIsBack() {
        assertEquals(0, node.cni("CHECK", a.containerId(), a.netnsPath()).run().exitCode());
        a.ns().ip("-6", "route", "del", "default", "via", "fe80::1", "dev", "eth0");
        try {
            FerryCni.Result check = node.cni("CHECK", a.containerId(), a.netnsPath()).run();
            assertEquals(CniError.FERRY_CHECK_FAILED, check.code(), check.stdout());
            assertTrue(check.details().contains("default route via fe80::1 is missing in the pod"), check.details());
        } finally {
            a.ns().ip("-6", "route", "add", "default", "via", "fe80::1", "dev", "eth0", "proto", "70");
        }
        assertEquals(0, node.cni("CHECK", a.containerId(), a.netnsPath()).run().exitCode());
    }

    @Test
    void checkPassesWithTheAddResultAsPrevResultAndNamesTheIpv6AddressAPrevResultLacks() throws Exception {
        String config = node.config();
        String full = config.substring(0, config.length() - 1) + ",\"prevResult\":" + a.add().stdout().strip() + "}";
        assertEquals(0, node.cni("CHECK", a.containerId(), a.netnsPath()).stdin(full).run().exitCode());

        String v4Only = config.substring(0, config.length() - 1) + ",\"prevResult\":{\"cniVersion\":\"1.1.0\","
                + "\"ips\":[{\"address\":\"" + a.address().getHostAddress() + "/32\"}]}}";
        FerryCni.Result check = node.cni("CHECK", a.containerId(), a.netnsPath()).stdin(v4Only).run();
        assertEquals(CniError.FERRY_CHECK_FAILED, check.code(), check.stdout());
        IpPrefix six = node.endpoints().list().stream().filter(e -> e.containerId().equals(a.containerId())).findFirst()
                .orElseThrow().address6().orElseThrow();
        assertTrue(check.details().contains("prevResult does not list the endpoint's address " + six), check.details());
    }

    @Test
    void checkReportsAMissingIpv6HostRoute() throws Exception {
        Endpoint e = node.endpoints().list().stream()
                .filter(x -> x.containerId().equals(b.containerId())).findFirst().orElseThrow();
        String six = e.address6().orElseThrow().address().getHostAddress();
        assertEquals(0, node.cni("CHECK", b.containerId(), b.netnsPath()).run().exitCode());
        node.node().ip("-6", "route", "del", six + "/128", "dev", e.hostIfname());
        try {
            FerryCni.Result check = node.cni("CHECK", b.containerId(), b.netnsPath()).run();
            assertEquals(CniError.FERRY_CHECK_FAILED, check.code(), check.stdout());
            assertTrue(check.details().contains("host route " + e.address6().orElseThrow() + " dev " + e.hostIfname()
                    + " is missing"), check.details());
        } finally {
            node.node().ip("-6", "route", "add", six + "/128", "dev", e.hostIfname(), "proto", "70");
        }
    }
}
