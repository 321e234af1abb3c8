package dev.ferry.datapath;

import dev.ferry.testing.RequiresRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.InetAddress;
import java.util.Map;

import static dev.ferry.datapath.Packets.Ipv4;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The datapath programs' decisions on what a pod may send, one per verdict and
 * reason: redirects, and every reason to leave a packet to the next program and
 * the stack (which returns -1, TCX_NEXT / TC_ACT_UNSPEC). The source check has
 * its own class, SourceCheckProgramsTest.
 */
@RequiresRoot
class DatapathProgramsTest extends ProgramTestBench {
    // ---- local delivery -------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"udp", "tcp", "icmp"})
    void podToLocalPodIsRedirectedIntoThePeerAsOneRouterHop(String protocol) throws Exception {
        Ipv4 packet = switch (protocol) {
            case "udp" -> Ipv4.udp(POD_A, POD_B);
            case "tcp" -> Ipv4.tcp(POD_A, POD_B);
            default -> Ipv4.icmp(POD_A, POD_B);
        };
        Outcome out = run(DatapathProgram.FROM_POD, packet.frame(), hostA);

        assertEquals(TC_ACT_REDIRECT, out.retval());
        assertEquals(podBMac, Packets.dstMac(out.frame()), "destination MAC is pod B's");
        assertEquals(hostBMac, Packets.srcMac(out.frame()), "source MAC is pod B's gateway (host veth)");
        assertEquals(63, Packets.ttl(out.frame()));
        assertTrue(Packets.ipv4ChecksumValid(out.frame()), "IPv4 header checksum still valid after the TTL decrement");
        out.assertCounted(Direction.EGRESS, Verdict.REDIRECT_PEER, Reason.FORWARDED);
        assertEquals(Map.of(
                        new EpKey(1, Direction.EGRESS, Verdict.REDIRECT_PEER), 1L,
                        new EpKey(2, Direction.INGRESS, Verdict.REDIRECT_PEER), 1L),
                out.endpointPackets(), "sender counted as egress, receiver as ingress");
    }

    @Test
    void uplinkToLocalPodIsRedirectedIntoThePeer() throws Exception {
        Outcome out = run(DatapathProgram.TO_POD, Ipv4.tcp(REMOTE_POD, POD_B).frame(), uplink);

        assertEquals(TC_ACT_REDIRECT, out.retval());
        assertEquals(podBMac, Packets.dstMac(out.frame()));
        assertEquals(hostBMac, Packets.srcMac(out.frame()));
        assertEquals(63, Packets.ttl(out.frame()));
        assertTrue(Packets.ipv4ChecksumValid(out.frame()));
        out.assertCounted(Direction.INGRESS, Verdict.REDIRECT_PEER, Reason.FORWARDED);
        assertEquals(Map.of(new EpKey(2, Direction.INGRESS, Verdict.REDIRECT_PEER), 1L), out.endpointPackets());
    }

    @Test
    void podToLocalPodCountsOnePacketAndItsBytesForSenderReceiverAndTheirGlobalSlot() throws Exception {
        byte[] frame = Ipv4.tcp(POD_A, POD_B).frame();
        // metrics_index(): ((family * FERRY_DIR_COUNT + direction) * FERRY_VERDICT_COUNT + verdict)
        //                 * FERRY_METRICS_REASON_SLOTS + reason
        int slot = ((1 /* ipv4 */ * 2 + 1 /* egress */) * 4 + 1 /* redirect_peer */) * 32 + 0 /* forwarded */;
        long[] slotBefore = globalSlot(slot);

        Outcome out = run(DatapathProgram.FROM_POD, frame, hostA);

        assertEquals(TC_ACT_REDIRECT, out.retval());
        out.assertCounted(Direction.EGRESS, Verdict.REDIRECT_PEER, Reason.FORWARDED);
        long[] slotAfter = globalSlot(slot);
        assertArrayEquals(new long[]{1, frame.length}, new long[]{slotAfter[0] - slotBefore[0], slotAfter[1] - slotBefore[1]},
                "ferry_metrics_v3 slot " + slot);
        EpKey senderEgress = new EpKey(1, Direction.EGRESS, Verdict.REDIRECT_PEER);
        EpKey receiverIngress = new EpKey(2, Direction.INGRESS, Verdict.REDIRECT_PEER);
        assertEquals(Map.of(senderEgress, 1L, receiverIngress, 1L), out.endpointPackets());
        assertEquals(Map.of(senderEgress, (long) frame.length, receiverIngress, (long) frame.length), out.endpointBytes());
    }

