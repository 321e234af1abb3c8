package dev.ferry.datapath;

import dev.ferry.bpf.TestRun;
import dev.ferry.datapath.MirrorMap.Clones;
import dev.ferry.testing.RequiresRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.net.InetAddress;
import java.util.Optional;
import java.util.stream.Stream;

import static dev.ferry.datapath.Packets.Extension;
import static dev.ferry.datapath.Packets.IPPROTO_TCP;
import static dev.ferry.datapath.Packets.IPPROTO_UDP;
import static dev.ferry.datapath.Packets.Ipv4;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Mirroring in the programs (bpf/lib/mirror.h): a mirrored endpoint's packets
 * that its slot's filter matches are cloned to the slot's device, once each, and
 * nothing else is; the decision and its counters are those of an unmirrored
 * packet. The clone counter of the slot (ferry_mirror_counters) says what was
 * cloned: it moves only when bpf_clone_redirect sent a copy.
 */
@RequiresRoot
class MirrorProgramsTest extends ProgramTestBench {
    static final int SLOT = 5;
    /** Pod A's IPv6 address, for the extension header cases. */
    static final String POD_A6 = "fd77:1::2";
    static final String POD_B6 = "fd77:1::3";
    int capture;

    @BeforeAll
    void captureDevice() {
        node.ip("link", "add", "fdp-cap", "type", "veth", "peer", "name", "fdp-capr");
        node.ip("link", "set", "fdp-cap", "up");
        node.ip("link", "set", "fdp-capr", "up");
        capture = node.ifindex("fdp-cap");
    }

    @AfterEach
    void unmirror() throws Exception {
        datapath.endpoints().setMirror(ip(POD_A), 0);
        datapath.endpoints().setMirror(ip(POD_B), 0);
        datapath.mirrors().clear(SLOT);
        if (datapath.endpoints().get(ip(POD_A6)).isPresent()) {
            datapath.endpoints().delete(ip(POD_A6));
            // Pod A's veth names its IPv4 entry again, whose mirror word mirror_to_pod reads.
            datapath.endpoints().put(ip(POD_A), datapath.endpoints().get(ip(POD_A)).orElseThrow());
        }
    }

    private void mirror(String pod, MirrorSlot slot) throws Exception {
        datapath.mirrors().put(SLOT, slot);
        datapath.endpoints().setMirror(ip(pod), 1 << SLOT);
    }

    private MirrorSlot any() {
        return new MirrorSlot(capture, MirrorSlot.IN | MirrorSlot.OUT, 0, 0, Optional.empty());
    }

    /** Copies the slot counted while {@code action} ran. */
    private long clonedDuring(ThrowingRunnable action) throws Exception {
        Clones before = datapath.mirrors().clones(SLOT);
        action.run();
        Clones after = datapath.mirrors().clones(SLOT);
        assertEquals(before.failed(), after.failed(), "no clone failed");
        return after.cloned() - before.cloned();
    }

    interface ThrowingRunnable {
        void run() throws Exception;
    }

    @Test
    void unmirroredPodsPacketsAreNotCloned() throws Exception {
        datapath.mirrors().put(SLOT, any());
        assertEquals(0, clonedDuring(() -> run(DatapathProgram.FROM_POD, Ipv4.udp(POD_A, POD_B).frame(), hostA)));
    }

    @Test
    void mirroredSendersPacketIsClonedOnceAndStillRedirectedAndCountedAsBefore() throws Exception {
        mirror(POD_A, any());
        long cloned = clonedDuring(() -> {
            Outcome out = run(DatapathProgram.FROM_POD, Ipv4.udp(POD_A, POD_B).frame(), hostA);
            assertEquals(TC_ACT_REDIRECT, out.retval());
            out.assertCounted(Direction.EGRESS, Verdict.REDIRECT_PEER, Reason.FORWARDED);
        });
        assertEquals(1, cloned);
    }

    @Test
    void packetIntoAMirroredPodByRedirectPeerIsClonedFromEitherProgram() throws Exception {
        mirror(POD_B, any());
        assertEquals(1, clonedDuring(() -> run(DatapathProgram.FROM_POD, Ipv4.udp(POD_A, POD_B).frame(), hostA)));
        assertEquals(1, clonedDuring(() -> run(DatapathProgram.TO_POD, Ipv4.udp(REMOTE_POD, POD_B).frame(), uplink)));
    }

    @Test
    void bothEndsInOneSlotGetOneCopy() throws Exception {
        mirror(POD_A, any());
        datapath.endpoints().setMirror(ip(POD_B), 1 << SLOT);
        assertEquals(1, clonedDuring(() -> run(DatapathProgram.FROM_POD, Ipv4.udp(POD_A, POD_B).frame(), hostA)));
    }

