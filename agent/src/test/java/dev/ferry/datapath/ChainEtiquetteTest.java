package dev.ferry.datapath;

import dev.ferry.bpf.BpfMap;
import dev.ferry.bpf.BpfObject;
import dev.ferry.bpf.BpfProgram;
import dev.ferry.bpf.TcAttachment;
import dev.ferry.bpf.TcHook;
import dev.ferry.bpf.TcxHook;
import dev.ferry.bpf.TcxLink;
import dev.ferry.testing.Cleanup;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import dev.ferry.testing.Traffic;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Another tool's program hooked after Ferry's on the same device (a second TCX
 * link, appended; or a tc filter at a later priority) sees every packet Ferry
 * leaves to the stack and none that Ferry redirects: "pass" lets the chain go
 * on (TCX_NEXT, TC_ACT_UNSPEC) instead of ending it (TC_ACT_OK). Shown with real
 * packets on a pod veth (from_pod) and on the uplink (to_pod), once per attach
 * mode (subclasses). The second program is bpf/test/chain_counter.bpf.c, which
 * counts IPv4 packets by destination.
 */
@RequiresRoot
abstract class ChainEtiquetteTest {
    static final String NODE_ADDRESS = "192.168.84.1";
    static final String REMOTE_ADDRESS = "192.168.84.2";
    static final int PORT = 7200;
    static final int PACKETS = 5;
    /** The second tc filter: after Ferry's (Datapath.TC_PRIORITY 1), as a lower-priority filter runs. */
    static final int OTHER_TC_HANDLE = 0xc0de;
    static final int OTHER_TC_PRIORITY = 2;

    AttachedNode node;
    TestNetns remote;
    NodeWithPods.Pod a;
    NodeWithPods.Pod b;
    String uplink;
    int uplinkIfindex;
    BpfObject other;
    final List<Cleanup.Step> undo = new ArrayList<>();

    abstract AttachMode mode();

    abstract String linkPrefix();

    @BeforeEach
    void nodeWithAnUplinkAndAnotherTool() throws Exception {
        node = AttachedNode.create(linkPrefix(), mode(), List.of("10.84.1.2", "10.84.1.3"));
        a = node.pod(0);
        b = node.pod(1);
        TestNetns ns = node.topology.node;

        // The uplink: a veth to a namespace standing in for the network and the nodes behind it.
        remote = TestNetns.create(linkPrefix() + "r");
        uplink = linkPrefix() + "-up";
        ns.ip("link", "add", uplink, "type", "veth", "peer", "name", "eth0", "netns", remote.name());
        ns.ip("addr", "add", NODE_ADDRESS + "/24", "dev", uplink);
        ns.ip("link", "set", uplink, "up");
        remote.ip("addr", "add", REMOTE_ADDRESS + "/24", "dev", "eth0");
        remote.ip("link", "set", "eth0", "up");
        remote.ip("route", "add", "10.84.0.0/16", "via", NODE_ADDRESS);
        uplinkIfindex = ns.ifindex(uplink);
        ns.handle().call(() -> node.datapath.attach(DatapathProgram.TO_POD, uplink, uplinkIfindex));
        undo.add(() -> ns.handle().execute(() -> node.datapath.detach(DatapathProgram.TO_POD, uplink, uplinkIfindex)));

        other = BpfObject.load("chain_counter", fixture(), node.pins.root());
        hookAfterFerry(a.hostIfindex());
        hookAfterFerry(uplinkIfindex);
    }

    /** The other tool's program, hooked on ingress of the device after Ferry's, in this test's mode. */
    private void hookAfterFerry(int ifindex) throws Exception {
        BpfProgram program = other.program("count_after_ferry");
        TestNetns ns = node.topology.node;
        switch (mode()) {
            case TCX -> {
                // No BPF_F_BEFORE/AFTER: the kernel appends after the last program (kernel/bpf/mprog.c).
                TcxLink link = ns.handle().call(() -> TcxLink.attach(program, ifindex, TcxHook.INGRESS));
                undo.add(link::close);
            }
            case TC -> {
                ns.handle().call(() -> TcAttachment.attach(program, ifindex, TcHook.INGRESS, OTHER_TC_HANDLE, OTHER_TC_PRIORITY));
                undo.add(() -> ns.handle().execute(() -> TcAttachment.find(ifindex, TcHook.INGRESS, OTHER_TC_HANDLE,
                        OTHER_TC_PRIORITY).ifPresent(TcAttachment::detach)));
            }
        }
    }

