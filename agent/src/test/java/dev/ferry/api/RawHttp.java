package dev.ferry.api;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.SocketException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/** A deliberately dumb HTTP/1.1 client over a unix socket: bytes out, one response parsed by Content-Length. */
final class RawHttp implements AutoCloseable {
    record Response(int status, Map<String, String> headers, String body) {}

    private final SocketChannel channel;
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

    private RawHttp(SocketChannel channel) {
        this.channel = channel;
    }

    static RawHttp connect(Path socket) throws IOException {
        SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        channel.connect(UnixDomainSocketAddress.of(socket));
        return new RawHttp(channel);
    }

    /** One request on a fresh connection that asks to be closed after the answer. */
    static Response exchange(Path socket, String method, String path, String body) throws IOException {
        try (RawHttp http = connect(socket)) {
            return http.send(method, path, body, false);
        }
    }

    Response send(String method, String path, String body, boolean keepAlive) throws IOException {
        byte[] content = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
        String head = method + " " + path + " HTTP/1.1\r\nHost: ferry\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + content.length + "\r\n" + (keepAlive ? "" : "Connection: close\r\n") + "\r\n";
        writeRaw(head.getBytes(StandardCharsets.US_ASCII));
        writeRaw(content);
        return read();
    }

    void writeRaw(byte[] bytes) throws IOException {
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }

    /** Reads one response; fails when the server closes before it is complete. */
    Response read() throws IOException {
        while (true) {
            byte[] data = pending.toByteArray();
            int headEnd = indexOf(data, "\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            if (headEnd >= 0) {
                String[] lines = new String(data, 0, headEnd, StandardCharsets.US_ASCII).split("\r\n");
                int status = Integer.parseInt(lines[0].split(" ")[1]);
                Map<String, String> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
                for (int i = 1; i < lines.length; i++) {
                    int colon = lines[i].indexOf(':');
                    headers.put(lines[i].substring(0, colon).trim(), lines[i].substring(colon + 1).trim());
                }
                int length = Integer.parseInt(headers.getOrDefault("Content-Length", "0"));
                if (data.length >= headEnd + 4 + length) {
                    pending.reset();
                    pending.write(data, headEnd + 4 + length, data.length - headEnd - 4 - length);
                    return new Response(status, headers,
                            new String(data, headEnd + 4, length, StandardCharsets.UTF_8));
                }
            }
            ByteBuffer buffer = ByteBuffer.allocate(65536);
            int n = channel.read(buffer);
            if (n < 0) {
                throw new IOException("the server closed the connection after " + data.length + " bytes: "
                        + new String(data, StandardCharsets.UTF_8));
            }
            pending.write(buffer.array(), 0, n);
        }
    }

    /**
     * True when the server has closed its end: end of stream, or a reset, which is
     * what a unix socket reports when the server closed with our request unread.
     */
    boolean closedByServer() throws IOException {
        try {
            return channel.read(ByteBuffer.allocate(1)) < 0;
        } catch (SocketException e) {
            return e.getMessage() != null && e.getMessage().contains("reset");
        }
    }

    private static int indexOf(byte[] data, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= data.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (data[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
