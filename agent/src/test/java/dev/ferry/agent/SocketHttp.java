package dev.ferry.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** A request on the agent socket as curl --unix-socket would send it; the answer's status and JSON body. */
final class SocketHttp {
    record Response(int status, JsonNode json) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    private SocketHttp() {}

    static Response get(Path socket, String path) throws IOException {
        return send(socket, "GET", path, "");
    }

    static Response post(Path socket, String path, String json) throws IOException {
        return send(socket, "POST", path, json);
    }

    private static Response send(Path socket, String method, String path, String body) throws IOException {
        try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            channel.connect(UnixDomainSocketAddress.of(socket));
            byte[] content = body.getBytes(StandardCharsets.UTF_8);
            String head = method + " " + path + " HTTP/1.1\r\nHost: ferry\r\nContent-Length: " + content.length
                    + "\r\nConnection: close\r\n\r\n";
            channel.write(ByteBuffer.wrap(head.getBytes(StandardCharsets.US_ASCII)));
            channel.write(ByteBuffer.wrap(content));
            InputStream in = Channels.newInputStream(channel);
            String answer = new String(in.readAllBytes(), StandardCharsets.UTF_8); // the server closes after it
            int headEnd = answer.indexOf("\r\n\r\n");
            int status = Integer.parseInt(answer.substring(answer.indexOf(' ') + 1, answer.indexOf(' ') + 4));
            return new Response(status, JSON.readTree(answer.substring(headEnd + 4)));
        }
    }
}
