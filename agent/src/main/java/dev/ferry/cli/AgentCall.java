package dev.ferry.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.PrintWriter;

/** GETs of the agent's JSON endpoints; an answer other than 200 becomes an {@link AgentError} in its words. */
final class AgentCall {
    static final ObjectMapper JSON = new ObjectMapper();

    /** The agent said no; carries its own words. */
    static final class AgentError extends RuntimeException {
        AgentError(String message) {
            super(message);
        }
    }

    private final SocketClient client;

    AgentCall(SocketClient client) {
        this.client = client;
    }

    JsonNode get(String path) throws IOException {
        SocketClient.Response r = client.get(path);
        JsonNode body;
        try {
            body = JSON.readTree(r.body());
        } catch (IOException e) {
            throw new AgentError("the agent answered " + r.status() + " with a body that is not JSON");
        }
        if (r.status() != 200) {
            throw new AgentError(body.path("error").asText("the agent answered " + r.status()));
        }
        return body;
    }

    static int print(PrintWriter out, JsonNode node) throws IOException {
        out.println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(node));
        return 0;
    }
}
