package dev.ferry.datapath;

import dev.ferry.net.IpPrefix;
import dev.ferry.testing.RequiresRoot;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;
import java.util.Map;

import static dev.ferry.datapath.Packets.Ipv6;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The datapath programs' decisions on IPv6, case for case as DatapathProgramsTest
 * has them for IPv4, plus what only IPv6 has: extension headers, neighbour
 * discovery, MLD and link scope. Every case checks the action, the frame and
 * that exactly one global counter moved, under family ipv6.
 *
 * <p>The bench node gets IPv6 beside its IPv4: pods A, B and a stack-only one
 * with addresses in fd77:1::/64 on the same veths, another node's pod CIDR
 * fd77:2::/64 routed via the uplink, fd77::/16 as the cluster CIDR, and an ip6
 * nat DNAT of a Service VIP for the conntrack cases. IPv6 forwarding is on in
 * the bench's namespace: bpf_fib_lookup asks the ingress device's.
 */
@RequiresRoot
class Ipv6ProgramsTest extends ProgramTestBench {
    static final String POD_A6 = "fd77:1::2";
    static final String POD_B6 = "fd77:1::3";
    static final String POD_STACK_ONLY6 = "fd77:1::4";
    static final String REMOTE_POD6 = "fd77:2::5";
    static final String UNROUTED_CLUSTER_ADDRESS6 = "fd77:9::9";
    static final String OUTSIDE6 = "2001:db8:77::7";
    static final String SERVICE_VIP6 = "fd96:77::7";

    @BeforeAll
    void ipv6OnTheBenchNode() throws Exception {
        node.sysctl("net.ipv6.conf.all.forwarding", "1");
        node.ip("-6", "addr", "add", "fd78:ff::1/64", "dev", "fdp-up", "nodad");
        node.ip("-6", "route", "add", "fd77:2::/64", "via", "fd78:ff::2", "dev", "fdp-up");
        node.ip("-6", "neigh", "replace", "fd78:ff::2", "lladdr", "02:00:00:00:77:02", "dev", "fdp-up", "nud", "permanent");
        datapath.endpoints().put(ip(POD_A6), datapath.endpoints().get(ip(POD_A)).orElseThrow());
        datapath.endpoints().put(ip(POD_B6), datapath.endpoints().get(ip(POD_B)).orElseThrow());
        datapath.endpoints().put(ip(POD_STACK_ONLY6), datapath.endpoints().get(ip(POD_STACK_ONLY)).orElseThrow());
        datapath.clusterCidrs().add(IpPrefix.parse("fd77::/16"));

        // As installServiceDnat for IPv4: Service VIP:53 DNATed to pod A:5353, made by real sockets in the node.
        node.ip("-6", "addr", "add", POD_A6 + "/128", "dev", "lo", "nodad");
        node.ip("-6", "addr", "add", POD_B6 + "/128", "dev", "lo", "nodad");
        node.ip("-6", "route", "add", "fd96:77::/64", "dev", "lo");
        var nft = node.exec("nft", "add table ip6 ferrytest6; "
                + "add chain ip6 ferrytest6 out { type nat hook output priority -100; }; "
                + "add rule ip6 ferrytest6 out ip6 daddr " + SERVICE_VIP6 + " udp dport 53 dnat to [" + POD_A6 + "]:5353; "
                + "add rule ip6 ferrytest6 out ip6 daddr " + SERVICE_VIP6 + " tcp dport 53 dnat to [" + POD_A6 + "]:5353");
        assertTrue(nft.ok(), "nft: " + nft.stderr());
    }

