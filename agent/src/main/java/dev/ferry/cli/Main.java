package dev.ferry.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.PrintStream;
import java.net.SocketException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code ferry}: the operator's view of one node's agent, over its socket.
 * <pre>
 * ferry [--socket PATH] status
 * ferry [--socket PATH] endpoint list [-o json]
 * ferry [--socket PATH] endpoint get CONTAINER_ID [-o json]
 * ferry [--socket PATH] datapath stats [--interval SECONDS] [-o json]
 * </pre>
 * Exit status: 0 done, 1 the agent said no or is unreachable, 2 usage.
 */
public final class Main {
    static final String DEFAULT_SOCKET = "/run/ferry/ferry.sock";
    private static final ObjectMapper JSON = new ObjectMapper();

    static final String USAGE = """
            usage: ferry [--socket PATH] COMMAND [-o json]
              status                                 the agent: node, mode, attach, readiness, IPAM, uplinks,
                                                     peers, kernel features (TCX, BTF, BPF JIT)
              endpoint list                          every pod endpoint on this node
              endpoint get CONTAINER_ID              one endpoint
              datapath stats [--interval SECONDS]    packets and bytes by direction, verdict and reason;
                                                     with --interval, the rates between two reads
            options:
              --socket PATH   the agent socket (default /run/ferry/ferry.sock)
              -o json         JSON instead of a table
            """;

    private final PrintStream out;
    private final PrintStream err;

