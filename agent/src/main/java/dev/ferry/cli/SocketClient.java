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
 * One HTTP/1.1 GET over the agent's unix socket, {@code Connection: close}, the
 * way ferry-cni talks to it. Small on purpose: the CLI needs no HTTP client
 * library for three read-only endpoints.
 */
final class SocketClient {
    /** Status and body of an answer. */
    record Response(int status, String body) {
    }

    private final Path socket;

    SocketClient(Path socket) {
        this.socket = socket;
    }

    Path socket() {
        return socket;
    }

    Response get(String path) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            String request = "GET " + path + " HTTP/1.1\r\nHost: ferry\r\nAccept: application/json\r\nConnection: close\r\n\r\n";
            ch.write(ByteBuffer.wrap(request.getBytes(StandardCharsets.US_ASCII)));
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
