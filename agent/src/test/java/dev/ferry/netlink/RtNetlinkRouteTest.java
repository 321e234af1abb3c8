package dev.ferry.netlink;

import dev.ferry.net.IpPrefix;

import dev.ferry.testing.RequiresRoot;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@RequiresRoot
class RtNetlinkRouteTest extends TwoNamespaces {
    private static final InetAddress GATEWAY = IpPrefix.literal("169.254.1.1");
    private static final IpPrefix POD_IP = IpPrefix.parse("10.244.1.5/32");

    @Test
    void podSideGatewayAndDefaultRoutesAreInstalled() {
        plumbVeth();
        int eth0 = podEth0();

        podNl.addRoute(Route.to(IpPrefix.host(GATEWAY)).dev(eth0).scope(Scope.LINK));
        podNl.addRoute(Route.to(IpPrefix.DEFAULT_V4).via(GATEWAY).dev(eth0));

        Map<String, Object> gatewayRoute = route(Ip.routes(pod), "169.254.1.1");
        assertEquals("eth0", gatewayRoute.get("dev"));
        assertEquals("link", gatewayRoute.get("scope"));
        Map<String, Object> defaultRoute = route(Ip.routes(pod), "default");
        assertEquals("169.254.1.1", defaultRoute.get("gateway"));
        assertEquals("eth0", defaultRoute.get("dev"));
    }

    @Test
    void hostRouteToAPodCarriesFerrysProtocolAndLinkScope() {
        Link veth = plumbVeth();
        Route route = Route.to(POD_IP).dev(veth.index()).scope(Scope.LINK).protocol(Route.PROTO_FERRY);

        nl.addRoute(route);

        List<Map<String, Object>> ferry = Ip.routes(host, "proto", "70");
        assertEquals(1, ferry.size(), ferry.toString());
        assertEquals("10.244.1.5", ferry.getFirst().get("dst"));
        assertEquals(hostName, ferry.getFirst().get("dev"));
        assertEquals("link", ferry.getFirst().get("scope"));
        assertEquals(List.of(route), nl.routes(RouteFilter.main().protocol(Route.PROTO_FERRY)));
    }

    @Test
    void listingFilteredByProtocolLeavesOutOtherProtocolsRoutes() {
        Link veth = plumbVeth();
        nl.addAddress(Address.of(veth.index(), IpPrefix.parse("192.168.50.1/24")));   // a kernel route
        host.ip("route", "add", "10.244.9.0/24", "dev", hostName, "proto", "static");  // somebody else's
        nl.addRoute(Route.to(POD_IP).dev(veth.index()).scope(Scope.LINK).protocol(Route.PROTO_FERRY));

        List<Route> ferry = nl.routes(RouteFilter.main().protocol(Route.PROTO_FERRY));
        List<Route> all = nl.routes(RouteFilter.main().family(Family.V4));

        assertEquals(List.of(POD_IP), ferry.stream().map(Route::destination).toList());
        assertEquals(3, all.size(), all.toString());
        assertTrue(all.stream().anyMatch(r -> r.protocol() == Route.PROTO_STATIC));
        assertTrue(all.stream().anyMatch(r -> r.protocol() == Route.PROTO_KERNEL));
    }

    @Test
    void replacingARouteIsIdempotentAndUpdatesItInPlace() {
        Link veth = plumbVeth();
        nl.addAddress(Address.of(veth.index(), IpPrefix.parse("192.168.50.1/24")));
        Route toNodeB = Route.to(IpPrefix.parse("10.244.2.0/24")).via(IpPrefix.literal("192.168.50.2"))
                .protocol(Route.PROTO_FERRY);

        nl.replaceRoute(toNodeB);
        nl.replaceRoute(toNodeB);
        nl.replaceRoute(toNodeB.via(IpPrefix.literal("192.168.50.3")));

        List<Map<String, Object>> seen = Ip.routes(host, "proto", "70");
        assertEquals(1, seen.size(), seen.toString());
        assertEquals("192.168.50.3", seen.getFirst().get("gateway"));
    }

