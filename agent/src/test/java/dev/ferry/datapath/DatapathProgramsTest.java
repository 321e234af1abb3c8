package dev.ferry.datapath;

import dev.ferry.bpf.BpfMap;
import dev.ferry.bpf.TestRunResult;
import dev.ferry.bpf.TestRun;
import dev.ferry.net.IpPrefix;
import dev.ferry.net.MacAddress;
import dev.ferry.testing.BpfPins;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static dev.ferry.datapath.Packets.Ipv4;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The datapath programs' decisions, one per verdict and reason, proven with
 * BPF_PROG_TEST_RUN on crafted frames: the return code, the frame the program
 * hands on, and exactly which counters moved.
 *
 * <p>The test namespace stands in for a node: host-side veths of two pods, an
 * uplink with a route to another node's pod CIDR, and a conntrack entry of a
 * DNATed flow (the kube-proxy Service case).
 */
@RequiresRoot
class DatapathProgramsTest {
    /** TCX_NEXT in TCX, TC_ACT_UNSPEC in tc: Ferry does not act, the next program (or the stack) decides. */
    static final int NEXT = -1;
    static final int TC_ACT_SHOT = 2;
    static final int TC_ACT_REDIRECT = 7;

    static final String POD_A = "10.77.1.2";
    static final String POD_B = "10.77.1.3";
    static final String POD_STACK_ONLY = "10.77.1.4";
    static final String POD_REWRITTEN = "10.77.1.5";
    static final String REMOTE_POD = "10.77.2.5";
    static final String UNROUTED_CLUSTER_ADDRESS = "10.77.9.9";
    static final String OUTSIDE = "198.51.100.7";
    static final String SERVICE_VIP = "10.96.7.7";
    static final int UPLINK_MTU = 1280;

    static TestNetns node;
    static BpfPins pins;
    static Datapath datapath;
    static int hostA;
    static int hostB;
    static int hostC;
    static int uplink;
    static MacAddress podBMac;
    static MacAddress hostBMac;

    @BeforeAll
    static void buildNode() throws Exception {
        node = TestNetns.create("fdp");
        pins = BpfPins.create("ferry-test-dp");
        node.ip("link", "add", "fdp-h1", "type", "veth", "peer", "name", "fdp-p1");
        node.ip("link", "add", "fdp-h2", "type", "veth", "peer", "name", "fdp-p2");
        node.ip("link", "add", "fdp-h3", "type", "veth", "peer", "name", "fdp-p3");
        node.ip("link", "add", "fdp-up", "mtu", String.valueOf(UPLINK_MTU), "type", "veth", "peer", "name", "fdp-gw");
        for (String link : List.of("fdp-h1", "fdp-p1", "fdp-h2", "fdp-p2", "fdp-h3", "fdp-p3", "fdp-up", "fdp-gw")) {
            node.ip("link", "set", link, "up");
        }
        node.ip("addr", "add", "192.168.77.1/24", "dev", "fdp-up");
        node.ip("route", "add", "10.77.2.0/24", "via", "192.168.77.2", "dev", "fdp-up");
        node.ip("neigh", "replace", "192.168.77.2", "lladdr", "02:00:00:00:77:02", "dev", "fdp-up", "nud", "permanent");
        node.sysctl("net.ipv4.conf.all.forwarding", "1");
        hostA = node.ifindex("fdp-h1");
        hostB = node.ifindex("fdp-h2");
        hostC = node.ifindex("fdp-h3");
        uplink = node.ifindex("fdp-up");
        podBMac = new MacAddress(node.mac("fdp-p2"));
        hostBMac = new MacAddress(node.mac("fdp-h2"));

        datapath = Datapath.load(pins.root(), AttachMode.TCX);
        datapath.endpoints().put(ip(POD_A), new EndpointEntry(hostA, 1, 0,
                new MacAddress(node.mac("fdp-p1")), new MacAddress(node.mac("fdp-h1"))));
        datapath.endpoints().put(ip(POD_B), new EndpointEntry(hostB, 2, 0, podBMac, hostBMac));
        // Every endpoint on a veth of its own, as the agent makes them: the veth names the sender.
        datapath.endpoints().put(ip(POD_STACK_ONLY), new EndpointEntry(hostC, 3, EndpointEntry.FLAG_STACK_ONLY,
                podBMac, hostBMac));
        datapath.clusterCidrs().add(IpPrefix.parse("10.77.0.0/16"));
        installServiceDnat();
    }

