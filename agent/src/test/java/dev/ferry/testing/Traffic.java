package dev.ferry.testing;

import dev.ferry.testing.Shell;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Real traffic between pods: sockets are made on threads inside each pod's namespace. */
public final class Traffic {
    private Traffic() {}

    /** One side of a conversation: a namespace and the address it talks from. */
    public record End(TestNetns ns, InetAddress inet) {
        public String address() {
            return inet.getHostAddress();
        }
    }

    public static final int TIMEOUT_MS = 5000;

    public static void ping(End from, End to, int count) {
        Shell.Result r = from.ns().exec("ping", "-c", String.valueOf(count), "-i", "0.05", "-W", "2", to.address());
        assertEquals(0, r.exitCode(), "ping " + from.address() + " -> " + to.address() + ":\n" + r.stdout() + r.stderr());
    }

    /** {@code count} datagrams from one pod, each echoed back by the other. */
    public static void udpEcho(End from, End to, int port, int count) throws Exception {
        DatagramSocket server = to.ns().handle().call(() -> new DatagramSocket(new InetSocketAddress(to.inet(), port)));
        DatagramSocket client = from.ns().handle().call(() -> new DatagramSocket(new InetSocketAddress(from.inet(), 0)));
        try (server; client) {
            server.setSoTimeout(TIMEOUT_MS);
            client.setSoTimeout(TIMEOUT_MS);
            CompletableFuture<Void> echo = CompletableFuture.runAsync(() -> {
                try {
                    byte[] buf = new byte[64];
                    for (int i = 0; i < count; i++) {
                        DatagramPacket p = new DatagramPacket(buf, buf.length);
                        server.receive(p);
                        server.send(new DatagramPacket(p.getData(), p.getLength(), p.getSocketAddress()));
                    }
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            for (int i = 0; i < count; i++) {
                byte[] msg = ("datagram-" + i).getBytes();
                client.send(new DatagramPacket(msg, msg.length, new InetSocketAddress(to.inet(), port)));
                DatagramPacket reply = new DatagramPacket(new byte[64], 64);
                client.receive(reply);
                assertArrayEquals(msg, Arrays.copyOf(reply.getData(), reply.getLength()));
            }
            echo.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
        }
    }

    /** {@code bytes} over one TCP connection, counted and acknowledged by the receiver. */
    public static void tcpTransfer(End from, End to, int port, int bytes) throws Exception {
        ServerSocket server = to.ns().handle().call(() -> new ServerSocket(port, 1, to.inet()));
        try (server) {
            server.setSoTimeout(TIMEOUT_MS);
            CompletableFuture<Long> received = CompletableFuture.supplyAsync(() -> {
                try (Socket s = server.accept(); InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
                    s.setSoTimeout(TIMEOUT_MS);
                    long total = 0;
                    byte[] buf = new byte[65536];
                    for (int n; total < bytes && (n = in.read(buf)) > 0; ) {
                        total += n;
                    }
                    out.write(1);
                    return total;
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            Socket client = from.ns().handle().call(() -> {
                Socket s = new Socket();
                s.connect(new InetSocketAddress(to.inet(), port), TIMEOUT_MS);
                return s;
            });
            try (client; OutputStream out = client.getOutputStream(); InputStream in = client.getInputStream()) {
                client.setSoTimeout(TIMEOUT_MS);
                out.write(new byte[bytes]);
                out.flush();
                assertEquals(1, in.read(), "receiver acknowledged");
            }
            assertEquals(bytes, received.get(TIMEOUT_MS, TimeUnit.MILLISECONDS));
        }
    }
}