    // ---- local delivery -------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"udp", "tcp", "icmpv6"})
    void podToLocalPodIsRedirectedIntoThePeerAsOneRouterHop(String protocol) throws Exception {
        Ipv6 packet = switch (protocol) {
            case "udp" -> Ipv6.udp(POD_A6, POD_B6);
            case "tcp" -> Ipv6.tcp(POD_A6, POD_B6);
            default -> Ipv6.icmp(POD_A6, POD_B6);
        };
        Outcome out = run(DatapathProgram.FROM_POD, packet.frame(), hostA);

        assertEquals(TC_ACT_REDIRECT, out.retval());
        assertEquals(podBMac, Packets.dstMac(out.frame()), "destination MAC is pod B's");
        assertEquals(hostBMac, Packets.srcMac(out.frame()), "source MAC is pod B's gateway (host veth)");
        assertEquals(63, Packets.hopLimit(out.frame()));
        assertOnlyMacsAndHopLimitChanged(out);
        out.assertCounted(Direction.EGRESS, Verdict.REDIRECT_PEER, Reason.FORWARDED);
        assertEquals(Map.of(
                        new EpKey(1, Direction.EGRESS, Verdict.REDIRECT_PEER), 1L,
                        new EpKey(2, Direction.INGRESS, Verdict.REDIRECT_PEER), 1L),
                out.endpointPackets(), "sender counted as egress, receiver as ingress");
    }

    @Test
    void uplinkToLocalPodIsRedirectedIntoThePeer() throws Exception {
        Outcome out = run(DatapathProgram.TO_POD, Ipv6.tcp(REMOTE_POD6, POD_B6).frame(), uplink);

        assertEquals(TC_ACT_REDIRECT, out.retval());
        assertEquals(podBMac, Packets.dstMac(out.frame()));
        assertEquals(hostBMac, Packets.srcMac(out.frame()));
        assertEquals(63, Packets.hopLimit(out.frame()));
        out.assertCounted(Direction.INGRESS, Verdict.REDIRECT_PEER, Reason.FORWARDED);
        assertEquals(Map.of(new EpKey(2, Direction.INGRESS, Verdict.REDIRECT_PEER), 1L), out.endpointPackets());
    }

    @Test
    void podToLocalPodCountsIntoTheIpv6SlotOfTheGlobalMap() throws Exception {
        byte[] frame = Ipv6.udp(POD_A6, POD_B6).frame();
        // metrics_index(): ((family * FERRY_DIR_COUNT + direction) * FERRY_VERDICT_COUNT + verdict)
        //                 * FERRY_METRICS_REASON_SLOTS + reason
        int ipv6 = ((2 /* ipv6 */ * 2 + 1 /* egress */) * 4 + 1 /* redirect_peer */) * 32 + 0 /* forwarded */;
        int ipv4 = ((1 /* ipv4 */ * 2 + 1 /* egress */) * 4 + 1 /* redirect_peer */) * 32 + 0 /* forwarded */;
        long[] ipv6Before = globalSlot(ipv6);
        long[] ipv4Before = globalSlot(ipv4);

        run(DatapathProgram.FROM_POD, frame, hostA);

        long[] ipv6After = globalSlot(ipv6);
        assertArrayEquals(new long[]{1, frame.length}, new long[]{ipv6After[0] - ipv6Before[0], ipv6After[1] - ipv6Before[1]},
                "ferry_metrics_v3 slot " + ipv6);
        assertArrayEquals(ipv4Before, globalSlot(ipv4), "the IPv4 slot of the same counter stays");
    }

    // ---- other nodes ----------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"udp", "tcp", "icmpv6"})
    void podToRemoteClusterPodIsRedirectedTowardsTheFibNextHop(String protocol) throws Exception {
        Ipv6 packet = switch (protocol) {
            case "udp" -> Ipv6.udp(POD_A6, REMOTE_POD6);
            case "tcp" -> Ipv6.tcp(POD_A6, REMOTE_POD6);
            default -> Ipv6.icmp(POD_A6, REMOTE_POD6);
        };
        Outcome out = run(DatapathProgram.FROM_POD, packet.frame(), hostA);

        assertEquals(TC_ACT_REDIRECT, out.retval());
        assertEquals(63, Packets.hopLimit(out.frame()));
        out.assertCounted(Direction.EGRESS, Verdict.REDIRECT_NEIGH, Reason.FORWARDED);
        assertEquals(Map.of(new EpKey(1, Direction.EGRESS, Verdict.REDIRECT_NEIGH), 1L), out.endpointPackets());
    }

    @Test
    void clusterAddressWithoutRouteGoesToTheStack() throws Exception {
        run(DatapathProgram.FROM_POD, Ipv6.udp(POD_A6, UNROUTED_CLUSTER_ADDRESS6).frame(), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.FIB_MISS);
    }

