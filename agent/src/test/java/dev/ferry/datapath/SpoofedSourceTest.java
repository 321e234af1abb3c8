package dev.ferry.datapath;

import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import dev.ferry.testing.Traffic;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * Pod A takes another address onto its eth0 and sends from it, with real
 * packets through its veth: nothing it sends that way arrives, at a pod of the
 * node (the bpf_redirect_peer path) or at the node itself (the stack path), and
 * ARP claiming the address leaves no trace in the node's neighbour table. What
 * A sends from its own address still arrives. Counted as drop/spoofed_source,
 * globally and against A. The node's rp_filter is off: the datapath must not
 * lean on it (and bpf_redirect_peer skips it anyway). Runs once per attach mode
 * of the pod veths (subclasses).
 */
@RequiresRoot
abstract class SpoofedSourceTest {
    static final String NODE_ADDRESS = "10.83.0.1";
    static final String NO_POD_ADDRESS = "203.0.113.9";
    static final String NODE_ADDRESS_V6 = "2001:db8:83::1";
    static final String NO_POD_ADDRESS_V6 = "2001:db8:83::9";
    static final String LINK_LOCAL_V6 = "fe80::a";
    static final String GATEWAY_V6 = "fe80::1";
    static final int PORT = 7100;
    static final int SPOOFED = 5;

    AttachedNode node;
    NodeWithPods.Pod a;
    NodeWithPods.Pod b;
    NodeWithPods.Pod c;

    abstract AttachMode mode();

    abstract String linkPrefix();

    @BeforeEach
    void podsOnTheDatapath() throws Exception {
        node = AttachedNode.create(linkPrefix(), mode(), List.of("10.83.1.2", "10.83.1.3", "10.83.1.4"));
        a = node.pod(0);
        b = node.pod(1);
        c = node.pod(2);
        var ns = node.topology.node;
        ns.ip("addr", "add", NODE_ADDRESS + "/32", "dev", "lo");
        for (String dev : List.of("all", "default", a.hostIfname())) {
            ns.sysctl("net.ipv4.conf." + dev + ".rp_filter", "0");
            ns.sysctl("net.ipv4.conf." + dev + ".arp_ignore", "0");
        }
    }

    @AfterEach
    void cleanUp() throws Exception {
        if (node != null) {
            node.close();
        }
    }

    /** {@code claimed}: pod B's address, or one that is no pod's at all. */
    @ParameterizedTest(name = "from {0}")
    @ValueSource(strings = {"pod b", "no pod"})
    void udpFromAnAddressThatIsNotTheSendersNeverReachesAnotherPod(String claimed) throws Exception {
        String spoofed = claimed.equals("pod b") ? b.address() : NO_POD_ADDRESS;
        a.ns().ip("addr", "add", spoofed + "/32", "dev", "eth0");
        Counts before = counts();

        List<String> received = sendSpoofedThenOwn(InetAddress.getByName(spoofed), a.inet(), c.ns(), c.inet());

        assertEquals(List.of("own from " + a.address()), received, "only what A sent from its own address arrived at C");
        assertDroppedAsSpoofed(before, SPOOFED);
    }

    @Test
    void udpFromAnotherPodsAddressNeverReachesTheNodesStack() throws Exception {
        a.ns().ip("addr", "add", b.address() + "/32", "dev", "eth0");
        Counts before = counts();

        List<String> received = sendSpoofedThenOwn(b.inet(), a.inet(), node.topology.node, InetAddress.getByName(NODE_ADDRESS));

        assertEquals(List.of("own from " + a.address()), received, "only what A sent from its own address reached the node");
        assertDroppedAsSpoofed(before, SPOOFED);
    }

    /**
     * Pods have no IPv6 address of Ferry's: a global IPv6 source is never a pod's
     * own, while its link-local ones (neighbour discovery, MLD) still reach the
     * node. The pod routes through a gateway with a permanent neighbour, as for
     * IPv4, and its addresses skip duplicate address detection so that they are
     * usable at once.
     */
    @Test
    void ipv6FromAGlobalAddressNeverReachesTheNodeWhileLinkLocalDoes() throws Exception {
        var ns = node.topology.node;
        ns.ip("-6", "addr", "add", NODE_ADDRESS_V6 + "/128", "dev", "lo", "nodad"); // usable at once
        a.ns().ip("-6", "addr", "add", NO_POD_ADDRESS_V6 + "/128", "dev", "eth0", "nodad");
        a.ns().ip("-6", "addr", "add", LINK_LOCAL_V6 + "/64", "dev", "eth0", "nodad");
        a.ns().ip("-6", "neigh", "add", GATEWAY_V6, "lladdr", a.hostMac().toString(), "dev", "eth0", "nud", "permanent");
        a.ns().ip("-6", "route", "add", NODE_ADDRESS_V6 + "/128", "via", GATEWAY_V6, "dev", "eth0");
        InetAddress linkLocal = InetAddress.getByName(LINK_LOCAL_V6 + "%" + a.ns().ifindex("eth0"));
        Counts before = counts();

        List<String> received = sendSpoofedThenOwn(InetAddress.getByName(NO_POD_ADDRESS_V6), linkLocal, ns,
                InetAddress.getByName(NODE_ADDRESS_V6));

        assertEquals(1, received.size(), "only what A sent from its link-local address reached the node: " + received);
        assertDroppedAsSpoofed(before, SPOOFED);
    }