    @Test
    void rewritingAnEndpointWithChangedInfoKeepsItsCounters() throws Exception {
        InetAddress address = ip(POD_REWRITTEN);
        EndpointEntry before = new EndpointEntry(hostC, 5, 0, podBMac, hostBMac);
        datapath.endpoints().put(address, before);
        try {
            byte[] frame = Ipv4.udp(POD_REWRITTEN, OUTSIDE).frame();
            run(DatapathProgram.FROM_POD, frame, hostC);
            run(DatapathProgram.FROM_POD, frame, hostC);
            EpKey egress = new EpKey(5, Direction.EGRESS, Verdict.PASS);
            assertEquals(2L, endpointPackets().get(egress));

            EndpointEntry after = new EndpointEntry(uplink, 5, EndpointEntry.FLAG_STACK_ONLY, podBMac, hostBMac);
            datapath.endpoints().put(address, after);

            assertEquals(after, datapath.endpoints().get(address).orElseThrow());
            assertEquals(2L, endpointPackets().get(egress), "packets kept");
            assertEquals(2L * frame.length, endpointBytes().get(egress), "bytes kept");
        } finally {
            datapath.endpoints().delete(address);
        }
    }

    @Test
    void addressTakenOverByAnotherEndpointStartsItsCountersAtZero() throws Exception {
        InetAddress address = ip(POD_REWRITTEN);
        datapath.endpoints().put(address, new EndpointEntry(hostC, 6, 0, podBMac, hostBMac));
        try {
            run(DatapathProgram.FROM_POD, Ipv4.udp(POD_REWRITTEN, OUTSIDE).frame(), hostC);
            assertEquals(1L, endpointPackets().get(new EpKey(6, Direction.EGRESS, Verdict.PASS)));

            datapath.endpoints().put(address, new EndpointEntry(hostC, 7, 0, podBMac, hostBMac));

            Map<EpKey, Long> counted = endpointPackets();
            assertTrue(counted.keySet().stream().noneMatch(k -> k.endpointId() == 6 || k.endpointId() == 7),
                    "neither the old endpoint's counters nor any for the new one: " + counted);
        } finally {
            datapath.endpoints().delete(address);
        }
    }

    // ---- other nodes ----------------------------------------------------------------------------

    @Test
    void podToRemoteClusterPodIsRedirectedTowardsTheFibNextHop() throws Exception {
        Outcome out = run(DatapathProgram.FROM_POD, Ipv4.tcp(POD_A, REMOTE_POD).frame(), hostA);

        assertEquals(TC_ACT_REDIRECT, out.retval());
        assertEquals(63, Packets.ttl(out.frame()));
        assertTrue(Packets.ipv4ChecksumValid(out.frame()));
        out.assertCounted(Direction.EGRESS, Verdict.REDIRECT_NEIGH, Reason.FORWARDED);
        assertEquals(Map.of(new EpKey(1, Direction.EGRESS, Verdict.REDIRECT_NEIGH), 1L), out.endpointPackets());
    }

    @Test
    void clusterAddressWithoutRouteGoesToTheStack() throws Exception {
        Outcome out = run(DatapathProgram.FROM_POD, Ipv4.udp(POD_A, UNROUTED_CLUSTER_ADDRESS).frame(), hostA);
        out.assertPassedUnchanged(Direction.EGRESS, Reason.FIB_MISS);
    }

    @Test
    void packetLargerThanTheRouteMtuGoesToTheStackForIcmpFragNeeded() throws Exception {
        Outcome out = run(DatapathProgram.FROM_POD, Ipv4.udp(POD_A, REMOTE_POD).payload(UPLINK_MTU + 100).frame(), hostA);
        out.assertPassedUnchanged(Direction.EGRESS, Reason.FRAG_NEEDED);
    }

    // ---- left to the stack ----------------------------------------------------------------------

    @Test
    void destinationOutsideTheClusterGoesToTheStack() throws Exception {
        Outcome out = run(DatapathProgram.FROM_POD, Ipv4.tcp(POD_A, OUTSIDE).frame(), hostA);
        out.assertPassedUnchanged(Direction.EGRESS, Reason.OUTSIDE_CLUSTER);
        assertEquals(Map.of(new EpKey(1, Direction.EGRESS, Verdict.PASS), 1L), out.endpointPackets(),
                "what a pod sends to the stack still counts as its egress");
    }