    @Test
    void routeToAnotherNodesPodCidrGoesViaThatNode() {
        Link veth = plumbVeth();
        nl.addAddress(Address.of(veth.index(), IpPrefix.parse("192.168.50.1/24")));

        nl.addRoute(Route.to(IpPrefix.parse("10.244.2.0/24")).via(IpPrefix.literal("192.168.50.2")));

        Map<String, Object> seen = route(Ip.routes(host), "10.244.2.0/24");
        assertEquals("192.168.50.2", seen.get("gateway"));
        assertEquals(hostName, seen.get("dev"));
        Route listed = nl.routes().stream().filter(r -> r.destination().equals(IpPrefix.parse("10.244.2.0/24")))
                .findFirst().orElseThrow();
        assertEquals(veth.index(), listed.outputIndex(), "the kernel chose the device from the gateway");
    }

    @Test
    void onlinkGatewayNeedsNoRouteToIt() {
        plumbVeth();
        Route route = Route.to(IpPrefix.DEFAULT_V4).via(GATEWAY).dev(podEth0()).onlink(true);

        podNl.addRoute(route);

        assertTrue(Ip.flags(route(Ip.routes(pod), "default")).contains("onlink"));
        assertEquals(List.of(route), podNl.routes(RouteFilter.main().family(Family.V4)));
    }

    @Test
    void ipv6RoutesAreAddedAndListed() {
        plumbVeth();
        int eth0 = podEth0();
        Route cidr = Route.to(IpPrefix.parse("fd00:10:244:2::/64")).dev(eth0).protocol(Route.PROTO_FERRY);
        Route defaultRoute = Route.to(IpPrefix.DEFAULT_V6).via(IpPrefix.literal("fe80::1")).dev(eth0)
                .protocol(Route.PROTO_FERRY);

        podNl.addRoute(cidr);
        podNl.addRoute(defaultRoute);

        List<Map<String, Object>> seen = Ip.routes6(pod, "proto", "70");
        assertEquals("eth0", route(seen, "fd00:10:244:2::/64").get("dev"));
        assertEquals("fe80::1", route(seen, "default").get("gateway"));
        List<Route> listed = podNl.routes(RouteFilter.main().family(Family.V6).protocol(Route.PROTO_FERRY));
        assertEquals(List.of(IpPrefix.parse("fd00:10:244:2::/64"), IpPrefix.DEFAULT_V6),
                listed.stream().map(Route::destination).sorted((a, b) -> b.length() - a.length()).toList());
        assertTrue(listed.stream().allMatch(r -> r.metric() == 1024), "IPv6 turns metric 0 into 1024: " + listed);
    }

    @Test
    void routesReadBackFromAListingCanBeDeleted() {
        Link veth = plumbVeth();
        nl.addRoute(Route.to(POD_IP).dev(veth.index()).scope(Scope.LINK).protocol(Route.PROTO_FERRY));
        nl.addRoute(Route.to(IpPrefix.parse("10.244.1.6/32")).dev(veth.index()).scope(Scope.LINK).protocol(Route.PROTO_FERRY));

        nl.routes(RouteFilter.main().protocol(Route.PROTO_FERRY)).forEach(nl::deleteRoute);

        assertEquals(List.of(), Ip.routes(host, "proto", "70"));
    }

    @Test
    void deletingAMissingRouteIsNotFound() {
        Link veth = plumbVeth();

        var e = assertThrows(NetlinkException.NotFound.class,
                () -> nl.deleteRoute(Route.to(POD_IP).dev(veth.index()).protocol(Route.PROTO_FERRY)));

        assertEquals(3, e.errno(), "ESRCH");
        assertTrue(e.getMessage().startsWith("failed to delete route 10.244.1.5/32 dev " + hostName + " proto 70: "),
                e.getMessage());
    }