    @Test
    void icmpFromAnotherPodsAddressNeverReachesAnotherPod() throws Exception {
        a.ns().ip("addr", "add", b.address() + "/32", "dev", "eth0");
        long echoesBefore = icmpInEchos(c);
        Counts before = counts();

        // No answer can come back to A (C would answer B): ping's exit code says nothing here.
        a.ns().exec("ping", "-c", "3", "-i", "0.05", "-W", "1", "-I", b.address(), c.address());

        assertEquals(echoesBefore, icmpInEchos(c), "echo requests from B's address that C received");
        assertDroppedAsSpoofed(before, 3);
        Traffic.ping(a.end(), c.end(), 1);
        assertEquals(echoesBefore + 1, icmpInEchos(c), "A's own echo request arrived");
    }

    @Test
    void arpClaimingAnotherPodsAddressLeavesNoNeighbourEntryOnTheNode() throws Exception {
        Counts before = counts();
        int podIfindex = a.ns().ifindex("eth0");
        byte[] spoofed = Packets.arp(a.podMac(), b.address(), NODE_ADDRESS);
        byte[] own = Packets.arp(a.podMac(), a.address(), NODE_ADDRESS);

        a.ns().handle().call(() -> {
            try {
                RawFrames.send(podIfindex, spoofed);
                RawFrames.send(podIfindex, own);
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
            return null;
        });

        // The node answers who-has NODE_ADDRESS and learns the asker's address; A's own ARP goes last.
        await().until(() -> counts().arpPassed() > before.arpPassed());
        String neighbours = node.topology.node.ip("neigh", "show", "dev", a.hostIfname());
        assertFalse(neighbours.contains(b.address() + " "), "the node learnt B's address on A's veth: " + neighbours);
        assertDroppedAsSpoofed(before, 1);
    }

    /**
     * {@code SPOOFED} datagrams from pod A's socket bound to {@code spoofed}, then one
     * from {@code own}, to a socket of {@code target}; returns what arrived there up
     * to and including the own one, each as "payload from source".
     */
    private List<String> sendSpoofedThenOwn(InetAddress spoofed, InetAddress own, TestNetns target, InetAddress to)
            throws Exception {
        DatagramSocket server = target.handle().call(() -> new DatagramSocket(new InetSocketAddress(to, PORT)));
        try (server) {
            server.setSoTimeout(Traffic.TIMEOUT_MS);
            a.ns().handle().call(() -> {
                try (DatagramSocket liar = new DatagramSocket(new InetSocketAddress(spoofed, 0));
                     DatagramSocket honest = new DatagramSocket(new InetSocketAddress(own, 0))) {
                    for (int i = 0; i < SPOOFED; i++) {
                        send(liar, "spoofed", to);
                    }
                    send(honest, "own", to);
                }
                return null;
            });
            List<String> received = new ArrayList<>();
            String last = "";
            while (!last.startsWith("own ")) {
                DatagramPacket p = new DatagramPacket(new byte[64], 64);
                server.receive(p);
                last = new String(p.getData(), 0, p.getLength(), StandardCharsets.US_ASCII) + " from "
                        + p.getAddress().getHostAddress();
                received.add(last);
            }
            return received;
        }
    }

    private static void send(DatagramSocket socket, String payload, InetAddress to) throws Exception {
        byte[] bytes = payload.getBytes(StandardCharsets.US_ASCII);
        socket.send(new DatagramPacket(bytes, bytes.length, new InetSocketAddress(to, PORT)));
    }

    /** Counted as the issue asks: globally by reason and against A, the pod whose veth they came from. */
    private void assertDroppedAsSpoofed(Counts before, long packets) {
        await().untilAsserted(() -> assertEquals(before.spoofed() + packets, counts().spoofed(),
                "egress drop/spoofed_source packets"));
        assertEquals(before.droppedFromA() + packets, counts().droppedFromA(), "pod A's egress drop packets");
    }

    record Counts(long spoofed, long droppedFromA, long arpPassed) {}

    private Counts counts() {
        long spoofed = 0;
        long arpPassed = 0;
        for (DatapathCounter counter : node.datapath.counters().global()) {
            if (counter.direction() != Direction.EGRESS) {
                continue;
            }
            if (counter.verdict() == Verdict.DROP && counter.reason() == Reason.SPOOFED_SOURCE) {
                spoofed = counter.packets();
            } else if (counter.verdict() == Verdict.PASS && counter.reason() == Reason.NOT_IP) {
                arpPassed = counter.packets();
            }
        }
        long droppedFromA = node.datapath.counters().endpoints().stream()
                .filter(e -> e.endpointId() == a.endpointId() && e.direction() == Direction.EGRESS && e.verdict() == Verdict.DROP)
                .mapToLong(EndpointCounter::packets).sum();
        return new Counts(spoofed, droppedFromA, arpPassed);
    }

    /** Echo requests the pod's kernel has received (/proc/net/snmp of its namespace). */
    private static long icmpInEchos(NodeWithPods.Pod pod) {
        String[] lines = pod.ns().exec("cat", "/proc/net/snmp").stdout().split("\n");
        for (int i = 0; i + 1 < lines.length; i++) {
            if (lines[i].startsWith("Icmp: InMsgs")) {
                List<String> names = List.of(lines[i].split("\\s+"));
                return Long.parseLong(lines[i + 1].split("\\s+")[names.indexOf("InEchos")]);
            }
        }
        throw new IllegalStateException("no Icmp line in /proc/net/snmp");
    }
}
