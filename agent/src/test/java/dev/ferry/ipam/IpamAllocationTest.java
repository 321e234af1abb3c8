package dev.ferry.ipam;

import dev.ferry.net.IpPrefix;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IpamAllocationTest {
    @TempDir
    Path state;

    private Ipam open(String cidr) {
        return Ipam.open(state, IpPrefix.parse(cidr));
    }

    private static InetAddress ip(String text) {
        return IpPrefix.literal(text);
    }

    @Test
    void aRetiredFamilyFindsListsAndFreesItsAddressesButHandsOutNone() {
        Allocation held = open("fd00:f17:b2::/120").allocate("c0ffee", "eth0");
        Ipam retired = Ipam.ofRetiredFamily(state, true);

        var e = assertThrows(IllegalStateException.class, () -> retired.allocate("c0ffee2", "eth0"));
        assertEquals("the node has no IPv6 pod CIDR: its addresses are only freed", e.getMessage());
        assertEquals(List.of(held), retired.allocations());
        assertEquals(held, retired.release("c0ffee", "eth0").orElseThrow());
        assertEquals(List.of(), retired.allocations());
    }

    @Test
    void firstAllocationSkipsTheNetworkAddress() {
        Allocation a = open("10.244.1.0/24").allocate("c1", "eth0");
        assertEquals(ip("10.244.1.1"), a.address());
    }

    @Test
    void broadcastAddressIsNeverHandedOut() {
        Ipam ipam = open("10.244.1.0/29");
        List<InetAddress> all = IntStream.range(0, ipam.capacity())
                .mapToObj(i -> ipam.allocate("c" + i, "eth0").address()).toList();
        assertEquals(6, all.size());
        assertFalse(all.contains(ip("10.244.1.7")));
        assertFalse(all.contains(ip("10.244.1.0")));
    }

    @Test
    void sameContainerAndIfnameGetTheSameAddress() {
        Ipam ipam = open("10.244.1.0/24");
        Allocation first = ipam.allocate("c1", "eth0");
        assertEquals(first, ipam.allocate("c1", "eth0"));
        assertEquals(1, ipam.used());
    }

    @Test
    void twoIfnamesOfOneContainerGetTwoAddresses() {
        Ipam ipam = open("10.244.1.0/24");
        assertNotEquals(ipam.allocate("c1", "eth0").address(), ipam.allocate("c1", "net1").address());
        assertEquals(2, ipam.used());
    }

    @Test
    void releasedAddressIsNotReusedImmediately() {
        Ipam ipam = open("10.244.1.0/24");
        Allocation a = ipam.allocate("a", "eth0");
        ipam.allocate("b", "eth0");
        assertEquals(a, ipam.release("a", "eth0").orElseThrow());
        assertEquals(ip("10.244.1.3"), ipam.allocate("c", "eth0").address());
    }

    @Test
    void roundRobinWrapsToTheFirstFreeAddress() {
        Ipam ipam = open("10.244.1.0/30"); // .1 and .2
        ipam.allocate("a", "eth0");
        ipam.allocate("b", "eth0");
        ipam.release("a", "eth0");
        assertEquals(ip("10.244.1.1"), ipam.allocate("c", "eth0").address());
    }

    @Test
    void releaseOfUnknownIsEmpty() {
        Ipam ipam = open("10.244.1.0/24");
        assertTrue(ipam.release("nobody", "eth0").isEmpty());
        ipam.allocate("a", "eth0");
        assertTrue(ipam.release("a", "eth0").isPresent());
        assertTrue(ipam.release("a", "eth0").isEmpty());
        assertTrue(ipam.find("a", "eth0").isEmpty());
    }

    @Test
    void exhaustionOfA29IsReportedClearlyAndLeavesNothingBehind() throws IOException {
        Ipam ipam = open("10.244.1.0/29");
        for (int i = 0; i < 6; i++) {
            ipam.allocate("c" + i, "eth0");
        }
        IpamException.Exhausted e = assertThrows(IpamException.Exhausted.class, () -> ipam.allocate("late", "eth0"));
        assertEquals("pod CIDR 10.244.1.0/29 has no free address: 6 of 6 allocated", e.getMessage());
        assertTrue(ipam.find("late", "eth0").isEmpty());
        assertEquals(6, ipam.used());
        try (var names = Files.list(state.resolve("ipam"))) {
            assertEquals(List.of(), names.map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith(AddressFiles.TEMP_PREFIX)).toList());
        }
    }

    @Test
    void ipv6Slash120Works() {
        Ipam ipam = open("fd00:10:244:1::/120");
        assertEquals(255, ipam.capacity());
        Allocation a = ipam.allocate("c1", "eth0");
        assertEquals(ip("fd00:10:244:1::1"), a.address());
        assertTrue(Files.exists(state.resolve("ipam").resolve("fd00:10:244:1::1")));
        assertEquals(ip("fd00:10:244:1::2"), ipam.allocate("c2", "eth0").address());
        assertEquals(List.of(a), ipam.allocations().subList(0, 1));
    }

    @Test
    void hugeIpv6RangeIsNotEnumerated() {
        Ipam ipam = open("fd00::/64");
        assertEquals(Integer.MAX_VALUE, ipam.capacity());
        assertEquals(ip("fd00::1"), ipam.allocate("c1", "eth0").address());
    }

    @Test
    void slash32HasOneUsableAddress() {
        Ipam ipam = open("10.244.1.9/32");
        assertEquals(1, ipam.capacity());
        assertEquals(ip("10.244.1.9"), ipam.allocate("c1", "eth0").address());
        assertThrows(IpamException.Exhausted.class, () -> ipam.allocate("c2", "eth0"));
    }

    @Test
    void slash31HasTwoUsableAddresses() {
        Ipam ipam = open("10.244.1.8/31");
        assertEquals(2, ipam.capacity());
        assertEquals(ip("10.244.1.8"), ipam.allocate("c1", "eth0").address());
        assertEquals(ip("10.244.1.9"), ipam.allocate("c2", "eth0").address());
        assertThrows(IpamException.Exhausted.class, () -> ipam.allocate("c3", "eth0"));
    }

    @Test
    void invalidContainerIdOrIfnameIsRefused() {
        Ipam ipam = open("10.244.1.0/24");
        assertThrows(IllegalArgumentException.class, () -> ipam.allocate("", "eth0"));
        assertThrows(IllegalArgumentException.class, () -> ipam.allocate("c1", "a/b"));
        assertThrows(IllegalArgumentException.class, () -> ipam.allocate("c\n1", "eth0"));
        assertEquals(0, ipam.used());
    }

    @Test
    void theIpv4AndIpv6PoolsOfADualStackNodeShareTheDirectoryButNotTheirAddresses() {
        Ipam v4 = open("10.244.1.0/24");
        Ipam v6 = open("fd00:f17:9::/120");
        v4.allocate("c1", "eth0");
        v6.allocate("c1", "eth0");
        v6.allocate("c2", "eth0");

        assertEquals(List.of(ip("10.244.1.1")), v4.allocations().stream().map(Allocation::address).toList());
        assertEquals(List.of(ip("fd00:f17:9::1"), ip("fd00:f17:9::2")), v6.allocations().stream().map(Allocation::address).toList());
        assertEquals(ip("fd00:f17:9::1"), v6.find("c1", "eth0").orElseThrow().address());
        assertEquals(ip("10.244.1.1"), v4.release("c1", "eth0").orElseThrow().address());
        assertTrue(v6.find("c1", "eth0").isPresent(), "releasing the IPv4 address leaves the IPv6 one held");
        // Each walks on from its own last address.
        assertEquals(ip("10.244.1.2"), v4.allocate("c3", "eth0").address());
        assertEquals(ip("fd00:f17:9::3"), v6.allocate("c3", "eth0").address());
    }

    @Test
    void anExhaustedIpv6PoolSaysItIsTheIpv6One() {
        Ipam v6 = open("fd00:f17:9::/127");
        v6.allocate("c1", "eth0");
        v6.allocate("c2", "eth0");

        IpamException.Exhausted e = assertThrows(IpamException.Exhausted.class, () -> v6.allocate("c3", "eth0"));
        assertEquals("IPv6 pod CIDR fd00:f17:9::/127 has no free address: 2 of 2 allocated", e.getMessage());
    }
}