    @Test
    void deletingWithFerrysProtocolNeverRemovesAnotherProtocolsRoute() {
        Link veth = plumbVeth();
        host.ip("route", "add", "10.244.9.0/24", "dev", hostName, "proto", "static");
        Route theirs = Route.to(IpPrefix.parse("10.244.9.0/24")).dev(veth.index());

        assertThrows(NetlinkException.NotFound.class, () -> nl.deleteRoute(theirs.protocol(Route.PROTO_FERRY)));
        assertEquals(1, Ip.routes(host, "10.244.9.0/24").size());

        nl.deleteRoute(theirs.protocol(Route.PROTO_STATIC));
        assertEquals(0, Ip.routes(host, "10.244.9.0/24").size());
    }

    @Test
    void failedAddCarriesErrnoAndNamesTheRoute() {
        Link veth = plumbVeth();
        Route route = Route.to(POD_IP).dev(veth.index()).scope(Scope.LINK).protocol(Route.PROTO_FERRY);
        nl.addRoute(route);

        var e = assertThrows(NetlinkException.class, () -> nl.addRoute(route));

        assertFalse(e instanceof NetlinkException.NotFound);
        assertEquals(17, e.errno());
        assertTrue(e.getMessage().startsWith(
                "failed to add route 10.244.1.5/32 dev " + hostName + " scope link proto 70: File exists (errno 17)"),
                e.getMessage());
    }

    @Test
    void unreachableGatewayErrorCarriesTheKernelsExplanation() {
        plumbVeth();

        var e = assertThrows(NetlinkException.class,
                () -> nl.addRoute(Route.to(IpPrefix.parse("10.244.2.0/24")).via(IpPrefix.literal("192.0.2.1"))));

        assertEquals(101, e.errno(), "ENETUNREACH: " + e.getMessage());
        assertEquals("Nexthop has invalid gateway", e.kernelMessage().orElseThrow());
        assertTrue(e.getMessage().endsWith("Network is unreachable (errno 101): Nexthop has invalid gateway"),
                e.getMessage());
    }

    @Test
    void defaultRouteLinkIsTheDeviceOfTheLowestMetricDefaultRoute() {
        Link a = nl.createVeth(VethPair.of(Ip.linkName("a"), Ip.linkName("A")));
        Link b = nl.createVeth(VethPair.of(Ip.linkName("b"), Ip.linkName("B")));
        for (Link l : List.of(a, b)) {
            nl.setLinkUp(l.index());
        }
        nl.addRoute(Route.to(IpPrefix.DEFAULT_V4).via(GATEWAY).dev(a.index()).onlink(true).metric(200));
        nl.addRoute(Route.to(IpPrefix.DEFAULT_V4).via(GATEWAY).dev(b.index()).onlink(true).metric(100));

        assertEquals(b.name(), nl.defaultRouteLink().orElseThrow().name());
        Map<String, Object> lowest = Ip.routes(host, "default").stream()
                .min(java.util.Comparator.comparingLong(r -> (Long) r.get("metric"))).orElseThrow();
        assertEquals(b.name(), lowest.get("dev"), "ip agrees");
    }

    @Test
    void multipathDefaultRouteIsListedWithItsFirstNextHop() {
        Link veth = plumbVeth();
        nl.addAddress(Address.of(veth.index(), IpPrefix.parse("192.168.50.1/24")));
        host.ip("route", "add", "default", "nexthop", "via", "192.168.50.2", "nexthop", "via", "192.168.50.3");

        Route listed = nl.routes(RouteFilter.main().family(Family.V4)).stream().filter(Route::isDefault)
                .findFirst().orElseThrow();

        assertEquals(IpPrefix.literal("192.168.50.2"), listed.gateway());
        assertEquals(veth.index(), listed.outputIndex());
        assertEquals(hostName, nl.defaultRouteLink().orElseThrow().name());
    }

    @Test
    void noDefaultRouteMeansNoDefaultRouteLink() {
        plumbVeth();

        assertTrue(nl.defaultRouteLink().isEmpty());
    }

    private static Map<String, Object> route(List<Map<String, Object>> routes, String dst) {
        return routes.stream().filter(r -> dst.equals(r.get("dst"))).findFirst()
                .orElseThrow(() -> new AssertionError("no route to " + dst + " in " + routes));
    }
}