    /** The hooks first (in reverse), then the other tool's object, the network and the node. */
    @AfterEach
    void cleanUp() throws Exception {
        List<Cleanup.Step> steps = new ArrayList<>(undo.reversed());
        steps.add(() -> {
            if (other != null) {
                other.close();
            }
        });
        steps.add(() -> {
            if (remote != null) {
                remote.close();
            }
        });
        steps.add(() -> {
            if (node != null) {
                node.close();
            }
        });
        Cleanup.all(steps.toArray(Cleanup.Step[]::new));
    }

    @Test
    void podVethPassesWhatFerryLeavesToTheStackOnToTheNextProgram() throws Exception {
        long passedBefore = decided(Direction.EGRESS, Verdict.PASS);

        sendUdp(a.ns(), a.inet(), InetAddress.getByName(NODE_ADDRESS)); // outside the cluster: pass

        await().until(() -> decided(Direction.EGRESS, Verdict.PASS) >= passedBefore + PACKETS);
        await().untilAsserted(() -> assertEquals(PACKETS, seenByTheOtherProgram(NODE_ADDRESS),
                "packets to the node that the program after Ferry's saw on pod A's veth"));
    }

    @Test
    void podVethKeepsWhatFerryRedirectsFromTheNextProgram() throws Exception {
        receiveUdp(b.ns(), b.inet(), () -> sendUdp(a.ns(), a.inet(), b.inet())); // same node: redirect_peer

        assertEquals(0, seenByTheOtherProgram(b.address()), "packets to pod B that the program after Ferry's saw");
    }

    @Test
    void uplinkPassesWhatFerryLeavesToTheStackOnToTheNextProgram() throws Exception {
        long passedBefore = decided(Direction.INGRESS, Verdict.PASS);

        sendUdp(remote, InetAddress.getByName(REMOTE_ADDRESS), InetAddress.getByName(NODE_ADDRESS)); // no pod's: pass

        await().until(() -> decided(Direction.INGRESS, Verdict.PASS) >= passedBefore + PACKETS);
        await().untilAsserted(() -> assertEquals(PACKETS, seenByTheOtherProgram(NODE_ADDRESS),
                "packets to the node that the program after Ferry's saw on the uplink"));
    }

    @Test
    void uplinkKeepsWhatFerryRedirectsFromTheNextProgram() throws Exception {
        receiveUdp(b.ns(), b.inet(), () -> sendUdp(remote, InetAddress.getByName(REMOTE_ADDRESS), b.inet()));

        assertEquals(0, seenByTheOtherProgram(b.address()), "packets to pod B that the program after Ferry's saw");
    }

    interface Sender {
        void send() throws Exception;
    }

    /** Runs {@code sender} while a socket of {@code ns} takes PACKETS datagrams at {@code address}: they all arrived. */
    private static void receiveUdp(TestNetns ns, InetAddress address, Sender sender) throws Exception {
        DatagramSocket server = ns.handle().call(() -> new DatagramSocket(new InetSocketAddress(address, PORT)));
        try (server) {
            server.setSoTimeout(Traffic.TIMEOUT_MS);
            sender.send();
            for (int i = 0; i < PACKETS; i++) {
                server.receive(new DatagramPacket(new byte[64], 64));
            }
        }
    }

    private static void sendUdp(TestNetns ns, InetAddress from, InetAddress to) throws Exception {
        ns.handle().call(() -> {
            try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(from, 0))) {
                for (int i = 0; i < PACKETS; i++) {
                    socket.send(new DatagramPacket(new byte[8], 8, new InetSocketAddress(to, PORT)));
                }
            }
            return null;
        });
    }

    /** Packets Ferry decided on in {@code direction} with {@code verdict}, whatever the reason. */
    private long decided(Direction direction, Verdict verdict) {
        return node.datapath.counters().global().stream()
                .filter(c -> c.direction() == direction && c.verdict() == verdict)
                .mapToLong(DatapathCounter::packets).sum();
    }

    /** IPv4 packets to {@code destination} that the other tool's program was given, on any of its hooks. */
    private long seenByTheOtherProgram(String destination) throws Exception {
        BpfMap seen = other.map("chain_seen");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment key = arena.allocateFrom(JAVA_BYTE, InetAddress.getByName(destination).getAddress());
            MemorySegment value = arena.allocate(JAVA_LONG);
            return seen.lookup(key, value) ? value.get(JAVA_LONG, 0) : 0;
        }
    }

    private static byte[] fixture() {
        try (InputStream in = ChainEtiquetteTest.class.getResourceAsStream("/bpf/chain_counter.bpf.o")) {
            if (in == null) {
                throw new IllegalStateException("no /bpf/chain_counter.bpf.o on the test classpath (built by bpf/Makefile)");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