    @Test
    void uplinkPacketForNoLocalPodGoesToTheStack() throws Exception {
        Outcome out = run(DatapathProgram.TO_POD, Ipv4.tcp(OUTSIDE, "192.168.77.1").frame(), uplink);
        out.assertPassedUnchanged(Direction.INGRESS, Reason.NOT_LOCAL_ENDPOINT);
    }

    /**
     * The L4 ports cut off. (The kernel's test run refuses IPv4 frames shorter
     * than an IP header; TruncatedFramesTest sends those through a real veth.)
     */
    @ParameterizedTest(name = "{0} bytes of IPv4")
    @ValueSource(ints = {20, 21, 23})
    void udpWithoutItsPortsGoesToTheStack(int ipBytes) throws Exception {
        run(DatapathProgram.FROM_POD, Packets.truncatedIpv4(ipBytes), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.TRUNCATED);
        run(DatapathProgram.TO_POD, Packets.truncatedIpv4(ipBytes), uplink)
                .assertPassedUnchanged(Direction.INGRESS, Reason.TRUNCATED);
    }

    @Test
    void headerWithImpossibleLengthIsMalformed() throws Exception {
        byte[] frame = Ipv4.udp(POD_A, POD_B).frame();
        frame[Packets.ETH_HLEN] = 0x43; // version 4, IHL 3
        run(DatapathProgram.FROM_POD, frame, hostA).assertPassedUnchanged(Direction.EGRESS, Reason.MALFORMED);
    }

    @Test
    void ipOptionsGoToTheStack() throws Exception {
        run(DatapathProgram.FROM_POD, Ipv4.udp(POD_A, POD_B).options(1).frame(), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.IP_OPTIONS);
    }

    @ParameterizedTest(name = "frag_off {0}")
    @ValueSource(ints = {0x2000, 0x0010, 0x2010})
    void fragmentsGoToTheStack(int fragOff) throws Exception {
        run(DatapathProgram.FROM_POD, Ipv4.udp(POD_A, POD_B).fragOff(fragOff).frame(), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.FRAGMENT);
    }

    @Test
    void dontFragmentFlagAloneIsForwarded() throws Exception {
        Outcome out = run(DatapathProgram.FROM_POD, Ipv4.udp(POD_A, POD_B).fragOff(0x4000).frame(), hostA);
        assertEquals(TC_ACT_REDIRECT, out.retval());
    }

    @ParameterizedTest(name = "to {0}")
    @ValueSource(strings = {POD_B, REMOTE_POD})
    void ttlOfOneGoesToTheStackForTimeExceeded(String destination) throws Exception {
        run(DatapathProgram.FROM_POD, Ipv4.udp(POD_A, destination).ttl(1).frame(), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.TTL_EXPIRED);
    }

    @Test
    void replyOfADnatedFlowGoesToTheStackForReverseTranslation() throws Exception {
        clientTalksToService(40001);
        byte[] reply = Ipv4.udp(POD_A, POD_B).ports(5353, 40001).frame();
        run(DatapathProgram.FROM_POD, reply, hostA).assertPassedUnchanged(Direction.EGRESS, Reason.NAT_FLOW);
    }

    @Test
    void flowBetweenTheSamePodsThatConntrackDoesNotNatIsForwarded() throws Exception {
        clientTalksToService(40003);
        byte[] other = Ipv4.udp(POD_A, POD_B).ports(5353, 40004).frame();
        assertEquals(TC_ACT_REDIRECT, run(DatapathProgram.FROM_POD, other, hostA).retval());
    }

    @Test
    void udpFromASourcePortWhoseReverseIsAServiceReplyGoesToTheStackToMoveThePortAside() throws Exception {
        clientTalksToService(40005);
        byte[] direct = Ipv4.udp(POD_B, POD_A).ports(40005, 5353).frame();
        run(DatapathProgram.FROM_POD, direct, hostB).assertPassedUnchanged(Direction.EGRESS, Reason.NAT_CLASH);
    }

    @Test
    void tcpSynFromASourcePortWhoseReverseIsAServiceReplyGoesToTheStackToMoveThePortAside() throws Exception {
        clientConnectsToService(40006);
        byte[] syn = Ipv4.tcp(POD_B, POD_A).ports(40006, 5353).frame();
        run(DatapathProgram.FROM_POD, syn, hostB).assertPassedUnchanged(Direction.EGRESS, Reason.NAT_CLASH);
    }

