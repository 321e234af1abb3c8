package dev.ferry.cni.plugin;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Stands in for the agent's socket server in the plugin's tests: listens on a unix
 * socket, records each HTTP request it receives byte for byte, and answers with
 * the reply the test scripted.
 */
final class FakeAgent implements AutoCloseable {
    private static final Pattern CONTENT_LENGTH =
            Pattern.compile("(?im)^Content-Length:\\s*(\\d+)\\s*$");

    /** The bytes written back (none: stay silent), and whether the connection is closed afterwards. */
    record Reply(byte[] bytes, boolean close) {
        static Reply http(int status, String reason, String body) {
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            return raw("HTTP/1.1 " + status + " " + reason + "\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + b.length + "\r\n\r\n" + body);
        }

        static Reply raw(String response) {
            return new Reply(response.getBytes(StandardCharsets.UTF_8), true);
        }

        /** Answers, but leaves the connection open as a keep-alive server would. */
        static Reply rawKeepingConnectionOpen(String response) {
            return new Reply(response.getBytes(StandardCharsets.UTF_8), false);
        }

        /** Reads the request and never answers. */
        static Reply silence() {
            return new Reply(null, false);
        }

        /** Reads the request and closes the connection without a word. */
        static Reply hangUp() {
            return new Reply(new byte[0], true);
        }
    }

    private final Path socket;
    private final Reply reply;
    private final ServerSocketChannel server;
    private final Thread acceptor;
    private final BlockingQueue<byte[]> requests = new LinkedBlockingQueue<>();
    private final List<SocketChannel> openConnections = new CopyOnWriteArrayList<>();
    private final List<Exception> failures = new CopyOnWriteArrayList<>();

    private FakeAgent(Path socket, Reply reply) throws IOException {
        this.socket = socket;
        this.reply = reply;
        this.server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        this.acceptor = Thread.ofPlatform().daemon().name("fake-agent").start(this::serve);
    }

    static FakeAgent listen(Path socket, Reply reply) throws IOException {
        return new FakeAgent(socket, reply);
    }

    Path socket() {
        return socket;
    }

    /** The next request received, as raw bytes. */
    byte[] awaitRequest() throws InterruptedException {
        byte[] request = requests.poll(10, TimeUnit.SECONDS);
        if (request == null) {
            throw new AssertionError("the fake agent received no request; its failures: " + failures);
        }
        return request;
    }

    /**
     * Whether no request is waiting. Reliable once the plugin has exited: a request
     * is recorded before the reply the plugin waits for is written.
     */
    boolean receivedNothing() {
        return requests.isEmpty();
    }

    private void serve() {
        while (server.isOpen()) {
            SocketChannel connection;
            try {
                connection = server.accept();
            } catch (IOException e) {
                return; // closed by close()
            }
            openConnections.add(connection);
            try {
                requests.add(readRequest(connection));
                if (reply.bytes() != null) {
                    ByteBuffer out = ByteBuffer.wrap(reply.bytes());
                    while (out.hasRemaining()) {
                        connection.write(out);
                    }
                }
                if (reply.close()) {
                    connection.close();
                }
            } catch (IOException e) {
                failures.add(e);
            }
        }
    }

    /** Reads one request: the header up to the empty line, then Content-Length bytes of body. */
    private static byte[] readRequest(SocketChannel connection) throws IOException {
        ByteArrayOutputStream received = new ByteArrayOutputStream();
        ByteBuffer chunk = ByteBuffer.allocate(64 * 1024);
        int expected = -1;
        while (expected < 0 || received.size() < expected) {
            chunk.clear();
            int n = connection.read(chunk);
            if (n < 0) {
                throw new IOException("the plugin closed the connection after " + received.size() + " bytes");
            }
            received.write(chunk.array(), 0, n);
            String text = received.toString(StandardCharsets.ISO_8859_1);
            int headerEnd = text.indexOf("\r\n\r\n");
            if (expected < 0 && headerEnd >= 0) {
                Matcher m = CONTENT_LENGTH.matcher(text.substring(0, headerEnd));
                expected = headerEnd + 4 + (m.find() ? Integer.parseInt(m.group(1)) : 0);
            }
        }
        return received.toByteArray();
    }

    @Override
    public void close() throws IOException, InterruptedException {
        server.close();
        for (SocketChannel c : openConnections) {
            c.close();
        }
        acceptor.join(Duration.ofSeconds(10));
        Files.deleteIfExists(socket);
    }
}
