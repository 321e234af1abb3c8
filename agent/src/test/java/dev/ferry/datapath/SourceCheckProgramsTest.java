package dev.ferry.datapath;

import dev.ferry.testing.RequiresRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static dev.ferry.datapath.Packets.Ipv4;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * from_pod's source check on crafted frames: what a pod sends from an address
 * that is not its own (IPv4 source, ARP sender, IPv6 source) is dropped on every
 * path, counted as drop/spoofed_source and against the pod whose veth it came in
 * on; what it sends as itself goes on. Real packets: SpoofedSourceTest.
 */
@RequiresRoot
class SourceCheckProgramsTest extends ProgramTestBench {
    // ---- anti-spoofing: a pod sends only from its own address ----------------------------------

    /** Addresses pod A (on hostA) may not send from, and a destination on each path a packet can take. */
    static Stream<Arguments> spoofedSourcesOnEveryPath() {
        List<String> claimed = List.of(POD_B, REMOTE_POD, OUTSIDE, "0.0.0.0");
        List<List<String>> paths = List.of(
                List.of("same node", POD_B),
                List.of("other node", REMOTE_POD),
                List.of("stack", OUTSIDE));
        return claimed.stream().flatMap(source -> paths.stream()
                .map(path -> Arguments.of(source, path.get(0), path.get(1))));
    }