    @Test
    void protocolFilterClonesOnlyThatProtocol() throws Exception {
        mirror(POD_A, new MirrorSlot(capture, MirrorSlot.OUT, IPPROTO_UDP, 0, Optional.empty()));
        assertEquals(1, clonedDuring(() -> run(DatapathProgram.FROM_POD, Ipv4.udp(POD_A, POD_B).frame(), hostA)));
        assertEquals(0, clonedDuring(() -> run(DatapathProgram.FROM_POD, Ipv4.tcp(POD_A, POD_B).frame(), hostA)));
        assertEquals(0, clonedDuring(() -> run(DatapathProgram.FROM_POD, Ipv4.icmp(POD_A, POD_B).frame(), hostA)));
    }

    @Test
    void portFilterMatchesSourceOrDestinationPort() throws Exception {
        mirror(POD_A, new MirrorSlot(capture, MirrorSlot.OUT, IPPROTO_TCP, 8080, Optional.empty()));
        assertEquals(1, clonedDuring(() -> run(DatapathProgram.FROM_POD, Ipv4.tcp(POD_A, POD_B).ports(40000, 8080).frame(), hostA)));
        assertEquals(1, clonedDuring(() -> run(DatapathProgram.FROM_POD, Ipv4.tcp(POD_A, POD_B).ports(8080, 40000).frame(), hostA)));
        assertEquals(0, clonedDuring(() -> run(DatapathProgram.FROM_POD, Ipv4.tcp(POD_A, POD_B).ports(40000, 8081).frame(), hostA)));
    }

    @Test
    void peerFilterIsTheOtherEndOfEachDirection() throws Exception {
        InetAddress b = ip(POD_B);
        mirror(POD_A, new MirrorSlot(capture, MirrorSlot.IN | MirrorSlot.OUT, 0, 0, Optional.of(b)));
        assertEquals(1, clonedDuring(() -> run(DatapathProgram.FROM_POD, Ipv4.udp(POD_A, POD_B).frame(), hostA)), "A to B");
        assertEquals(0, clonedDuring(() -> run(DatapathProgram.FROM_POD, Ipv4.udp(POD_A, REMOTE_POD).frame(), hostA)), "A to another");
        assertEquals(1, clonedDuring(() -> run(DatapathProgram.FROM_POD, Ipv4.udp(POD_B, POD_A).frame(), hostB)), "B to A");
        assertEquals(0, clonedDuring(() -> run(DatapathProgram.TO_POD, Ipv4.udp(REMOTE_POD, POD_A).frame(), uplink)), "another to A");
    }

    @Test
    void directionFilterSeparatesWhatThePodSendsFromWhatItReceives() throws Exception {
        mirror(POD_A, new MirrorSlot(capture, MirrorSlot.IN, 0, 0, Optional.empty()));
        assertEquals(0, clonedDuring(() -> run(DatapathProgram.FROM_POD, Ipv4.udp(POD_A, POD_B).frame(), hostA)), "out");
        assertEquals(1, clonedDuring(() -> run(DatapathProgram.TO_POD, Ipv4.udp(REMOTE_POD, POD_A).frame(), uplink)), "in");
    }

    @Test
    void freedSlotClonesNothingEvenWithTheBitStillSet() throws Exception {
        mirror(POD_A, any());
        datapath.mirrors().clear(SLOT);
        assertEquals(0, clonedDuring(() -> run(DatapathProgram.FROM_POD, Ipv4.udp(POD_A, POD_B).frame(), hostA)));
    }

    @Test
    void hostVethEgressProgramClonesWhatTheStackDeliversIntoAMirroredPodAndLetsItPass() throws Exception {
        mirror(POD_A, any());
        byte[] frame = Ipv4.udp(OUTSIDE, POD_A).frame();
        long cloned = clonedDuring(() -> {
            int retval = node.handle().call(() ->
                    datapath.program(Datapath.MIRROR_TO_POD).testRun(new TestRun(frame, hostA, hostA, 1)).retval());
            assertEquals(NEXT, retval, "left to the next filter and the device");
        });
        assertEquals(1, cloned);
        datapath.endpoints().setMirror(ip(POD_A), 0);
        assertEquals(0, clonedDuring(() -> node.handle().call(() ->
                datapath.program(Datapath.MIRROR_TO_POD).testRun(new TestRun(frame, hostA, hostA, 1)))));
    }

    @Test
    void rewritingAnEndpointKeepsItsMirrorWord() throws Exception {
        InetAddress address = ip(POD_REWRITTEN);
        datapath.endpoints().put(address, new EndpointEntry(hostC, 8, 0, podBMac, hostBMac));
        try {
            datapath.endpoints().setMirror(address, 0b1010);
            datapath.endpoints().put(address, new EndpointEntry(hostC, 8, EndpointEntry.FLAG_STACK_ONLY, podBMac, hostBMac));
            assertEquals(Optional.of(0b1010), datapath.endpoints().mirror(address));
            assertEquals(Optional.of(0), datapath.endpoints().egressRoute(address));
        } finally {
            datapath.endpoints().delete(address);
        }
    }

