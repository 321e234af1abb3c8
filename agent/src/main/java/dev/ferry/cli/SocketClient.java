package dev.ferry.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * One HTTP/1.1 request over the agent's unix socket, {@code Connection: close},
 * the way ferry-cni talks to it. Small on purpose: the CLI needs no HTTP client
 * library for a few JSON endpoints.
 */
public final class SocketClient {
    /** Status and body of an answer. */
    public record Response(int status, String body) {
    }

    private final Path socket;

    public SocketClient(Path socket) {
        this.socket = socket;
    }

    public Response get(String path) throws IOException {
        return send("GET", path, "");
    }

    public Response post(String path, String json) throws IOException {
        return send("POST", path, json);
    }

    private Response send(String method, String path, String body) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            byte[] content = body.getBytes(StandardCharsets.UTF_8);
            String head = method + " " + path + " HTTP/1.1\r\nHost: ferry\r\nAccept: application/json\r\nContent-Length: "
                    + content.length + "\r\nConnection: close\r\n\r\n";
            ch.write(ByteBuffer.wrap(head.getBytes(StandardCharsets.US_ASCII)));
            ch.write(ByteBuffer.wrap(content));
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
            while (ch.read(buf) >= 0) {
                buf.flip();
                out.write(buf.array(), 0, buf.limit());
                buf.clear();
            }
            return parse(out.toString(StandardCharsets.UTF_8));
        }
    }

    private static Response parse(String raw) throws IOException {
        int headerEnd = raw.indexOf("\r\n\r\n");
        if (!raw.startsWith("HTTP/1.1 ") || headerEnd < 0) {
            throw new IOException("the agent answered something that is not HTTP/1.1");
        }
        int status = Integer.parseInt(raw.substring(9, 12));
        return new Response(status, raw.substring(headerEnd + 4));
    }
}