    @ParameterizedTest(name = "source {0}, {1} path")
    @MethodSource("spoofedSourcesOnEveryPath")
    void sourceThatIsNotTheSendersOwnIsDroppedAndCountedAgainstTheSender(String source, String path, String destination)
            throws Exception {
        Outcome out = run(DatapathProgram.FROM_POD, Ipv4.udp(source, destination).frame(), hostA);
        out.assertDroppedUnchanged(Direction.EGRESS, Reason.SPOOFED_SOURCE);
        assertEquals(Map.of(new EpKey(1, Direction.EGRESS, Verdict.DROP), 1L), out.endpointPackets(),
                "counted against pod A, whose veth it came from, never against the pod it claimed to be");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"tcp", "icmp"})
    void spoofedSourceIsDroppedWhateverTheProtocol(String protocol) throws Exception {
        Ipv4 packet = protocol.equals("tcp") ? Ipv4.tcp(POD_B, REMOTE_POD) : Ipv4.icmp(POD_B, REMOTE_POD);
        run(DatapathProgram.FROM_POD, packet.frame(), hostA).assertDroppedUnchanged(Direction.EGRESS, Reason.SPOOFED_SOURCE);
    }

    @Test
    void podsOwnAddressArrivingOnAnotherPodsVethIsDropped() throws Exception {
        Outcome out = run(DatapathProgram.FROM_POD, Ipv4.udp(POD_A, REMOTE_POD).frame(), hostB);
        out.assertDroppedUnchanged(Direction.EGRESS, Reason.SPOOFED_SOURCE);
        assertEquals(Map.of(new EpKey(2, Direction.EGRESS, Verdict.DROP), 1L), out.endpointPackets(),
                "counted against pod B, whose veth it came from");
    }

    /** Packets the stack would take (and answer, or forward) are checked before they are left to it. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"fragment", "ip options", "ttl 1"})
    void spoofedPacketForTheStackIsDroppedBeforeTheStackSeesIt(String kind) throws Exception {
        Ipv4 packet = Ipv4.udp(POD_B, OUTSIDE);
        packet = switch (kind) {
            case "fragment" -> packet.fragOff(0x2000);
            case "ip options" -> packet.options(1);
            default -> packet.ttl(1); // else the stack would send time-exceeded to the pod it claimed to be
        };
        run(DatapathProgram.FROM_POD, packet.frame(), hostA).assertDroppedUnchanged(Direction.EGRESS, Reason.SPOOFED_SOURCE);
    }

    @ParameterizedTest(name = "sender {0}")
    @ValueSource(strings = {POD_B, REMOTE_POD, "0.0.0.0"})
    void arpClaimingAnAddressThatIsNotTheSendersOwnIsDropped(String sender) throws Exception {
        Outcome out = run(DatapathProgram.FROM_POD, Packets.arp(sender), hostA);
        out.assertDroppedUnchanged(Direction.EGRESS, Reason.SPOOFED_SOURCE);
        assertEquals(Map.of(new EpKey(1, Direction.EGRESS, Verdict.DROP), 1L), out.endpointPackets());
    }

    /** A global or unique-local source without pod A's endpoint entry (or multicast, never a source) is not pod A's. */
    @ParameterizedTest(name = "from {0}")
    @ValueSource(strings = {"fd00::2", "2001:db8::1", "fec0::1", "ff02::1"})
    void ipv6FromAnAddressThatIsNotTheSendersOwnIsDropped(String source) throws Exception {
        Outcome out = run(DatapathProgram.FROM_POD, Packets.ipv6(source, "2001:db8::2"), hostA);
        out.assertDroppedUnchanged(Direction.EGRESS, Reason.SPOOFED_SOURCE);
        assertEquals(Map.of(new EpKey(1, Direction.EGRESS, Verdict.DROP), 1L), out.endpointPackets());
    }

    @Test
    void spoofedPacketFromAVethWithoutEndpointIsDroppedAndCountedGlobally() throws Exception {
        Outcome out = run(DatapathProgram.FROM_POD, Ipv4.udp(POD_B, OUTSIDE).frame(), uplink);
        out.assertDroppedUnchanged(Direction.EGRESS, Reason.SPOOFED_SOURCE);
        assertEquals(Map.of(), out.endpointPackets(), "no endpoint owns the device");
    }

    // ---- what a pod may send as itself ---------------------------------------------------------

    @Test
    void arpClaimingTheSendersOwnAddressGoesToTheStack() throws Exception {
        Outcome out = run(DatapathProgram.FROM_POD, Packets.arp(POD_A), hostA);
        out.assertPassedUnchanged(Direction.EGRESS, Reason.NOT_IP);
        assertEquals(Map.of(new EpKey(1, Direction.EGRESS, Verdict.PASS), 1L), out.endpointPackets());
    }

    @Test
    void arpArrivingOnTheUplinkGoesToTheStackWhateverItClaims() throws Exception {
        run(DatapathProgram.TO_POD, Packets.arp(POD_B), uplink).assertPassedUnchanged(Direction.INGRESS, Reason.NOT_IP);
    }

    /**
     * Link-local sources, and :: while an address is tentative: they need no owner,
     * and are never routed, whatever their destination (a cluster pod's included).
     */
    @ParameterizedTest(name = "from {0}")
    @ValueSource(strings = {"fe80::1", "febf::2", "::"})
    void ipv6FromALinkScopedSourceGoesToTheStack(String source) throws Exception {
        Outcome out = run(DatapathProgram.FROM_POD, Packets.ipv6(source, "ff02::2"), hostA);
        out.assertPassedUnchanged(Direction.EGRESS, Reason.IPV6_LINK_SCOPE);
        assertEquals(Map.of(new EpKey(1, Direction.EGRESS, Verdict.PASS), 1L), out.endpointPackets());
    }

    @Test
    void ipv6FromThePodsOwnEndpointAddressPassesTheSourceCheck() throws Exception {
        InetAddress own = ip("fd00::2");
        datapath.endpoints().put(own, datapath.endpoints().get(ip(POD_A)).orElseThrow());
        try {
            // fd00::/8 is no cluster CIDR of this bench: past the check, the stack's.
            run(DatapathProgram.FROM_POD, Packets.ipv6("fd00::2", "fd00::3"), hostA)
                    .assertPassedUnchanged(Direction.EGRESS, Reason.OUTSIDE_CLUSTER);
        } finally {
            datapath.endpoints().delete(own);
            datapath.endpoints().put(ip(POD_A), datapath.endpoints().get(ip(POD_A)).orElseThrow()); // names hostA again
        }
    }

    @Test
    void ipv6ArrivingOnTheUplinkForNoLocalPodGoesToTheStackWhateverItsSource() throws Exception {
        run(DatapathProgram.TO_POD, Packets.ipv6("fd00::2", "fd00::3"), uplink)
                .assertPassedUnchanged(Direction.INGRESS, Reason.NOT_LOCAL_ENDPOINT);
    }
}
