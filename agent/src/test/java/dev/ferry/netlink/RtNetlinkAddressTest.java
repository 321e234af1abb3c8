package dev.ferry.netlink;

import dev.ferry.net.IpPrefix;

import dev.ferry.testing.RequiresRoot;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@RequiresRoot
class RtNetlinkAddressTest extends TwoNamespaces {

    @Test
    void ipv4AddressIsAddedWithItsPrefixLength() {
        int eth0 = plumbVeth().index();
        Address pod4 = Address.of(podEth0(), IpPrefix.parse("10.244.1.5/32"));

        podNl.addAddress(pod4);

        Map<String, Object> seen = only(Ip.addresses(pod, "eth0"), "inet");
        assertEquals("10.244.1.5", seen.get("local"));
        assertEquals(32L, seen.get("prefixlen"));
        assertEquals("global", seen.get("scope"));
        assertTrue(podNl.addresses(podEth0()).contains(pod4));
        assertTrue(nl.addresses(eth0).stream().noneMatch(a -> a.family() == Family.V4), "the host end has no IPv4 address");
    }

    @Test
    void ipv6AddressIsAddedWithoutDuplicateAddressDetection() {
        plumbVeth();
        Address pod6 = Address.of(podEth0(), IpPrefix.parse("fd00:10:244:1::5/128"));

        podNl.addAddress(pod6);

        Map<String, Object> seen = Ip.addresses(pod, "eth0").stream()
                .filter(a -> "fd00:10:244:1::5".equals(a.get("local"))).findFirst().orElseThrow();
        assertEquals(128L, seen.get("prefixlen"));
        assertEquals(Boolean.TRUE, seen.get("nodad"));
        assertFalse(seen.containsKey("tentative"), "a nodad address is usable at once: " + seen);
        assertTrue(podNl.addresses(podEth0()).contains(pod6));
    }

    @Test
    void linkScopeAddressKeepsItsScope() {
        plumbVeth();
        Address linkLocal = Address.of(podEth0(), IpPrefix.parse("169.254.7.7/16")).scope(Scope.LINK);

        podNl.addAddress(linkLocal);

        assertEquals("link", only(Ip.addresses(pod, "eth0"), "inet").get("scope"));
        assertTrue(podNl.addresses(podEth0()).contains(linkLocal));
    }

    @Test
    void deletedAddressIsGone() {
        plumbVeth();
        Address pod4 = Address.of(podEth0(), IpPrefix.parse("10.244.1.5/32"));
        podNl.addAddress(pod4);

        podNl.deleteAddress(pod4);

        assertTrue(Ip.addresses(pod, "eth0").stream().noneMatch(a -> "inet".equals(a.get("family"))));
        assertFalse(podNl.addresses(podEth0()).contains(pod4));
    }

    @Test
    void addingAnAddressTwiceFailsButReplacingIsIdempotent() {
        plumbVeth();
        Address pod4 = Address.of(podEth0(), IpPrefix.parse("10.244.1.5/32"));
        podNl.addAddress(pod4);

        var e = assertThrows(NetlinkException.class, () -> podNl.addAddress(pod4));
        podNl.replaceAddress(pod4);
        podNl.replaceAddress(pod4);

        assertEquals(17, e.errno());
        assertTrue(e.getMessage().startsWith("failed to add address 10.244.1.5/32 on link 'eth0': File exists"),
                e.getMessage());
        assertEquals(1, Ip.addresses(pod, "eth0").stream().filter(a -> "inet".equals(a.get("family"))).count());
    }

    @Test
    void deletingAMissingAddressIsNotFound() {
        plumbVeth();

        var e = assertThrows(NetlinkException.NotFound.class,
                () -> podNl.deleteAddress(Address.of(podEth0(), IpPrefix.parse("10.244.1.5/32"))));

        assertTrue(e.getMessage().contains("10.244.1.5/32"), e.getMessage());
    }

    private static Map<String, Object> only(List<Map<String, Object>> addresses, String family) {
        List<Map<String, Object>> matching = addresses.stream().filter(a -> family.equals(a.get("family"))).toList();
        assertEquals(1, matching.size(), "expected one " + family + " address: " + addresses);
        return matching.getFirst();
    }
}
