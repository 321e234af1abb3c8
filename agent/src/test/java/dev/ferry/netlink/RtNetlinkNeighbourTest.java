package dev.ferry.netlink;

import dev.ferry.net.IpPrefix;
import dev.ferry.net.MacAddress;

import dev.ferry.testing.RequiresRoot;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@RequiresRoot
class RtNetlinkNeighbourTest extends TwoNamespaces {
    private static final InetAddress GATEWAY = IpPrefix.literal("169.254.1.1");

    @Test
    void permanentNeighbourForThePodsGatewayPointsAtTheHostEnd() {
        Link hostEnd = plumbVeth();
        Neighbour gateway = Neighbour.permanent(podEth0(), GATEWAY, hostEnd.mac());

        podNl.replaceNeighbour(gateway);

        Map<String, Object> seen = only(Ip.neighbours(pod, "eth0"));
        assertEquals("169.254.1.1", seen.get("dst"));
        assertEquals(hostEnd.mac().toString(), seen.get("lladdr"));
        assertEquals(List.of("PERMANENT"), seen.get("state"));
        assertEquals(List.of(gateway), podNl.neighbours(podEth0()));
    }

    @Test
    void ipv6PermanentNeighbourIsInstalled() {
        Link hostEnd = plumbVeth();
        InetAddress gateway6 = IpPrefix.literal("fe80::1");

        podNl.replaceNeighbour(Neighbour.permanent(podEth0(), gateway6, hostEnd.mac()));

        Map<String, Object> seen = Ip.neighbours(pod, "eth0").stream()
                .filter(n -> "fe80::1".equals(n.get("dst"))).findFirst().orElseThrow();
        assertEquals(hostEnd.mac().toString(), seen.get("lladdr"));
        assertEquals(List.of("PERMANENT"), seen.get("state"));
        assertTrue(podNl.neighbours(podEth0()).stream().anyMatch(n -> n.address().equals(gateway6) && n.isPermanent()));
    }

    @Test
    void replacingANeighbourIsIdempotentAndUpdatesItsMac() {
        Link hostEnd = plumbVeth();
        Neighbour pod1 = Neighbour.permanent(hostEnd.index(), IpPrefix.literal("10.244.1.5"), MacAddress.parse("02:fe:00:00:00:05"));

        nl.replaceNeighbour(pod1);
        nl.replaceNeighbour(pod1);
        nl.replaceNeighbour(Neighbour.permanent(pod1.index(), pod1.address(), MacAddress.parse("02:fe:00:00:00:06")));

        Map<String, Object> seen = only(Ip.neighbours(host, hostName));
        assertEquals("02:fe:00:00:00:06", seen.get("lladdr"));
    }

    @Test
    void addingAnExistingNeighbourFailsNamingIt() {
        Link hostEnd = plumbVeth();
        Neighbour pod1 = Neighbour.permanent(hostEnd.index(), IpPrefix.literal("10.244.1.5"), MacAddress.parse("02:fe:00:00:00:05"));
        nl.addNeighbour(pod1);

        var e = assertThrows(NetlinkException.class, () -> nl.addNeighbour(pod1));

        assertEquals(17, e.errno());
        assertTrue(e.getMessage().startsWith("failed to add neighbour 10.244.1.5 lladdr 02:fe:00:00:00:05 dev "
                + hostName + ": File exists (errno 17)"), e.getMessage());
    }

    @Test
    void deletedNeighbourIsGone() {
        Link hostEnd = plumbVeth();
        InetAddress podIp = IpPrefix.literal("10.244.1.5");
        nl.replaceNeighbour(Neighbour.permanent(hostEnd.index(), podIp, MacAddress.parse("02:fe:00:00:00:05")));

        nl.deleteNeighbour(hostEnd.index(), podIp);

        assertEquals(List.of(), Ip.neighbours(host, hostName));
        assertEquals(List.of(), nl.neighbours(hostEnd.index()));
    }

    @Test
    void deletingAMissingNeighbourIsNotFound() {
        Link hostEnd = plumbVeth();

        var e = assertThrows(NetlinkException.NotFound.class,
                () -> nl.deleteNeighbour(hostEnd.index(), IpPrefix.literal("10.244.1.5")));

        assertEquals(2, e.errno(), "ENOENT");
        assertTrue(e.getMessage().startsWith("failed to delete neighbour 10.244.1.5 dev " + hostName), e.getMessage());
    }

    @Test
    void listingShowsOnlyTheGivenLinksEntries() {
        Link hostEnd = plumbVeth();
        Link other = nl.createVeth(VethPair.of(Ip.linkName("o"), Ip.linkName("O")));
        nl.replaceNeighbour(Neighbour.permanent(hostEnd.index(), IpPrefix.literal("10.244.1.5"), MacAddress.parse("02:fe:00:00:00:05")));
        nl.replaceNeighbour(Neighbour.permanent(other.index(), IpPrefix.literal("10.244.1.6"), MacAddress.parse("02:fe:00:00:00:06")));

        assertEquals(List.of(IpPrefix.literal("10.244.1.5")),
                nl.neighbours(hostEnd.index()).stream().map(Neighbour::address).toList());
    }

    private static Map<String, Object> only(List<Map<String, Object>> neighbours) {
        assertEquals(1, neighbours.size(), neighbours.toString());
        return neighbours.getFirst();
    }
}
