package dev.ferry.agent;

import dev.ferry.egress.EgressRoute;
import dev.ferry.egress.Fallback;
import dev.ferry.egress.NextHop;
import dev.ferry.net.IpPrefix;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Standalone egressRoutes: what a route means when keys are left out, and a one-line error naming the key for each mistake. */
class ConfiguredEgressRoutesTest {
    private static final String HEAD = "mode: standalone\nnodeName: n1\npodCIDRs: [10.244.1.0/24, 'fd00:e6:0:1::/64']\n"
            + "clusterCIDRs: [10.244.0.0/16, 'fd00:e6::/48']\nuplinks: [up1, up2]\n";

    private static AgentConfig parse(String yaml) {
        return new AgentConfigLoader(Map.of(), () -> "n1").parse(HEAD + yaml);
    }

    private static String error(String yaml) {
        String message = assertThrows(ConfigException.class, () -> parse(yaml)).getMessage();
        assertFalse(message.contains("\n"), "one line: " + message);
        return message;
    }

    @Test
    void aRouteWithOnlyItsRequiredKeysTakesEveryOutsideDestinationWithoutMasqueradeAndFallsBackToTheStack() {
        List<EgressRoute> routes = parse("egressRoutes:\n- name: via-fw\n  sources: [10.244.1.0/28]\n"
                + "  nextHops: [{via: 192.168.10.1}]\n").egressRoutes();

        assertEquals(List.of(new EgressRoute("via-fw", List.of(IpPrefix.parse("10.244.1.0/28")), List.of(IpPrefix.parse("0.0.0.0/0")),
                List.of(new NextHop(IpPrefix.literal("192.168.10.1"), Optional.empty())), false, Fallback.STACK)), routes);
    }

    @Test
    void anIpv6RouteWithOnlyItsRequiredKeysTakesEveryOutsideIpv6Destination() {
        EgressRoute r = parse("egressRoutes:\n- name: via-fw6\n  sources: ['fd00:e6:0:1::/120']\n"
                + "  nextHops: [{via: 'fd00:20::1'}]\n").egressRoutes().getFirst();

        assertEquals(List.of(IpPrefix.parse("fd00:e6:0:1::/120")), ((dev.ferry.selection.PodSelection.SourceCidrs) r.pods()).cidrs());
        assertEquals(List.of(IpPrefix.parse("::/0")), r.destinations());
        assertEquals(List.of(new NextHop(IpPrefix.literal("fd00:20::1"), Optional.empty())), r.nextHops());
    }

    @Test
    void aRouteWithNextHopsOfBothFamiliesTakesEveryOutsideDestinationOfBoth() {
        EgressRoute r = parse("egressRoutes:\n- name: dual\n  sources: [10.244.1.0/28, 'fd00:e6:0:1::/120']\n"
                + "  nextHops: [{via: 192.168.10.1}, {via: 'fd00:20::1'}]\n").egressRoutes().getFirst();

        assertEquals(List.of(IpPrefix.parse("0.0.0.0/0"), IpPrefix.parse("::/0")), r.destinations());
    }

    @Test
    void aRouteMayListDestinationsOfBothFamiliesWhenItHasNextHopsOfBoth() {
        EgressRoute r = parse("egressRoutes:\n- name: dual\n  sources: [10.244.1.0/28]\n"
                + "  destinations: [203.0.113.0/24, '2001:db8:e6::/48']\n"
                + "  nextHops: [{via: 192.168.10.1}, {via: 'fd00:20::1'}]\n").egressRoutes().getFirst();

        assertEquals(List.of(IpPrefix.parse("203.0.113.0/24"), IpPrefix.parse("2001:db8:e6::/48")), r.destinations());
    }

    @Test
    void aLinkLocalNextHopIsTakenWithItsDevice() {
        EgressRoute r = parse("egressRoutes:\n- {name: a, sources: ['fd00:e6:0:1::/64'], nextHops: [{via: 'fe80::1', device: up2}]}\n")
                .egressRoutes().getFirst();

        assertEquals(List.of(new NextHop(IpPrefix.literal("fe80::1"), Optional.of("up2"))), r.nextHops());
    }