    /** IPv6 routers never fragment: the stack answers with ICMPv6 Packet Too Big. */
    @Test
    void packetLargerThanTheRouteMtuGoesToTheStackForPacketTooBig() throws Exception {
        run(DatapathProgram.FROM_POD, Ipv6.udp(POD_A6, REMOTE_POD6).payload(UPLINK_MTU + 100).frame(), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.FRAG_NEEDED);
    }

    // ---- left to the stack ----------------------------------------------------------------------

    @Test
    void destinationOutsideTheClusterGoesToTheStack() throws Exception {
        Outcome out = run(DatapathProgram.FROM_POD, Ipv6.tcp(POD_A6, OUTSIDE6).frame(), hostA);
        out.assertPassedUnchanged(Direction.EGRESS, Reason.OUTSIDE_CLUSTER);
        assertEquals(Map.of(new EpKey(1, Direction.EGRESS, Verdict.PASS), 1L), out.endpointPackets());
    }

    @Test
    void uplinkPacketForNoLocalPodGoesToTheStack() throws Exception {
        run(DatapathProgram.TO_POD, Ipv6.tcp(OUTSIDE6, "fd78:ff::1").frame(), uplink)
                .assertPassedUnchanged(Direction.INGRESS, Reason.NOT_LOCAL_ENDPOINT);
    }

    @ParameterizedTest(name = "to {0}")
    @ValueSource(strings = {POD_B6, REMOTE_POD6})
    void hopLimitOfOneGoesToTheStackForTimeExceeded(String destination) throws Exception {
        run(DatapathProgram.FROM_POD, Ipv6.udp(POD_A6, destination).hopLimit(1).frame(), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.TTL_EXPIRED);
    }

    @Test
    void hopLimitOfOneFromTheUplinkGoesToTheStack() throws Exception {
        run(DatapathProgram.TO_POD, Ipv6.udp(REMOTE_POD6, POD_B6).hopLimit(1).frame(), uplink)
                .assertPassedUnchanged(Direction.INGRESS, Reason.TTL_EXPIRED);
    }

    @ParameterizedTest(name = "next header {0} -> {1}")
    @CsvSource({
            "0, IPV6_HOP_BY_HOP",
            "43, IPV6_ROUTING",
            "44, FRAGMENT",
            "60, IPV6_EXT_HEADER",
            "51, IPV6_EXT_HEADER",
            "135, IPV6_EXT_HEADER",
            "139, IPV6_EXT_HEADER",
            "140, IPV6_EXT_HEADER",
            "253, IPV6_EXT_HEADER",
            "254, IPV6_EXT_HEADER"})
    void extensionHeaderGoesToTheStackWithItsReason(int nextHeader, Reason reason) throws Exception {
        byte[] frame = Ipv6.udp(POD_A6, POD_B6).extension(nextHeader).frame();
        run(DatapathProgram.FROM_POD, frame, hostA).assertPassedUnchanged(Direction.EGRESS, reason);
        run(DatapathProgram.TO_POD, frame, uplink).assertPassedUnchanged(Direction.INGRESS, reason);
    }

    @ParameterizedTest(name = "type {0}")
    @ValueSource(ints = {133, 134, 135, 136, 137})
    void neighbourDiscoveryGoesToTheStack(int type) throws Exception {
        byte[] fromLinkLocal = Ipv6.icmp("fe80::2", "ff02::1:ff00:3").icmpType(type).hopLimit(255).frame();
        run(DatapathProgram.FROM_POD, fromLinkLocal, hostA).assertPassedUnchanged(Direction.EGRESS, Reason.IPV6_NDP);
        // Neighbour unreachability detection uses the pod's own address; still the link's business.
        byte[] fromOwn = Ipv6.icmp(POD_A6, POD_B6).icmpType(type).hopLimit(255).frame();
        run(DatapathProgram.FROM_POD, fromOwn, hostA).assertPassedUnchanged(Direction.EGRESS, Reason.IPV6_NDP);
        run(DatapathProgram.TO_POD, fromOwn, uplink).assertPassedUnchanged(Direction.INGRESS, Reason.IPV6_NDP);
    }

