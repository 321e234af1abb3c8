package dev.ferry.datapath;

import dev.ferry.bpf.RingBuffer;
import dev.ferry.bpf.TestRun;
import dev.ferry.testing.RequiresRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.net.InetAddress;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import static dev.ferry.datapath.Packets.Extension;
import static dev.ferry.datapath.Packets.IPPROTO_TCP;
import static dev.ferry.datapath.Packets.IPPROTO_UDP;
import static dev.ferry.datapath.Packets.Ipv4;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The decision events of lib/monitor.h on crafted frames: what is reported
 * (drops, the passes worth seeing, redirects only when sampled), with which
 * fields, and that the per-CPU rate limit holds back and counts the rest. The
 * events are read from ferry_events as the agent reads them, through libbpf's
 * ring_buffer. Real packets from a pod: MonitorAgentTest.
 */
@RequiresRoot
class MonitorProgramsTest extends ProgramTestBench {
    /** Enough that no test but the rate limit's meets the limit. */
    static final MonitorMaps.Config ON = new MonitorMaps.Config(true, 0, 1_000_000, 1_000);

    /** Pod A's IPv6 address, for the extension header cases: they go to the stack, each with its reason. */
    static final String POD_A6 = "fd77:1::2";
    static final String POD_B6 = "fd77:1::3";

    RingBuffer events;

    /** As a dual-stack pod's: one veth, one endpoint id (1) in both entries, so every event still names pod A. */
    @BeforeAll
    void podAHasAnIpv6Address() throws Exception {
        datapath.endpoints().put(ip(POD_A6), datapath.endpoints().get(ip(POD_A)).orElseThrow());
    }

    @BeforeEach
    void openReader() {
        datapath.monitor().configure(MonitorMaps.Config.OFF);
        events = RingBuffer.open(datapath.monitor().events(), MonitorMaps.EVENT_BYTES);
        events.drain();
    }

    @AfterEach
    void closeReader() {
        datapath.monitor().configure(MonitorMaps.Config.OFF);
        events.close();
    }

    List<MonitorEvent> drained() {
        return events.drain().stream().map(MonitorEvent::decode).toList();
    }

    @Test
    void spoofedPacketEmitsADropEventWithItsAddressesPortsDeviceAndSender() throws Exception {
        datapath.monitor().configure(ON);
        byte[] frame = Ipv4.udp(POD_B, REMOTE_POD).ports(40001, 5353).frame();

        run(DatapathProgram.FROM_POD, frame, hostA).assertDroppedUnchanged(Direction.EGRESS, Reason.SPOOFED_SOURCE);

        List<MonitorEvent> seen = drained();
        assertEquals(1, seen.size(), "one event: " + seen);
        MonitorEvent e = seen.getFirst();
        assertEquals(Direction.EGRESS, e.direction());
        assertEquals(Verdict.DROP, e.verdict());
        assertEquals(Reason.SPOOFED_SOURCE, e.reason());
        assertEquals(Optional.of(InetAddress.getByName(POD_B)), e.source(), "the claimed source, as sent");
        assertEquals(Optional.of(InetAddress.getByName(REMOTE_POD)), e.destination());
        assertEquals(17, e.protocol());
        assertEquals(40001, e.sourcePort());
        assertEquals(5353, e.destinationPort());
        assertEquals(hostA, e.ifindex());
        assertEquals(1, e.sourceEndpoint(), "pod A, whose veth it came in on, never pod B whose address it claimed");
        assertEquals(0, e.destinationEndpoint());
        assertEquals(frame.length, e.length());
        assertTrue(e.timestampNanos() > 0, "a CLOCK_MONOTONIC time");
    }

    @Test
    void spoofedIpv6PacketEmitsItsIpv6AddressesAndPorts() throws Exception {
        datapath.monitor().configure(ON);

        run(DatapathProgram.FROM_POD, Packets.ipv6("2001:db8::9", "2001:db8::2"), hostA)
                .assertDroppedUnchanged(Direction.EGRESS, Reason.SPOOFED_SOURCE);

        List<MonitorEvent> seen = drained();
        assertEquals(1, seen.size(), "one event: " + seen);
        MonitorEvent e = seen.getFirst();
        assertEquals(Optional.of(InetAddress.getByName("2001:db8::9")), e.source());
        assertEquals(Optional.of(InetAddress.getByName("2001:db8::2")), e.destination());
        assertEquals(17, e.protocol());
        assertEquals(1, e.sourcePort());
        assertEquals(2, e.destinationPort());
        assertEquals(1, e.sourceEndpoint());
    }