    public Main(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    public static void main(String[] args) {
        System.exit(new Main(System.out, System.err).run(args));
    }

    public int run(String[] args) {
        Path socket = Path.of(DEFAULT_SOCKET);
        boolean json = false;
        Duration interval = null;
        List<String> words = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--socket" -> {
                    if (++i == args.length) {
                        return usage("--socket needs a path");
                    }
                    socket = Path.of(args[i]);
                }
                case "-o", "--output" -> {
                    if (++i == args.length || !args[i].equals("json")) {
                        return usage("-o takes one value: json");
                    }
                    json = true;
                }
                case "--interval" -> {
                    if (++i == args.length) {
                        return usage("--interval needs seconds");
                    }
                    try {
                        interval = Duration.ofMillis((long) (Double.parseDouble(args[i]) * 1000));
                    } catch (NumberFormatException e) {
                        return usage("--interval: not a number: " + args[i]);
                    }
                    if (interval.isNegative() || interval.isZero()) {
                        return usage("--interval must be positive");
                    }
                }
                case "-h", "--help", "help" -> {
                    out.print(USAGE);
                    return 0;
                }
                default -> words.add(args[i]);
            }
        }
        SocketClient client = new SocketClient(socket);
        try {
            return switch (String.join(" ", words.subList(0, Math.min(2, words.size())))) {
                case "status" -> words.size() == 1 ? status(client, json) : usage("status takes no argument");
                case "endpoint list" -> words.size() == 2 ? endpoints(client, "/v1/endpoints", json) : usage("endpoint list takes no argument");
                case "endpoint get" -> words.size() == 3 ? endpoints(client, "/v1/endpoints/" + words.get(2), json)
                        : usage("endpoint get needs one CONTAINER_ID");
                case "datapath stats" -> words.size() == 2 ? stats(client, json, interval) : usage("datapath stats takes no argument");
                default -> usage(words.isEmpty() ? "no command" : "unknown command: " + String.join(" ", words));
            };
        } catch (NoSuchFileException | SocketException e) {
            err.println("ferry: cannot reach the agent at " + socket + ": " + e.getMessage()
                    + " (is ferry-agent running? --socket names another socket)");
            return 1;
        } catch (IOException e) {
            err.println("ferry: talking to the agent at " + socket + " failed: " + e.getMessage());
            return 1;
        } catch (AgentError e) {
            err.println("ferry: " + e.getMessage());
            return 1;
        }
    }

    private int status(SocketClient client, boolean json) throws IOException {
        JsonNode s = get(client, "/v1/status");
        if (json) {
            return print(s);
        }
        Table t = new Table("FIELD", "VALUE");
        t.row("node", s.path("nodeName").asText());
        t.row("mode", s.path("mode").asText());
        t.row("attach", s.path("attach").asText() + " uplinks, " + s.path("podAttach").asText() + " pods");
        t.row("ready", s.path("ready").asBoolean() ? "yes" : "no: " + s.path("notReadyReason").asText());
        t.row("pod CIDR", s.path("podCIDR").asText());
        t.row("addresses", s.path("ipam").path("used").asInt() + " of " + s.path("ipam").path("capacity").asInt() + " in use");
        t.row("endpoints", s.path("endpoints").asText());
        // Files the agent could not read wait in stateDir/quarantine for an operator (docs/operations.md).
        s.path("quarantined").forEach(q -> t.row("quarantined", q.asText()));
        JsonNode k = s.path("kernel");
        t.row("kernel", k.path("release").asText() + " (TCX " + yesNo(k.path("tcx")) + ", BTF " + yesNo(k.path("btf"))
                + ", BPF JIT " + k.path("jit").asText() + ")");
        // A fix the kernel lacks (or may lack) changes what the datapath does: say so where operators look first.
        k.path("fixes").forEach(f -> {
            if (!"NOT_AFFECTED".equals(f.path("status").asText())) {
                t.row("kernel issue", f.path("name").asText() + ": " + f.path("status").asText().toLowerCase(java.util.Locale.ROOT)
                        + " (" + f.path("basis").asText() + "): " + f.path("effect").asText());
            }
        });
        List<String> uplinks = new ArrayList<>();
        s.path("uplinks").forEach(u -> uplinks.add(u.path("name").asText() + " (ifindex " + u.path("ifindex").asInt()
                + ", mtu " + u.path("mtu").asInt() + ")"));
        t.row("uplinks", String.join(", ", uplinks));
        List<String> cidrs = new ArrayList<>();
        s.path("clusterCIDRs").forEach(c -> cidrs.add(c.asText()));
        t.row("cluster CIDRs", String.join(", ", cidrs));
        s.path("peers").forEach(p -> {
            List<String> pc = new ArrayList<>();
            p.path("podCIDRs").forEach(c -> pc.add(c.asText()));
            t.row("peer " + p.path("name").asText(), p.path("address").asText() + " -> " + String.join(", ", pc));
        });
        t.row("version", s.path("version").asText());
        t.print(out);
        return 0;
    }

    private static String yesNo(JsonNode b) {
        return b.asBoolean() ? "yes" : "no";
    }

    private int endpoints(SocketClient client, String path, boolean json) throws IOException {
        JsonNode e = get(client, path);
        if (json) {
            return print(e);
        }
        Table t = new Table("CONTAINER", "IFNAME", "POD", "ADDRESS", "HOST VETH", "IFINDEX", "ID");
        e.path("endpoints").forEach(x -> t.row(
                x.path("containerId").asText(),
                x.path("ifname").asText(),
                x.path("podName").isTextual() ? x.path("podNamespace").asText("") + "/" + x.path("podName").asText() : "-",
                x.path("address").asText(),
                x.path("hostIfname").asText(),
                x.path("hostIfindex").asText(),
                x.path("endpointId").asText()));
        t.print(out);
        return 0;
    }

    private int stats(SocketClient client, boolean json, Duration interval) throws IOException {
        JsonNode first = get(client, "/v1/datapath/stats");
        if (interval == null) {
            if (json) {
                return print(first);
            }
            Table t = new Table("DIRECTION", "VERDICT", "REASON", "PACKETS", "BYTES");
            first.path("counters").forEach(c -> t.row(c.path("direction").asText(), c.path("verdict").asText(),
                    c.path("reason").asText(), c.path("packets").asText(), c.path("bytes").asText()));
            t.print(out);
            return 0;
        }
        try {
            Thread.sleep(interval);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
        JsonNode second = get(client, "/v1/datapath/stats");
        Map<String, JsonNode> before = new HashMap<>();
        first.path("counters").forEach(c -> before.put(key(c), c));
        double seconds = interval.toMillis() / 1000.0;
        var rates = JSON.createArrayNode();
        second.path("counters").forEach(c -> {
            JsonNode b = before.get(key(c));
            long packets = c.path("packets").asLong() - (b == null ? 0 : b.path("packets").asLong());
            long bytes = c.path("bytes").asLong() - (b == null ? 0 : b.path("bytes").asLong());
            rates.addObject().put("direction", c.path("direction").asText()).put("verdict", c.path("verdict").asText())
                    .put("reason", c.path("reason").asText())
                    .put("packetsPerSecond", packets / seconds).put("bytesPerSecond", bytes / seconds);
        });
        if (json) {
            var o = JSON.createObjectNode();
            o.put("intervalSeconds", seconds);
            o.set("rates", rates);
            return print(o);
        }
        Table t = new Table("DIRECTION", "VERDICT", "REASON", "PACKETS/S", "BYTES/S");
        rates.forEach(r -> t.row(r.path("direction").asText(), r.path("verdict").asText(), r.path("reason").asText(),
                String.format("%.1f", r.path("packetsPerSecond").asDouble()), String.format("%.1f", r.path("bytesPerSecond").asDouble())));
        t.print(out);
        return 0;
    }

    private static String key(JsonNode c) {
        return c.path("direction").asText() + "/" + c.path("verdict").asText() + "/" + c.path("reason").asText();
    }

    /** Raised for a non-200 answer; carries the agent's own words. */
    private static final class AgentError extends RuntimeException {
        AgentError(String message) {
            super(message);
        }
    }

    private static JsonNode get(SocketClient client, String path) throws IOException {
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

    private int print(JsonNode node) throws IOException {
        out.println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(node));
        return 0;
    }

    private int usage(String problem) {
        err.println("ferry: " + problem);
        err.print(USAGE);
        return 2;
    }
}
