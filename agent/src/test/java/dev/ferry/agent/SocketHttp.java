package dev.ferry.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.cli.SocketClient;

import java.io.IOException;
import java.nio.file.Path;

/** A request on the agent socket through the CLI's client; the answer's status and JSON body. */
final class SocketHttp {
    record Response(int status, JsonNode json) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    private SocketHttp() {}

    static Response get(Path socket, String path) throws IOException {
        return parsed(new SocketClient(socket).get(path));
    }

    static Response post(Path socket, String path, String json) throws IOException {
        return parsed(new SocketClient(socket).post(path, json));
    }

    private static Response parsed(SocketClient.Response r) throws IOException {
        return new Response(r.status(), JSON.readTree(r.body()));
    }
}
