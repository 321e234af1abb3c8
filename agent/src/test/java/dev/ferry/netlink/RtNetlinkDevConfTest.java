package dev.ferry.netlink;

import dev.ferry.linux.Errno;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import org.junit.jupiter.api.Test;

import java.util.Optional;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Per-device settings through rtnetlink (IFLA_AF_SPEC), checked against what
 * the sysctl in the namespace's own /proc/sys says, the file the agent no
 * longer needs to reach.
 */
@RequiresRoot
class RtNetlinkDevConfTest extends TwoNamespaces {

    @Test
    void forwardingSetThroughRtNetlinkIsWhatTheSysctlReads() {
        int index = nl.createVeth(VethPair.of(hostName, hostName + "p")).index();
        assertEquals("0", procSys(host, "ipv4", hostName, "forwarding"), "a new namespace's devices start without forwarding");

        nl.setIpv4DevConf(index, Ipv4DevConf.FORWARDING, 1);

        assertEquals("1", procSys(host, "ipv4", hostName, "forwarding"));
        assertEquals(OptionalInt.of(1), nl.ipv4DevConf(index, Ipv4DevConf.FORWARDING));
    }

    @Test
    void forwardingReadThroughRtNetlinkFollowsTheSysctl() {
        int index = nl.createVeth(VethPair.of(hostName, hostName + "p")).index();

        host.sysctl("net.ipv4.conf." + hostName + ".forwarding", "1");
        assertEquals(OptionalInt.of(1), nl.ipv4DevConf(index, Ipv4DevConf.FORWARDING));

        host.sysctl("net.ipv4.conf." + hostName + ".forwarding", "0");
        assertEquals(OptionalInt.of(0), nl.ipv4DevConf(index, Ipv4DevConf.FORWARDING));
    }

    @Test
    void forwardingIsSetInTheSocketsNamespaceOnly() {
        Link hostEnd = nl.createVeth(VethPair.of(hostName, "eth0"), pod.handle());

        podNl.setIpv4DevConf(podEth0(), Ipv4DevConf.FORWARDING, 1);

        assertEquals("1", procSys(pod, "ipv4", "eth0", "forwarding"));
        assertEquals("0", procSys(host, "ipv4", hostName, "forwarding"), "the other end, in the other namespace");
        assertEquals(OptionalInt.of(0), nl.ipv4DevConf(hostEnd.index(), Ipv4DevConf.FORWARDING));
    }

    @Test
    void settingsOfAMissingLinkAreNotFoundAndReadAsEmpty() {
        var e = assertThrows(NetlinkException.NotFound.class, () -> nl.setIpv4DevConf(999_999, Ipv4DevConf.FORWARDING, 1));

        assertEquals(Errno.ENODEV, e.errno());
        assertTrue(e.getMessage().startsWith("failed to set forwarding to 1 on link 'ifindex 999999': "), e.getMessage());
        assertEquals(OptionalInt.empty(), nl.ipv4DevConf(999_999, Ipv4DevConf.FORWARDING));
        assertEquals(Optional.empty(), nl.ipv6AddrGenMode(999_999));
    }

    @Test
    void ipv6AddressGenerationModeSetThroughRtNetlinkIsWhatTheSysctlReads() {
        int index = nl.createVeth(VethPair.of(hostName, hostName + "p")).index();

        nl.setIpv6AddrGenMode(index, Ipv6AddrGenMode.NONE);

        assertEquals("1", procSys(host, "ipv6", hostName, "addr_gen_mode"));
        assertEquals(Optional.of(Ipv6AddrGenMode.NONE), nl.ipv6AddrGenMode(index));
    }

    /** {@code /proc/sys/net/FAMILY/conf/DEV/KEY} as a process inside the namespace reads it. */
    private static String procSys(TestNetns ns, String family, String device, String key) {
        return ns.exec("cat", "/proc/sys/net/" + family + "/conf/" + device + "/" + key).stdout().strip();
    }
}
