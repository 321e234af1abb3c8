package dev.ferry.netlink;

import dev.ferry.net.MacAddress;

import dev.ferry.linux.Errno;
import dev.ferry.linux.Libc;
import dev.ferry.testing.RequiresRoot;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@RequiresRoot
class RtNetlinkLinkTest extends TwoNamespaces {

    @Test
    void vethPeerIsCreatedInsideTheOtherNamespaceWithTheAskedMtuAndMacs() {
        MacAddress hostMac = MacAddress.parse("02:fe:00:00:00:01");
        MacAddress podMac = MacAddress.parse("02:fe:00:00:00:02");

        Link link = nl.createVeth(VethPair.of(hostName, "eth0").mtu(1450).mac(hostMac).peerMac(podMac), pod.handle());

        Map<String, Object> hostSide = Ip.link(host, hostName);
        Map<String, Object> podSide = Ip.link(pod, "eth0");
        assertNotNull(podSide, "peer eth0 is not in the pod namespace");
        assertNull(Ip.link(host, "eth0"), "peer eth0 must not appear in the host namespace");
        assertEquals(1450L, hostSide.get("mtu"));
        assertEquals(1450L, podSide.get("mtu"));
        assertEquals("02:fe:00:00:00:01", hostSide.get("address"));
        assertEquals("02:fe:00:00:00:02", podSide.get("address"));
        assertEquals("veth", ((Map<?, ?>) podSide.get("linkinfo")).get("info_kind"));
        assertEquals(new Link(host.ifindex(hostName), hostName, hostMac, 1450, false, "veth"), link);
    }

    @Test
    void vethPeerNamespaceCanBeGivenAsAFileDescriptor() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Libc.callState(arena);
            int fd = Libc.open(state, arena.allocateFrom("/run/netns/" + pod.name()), Libc.O_RDONLY | Libc.O_CLOEXEC);
            assertTrue(fd >= 0, "open netns: errno " + Libc.errno(state));
            try {
                nl.createVeth(VethPair.of(hostName, "eth0"), fd);
            } finally {
                Libc.close(state, fd);
            }
        }
        assertNotNull(Ip.link(pod, "eth0"));
        assertNotNull(Ip.link(host, hostName));
    }

    @Test
    void linkIsFoundByNameAndByIndex() {
        nl.createVeth(VethPair.of(hostName, hostName + "p"));
        int index = host.ifindex(hostName);

        Link byName = nl.link(hostName).orElseThrow();
        Link byIndex = nl.link(index).orElseThrow();

        assertEquals(byName, byIndex);
        assertEquals(index, byName.index());
        assertEquals(new MacAddress(host.mac(hostName)), byName.mac());
        assertEquals(1500, byName.mtu());
    }

    @Test
    void missingLinkLooksUpAsEmpty() {
        assertTrue(nl.link(hostName).isEmpty());
        assertTrue(nl.link(999_999).isEmpty());
    }

    @Test
    void listingShowsTheLinksOfTheSocketsNamespaceOnly() {
        nl.createVeth(VethPair.of(hostName, "eth0"), pod.handle());

        List<String> names = nl.links().stream().map(Link::name).sorted().toList();

        assertEquals(Ip.linkNames(host).stream().sorted().toList(), names);
        assertEquals(List.of(hostName, "lo"), names);
        Link lo = nl.links().stream().filter(l -> l.name().equals("lo")).findFirst().orElseThrow();
        assertTrue(lo.up());
        assertNull(lo.kind(), "loopback has no IFLA_INFO_KIND");
    }

    @Test
    void setUpAndDownAreSeenByIp() {
        int index = nl.createVeth(VethPair.of(hostName, hostName + "p")).index();

        nl.setLinkUp(index);
        assertTrue(Ip.flags(Ip.link(host, hostName)).contains("UP"));
        assertTrue(nl.link(index).orElseThrow().up());

        nl.setLinkDown(index);
        assertFalse(Ip.flags(Ip.link(host, hostName)).contains("UP"));
        assertFalse(nl.link(index).orElseThrow().up());
    }

    @Test
    void mtuMacAndNameChangesAreSeenByIp() {
        int index = nl.createVeth(VethPair.of(hostName, hostName + "p")).index();
        String newName = Ip.linkName("r");

        nl.setMtu(index, 9000);
        nl.setMac(index, MacAddress.parse("02:fe:00:00:00:03"));
        nl.renameLink(index, newName);

        Map<String, Object> link = Ip.link(host, newName);
        assertNotNull(link, "no link named " + newName);
        assertEquals((long) index, link.get("ifindex"));
        assertEquals(9000L, link.get("mtu"));
        assertEquals("02:fe:00:00:00:03", link.get("address"));
        assertNull(Ip.link(host, hostName));
    }

    @Test
    void deletingOneEndRemovesBothEnds() {
        nl.createVeth(VethPair.of(hostName, "eth0"), pod.handle());

        nl.deleteLink(hostName);

        assertNull(Ip.link(host, hostName));
        assertNull(Ip.link(pod, "eth0"));
    }

    @Test
    void deletingByIndexRemovesTheLink() {
        int index = nl.createVeth(VethPair.of(hostName, hostName + "p")).index();

        nl.deleteLink(index);

        assertNull(Ip.link(host, hostName));
    }

    @Test
    void deletingAMissingLinkIsNotFound() {
        var byName = assertThrows(NetlinkException.NotFound.class, () -> nl.deleteLink(hostName));
        var byIndex = assertThrows(NetlinkException.NotFound.class, () -> nl.deleteLink(999_999));

        assertEquals(Errno.ENODEV, byName.errno());
        assertEquals("failed to delete link '" + hostName + "'", byName.operation());
        assertEquals(Errno.ENODEV, byIndex.errno());
        assertTrue(byIndex.getMessage().contains("ifindex 999999"), byIndex.getMessage());
    }

    @Test
    void changingAMissingLinkIsNotFound() {
        assertThrows(NetlinkException.NotFound.class, () -> nl.setLinkUp(999_999));
    }

    @Test
    void creatingAnExistingVethFailsWithEexistNamingBothEnds() {
        nl.createVeth(VethPair.of(hostName, "eth0"), pod.handle());

        var e = assertThrows(NetlinkException.class,
                () -> nl.createVeth(VethPair.of(hostName, "eth0"), pod.handle()));

        assertFalse(e instanceof NetlinkException.NotFound);
        assertEquals(Errno.EEXIST, e.errno());
        assertTrue(e.getMessage().startsWith("failed to create veth '" + hostName + "' with peer 'eth0' in /run/netns/"
                + pod.name() + ": File exists (errno 17)"), e.getMessage());
    }

    @Test
    void invalidNamesAreRejectedBeforeAnyRequest() {
        assertThrows(IllegalArgumentException.class, () -> VethPair.of("a-name-far-too-long", "eth0"));
        assertThrows(IllegalArgumentException.class, () -> nl.link("bad/name"));
    }
}