    @Test
    void addressTakenOverByAnotherEndpointStartsUnmirrored() throws Exception {
        InetAddress address = ip(POD_REWRITTEN);
        datapath.endpoints().put(address, new EndpointEntry(hostC, 9, 0, podBMac, hostBMac));
        try {
            datapath.endpoints().setMirror(address, 0b1);
            datapath.endpoints().put(address, new EndpointEntry(hostC, 10, 0, podBMac, hostBMac));
            assertEquals(Optional.of(0), datapath.endpoints().mirror(address));
        } finally {
            datapath.endpoints().delete(address);
        }
    }

    @Test
    void settingTheMirrorOfNoEndpointSaysSoAndMakesNone() throws Exception {
        InetAddress address = ip(UNROUTED_CLUSTER_ADDRESS);
        assertEquals(false, datapath.endpoints().setMirror(address, 1));
        assertEquals(Optional.empty(), datapath.endpoints().mirror(address));
    }

    // ---- IPv6 extension headers: the protocol and port filters see the upper layer behind them ----

    static Stream<Arguments> chains() {
        return Stream.of(
                Arguments.of("hop-by-hop", new Extension[]{Extension.hopByHop()}),
                Arguments.of("routing", new Extension[]{Extension.routing()}),
                Arguments.of("destination options", new Extension[]{Extension.destination(2)}),
                Arguments.of("first fragment", new Extension[]{Extension.fragment(0, true)}),
                Arguments.of("authentication", new Extension[]{Extension.auth()}),
                Arguments.of("all six RFC 8200 allows", new Extension[]{Extension.hopByHop(), Extension.destination(0),
                        Extension.routing(), Extension.fragment(0, true), Extension.auth(), Extension.destination(1)}));
    }

    /** Pod A gets an IPv6 address (a dual-stack pod: one veth, two entries) until the test ends. */
    private void podAHasAnIpv6Address() throws Exception {
        datapath.endpoints().put(ip(POD_A6), datapath.endpoints().get(ip(POD_A)).orElseThrow());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("chains")
    void protocolAndPortFilterMatchIpv6BehindExtensionHeaders(String name, Extension[] chain) throws Exception {
        podAHasAnIpv6Address();
        mirror(POD_A6, new MirrorSlot(capture, MirrorSlot.OUT, IPPROTO_UDP, 5353, Optional.empty()));
        byte[] matching = Packets.ipv6Behind(POD_A6, POD_B6, IPPROTO_UDP, 40000, 5353, chain);
        byte[] otherPort = Packets.ipv6Behind(POD_A6, POD_B6, IPPROTO_UDP, 40000, 5354, chain);
        byte[] tcp = Packets.ipv6Behind(POD_A6, POD_B6, IPPROTO_TCP, 40000, 5353, chain);

        assertEquals(1, clonedDuring(() -> run(DatapathProgram.FROM_POD, matching, hostA)), "udp port 5353");
        assertEquals(0, clonedDuring(() -> run(DatapathProgram.FROM_POD, otherPort, hostA)), "udp port 5354");
        assertEquals(0, clonedDuring(() -> run(DatapathProgram.FROM_POD, tcp, hostA)), "tcp port 5353");
    }

    @Test
    void laterIpv6FragmentMatchesItsProtocolButNoPort() throws Exception {
        // Its ports are in the first fragment only: a port filter cannot tell, so it does not match.
        podAHasAnIpv6Address();
        byte[] later = Packets.ipv6Behind(POD_A6, POD_B6, IPPROTO_UDP, 40000, 5353, Extension.fragment(8, false));
        mirror(POD_A6, new MirrorSlot(capture, MirrorSlot.OUT, IPPROTO_UDP, 0, Optional.empty()));
        assertEquals(1, clonedDuring(() -> run(DatapathProgram.FROM_POD, later, hostA)), "--proto udp");
        mirror(POD_A6, new MirrorSlot(capture, MirrorSlot.OUT, IPPROTO_UDP, 5353, Optional.empty()));
        assertEquals(0, clonedDuring(() -> run(DatapathProgram.FROM_POD, later, hostA)), "--proto udp --port 5353");
    }

    @Test
    void icmpv6FilterMatchesMldBehindItsHopByHopHeader() throws Exception {
        podAHasAnIpv6Address();
        mirror(POD_A6, new MirrorSlot(capture, MirrorSlot.OUT, Packets.IPPROTO_ICMPV6, 0, Optional.empty()));
        assertEquals(1, clonedDuring(() -> run(DatapathProgram.FROM_POD, Packets.mldReport(POD_A6), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.IPV6_MLD)));
    }
}
