package dev.ferry.datapath;

import dev.ferry.bpf.BpfMap;
import dev.ferry.bpf.TestRun;
import dev.ferry.bpf.TestRunResult;
import dev.ferry.net.IpPrefix;
import dev.ferry.net.MacAddress;
import dev.ferry.testing.BpfPins;
import dev.ferry.testing.TestNetns;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The bench of the program tests: runs the datapath programs with
 * BPF_PROG_TEST_RUN on crafted frames and reports the return code, the frame the
 * program hands on, and exactly which counters moved.
 *
 * <p>Its namespace stands in for a node: host-side veths of three pods (each
 * endpoint on a veth of its own, as the agent makes them: the veth names the
 * sender), an uplink with a route to another node's pod CIDR, and a DNAT rule
 * for the conntrack entries of the kube-proxy Service case. One per test class.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class ProgramTestBench {
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

    TestNetns node;
    BpfPins pins;
    Datapath datapath;
    int hostA;
    int hostB;
    int hostC;
    int uplink;
    MacAddress podBMac;
    MacAddress hostBMac;

    @BeforeAll
    void buildNode() throws Exception {
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
        datapath.endpoints().put(ip(POD_STACK_ONLY), new EndpointEntry(hostC, 3, EndpointEntry.FLAG_STACK_ONLY,
                podBMac, hostBMac));
        datapath.clusterCidrs().add(IpPrefix.parse("10.77.0.0/16"));
        installServiceDnat();
    }

    /** Kube-proxy-like rules inside the node namespace: Service VIP:53 is DNATed to pod A:5353, UDP and TCP. */
    void installServiceDnat() {
        node.ip("addr", "add", POD_A + "/32", "dev", "lo");
        node.ip("addr", "add", POD_B + "/32", "dev", "lo");
        node.ip("route", "add", "10.96.0.0/16", "dev", "lo");
        var nft = node.exec("nft", "add table ip ferrytest; "
                + "add chain ip ferrytest out { type nat hook output priority -100; }; "
                + "add rule ip ferrytest out ip daddr " + SERVICE_VIP + " udp dport 53 dnat to " + POD_A + ":5353; "
                + "add rule ip ferrytest out ip daddr " + SERVICE_VIP + " tcp dport 53 dnat to " + POD_A + ":5353");
        assertTrue(nft.ok(), "nft: " + nft.stderr());
    }

    /**
     * Pod B connects to the Service VIP over TCP from {@code clientPort} and closes:
     * conntrack now holds a NATed entry (in TIME_WAIT) whose reply direction is
     * pod A:5353 -> pod B:clientPort.
     */
    void clientConnectsToService(int clientPort) throws Exception {
        node.handle().call(() -> {
            try (ServerSocket server = new ServerSocket(5353, 1, ip(POD_A)); Socket s = new Socket()) {
                s.bind(new InetSocketAddress(ip(POD_B), clientPort));
                s.connect(new InetSocketAddress(ip(SERVICE_VIP), 53), 2000);
                server.accept().close();
            }
            return null;
        });
        String entries = node.exec("conntrack", "-L", "-p", "tcp", "--orig-dst", SERVICE_VIP).stdout();
        assertTrue(entries.contains("sport=5353 dport=" + clientPort),
                "no DNAT conntrack entry was made: " + entries);
    }

    /**
     * Pod B sends to the Service VIP from {@code clientPort}: conntrack now holds a
     * NATed entry whose reply direction is pod A -> pod B.
     */
    void clientTalksToService(int clientPort) throws Exception {
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
    void tearDown() {
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


    // ---- harness --------------------------------------------------------------------------------

    record CounterKey(TrafficFamily family, Direction direction, Verdict verdict, Reason reason) {}

    /** The family the programs count a frame under: its ethertype's. */
    static TrafficFamily familyOf(byte[] frame) {
        int ethertype = ((frame[12] & 0xff) << 8) | (frame[13] & 0xff);
        return switch (ethertype) {
            case 0x0800 -> TrafficFamily.IPV4;
            case 0x86dd -> TrafficFamily.IPV6;
            default -> TrafficFamily.OTHER;
        };
    }

    record EpKey(int endpointId, Direction direction, Verdict verdict) {}

    record Outcome(int retval, byte[] input, byte[] frame, Map<CounterKey, long[]> global, Map<EpKey, Long> endpointPackets,
                   Map<EpKey, Long> endpointBytes) {

        /** Exactly one counter moved, by one packet of the frame's length, under the frame's family. */
        void assertCounted(Direction direction, Verdict verdict, Reason reason) {
            CounterKey key = new CounterKey(familyOf(input), direction, verdict, reason);
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
    Outcome run(DatapathProgram program, byte[] frame, int ifindex) throws Exception {
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

    Map<CounterKey, long[]> global() {
        Map<CounterKey, long[]> m = new HashMap<>();
        for (DatapathCounter c : datapath.counters().global()) {
            m.put(new CounterKey(c.family(), c.direction(), c.verdict(), c.reason()), new long[]{c.packets(), c.bytes()});
        }
        return m;
    }

    Map<EpKey, Long> endpointPackets() {
        Map<EpKey, Long> m = new HashMap<>();
        for (EndpointCounter c : datapath.counters().endpoints()) {
            m.put(new EpKey(c.endpointId(), c.direction(), c.verdict()), c.packets());
        }
        return m;
    }

    Map<EpKey, Long> endpointBytes() {
        Map<EpKey, Long> m = new HashMap<>();
        for (EndpointCounter c : datapath.counters().endpoints()) {
            m.put(new EpKey(c.endpointId(), c.direction(), c.verdict()), c.bytes());
        }
        return m;
    }

    /** Packets and bytes of one ferry_metrics_v3 slot, summed over the CPUs, read without CounterMaps. */
    long[] globalSlot(int index) {
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

    InetAddress ip(String literal) throws Exception {
        return InetAddress.getByName(literal);
    }
}