    @Test
    void uplinkDecisionIsAnIngressEvent() throws Exception {
        datapath.monitor().configure(ON);

        run(DatapathProgram.TO_POD, Ipv4.udp(REMOTE_POD, POD_B).ttl(1).frame(), uplink)
                .assertPassedUnchanged(Direction.INGRESS, Reason.TTL_EXPIRED);

        List<MonitorEvent> seen = drained();
        assertEquals(1, seen.size(), "one event: " + seen);
        assertEquals(Direction.INGRESS, seen.getFirst().direction());
        assertEquals(uplink, seen.getFirst().ifindex());
        assertEquals(Optional.of(InetAddress.getByName(REMOTE_POD)), seen.getFirst().source());
    }

    @Test
    void nothingIsEmittedWhileTheMonitorIsOff() throws Exception {
        MonitorMaps.Counts before = datapath.monitor().counts();

        run(DatapathProgram.FROM_POD, Ipv4.udp(POD_B, REMOTE_POD).frame(), hostA)
                .assertDroppedUnchanged(Direction.EGRESS, Reason.SPOOFED_SOURCE);

        assertEquals(List.of(), drained());
        assertEquals(before, datapath.monitor().counts(), "nothing counted either: the config word stopped it");
    }

    @Test
    void forwardedPacketEmitsNothingWhenSamplingIsOff() throws Exception {
        datapath.monitor().configure(ON);

        Outcome out = run(DatapathProgram.FROM_POD, Ipv4.tcp(POD_A, POD_B).frame(), hostA);

        assertEquals(TC_ACT_REDIRECT, out.retval());
        assertEquals(List.of(), drained());
    }

    @Test
    void sampledRedirectIsEmittedWithBothEndpoints() throws Exception {
        datapath.monitor().configure(new MonitorMaps.Config(true, 1, 1_000_000, 1_000));

        run(DatapathProgram.FROM_POD, Ipv4.tcp(POD_A, POD_B).frame(), hostA);

        List<MonitorEvent> seen = drained();
        assertEquals(1, seen.size(), "one event: " + seen);
        MonitorEvent e = seen.getFirst();
        assertEquals(Verdict.REDIRECT_PEER, e.verdict());
        assertEquals(Reason.FORWARDED, e.reason());
        assertEquals(1, e.sourceEndpoint());
        assertEquals(2, e.destinationEndpoint());
        assertEquals(8080, e.destinationPort());
    }

    @Test
    void oneRedirectInNIsSampled() throws Exception {
        datapath.monitor().configure(new MonitorMaps.Config(true, 4, 1_000_000, 1_000));

        node.handle().call(() -> datapath.program(DatapathProgram.FROM_POD)
                .testRun(new TestRun(Ipv4.udp(POD_A, POD_B).frame(), hostA, hostA, 40)));

        assertEquals(10, drained().size(), "40 redirects on one CPU, one in 4 reported");
    }

    @Test
    void expectedHighVolumePassEmitsNothing() throws Exception {
        datapath.monitor().configure(ON);

        run(DatapathProgram.FROM_POD, Ipv4.udp(POD_A, OUTSIDE).frame(), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.OUTSIDE_CLUSTER);

        assertEquals(List.of(), drained(), "outside_cluster is ordinary traffic to the internet");
    }

    @Test
    void passWorthSeeingIsEmitted() throws Exception {
        datapath.monitor().configure(ON);

        run(DatapathProgram.FROM_POD, Ipv4.udp(POD_A, POD_B).ttl(1).frame(), hostA)
                .assertPassedUnchanged(Direction.EGRESS, Reason.TTL_EXPIRED);

        List<MonitorEvent> seen = drained();
        assertEquals(1, seen.size(), "one event: " + seen);
        assertEquals(Verdict.PASS, seen.getFirst().verdict());
        assertEquals(Reason.TTL_EXPIRED, seen.getFirst().reason());
        assertEquals(1, seen.getFirst().sourceEndpoint());
    }

    @Test
    void rateLimitHoldsBackAFloodAndCountsWhatItSuppressed() throws Exception {
        // 1000 events a second, 10 at once: 100,000 runs take far less than the 100 s they would need.
        datapath.monitor().configure(new MonitorMaps.Config(true, 0, 1_000, 10));
        MonitorMaps.Counts before = datapath.monitor().counts();
        int runs = 100_000;

        node.handle().call(() -> datapath.program(DatapathProgram.FROM_POD)
                .testRun(new TestRun(Ipv4.udp(POD_B, REMOTE_POD).frame(), hostA, hostA, runs)));

        MonitorMaps.Counts after = datapath.monitor().counts();
        long emitted = after.emitted() - before.emitted();
        long suppressed = after.suppressed() - before.suppressed();
        assertEquals(0, after.lost() - before.lost(), "the ring had room for what the limit let through");
        assertEquals(runs, emitted + suppressed, "every drop either emitted or counted as suppressed");
        assertTrue(suppressed > runs / 2, "most of the flood was held back: " + after);
        assertEquals(emitted, drained().size(), "what was counted as emitted is what the reader got");
    }

