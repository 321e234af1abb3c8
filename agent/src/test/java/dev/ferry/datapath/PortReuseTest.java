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
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A client pod talks to a backend pod first through a kube-proxy-style Service
 * (DNAT in the client node's conntrack) and then directly, from the same source
 * port: what an ephemeral port reused for a headless Service's pod does. The
 * direct flow's reverse tuple is the reply tuple of the Service flow's conntrack
 * entry (live or TIME_WAIT), so unless conntrack sees the new flow and moves its
 * source port aside, the backend's replies are "un-DNATed" to the Service address
 * and the client never hears from the backend. Pods hooked as shipped (tc); the
 * client's node forwards, as every kube-proxy node does. Subclasses place the
 * backend on the client's node or on another.
 */
@RequiresRoot
abstract class PortReuseTest {
    static final String SERVICE_VIP = "10.97.9.9";
    static final int SERVICE_PORT = 80;
    static final int BACKEND_PORT = 8080;
    static final int CLIENT_PORT = 41234;
    private static final int TIMEOUT_MS = 3000;

    /** The client's node: where the Service's DNAT and its conntrack entry live. */
    TestNetns clientNode;
    NodeWithPods.Pod client;
    NodeWithPods.Pod backend;

    /** Makes the nodes and sets clientNode, client and backend, forwarding on in clientNode. */
    abstract void buildNodes() throws Exception;

    abstract void closeNodes() throws Exception;

    @BeforeEach
    void serviceInFrontOfTheBackend() throws Exception {
        buildNodes();
        // kube-proxy's shape: DNAT of the Service address in prerouting, for TCP and UDP.
        var nft = clientNode.exec("nft", "add table ip ferrytest_portreuse; "
                + "add chain ip ferrytest_portreuse prerouting { type nat hook prerouting priority dstnat; }; "
                + "add rule ip ferrytest_portreuse prerouting ip daddr " + SERVICE_VIP + " tcp dport " + SERVICE_PORT
                + " dnat to " + backend.address() + ":" + BACKEND_PORT + "; "
                + "add rule ip ferrytest_portreuse prerouting ip daddr " + SERVICE_VIP + " udp dport " + SERVICE_PORT
                + " dnat to " + backend.address() + ":" + BACKEND_PORT);
        assertTrue(nft.ok(), "nft: " + nft.stderr());
    }

    @AfterEach
    void cleanUp() throws Exception {
        // The nft table lives in the node namespace and goes with it.
        closeNodes();
    }

    @Test
    void tcpConnectionFromASourcePortLastUsedForTheServiceReachesTheBackendDirectly() throws Exception {
        try (ServerSocket server = backend.ns().handle().call(() -> new ServerSocket(BACKEND_PORT, 4, backend.inet()))) {
            CompletableFuture<Void> serving = CompletableFuture.runAsync(() -> echoLines(server, 2));

            assertEquals("via service", tcpExchange(SERVICE_VIP, SERVICE_PORT, "via service"));
            assertConntrackHolds("tcp", "TIME_WAIT");

            assertEquals("direct", tcpExchange(backend.address(), BACKEND_PORT, "direct"));
            serving.get();
        }
    }

    @Test
    void udpRequestFromASourcePortLastUsedForTheServiceIsAnsweredByTheBackend() throws Exception {
        try (DatagramSocket server = backend.ns().handle().call(() ->
                new DatagramSocket(new InetSocketAddress(backend.inet(), BACKEND_PORT)))) {
            server.setSoTimeout(TIMEOUT_MS);
            CompletableFuture<Void> serving = CompletableFuture.runAsync(() -> echoDatagrams(server, 2));

            assertEquals(new InetSocketAddress(SERVICE_VIP, SERVICE_PORT), udpExchange(SERVICE_VIP, SERVICE_PORT),
                    "the Service's reply comes from the Service address");
            assertConntrackHolds("udp", "");

            assertEquals(new InetSocketAddress(backend.address(), BACKEND_PORT), udpExchange(backend.address(), BACKEND_PORT),
                    "the direct reply must come from the backend itself, not from the Service address");
            serving.get();
        }
    }

    /**
     * The other order: a direct connection is open when the client reaches the
     * Service from the same source port (the kernel picks it: the Service's 4-tuple
     * is a new one). The Service's DNAT turns the new flow into the open one's
     * tuple unless conntrack knows the open one and moves the new flow's port aside.
     */
    @Test
    void tcpConnectionToTheServiceFromTheSourcePortOfAnOpenDirectConnectionLeavesBothWorking() throws Exception {
        try (ServerSocket server = backend.ns().handle().call(() -> new ServerSocket(BACKEND_PORT, 4, backend.inet()));
             Connection direct = connect(backend.address(), BACKEND_PORT)) {
            CompletableFuture<Void> serving = CompletableFuture.runAsync(() -> echoLinesConcurrently(server, 2),
                    java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor());

            assertEquals("direct", direct.exchange("direct"));
            try (Connection viaService = connect(SERVICE_VIP, SERVICE_PORT)) {
                assertEquals("via service", viaService.exchange("via service"));
            }
            assertEquals("direct again", direct.exchange("direct again"), "the open connection survives the Service's");
            direct.close();
            serving.get();
        }
    }

    /** A connection from the client pod's CLIENT_PORT that stays open for several exchanges. */
    private record Connection(Socket socket, BufferedReader in, PrintWriter out) implements AutoCloseable {
        String exchange(String line) throws Exception {
            out.println(line);
            return in.readLine();
        }

        @Override
        public void close() throws Exception {
            socket.close();
        }
    }

    private Connection connect(String address, int port) throws Exception {
        Socket s = client.ns().handle().call(() -> {
            Socket socket = new Socket();
            socket.setReuseAddress(true);   // the port is bound by the other, open connection
            socket.bind(new InetSocketAddress(client.inet(), CLIENT_PORT));
            return socket;
        });
        s.setSoTimeout(TIMEOUT_MS);
        try {
            s.connect(new InetSocketAddress(address, port), TIMEOUT_MS);
        } catch (SocketTimeoutException e) {
            s.close();
            fail("connect from " + client.address() + ":" + CLIENT_PORT + " to " + address + ":" + port + " timed out; conntrack:\n"
                    + conntrack("tcp"));
        }
        return new Connection(s, new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)),
                new PrintWriter(s.getOutputStream(), true, StandardCharsets.UTF_8));
    }

    /** Connects from the client pod's CLIENT_PORT, sends a line, reads the echo, closes first (the client keeps TIME_WAIT). */
    private String tcpExchange(String address, int port, String line) throws Exception {
        try (Socket s = client.ns().handle().call(() -> {
            Socket socket = new Socket();
            socket.setReuseAddress(true);   // the port's last connection is in TIME_WAIT
            socket.bind(new InetSocketAddress(client.inet(), CLIENT_PORT));
            return socket;
        })) {
            s.setSoTimeout(TIMEOUT_MS);
            try {
                s.connect(new InetSocketAddress(address, port), TIMEOUT_MS);
            } catch (SocketTimeoutException e) {
                fail("connect from " + client.address() + ":" + CLIENT_PORT + " to " + address + ":" + port + " timed out; conntrack:\n"
                        + conntrack("tcp"));
            }
            new PrintWriter(s.getOutputStream(), true, StandardCharsets.UTF_8).println(line);
            return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
        }
    }

    /** Sends one datagram from the client pod's CLIENT_PORT and returns where the answer came from. */
    private SocketAddress udpExchange(String address, int port) throws Exception {
        try (DatagramSocket s = client.ns().handle().call(() -> {
            DatagramSocket socket = new DatagramSocket(null);
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(client.inet(), CLIENT_PORT));
            return socket;
        })) {
            s.setSoTimeout(TIMEOUT_MS);
            byte[] msg = ("to " + address).getBytes(StandardCharsets.UTF_8);
            s.send(new DatagramPacket(msg, msg.length, new InetSocketAddress(address, port)));
            DatagramPacket reply = new DatagramPacket(new byte[64], 64);
            try {
                s.receive(reply);
            } catch (SocketTimeoutException e) {
                fail("no answer to " + client.address() + ":" + CLIENT_PORT + " from " + address + ":" + port + "; conntrack:\n"
                        + conntrack("udp"));
            }
            assertEquals(Arrays.toString(msg), Arrays.toString(Arrays.copyOf(reply.getData(), reply.getLength())));
            return reply.getSocketAddress();
        }
    }

    /** The Service flow left its entry behind: reply tuple backend -> client:CLIENT_PORT. */
    private void assertConntrackHolds(String protocol, String state) {
        String reply = "src=" + backend.address() + " dst=" + client.address() + " sport=" + BACKEND_PORT
                + " dport=" + CLIENT_PORT;
        // The client's close is done before the last ACK has crossed the node: wait for it.
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            String entries = conntrack(protocol);
            assertTrue(entries.lines().anyMatch(l -> l.contains(state) && l.contains(reply)),
                    "no " + state + " DNAT entry of the Service flow in conntrack:\n" + entries);
        });
    }

    private String conntrack(String protocol) {
        return clientNode.exec("conntrack", "-L", "-p", protocol).stdout();
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

    /** Echoes every line of each connection on its own thread, until the client closes it. */
    private static void echoLinesConcurrently(ServerSocket server, int connections) {
        var served = new java.util.ArrayList<CompletableFuture<Void>>();
        // A thread per connection of its own: the common pool may have one thread, busy accepting.
        try (var threads = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
            server.setSoTimeout(2 * TIMEOUT_MS);
            for (int i = 0; i < connections; i++) {
                Socket s = server.accept();
                served.add(CompletableFuture.runAsync(() -> {
                    try (s) {
                        s.setSoTimeout(4 * TIMEOUT_MS);
                        var in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
                        OutputStream out = s.getOutputStream();
                        for (String line; (line = in.readLine()) != null; ) {
                            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
                            out.flush();
                        }
                    } catch (Exception e) {
                        throw new IllegalStateException("the backend's connection failed", e);
                    }
                }, threads));
            }
            CompletableFuture.allOf(served.toArray(CompletableFuture[]::new)).get();
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