    @ParameterizedTest(name = "type {0}")
    @ValueSource(ints = {130, 131, 132, 143})
    void mldGoesToTheStack(int type) throws Exception {
        run(DatapathProgram.FROM_POD, Ipv6.icmp("fe80::2", "ff02::16").icmpType(type).hopLimit(1).frame(), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.IPV6_MLD);
    }

    @Test
    void mldBehindItsRouterAlertHopByHopHeaderIsCountedAsMld() throws Exception {
        run(DatapathProgram.FROM_POD, Packets.mldReport("fe80::2"), hostA).assertPassedUnchanged(Direction.EGRESS, Reason.IPV6_MLD);
        run(DatapathProgram.TO_POD, Packets.mldReport("fe80::9"), uplink).assertPassedUnchanged(Direction.INGRESS, Reason.IPV6_MLD);
    }

    @ParameterizedTest(name = "to {0}")
    @ValueSource(strings = {"fe80::1", "ff02::1", "ff0e::1"})
    void linkLocalOrMulticastDestinationGoesToTheStack(String destination) throws Exception {
        run(DatapathProgram.FROM_POD, Ipv6.icmp(POD_A6, destination).frame(), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.IPV6_LINK_SCOPE);
    }

    /** The kernel never forwards a link-local source; Ferry does not either, even to a local pod. */
    @Test
    void linkLocalSourceIsNeverRoutedEvenToALocalPod() throws Exception {
        run(DatapathProgram.FROM_POD, Ipv6.udp("fe80::2", POD_B6).frame(), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.IPV6_LINK_SCOPE);
    }

    /** Routers never forward a link-local source (RFC 4291); the uplink's neighbours reach the node, not its pods. */
    @ParameterizedTest(name = "from {0}")
    @ValueSource(strings = {"fe80::9", "::"})
    void linkScopedSourceFromTheUplinkIsNeverDeliveredIntoAPod(String source) throws Exception {
        run(DatapathProgram.TO_POD, Ipv6.udp(source, POD_B6).frame(), uplink)
                .assertPassedUnchanged(Direction.INGRESS, Reason.IPV6_LINK_SCOPE);
    }

    @ParameterizedTest(name = "{0} bytes of IPv6")
    @ValueSource(ints = {40, 42})
    void udpWithoutItsPortsGoesToTheStack(int ipBytes) throws Exception {
        byte[] frame = Arrays.copyOf(Ipv6.udp(POD_A6, POD_B6).frame(), Packets.ETH_HLEN + ipBytes);
        run(DatapathProgram.FROM_POD, frame, hostA).assertPassedUnchanged(Direction.EGRESS, Reason.TRUNCATED);
        run(DatapathProgram.TO_POD, frame, uplink).assertPassedUnchanged(Direction.INGRESS, Reason.TRUNCATED);
    }

    @Test
    void ipv6EthertypeWithAnotherIpVersionIsMalformed() throws Exception {
        byte[] frame = Ipv6.udp(POD_A6, POD_B6).frame();
        frame[Packets.ETH_HLEN] = 0x40;
        run(DatapathProgram.FROM_POD, frame, hostA).assertPassedUnchanged(Direction.EGRESS, Reason.MALFORMED);
    }

    @Test
    void spoofedIpv6SourceIsDroppedBeforeAnyPath() throws Exception {
        Outcome out = run(DatapathProgram.FROM_POD, Ipv6.udp(POD_B6, REMOTE_POD6).frame(), hostA);
        out.assertDroppedUnchanged(Direction.EGRESS, Reason.SPOOFED_SOURCE);
        assertEquals(Map.of(new EpKey(1, Direction.EGRESS, Verdict.DROP), 1L), out.endpointPackets());
    }

    @Test
    void stackOnlyEndpointIsDeliveredByTheStack() throws Exception {
        run(DatapathProgram.FROM_POD, Ipv6.udp(POD_A6, POD_STACK_ONLY6).frame(), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.STACK_ONLY);
    }

    // ---- conntrack: NATed flows and their clashes, IPv6 tuples ----------------------------------

