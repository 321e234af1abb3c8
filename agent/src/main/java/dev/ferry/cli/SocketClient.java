package dev.ferry.cli;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
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

    /**
     * POSTs {@code json} and hands each line of a streamed (chunked) 200 answer
     * to {@code lines} as it arrives, until the agent ends the stream; any other
     * answer is returned whole without calling {@code lines}. Ends when the
     * process does (Ctrl-C), which closes the connection: the agent stops then.
     */
    public Response stream(String path, String json, LineHandler lines) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            request(ch, "POST", path, json);
            InputStream in = new BufferedInputStream(Channels.newInputStream(ch));
            String status = readLine(in);
            if (status == null || !status.startsWith("HTTP/1.1 ") || status.length() < 12) {
                throw new IOException("the agent answered something that is not HTTP/1.1");
            }
            int code = Integer.parseInt(status.substring(9, 12));
            boolean chunked = false;
            for (String header = readLine(in); header != null && !header.isEmpty(); header = readLine(in)) {
                String lower = header.toLowerCase(java.util.Locale.ROOT);
                chunked |= lower.startsWith("transfer-encoding:") && lower.contains("chunked");
            }
            if (code != 200 || !chunked) {
                return new Response(code, new String(in.readAllBytes(), StandardCharsets.UTF_8));
            }
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            while (true) {
                String size = readLine(in);
                if (size == null) {
                    // No last chunk: the agent went away (stopped, restarted) rather than ending the stream.
                    throw new IOException("the agent closed the connection");
                }
                int n;
                try {
                    n = Integer.parseInt(size.split(";", 2)[0].strip(), 16);
                } catch (NumberFormatException e) {
                    throw new IOException("the agent sent a bad chunk size '" + size + "'");
                }
                if (n == 0) {
                    break;
                }
                byte[] chunk = in.readNBytes(n);
                if (chunk.length < n) {
                    throw new IOException("the agent closed the connection");
                }
                readLine(in); // the CRLF after the chunk
                for (byte b : chunk) {
                    if (b == '\n') {
                        lines.line(line.toString(StandardCharsets.UTF_8));
                        line.reset();
                    } else {
                        line.write(b);
                    }
                }
            }
            return new Response(200, "");
        }
    }

    /** Takes one line of a streamed answer. */
    @FunctionalInterface
    public interface LineHandler {
        void line(String line) throws IOException;
    }

    /** A CRLF- (or LF-) terminated line of ASCII, without its end; null at end of stream. */
    private static String readLine(InputStream in) throws IOException {
        StringBuilder b = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0) {
            if (c == '\n') {
                int end = b.length();
                return end > 0 && b.charAt(end - 1) == '\r' ? b.substring(0, end - 1) : b.toString();
            }
            b.append((char) c);
        }
        return b.isEmpty() ? null : b.toString();
    }

    private static void request(SocketChannel ch, String method, String path, String body) throws IOException {
        byte[] content = body.getBytes(StandardCharsets.UTF_8);
        String head = method + " " + path + " HTTP/1.1\r\nHost: ferry\r\nAccept: application/json\r\nContent-Length: "
                + content.length + "\r\nConnection: close\r\n\r\n";
        ch.write(ByteBuffer.wrap(head.getBytes(StandardCharsets.US_ASCII)));
        ch.write(ByteBuffer.wrap(content));
    }

    private Response send(String method, String path, String body) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            request(ch, method, path, body);
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

    /** The head of a streamed answer, and its body as it arrives (chunked decoding done). */
    public record Stream(int status, java.util.Map<String, String> headers, java.io.InputStream body) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            body.close();
        }
    }

    /**
     * POSTs {@code json} and returns as soon as the head has arrived: the body is
     * read as the agent writes it. Closing the stream closes the connection,
     * which is how the agent learns the client is gone.
     */
    public Stream postStreaming(String path, String json) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.connect(UnixDomainSocketAddress.of(socket));
            byte[] content = json.getBytes(StandardCharsets.UTF_8);
            String head = "POST " + path + " HTTP/1.1\r\nHost: ferry\r\nContent-Type: application/json\r\nContent-Length: "
                    + content.length + "\r\nConnection: close\r\n\r\n";
            ch.write(ByteBuffer.wrap(head.getBytes(StandardCharsets.US_ASCII)));
            ch.write(ByteBuffer.wrap(content));
            java.io.InputStream in = new java.io.BufferedInputStream(java.nio.channels.Channels.newInputStream(ch), 64 * 1024);
            String status = line(in);
            if (!status.startsWith("HTTP/1.1 ") || status.length() < 12) {
                throw new IOException("the agent answered something that is not HTTP/1.1");
            }
            java.util.Map<String, String> headers = new java.util.TreeMap<>(String.CASE_INSENSITIVE_ORDER);
            for (String h = line(in); !h.isEmpty(); h = line(in)) {
                int colon = h.indexOf(':');
                if (colon > 0) {
                    headers.put(h.substring(0, colon).strip(), h.substring(colon + 1).strip());
                }
            }
            java.io.InputStream body = "chunked".equalsIgnoreCase(headers.get("Transfer-Encoding"))
                    ? new Chunked(in) : in;
            return new Stream(Integer.parseInt(status.substring(9, 12)), headers, body);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private static String line(java.io.InputStream in) throws IOException {
        StringBuilder b = new StringBuilder();
        for (int c = in.read(); c != '\n'; c = in.read()) {
            if (c < 0) {
                throw new IOException("the agent closed the connection in the middle of its answer's head");
            }
            if (c != '\r') {
                b.append((char) c);
            }
        }
        return b.toString();
    }

    /** HTTP/1.1 chunked transfer coding, decoded; ends at the last (empty) chunk. */
    private static final class Chunked extends java.io.InputStream {
        private final java.io.InputStream in;
        private long left;
        private boolean done;

        Chunked(java.io.InputStream in) {
            this.in = in;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (done) {
                return -1;
            }
            if (left == 0) {
                String size = line(in);
                int semicolon = size.indexOf(';');
                left = Long.parseLong((semicolon < 0 ? size : size.substring(0, semicolon)).strip(), 16);
                if (left == 0) {
                    done = true;
                    return -1;
                }
            }
            int n = in.read(b, off, (int) Math.min(len, left));
            if (n < 0) {
                throw new IOException("the agent closed the connection in the middle of a chunk");
            }
            left -= n;
            if (left == 0) {
                line(in); // the CRLF after the chunk
            }
            return n;
        }

        @Override
        public void close() throws IOException {
            in.close();
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