    @Test
    void tcpSegmentThatOpensNothingIsForwardedWhateverItsReverseTuple() throws Exception {
        // Only a SYN may start a flow conntrack can still move aside; a stray ACK there would make a mid-stream entry.
        clientConnectsToService(40007);
        byte[] ack = Ipv4.tcp(POD_B, POD_A).ports(40007, 5353).tcpFlags(Ipv4.TCP_ACK).frame();
        assertEquals(TC_ACT_REDIRECT, run(DatapathProgram.FROM_POD, ack, hostB).retval());
    }

    @Test
    void tcpSynWhoseReverseTupleConntrackDoesNotHoldIsForwarded() throws Exception {
        clientConnectsToService(40008);
        byte[] syn = Ipv4.tcp(POD_B, POD_A).ports(40009, 5353).frame();
        assertEquals(TC_ACT_REDIRECT, run(DatapathProgram.FROM_POD, syn, hostB).retval());
    }

    // ---- conntrack is told of short-circuited flows out of pods --------------------------------------

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"udp", "tcp"})
    void flowRedirectedOutOfAPodGetsAConntrackEntryOfItsTuple(String protocol) throws Exception {
        Ipv4 packet = protocol.equals("udp") ? Ipv4.udp(POD_A, POD_B) : Ipv4.tcp(POD_A, POD_B);
        assertEquals(TC_ACT_REDIRECT, run(DatapathProgram.FROM_POD, packet.ports(40021, 7000).frame(), hostA).retval());
        String entry = conntrackOf(protocol, POD_A, 40021);
        assertTrue(entry.contains("src=" + POD_A + " dst=" + POD_B + " sport=40021 dport=7000"), entry);
        assertTrue(timeoutSeconds(entry) > 100, "the entry lives about two minutes: " + entry);
    }

    @Test
    void flowRedirectedIntoAPodFromTheUplinkGetsNoConntrackEntry() throws Exception {
        // The client's node tracks the flow; this node's conntrack never NATs it.
        byte[] syn = Ipv4.tcp(REMOTE_POD, POD_B).ports(40022, 7000).frame();
        assertEquals(TC_ACT_REDIRECT, run(DatapathProgram.TO_POD, syn, uplink).retval());
        assertEquals("", conntrackOf("tcp", REMOTE_POD, 40022));
    }

    @Test
    void midFlowTcpSegmentOfAFlowConntrackLostEntersItAgain() throws Exception {
        // Entries of short-circuited flows expire after two minutes whatever the flow does; the next packet renews.
        byte[] ack = Ipv4.tcp(POD_A, POD_B).ports(40023, 7000).tcpFlags(Ipv4.TCP_ACK).frame();
        assertEquals(TC_ACT_REDIRECT, run(DatapathProgram.FROM_POD, ack, hostA).retval());
        assertTrue(conntrackOf("tcp", POD_A, 40023).contains("sport=40023 dport=7000"));
    }

    @Test
    void flowConntrackAlreadyKnowsIsNotEnteredAgain() throws Exception {
        var insert = node.exec("conntrack", "-I", "-p", "udp", "-s", POD_A, "-d", POD_B, "--sport", "40024",
                "--dport", "7000", "--timeout", "3600");
        assertTrue(insert.ok(), "conntrack -I: " + insert.stderr());
        assertEquals(TC_ACT_REDIRECT, run(DatapathProgram.FROM_POD, Ipv4.udp(POD_A, POD_B).ports(40024, 7000).frame(), hostA).retval());
        String entries = conntrackOf("udp", POD_A, 40024);
        assertEquals(1, entries.lines().count(), entries);
        assertTrue(timeoutSeconds(entries) > 3000, "the stack's entry is left as it was: " + entries);
    }

    private String conntrackOf(String protocol, String source, int sourcePort) {
        return node.exec("conntrack", "-L", "-p", protocol, "--orig-src", source, "--sport", String.valueOf(sourcePort))
                .stdout().strip();
    }

    /** The seconds left, the third field of conntrack's line ("udp 17 119 src=..."; "tcp 6 119 ..."). */
    private static long timeoutSeconds(String entry) {
        return Long.parseLong(entry.lines().findFirst().orElseThrow().trim().split("\\s+")[2]);
    }

    @Test
    void stackOnlyEndpointIsDeliveredByTheStack() throws Exception {
        run(DatapathProgram.FROM_POD, Ipv4.udp(POD_A, POD_STACK_ONLY).frame(), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.STACK_ONLY);
    }
}
