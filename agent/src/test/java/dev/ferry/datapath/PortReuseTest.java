package dev.ferry.datapath;

import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A client pod talks to a backend pod first through a kube-proxy-style Service
 * (DNAT in the node's conntrack) and then directly, from the same source port:
 * what an ephemeral port reused for a headless Service's pod does. The direct
 * flow's reverse tuple is the reply tuple of the Service flow's conntrack entry
 * (live or TIME_WAIT), so unless conntrack sees the new flow and moves its source
 * port aside, the backend's replies are "un-DNATed" to the Service address and
 * the client never hears from the backend. Pods hooked as shipped (tc); the
 * node forwards, as every kube-proxy node does. Addresses 10.78.9.0/24 and
 * 10.97.9.9 are this class's.
 */
@RequiresRoot
class PortReuseTest {
    private static final String CLIENT = "10.78.9.2";
    private static final String BACKEND = "10.78.9.3";
    private static final String SERVICE_VIP = "10.97.9.9";
    private static final int SERVICE_PORT = 80;
    private static final int BACKEND_PORT = 8080;
    private static final int CLIENT_PORT = 41234;
    private static final int TIMEOUT_MS = 3000;

    private AttachedNode node;
    private TestNetns client;
    private TestNetns backend;

    @BeforeEach
    void serviceInFrontOfTheBackend() throws Exception {
        node = AttachedNode.create("fpr", AttachMode.TC, List.of(CLIENT, BACKEND));
        client = node.pod(0).ns();
        backend = node.pod(1).ns();
        TestNetns ns = node.topology.node;
        ns.sysctl("net.ipv4.conf.all.forwarding", "1");
        // kube-proxy's shape: DNAT of the Service address in prerouting, for TCP and UDP.
        var nft = ns.exec("nft", "add table ip ferrytest_portreuse; "
                + "add chain ip ferrytest_portreuse prerouting { type nat hook prerouting priority dstnat; }; "
                + "add rule ip ferrytest_portreuse prerouting ip daddr " + SERVICE_VIP + " tcp dport " + SERVICE_PORT
                + " dnat to " + BACKEND + ":" + BACKEND_PORT + "; "
                + "add rule ip ferrytest_portreuse prerouting ip daddr " + SERVICE_VIP + " udp dport " + SERVICE_PORT
                + " dnat to " + BACKEND + ":" + BACKEND_PORT);
        assertTrue(nft.ok(), "nft: " + nft.stderr());
    }

    @AfterEach
    void cleanUp() throws Exception {
        // The nft table lives in the node namespace and goes with it.
        if (node != null) {
            node.close();
        }
    }

    @Test
    void tcpConnectionFromASourcePortLastUsedForTheServiceReachesTheBackendDirectly() throws Exception {
        try (ServerSocket server = backend.handle().call(() -> new ServerSocket(BACKEND_PORT, 4, node.pod(1).inet()))) {
            CompletableFuture<Void> serving = CompletableFuture.runAsync(() -> echoLines(server, 2));

            assertEquals("via service", tcpExchange(SERVICE_VIP, SERVICE_PORT, "via service"));
            assertConntrackHolds("tcp", "TIME_WAIT");

            assertEquals("direct", tcpExchange(BACKEND, BACKEND_PORT, "direct"));
            serving.get();
        }
    }

    @Test
    void udpRequestFromASourcePortLastUsedForTheServiceIsAnsweredByTheBackend() throws Exception {
        try (DatagramSocket server = backend.handle().call(() ->
                new DatagramSocket(new InetSocketAddress(node.pod(1).inet(), BACKEND_PORT)))) {
            server.setSoTimeout(TIMEOUT_MS);
            CompletableFuture<Void> serving = CompletableFuture.runAsync(() -> echoDatagrams(server, 2));

            assertEquals(new InetSocketAddress(SERVICE_VIP, SERVICE_PORT), udpExchange(SERVICE_VIP, SERVICE_PORT),
                    "the Service's reply comes from the Service address");
            assertConntrackHolds("udp", "");

            assertEquals(new InetSocketAddress(BACKEND, BACKEND_PORT), udpExchange(BACKEND, BACKEND_PORT),
                    "the direct reply must come from the backend itself, not from the Service address");
            serving.get();
        }
    }

    /** Connects from CLIENT:CLIENT_PORT, sends a line, reads the echo, closes first (the client keeps TIME_WAIT). */
    private String tcpExchange(String address, int port, String line) throws Exception {
        try (Socket s = client.handle().call(() -> {
            Socket socket = new Socket();
            socket.setReuseAddress(true);   // the port's last connection is in TIME_WAIT
            socket.bind(new InetSocketAddress(node.pod(0).inet(), CLIENT_PORT));
            return socket;
        })) {
            s.setSoTimeout(TIMEOUT_MS);
            try {
                s.connect(new InetSocketAddress(address, port), TIMEOUT_MS);
            } catch (SocketTimeoutException e) {
                fail("connect from " + CLIENT + ":" + CLIENT_PORT + " to " + address + ":" + port + " timed out; conntrack:\n"
                        + conntrack("tcp"));
            }
            new PrintWriter(s.getOutputStream(), true, StandardCharsets.UTF_8).println(line);
            return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
        }
    }

    /** Sends one datagram from CLIENT:CLIENT_PORT and returns where the answer came from. */
    private SocketAddress udpExchange(String address, int port) throws Exception {
        try (DatagramSocket s = client.handle().call(() -> {
            DatagramSocket socket = new DatagramSocket(null);
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(node.pod(0).inet(), CLIENT_PORT));
            return socket;
        })) {
            s.setSoTimeout(TIMEOUT_MS);
            byte[] msg = ("to " + address).getBytes(StandardCharsets.UTF_8);
            s.send(new DatagramPacket(msg, msg.length, new InetSocketAddress(address, port)));
            DatagramPacket reply = new DatagramPacket(new byte[64], 64);
            try {
                s.receive(reply);
            } catch (SocketTimeoutException e) {
                fail("no answer to " + CLIENT + ":" + CLIENT_PORT + " from " + address + ":" + port + "; conntrack:\n"
                        + conntrack("udp"));
            }
            assertEquals(Arrays.toString(msg), Arrays.toString(Arrays.copyOf(reply.getData(), reply.getLength())));
            return reply.getSocketAddress();
        }
    }

    /** The Service flow left its entry behind: reply tuple backend -> client:CLIENT_PORT. */
    private void assertConntrackHolds(String protocol, String state) {
        String reply = "src=" + BACKEND + " dst=" + CLIENT + " sport=" + BACKEND_PORT + " dport=" + CLIENT_PORT;
        // The client's close is done before the last ACK has crossed the node: wait for it.
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            String entries = conntrack(protocol);
            assertTrue(entries.lines().anyMatch(l -> l.contains(state) && l.contains(reply)),
                    "no " + state + " DNAT entry of the Service flow in conntrack:\n" + entries);
        });
    }

    private String conntrack(String protocol) {
        return node.topology.node.exec("conntrack", "-L", "-p", protocol).stdout();
    }

    private static void echoLines(ServerSocket server, int connections) {
        try {
            server.setSoTimeout(2 * TIMEOUT_MS);
            for (int i = 0; i < connections; i++) {
                try (Socket s = server.accept()) {
                    s.setSoTimeout(TIMEOUT_MS);
                    var in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
                    OutputStream out = s.getOutputStream();
                    out.write((in.readLine() + "\n").getBytes(StandardCharsets.UTF_8));
                    out.flush();
                    // Waits for the client's FIN: the client closes first.
                    in.readLine();
                }
            }
        } catch (Exception e) {
            throw new IllegalStateException("the backend did not serve " + connections + " connections", e);
        }
    }

    private static void echoDatagrams(DatagramSocket server, int count) {
        try {
            byte[] buf = new byte[64];
            for (int i = 0; i < count; i++) {
                DatagramPacket p = new DatagramPacket(buf, buf.length);
                server.receive(p);
                server.send(new DatagramPacket(p.getData(), p.getLength(), p.getSocketAddress()));
            }
        } catch (Exception e) {
            throw new IllegalStateException("the backend did not echo " + count + " datagrams", e);
        }
    }
}