    @Test
    void aMasqueradingRouteWithIpv6NextHopsNeedsTheNodesIpv6Masquerade() {
        assertTrue(error("masquerade: {ipv4: true, ipv6: false}\negressRoutes:\n- {name: a, sources: ['fd00:e6:0:1::/64'],"
                + " nextHops: [{via: 'fd00:20::1'}], masquerade: true}\n")
                .startsWith("key 'egressRoutes[0].masquerade': needs the node's IPv6 masquerade (masquerade.ipv6: true"));
    }

    @Test
    void aMasqueradingIpv4RouteDoesNotNeedTheNodesIpv6Masquerade() {
        assertTrue(parse("masquerade: {ipv4: true, ipv6: false}\negressRoutes:\n- {name: a, sources: [10.244.1.0/28],"
                + " nextHops: [{via: 192.168.10.1}], masquerade: true}\n").egressRoutes().getFirst().masquerade());
    }

    @Test
    void everyKeyOfARouteIsRead() {
        EgressRoute r = parse("egressRoutes:\n- name: isp2\n  sources: [10.244.1.16/28, 10.244.1.32/28]\n"
                + "  destinations: [203.0.113.0/24]\n  nextHops: [{via: 192.168.20.1, device: up2}, {via: 192.168.20.2}]\n"
                + "  masquerade: true\n  fallback: drop\n").egressRoutes().getFirst();

        assertEquals(2, ((dev.ferry.selection.PodSelection.SourceCidrs) r.pods()).cidrs().size());
        assertEquals(List.of(IpPrefix.parse("203.0.113.0/24")), r.destinations());
        assertEquals(Optional.of("up2"), r.nextHops().getFirst().device());
        assertTrue(r.masquerade());
        assertEquals(Fallback.DROP, r.fallback());
    }