    /** A kube-proxy-like rule inside the node namespace: Service VIP:53 is DNATed to pod A:5353. */
    static void installServiceDnat() {
        node.ip("addr", "add", POD_A + "/32", "dev", "lo");
        node.ip("addr", "add", POD_B + "/32", "dev", "lo");
        node.ip("route", "add", "10.96.0.0/16", "dev", "lo");
        var nft = node.exec("nft", "add table ip ferrytest; "
                + "add chain ip ferrytest out { type nat hook output priority -100; }; "
                + "add rule ip ferrytest out ip daddr " + SERVICE_VIP + " udp dport 53 dnat to " + POD_A + ":5353");
        assertTrue(nft.ok(), "nft: " + nft.stderr());
    }

    /**
     * Pod B sends to the Service VIP from {@code clientPort}: conntrack now holds a
     * NATed entry whose reply direction is pod A -> pod B.
     */
    static void clientTalksToService(int clientPort) throws Exception {
        node.handle().call(() -> {
            try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(ip(POD_B), clientPort))) {
                s.send(new DatagramPacket(new byte[8], 8, new InetSocketAddress(ip(SERVICE_VIP), 53)));
            }
            return null;
        });
        String entries = node.exec("conntrack", "-L", "-p", "udp", "--orig-dst", SERVICE_VIP).stdout();
        assertTrue(entries.contains("sport=5353 dport=" + clientPort),
                "no DNAT conntrack entry was made: " + entries);
    }

    @AfterAll
    static void tearDown() {
        if (datapath != null) {
            datapath.close();
        }
        if (pins != null) {
            pins.close();
        }
        if (node != null) {
            node.close();
        }
    }

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

        assertEquals(TC_ACT_REDIRECT, out.retval);
        assertEquals(podBMac, Packets.dstMac(out.frame), "destination MAC is pod B's");
        assertEquals(hostBMac, Packets.srcMac(out.frame), "source MAC is pod B's gateway (host veth)");
        assertEquals(63, Packets.ttl(out.frame));
        assertTrue(Packets.ipv4ChecksumValid(out.frame), "IPv4 header checksum still valid after the TTL decrement");
        out.assertCounted(Direction.EGRESS, Verdict.REDIRECT_PEER, Reason.FORWARDED);
        assertEquals(Map.of(
                        new EpKey(1, Direction.EGRESS, Verdict.REDIRECT_PEER), 1L,
                        new EpKey(2, Direction.INGRESS, Verdict.REDIRECT_PEER), 1L),
                out.endpointPackets, "sender counted as egress, receiver as ingress");
    }

    @Test
    void uplinkToLocalPodIsRedirectedIntoThePeer() throws Exception {
        Outcome out = run(DatapathProgram.TO_POD, Ipv4.tcp(REMOTE_POD, POD_B).frame(), uplink);

        assertEquals(TC_ACT_REDIRECT, out.retval);
        assertEquals(podBMac, Packets.dstMac(out.frame));
        assertEquals(hostBMac, Packets.srcMac(out.frame));
        assertEquals(63, Packets.ttl(out.frame));
        assertTrue(Packets.ipv4ChecksumValid(out.frame));
        out.assertCounted(Direction.INGRESS, Verdict.REDIRECT_PEER, Reason.FORWARDED);
        assertEquals(Map.of(new EpKey(2, Direction.INGRESS, Verdict.REDIRECT_PEER), 1L), out.endpointPackets);
    }

    @Test
    void podToLocalPodCountsOnePacketAndItsBytesForSenderReceiverAndTheirGlobalSlot() throws Exception {
        byte[] frame = Ipv4.tcp(POD_A, POD_B).frame();
        // metrics_index(): (direction * FERRY_VERDICT_COUNT + verdict) * FERRY_METRICS_REASON_SLOTS + reason
        int slot = (1 /* egress */ * 4 + 1 /* redirect_peer */) * 32 + 0 /* forwarded */;
        long[] slotBefore = globalSlot(slot);

        Outcome out = run(DatapathProgram.FROM_POD, frame, hostA);

        assertEquals(TC_ACT_REDIRECT, out.retval);
        out.assertCounted(Direction.EGRESS, Verdict.REDIRECT_PEER, Reason.FORWARDED);
        long[] slotAfter = globalSlot(slot);
        assertArrayEquals(new long[]{1, frame.length}, new long[]{slotAfter[0] - slotBefore[0], slotAfter[1] - slotBefore[1]},
                "ferry_metrics_v2 slot " + slot);
        EpKey senderEgress = new EpKey(1, Direction.EGRESS, Verdict.REDIRECT_PEER);
        EpKey receiverIngress = new EpKey(2, Direction.INGRESS, Verdict.REDIRECT_PEER);
        assertEquals(Map.of(senderEgress, 1L, receiverIngress, 1L), out.endpointPackets);
        assertEquals(Map.of(senderEgress, (long) frame.length, receiverIngress, (long) frame.length), out.endpointBytes);
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

        assertEquals(TC_ACT_REDIRECT, out.retval);
        assertEquals(63, Packets.ttl(out.frame));
        assertTrue(Packets.ipv4ChecksumValid(out.frame));
        out.assertCounted(Direction.EGRESS, Verdict.REDIRECT_NEIGH, Reason.FORWARDED);
        assertEquals(Map.of(new EpKey(1, Direction.EGRESS, Verdict.REDIRECT_NEIGH), 1L), out.endpointPackets);
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
        assertEquals(Map.of(new EpKey(1, Direction.EGRESS, Verdict.PASS), 1L), out.endpointPackets,
                "what a pod sends to the stack still counts as its egress");
    }

    @Test
    void uplinkPacketForNoLocalPodGoesToTheStack() throws Exception {
        Outcome out = run(DatapathProgram.TO_POD, Ipv4.tcp(OUTSIDE, "192.168.77.1").frame(), uplink);
        out.assertPassedUnchanged(Direction.INGRESS, Reason.NOT_LOCAL_ENDPOINT);
    }

    @Test
    void arpClaimingTheSendersOwnAddressGoesToTheStack() throws Exception {
        Outcome out = run(DatapathProgram.FROM_POD, Packets.arp(POD_A), hostA);
        out.assertPassedUnchanged(Direction.EGRESS, Reason.NOT_IP);
        assertEquals(Map.of(new EpKey(1, Direction.EGRESS, Verdict.PASS), 1L), out.endpointPackets);
    }

    @Test
    void arpArrivingOnTheUplinkGoesToTheStackWhateverItClaims() throws Exception {
        run(DatapathProgram.TO_POD, Packets.arp(POD_B), uplink).assertPassedUnchanged(Direction.INGRESS, Reason.NOT_IP);
    }

    /** Neighbour discovery and MLD: link-local sources, and :: while an address is tentative. */
    @ParameterizedTest(name = "from {0}")
    @ValueSource(strings = {"fe80::1", "febf::2", "::"})
    void ipv6FromALinkScopedSourceGoesToTheStack(String source) throws Exception {
        Outcome out = run(DatapathProgram.FROM_POD, Packets.ipv6(source, "ff02::2"), hostA);
        out.assertPassedUnchanged(Direction.EGRESS, Reason.IPV6);
        assertEquals(Map.of(new EpKey(1, Direction.EGRESS, Verdict.PASS), 1L), out.endpointPackets);
    }

    @Test
    void ipv6FromThePodsOwnEndpointAddressGoesToTheStack() throws Exception {
        InetAddress own = ip("fd00::2");
        datapath.endpoints().put(own, datapath.endpoints().get(ip(POD_A)).orElseThrow());
        try {
            run(DatapathProgram.FROM_POD, Packets.ipv6("fd00::2", "fd00::3"), hostA)
                    .assertPassedUnchanged(Direction.EGRESS, Reason.IPV6);
        } finally {
            datapath.endpoints().delete(own);
            datapath.endpoints().put(ip(POD_A), datapath.endpoints().get(ip(POD_A)).orElseThrow()); // names hostA again
        }
    }

    @Test
    void ipv6ArrivingOnTheUplinkGoesToTheStackWhateverItsSource() throws Exception {
        run(DatapathProgram.TO_POD, Packets.ipv6("fd00::2", "fd00::3"), uplink).assertPassedUnchanged(Direction.INGRESS, Reason.IPV6);
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
        assertEquals(TC_ACT_REDIRECT, out.retval);
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
        assertEquals(TC_ACT_REDIRECT, run(DatapathProgram.FROM_POD, other, hostA).retval);
    }

    @Test
    void stackOnlyEndpointIsDeliveredByTheStack() throws Exception {
        run(DatapathProgram.FROM_POD, Ipv4.udp(POD_A, POD_STACK_ONLY).frame(), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.STACK_ONLY);
    }

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
        assertEquals(Map.of(new EpKey(1, Direction.EGRESS, Verdict.DROP), 1L), out.endpointPackets,
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
        assertEquals(Map.of(new EpKey(2, Direction.EGRESS, Verdict.DROP), 1L), out.endpointPackets,
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
        assertEquals(Map.of(new EpKey(1, Direction.EGRESS, Verdict.DROP), 1L), out.endpointPackets);
    }

    /** Pods have no IPv6 of Ferry's yet: a global or unique-local source cannot be theirs. */
    @ParameterizedTest(name = "from {0}")
    @ValueSource(strings = {"fd00::2", "2001:db8::1", "fec0::1", "ff02::1"})
    void ipv6FromAnAddressThatIsNotTheSendersOwnIsDropped(String source) throws Exception {
        Outcome out = run(DatapathProgram.FROM_POD, Packets.ipv6(source, "2001:db8::2"), hostA);
        out.assertDroppedUnchanged(Direction.EGRESS, Reason.SPOOFED_SOURCE);
        assertEquals(Map.of(new EpKey(1, Direction.EGRESS, Verdict.DROP), 1L), out.endpointPackets);
    }

    @Test
    void spoofedPacketFromAVethWithoutEndpointIsDroppedAndCountedGlobally() throws Exception {
        Outcome out = run(DatapathProgram.FROM_POD, Ipv4.udp(POD_B, OUTSIDE).frame(), uplink);
        out.assertDroppedUnchanged(Direction.EGRESS, Reason.SPOOFED_SOURCE);
        assertEquals(Map.of(), out.endpointPackets, "no endpoint owns the device");
    }

    // ---- harness --------------------------------------------------------------------------------

    record CounterKey(Direction direction, Verdict verdict, Reason reason) {}

    record EpKey(int endpointId, Direction direction, Verdict verdict) {}

    record Outcome(int retval, byte[] input, byte[] frame, Map<CounterKey, long[]> global, Map<EpKey, Long> endpointPackets,
                   Map<EpKey, Long> endpointBytes) {

        /** Exactly one counter moved, by one packet of the frame's length. */
        void assertCounted(Direction direction, Verdict verdict, Reason reason) {
            CounterKey key = new CounterKey(direction, verdict, reason);
            assertEquals(List.of(key), List.copyOf(global.keySet()), "the counters that moved");
            assertArrayEquals(new long[]{1, input.length}, global.get(key), "packets and bytes of " + key);
        }

        void assertPassedUnchanged(Direction direction, Reason reason) {
            assertEquals(NEXT, retval, "left to the next program in the chain, then the stack");
            assertArrayEquals(input, frame, "frame left as it came");
            assertCounted(direction, Verdict.PASS, reason);
        }

        void assertDroppedUnchanged(Direction direction, Reason reason) {
            assertEquals(TC_ACT_SHOT, retval, "dropped");
            assertArrayEquals(input, frame, "frame left as it came");
            assertCounted(direction, Verdict.DROP, reason);
        }
    }

    /** Runs the program inside the node namespace, with skb->dev and ingress_ifindex set to the device. */
    static Outcome run(DatapathProgram program, byte[] frame, int ifindex) throws Exception {
        Map<CounterKey, long[]> before = global();
        Map<EpKey, Long> epBefore = endpointPackets();
        Map<EpKey, Long> epBytesBefore = endpointBytes();
        TestRunResult result = node.handle().call(() ->
                datapath.program(program).testRun(new TestRun(frame, ifindex, ifindex, 1)));
        Map<CounterKey, long[]> delta = new HashMap<>();
        global().forEach((k, v) -> {
            long[] b = before.getOrDefault(k, new long[2]);
            if (v[0] != b[0] || v[1] != b[1]) {
                delta.put(k, new long[]{v[0] - b[0], v[1] - b[1]});
            }
        });
        Map<EpKey, Long> epDelta = new HashMap<>();
        endpointPackets().forEach((k, v) -> {
            long d = v - epBefore.getOrDefault(k, 0L);
            if (d != 0) {
                epDelta.put(k, d);
            }
        });
        Map<EpKey, Long> epBytesDelta = new HashMap<>();
        endpointBytes().forEach((k, v) -> {
            long d = v - epBytesBefore.getOrDefault(k, 0L);
            if (d != 0) {
                epBytesDelta.put(k, d);
            }
        });
        return new Outcome(result.retval(), frame, result.packet(), delta, epDelta, epBytesDelta);
    }

    static Map<CounterKey, long[]> global() {
        Map<CounterKey, long[]> m = new HashMap<>();
        for (DatapathCounter c : datapath.counters().global()) {
            m.put(new CounterKey(c.direction(), c.verdict(), c.reason()), new long[]{c.packets(), c.bytes()});
        }
        return m;
    }

    static Map<EpKey, Long> endpointPackets() {
        Map<EpKey, Long> m = new HashMap<>();
        for (EndpointCounter c : datapath.counters().endpoints()) {
            m.put(new EpKey(c.endpointId(), c.direction(), c.verdict()), c.packets());
        }
        return m;
    }

    static Map<EpKey, Long> endpointBytes() {
        Map<EpKey, Long> m = new HashMap<>();
        for (EndpointCounter c : datapath.counters().endpoints()) {
            m.put(new EpKey(c.endpointId(), c.direction(), c.verdict()), c.bytes());
        }
        return m;
    }

    /** Packets and bytes of one ferry_metrics_v2 slot, summed over the CPUs, read without CounterMaps. */
    static long[] globalSlot(int index) {
        int cpus = BpfMap.possibleCpus();
        try (Arena arena = Arena.ofConfined(); BpfMap map = BpfMap.openPinned(pins.resolve(CounterMaps.GLOBAL))) {
            MemorySegment values = arena.allocate(map.valueSegmentSize(), 8);
            assertTrue(map.lookup(arena.allocateFrom(JAVA_INT, index), values), "slot " + index + " exists");
            long[] sum = new long[2];
            for (int cpu = 0; cpu < cpus; cpu++) {
                sum[0] += values.get(JAVA_LONG, cpu * map.perCpuValueStride());
                sum[1] += values.get(JAVA_LONG, cpu * map.perCpuValueStride() + 8);
            }
            return sum;
        }
    }

    static InetAddress ip(String literal) throws Exception {
        return InetAddress.getByName(literal);
    }

}