    // ---- IPv6 extension headers: the event's protocol and ports are those of the upper layer behind them ----

    static Stream<Arguments> chainsWithPorts() {
        return Stream.of(
                Arguments.of("hop-by-hop", Reason.IPV6_HOP_BY_HOP, new Extension[]{Extension.hopByHop()}),
                Arguments.of("routing", Reason.IPV6_ROUTING, new Extension[]{Extension.routing()}),
                Arguments.of("destination options", Reason.IPV6_EXT_HEADER, new Extension[]{Extension.destination(2)}),
                Arguments.of("first fragment", Reason.FRAGMENT, new Extension[]{Extension.fragment(0, true)}),
                Arguments.of("authentication", Reason.IPV6_EXT_HEADER, new Extension[]{Extension.auth()}),
                Arguments.of("all six RFC 8200 allows", Reason.IPV6_HOP_BY_HOP, new Extension[]{Extension.hopByHop(),
                        Extension.destination(0), Extension.routing(), Extension.fragment(0, true), Extension.auth(),
                        Extension.destination(1)}));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("chainsWithPorts")
    void ipv6EventCarriesTheUdpPortsBehindExtensionHeaders(String name, Reason reason, Extension[] chain) throws Exception {
        MonitorEvent e = passedEvent(Packets.ipv6Behind(POD_A6, POD_B6, IPPROTO_UDP, 40002, 5353, chain), reason);

        assertEquals(IPPROTO_UDP, e.protocol(), "the upper layer's, not the first extension header's");
        assertEquals(40002, e.sourcePort());
        assertEquals(5353, e.destinationPort());
    }

    @Test
    void ipv6EventCarriesTheTcpPortsBehindAHopByHopHeader() throws Exception {
        MonitorEvent e = passedEvent(Packets.ipv6Behind(POD_A6, POD_B6, IPPROTO_TCP, 40003, 8080, Extension.hopByHop()),
                Reason.IPV6_HOP_BY_HOP);

        assertEquals(IPPROTO_TCP, e.protocol());
        assertEquals(40003, e.sourcePort());
        assertEquals(8080, e.destinationPort());
    }

    @Test
    void laterIpv6FragmentHasItsProtocolAndNoPorts() throws Exception {
        // Offset 8 (64 bytes in): what sits where ports would be is payload, so none are reported.
        MonitorEvent e = passedEvent(Packets.ipv6Behind(POD_A6, POD_B6, IPPROTO_UDP, 40004, 5353,
                Extension.fragment(8, false)), Reason.FRAGMENT);

        assertEquals(IPPROTO_UDP, e.protocol(), "named by the fragment header");
        assertEquals(0, e.sourcePort());
        assertEquals(0, e.destinationPort());
    }

    @Test
    void moreExtensionHeadersThanTheWalkReadsLeaveNoPorts() throws Exception {
        Extension[] seven = Stream.generate(() -> Extension.destination(0)).limit(7).toArray(Extension[]::new);

        MonitorEvent e = passedEvent(Packets.ipv6Behind(POD_A6, POD_B6, IPPROTO_UDP, 40005, 5353, seven),
                Reason.IPV6_EXT_HEADER);

        assertEquals(Extension.DESTINATION, e.protocol(), "the seventh header, where the walk stopped");
        assertEquals(0, e.sourcePort());
        assertEquals(0, e.destinationPort());
    }

    /** The one event of a frame pod A sends that goes to the stack with {@code reason}. */
    private MonitorEvent passedEvent(byte[] frame, Reason reason) throws Exception {
        datapath.monitor().configure(ON);

        run(DatapathProgram.FROM_POD, frame, hostA).assertPassedUnchanged(Direction.EGRESS, reason);

        List<MonitorEvent> seen = drained();
        assertEquals(1, seen.size(), "one event: " + seen);
        MonitorEvent e = seen.getFirst();
        assertEquals(Verdict.PASS, e.verdict());
        assertEquals(reason, e.reason());
        assertEquals(Optional.of(InetAddress.getByName(POD_A6)), e.source());
        return e;
    }
}