    @Test
    void routesKeepTheFilesOrderWhichIsTheirAge() {
        List<EgressRoute> routes = parse("egressRoutes:\n"
                + "- {name: b, sources: [10.244.1.0/28], nextHops: [{via: 192.168.10.1}]}\n"
                + "- {name: a, sources: [10.244.1.0/28], nextHops: [{via: 192.168.10.2}]}\n").egressRoutes();
        assertEquals(List.of("b", "a"), routes.stream().map(EgressRoute::name).toList());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "no name        | - {sources: [10.244.1.0/28], nextHops: [{via: 192.168.10.1}]}                        | key 'egressRoutes[0].name' is required",
            "bad name       | - {name: Via_FW, sources: [10.244.1.0/28], nextHops: [{via: 192.168.10.1}]}          | key 'egressRoutes[0].name': 'Via_FW' is not a valid route name",
            "no sources     | - {name: a, nextHops: [{via: 192.168.10.1}]}                                         | key 'egressRoutes[0].sources' is required",
            "source no CIDR | - {name: a, sources: [10.244.1.7], nextHops: [{via: 192.168.10.1}]}                  | key 'egressRoutes[0].sources[0]': '10.244.1.7' is not a CIDR",
            "ipv6 source, no ipv6 hop | - {name: a, sources: [\"fd00:e6:0:1::/64\"], nextHops: [{via: 192.168.10.1}]}  | key 'egressRoutes[0].sources[0]': fd00:e6:0:1::/64 is IPv6 and the route has no IPv6 next hop",
            "ipv4 dest, no ipv4 hop | - {name: a, sources: [\"fd00:e6:0:1::/64\"], destinations: [203.0.113.0/24], nextHops: [{via: \"fd00:20::1\"}]} | key 'egressRoutes[0].destinations[0]': 203.0.113.0/24 is IPv4 and the route has no IPv4 next hop",
            "ipv6 cluster dest | - {name: a, sources: [\"fd00:e6:0:1::/64\"], destinations: [\"fd00:e6:0:2::/64\"], nextHops: [{via: \"fd00:20::1\"}]} | key 'egressRoutes[0].destinations[0]': fd00:e6:0:2::/64 is inside the cluster CIDR fd00:e6::/48",
            "ipv6 pod via   | - {name: a, sources: [\"fd00:e6:0:1::/64\"], nextHops: [{via: \"fd00:e6:0:3::1\"}]}          | key 'egressRoutes[0].nextHops[0].via': fd00:e6:0:3::1 is a pod address",
            "link-local via | - {name: a, sources: [\"fd00:e6:0:1::/64\"], nextHops: [{via: \"fe80::1\"}]}               | key 'egressRoutes[0].nextHops[0].via': fe80::1 is link-local, on every uplink's link; name the device",
            "cluster dest   | - {name: a, sources: [10.244.1.0/28], destinations: [10.244.2.0/24], nextHops: [{via: 192.168.10.1}]} | key 'egressRoutes[0].destinations[0]': 10.244.2.0/24 is inside the cluster CIDR 10.244.0.0/16",
            "empty dests    | - {name: a, sources: [10.244.1.0/28], destinations: [], nextHops: [{via: 192.168.10.1}]} | key 'egressRoutes[0].destinations' is empty",
            "no next hops   | - {name: a, sources: [10.244.1.0/28]}                                                | key 'egressRoutes[0].nextHops' is required",
            "no via         | - {name: a, sources: [10.244.1.0/28], nextHops: [{device: up1}]}                     | key 'egressRoutes[0].nextHops[0].via' is required",
            "bad via        | - {name: a, sources: [10.244.1.0/28], nextHops: [{via: router-1}]}                   | key 'egressRoutes[0].nextHops[0].via': 'router-1' is not an IP address",
            "pod via        | - {name: a, sources: [10.244.1.0/28], nextHops: [{via: 10.244.3.1}]}                 | key 'egressRoutes[0].nextHops[0].via': 10.244.3.1 is a pod address",
            "not an uplink  | - {name: a, sources: [10.244.1.0/28], nextHops: [{via: 192.168.10.1, device: eth9}]} | key 'egressRoutes[0].nextHops[0].device': 'eth9' is not an uplink (up1, up2)",
            "twice the hop  | - {name: a, sources: [10.244.1.0/28], nextHops: [{via: 192.168.10.1}, {via: 192.168.10.1}]} | key 'egressRoutes[0].nextHops[1].via': 192.168.10.1 is listed twice",
            "unknown key    | - {name: a, sources: [10.244.1.0/28], nextHops: [{via: 192.168.10.1}], gateway: x}   | unknown key 'egressRoutes[0].gateway'",
            "bad fallback   | - {name: a, sources: [10.244.1.0/28], nextHops: [{via: 192.168.10.1}], fallback: reject} | key 'egressRoutes[0].fallback' must be stack or drop, not 'reject'",
            "bad masquerade | - {name: a, sources: [10.244.1.0/28], nextHops: [{via: 192.168.10.1}], masquerade: yes please} | key 'egressRoutes[0].masquerade' must be true or false",
    })
    void aMistakeIsOneLineNamingTheKey(String why, String route, String expected) {
        String message = error("egressRoutes:\n" + route + "\n");
        assertTrue(message.startsWith(expected), why + ": " + message);
    }

    @Test
    void aRouteNameListedTwiceIsRefused() {
        assertTrue(error("egressRoutes:\n- {name: a, sources: [10.244.1.0/28], nextHops: [{via: 192.168.10.1}]}\n"
                + "- {name: a, sources: [10.244.1.0/28], nextHops: [{via: 192.168.10.2}]}\n")
                .startsWith("key 'egressRoutes[1].name': route 'a' is listed twice"));
    }

    @Test
    void moreThanEightNextHopsAreRefused() {
        StringBuilder hops = new StringBuilder();
        for (int i = 1; i <= 9; i++) {
            hops.append(i > 1 ? ", " : "").append("{via: 192.168.10.").append(i).append("}");
        }
        assertTrue(error("egressRoutes:\n- {name: a, sources: [10.244.1.0/28], nextHops: [" + hops + "]}\n")
                .startsWith("key 'egressRoutes[0].nextHops' lists 9 next hops; at most 8"));
    }

    @Test
    void aMasqueradingRouteNeedsTheNodesMasquerade() {
        assertTrue(error("masquerade: false\negressRoutes:\n- {name: a, sources: [10.244.1.0/28], nextHops: [{via: 192.168.10.1}],"
                + " masquerade: true}\n").startsWith("key 'egressRoutes[0].masquerade': needs the node's IPv4 masquerade"));
    }

    @Test
    void kubernetesModeRefusesEgressRoutesInTheFile() {
        String message = assertThrows(ConfigException.class, () -> new AgentConfigLoader(Map.of(), () -> "n1")
                .parse("mode: kubernetes\negressRoutes: []\n")).getMessage();
        assertTrue(message.startsWith("key 'egressRoutes' is for standalone mode"), message);
    }
}
