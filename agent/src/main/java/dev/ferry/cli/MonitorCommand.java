package dev.ferry.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;

/** {@code ferry monitor}: the datapath's decisions, live, one line each, until Ctrl-C. */
@Command(name = "monitor", mixinStandardHelpOptions = true,
        description = {"The datapath's decisions as they happen, one line each, until Ctrl-C:",
                "every drop; every pass but the expected high-volume ones (outside_cluster,",
                "nat_flow, not_local_endpoint, not_ip, ipv6, stack_only); redirects when",
                "sampled. Beyond 1000 events a second per CPU the rest are suppressed and",
                "counted: a '--' line says how many. With -o json, the agent's JSON lines."})
final class MonitorCommand extends AgentCommand {
    @Option(names = "--pod", paramLabel = "NS/NAME", description = "only this pod's packets (sent or received)")
    String pod;

    @Option(names = "--verdict", paramLabel = "VERDICT", description = "only this verdict: drop, pass, redirect_peer, redirect_neigh")
    String verdict;

    @Option(names = "--reason", paramLabel = "REASON", description = "only this reason, as `ferry datapath stats` names them")
    String reason;

    @Option(names = "--sample-redirects", paramLabel = "N", defaultValue = "0",
            description = "report one redirect in N (per CPU); 0, the default, reports none")
    int sampleRedirects;

    @Override
    public Integer call() throws IOException {
        ObjectNode filter = AgentCall.JSON.createObjectNode();
        if (pod != null) {
            filter.put("pod", pod);
        }
        if (verdict != null) {
            filter.put("verdict", verdict);
        }
        if (reason != null) {
            filter.put("reason", reason);
        }
        filter.put("sampleRedirects", sampleRedirects);
        PrintWriter out = out();
        PrintWriter err = spec.commandLine().getErr();
        SocketClient.Response r = new SocketClient(socket()).stream("/v1/monitor",
                AgentCall.JSON.writeValueAsString(filter), line -> {
                    if (json()) {
                        out.println(line);
                        return;
                    }
                    JsonNode n = AgentCall.JSON.readTree(line);
                    switch (n.path("type").asText()) {
                        case "attached" -> err.println("ferry: monitoring" + (pod == null ? "" : " " + pod)
                                + " (Ctrl-C to stop)");
                        case "event" -> out.println(text(n));
                        case "missed" -> out.println("-- since start: " + n.path("suppressed").asLong()
                                + " events suppressed by the rate limit, " + n.path("lost").asLong()
                                + " lost (ring buffer full), " + n.path("dropped").asLong() + " not sent (this client too slow)");
                        case "ended" -> err.println("ferry: the agent ended the monitor: " + n.path("reason").asText());
                        default -> { } // a newer agent's line this CLI does not know
                    }
                });
        if (r.status() != 200) {
            JsonNode body;
            try {
                body = AgentCall.JSON.readTree(r.body());
            } catch (IOException e) {
                throw new AgentCall.AgentError("the agent answered " + r.status());
            }
            throw new AgentCall.AgentError(body.path("error").asText("the agent answered " + r.status()));
        }
        return 0;
    }

    /** {@code TIME VERDICT REASON DIRECTION PROTO SRC -> DST [from POD] [to POD] len N if I}. */
    static String text(JsonNode n) {
        StringBuilder b = new StringBuilder()
                .append(n.path("time").asText()).append(' ')
                .append(n.path("verdict").asText()).append(' ')
                .append(n.path("reason").asText()).append(' ')
                .append(n.path("direction").asText()).append(' ')
                .append(n.path("protocol").asText()).append(' ')
                .append(endpoint(n, "source", "sourcePort")).append(" -> ")
                .append(endpoint(n, "destination", "destinationPort"));
        if (n.has("sourcePod")) {
            b.append(" from ").append(n.path("sourcePod").asText());
        }
        if (n.has("destinationPod")) {
            b.append(" to ").append(n.path("destinationPod").asText());
        }
        return b.append(" len ").append(n.path("length").asInt())
                .append(" if ").append(n.path("ifindex").asInt()).toString();
    }

    private static String endpoint(JsonNode n, String address, String port) {
        if (!n.has(address)) {
            return "-";
        }
        String a = n.path(address).asText();
        if (!n.has(port)) {
            return a;
        }
        return (a.contains(":") ? "[" + a + "]" : a) + ":" + n.path(port).asInt();
    }
}