    @Test
    void replyOfADnatedFlowGoesToTheStackForReverseTranslation() throws Exception {
        clientTalksToService6(41001);
        byte[] reply = Ipv6.udp(POD_A6, POD_B6).ports(5353, 41001).frame();
        run(DatapathProgram.FROM_POD, reply, hostA).assertPassedUnchanged(Direction.EGRESS, Reason.NAT_FLOW);
    }

    @Test
    void flowBetweenTheSamePodsThatConntrackDoesNotNatIsForwarded() throws Exception {
        clientTalksToService6(41003);
        byte[] other = Ipv6.udp(POD_A6, POD_B6).ports(5353, 41004).frame();
        assertEquals(TC_ACT_REDIRECT, run(DatapathProgram.FROM_POD, other, hostA).retval());
    }

    @Test
    void udpFromASourcePortWhoseReverseIsAServiceReplyGoesToTheStackToMoveThePortAside() throws Exception {
        clientTalksToService6(41005);
        byte[] direct = Ipv6.udp(POD_B6, POD_A6).ports(41005, 5353).frame();
        run(DatapathProgram.FROM_POD, direct, hostB).assertPassedUnchanged(Direction.EGRESS, Reason.NAT_CLASH);
    }

    @Test
    void tcpSynFromASourcePortWhoseReverseIsAServiceReplyGoesToTheStackToMoveThePortAside() throws Exception {
        clientConnectsToService6(41006);
        byte[] syn = Ipv6.tcp(POD_B6, POD_A6).ports(41006, 5353).frame();
        run(DatapathProgram.FROM_POD, syn, hostB).assertPassedUnchanged(Direction.EGRESS, Reason.NAT_CLASH);
    }

    @Test
    void tcpSegmentThatOpensNothingIsForwardedWhateverItsReverseTuple() throws Exception {
        clientConnectsToService6(41007);
        byte[] ack = Ipv6.tcp(POD_B6, POD_A6).ports(41007, 5353).tcpFlags(Packets.Ipv4.TCP_ACK).frame();
        assertEquals(TC_ACT_REDIRECT, run(DatapathProgram.FROM_POD, ack, hostB).retval());
    }

    // ---- helpers --------------------------------------------------------------------------------

    /** Pod B sends to the IPv6 Service VIP from {@code clientPort}: conntrack holds a NATed entry, reply pod A -> pod B. */
    private void clientTalksToService6(int clientPort) throws Exception {
        node.handle().call(() -> {
            try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(ip(POD_B6), clientPort))) {
                s.send(new DatagramPacket(new byte[8], 8, new InetSocketAddress(ip(SERVICE_VIP6), 53)));
            }
            return null;
        });
        String entries = node.exec("conntrack", "-L", "-f", "ipv6", "-p", "udp", "--orig-dst", SERVICE_VIP6).stdout();
        assertTrue(entries.contains("sport=5353 dport=" + clientPort), "no IPv6 DNAT conntrack entry was made: " + entries);
    }

    /** Pod B connects to the IPv6 Service VIP over TCP from {@code clientPort} and closes. */
    private void clientConnectsToService6(int clientPort) throws Exception {
        node.handle().call(() -> {
            try (ServerSocket server = new ServerSocket(5353, 1, ip(POD_A6)); Socket s = new Socket()) {
                s.bind(new InetSocketAddress(ip(POD_B6), clientPort));
                s.connect(new InetSocketAddress(ip(SERVICE_VIP6), 53), 2000);
                server.accept().close();
            }
            return null;
        });
        String entries = node.exec("conntrack", "-L", "-f", "ipv6", "-p", "tcp", "--orig-dst", SERVICE_VIP6).stdout();
        assertTrue(entries.contains("sport=5353 dport=" + clientPort), "no IPv6 DNAT conntrack entry was made: " + entries);
    }

    /** Past the Ethernet addresses, only the hop limit differs from what the pod sent. */
    private static void assertOnlyMacsAndHopLimitChanged(Outcome out) {
        byte[] expected = out.input().clone();
        byte[] actual = out.frame();
        System.arraycopy(actual, 0, expected, 0, 12);
        expected[Packets.ETH_HLEN + 7] = actual[Packets.ETH_HLEN + 7];
        assertArrayEquals(expected, actual);
    }
}
