package dev.ferry.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/** {@code ferry datapath stats}: what the BPF programs did with the packets. */
@Command(name = "datapath", mixinStandardHelpOptions = true, description = "The BPF datapath of this node.",
        subcommands = DatapathCommand.Stats.class)
final class DatapathCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "datapath needs a command: stats");
    }

    @Command(name = "stats", mixinStandardHelpOptions = true,
            description = {"Packets and bytes by family, direction, verdict and reason;",
                    "with --interval, the rates between two reads that far apart."})
    static final class Stats extends AgentCommand {
        @Option(names = "--interval", paramLabel = "SECONDS", description = "report rates over this many seconds")
        Double intervalSeconds;

        @Override
        public Integer call() throws Exception {
            if (intervalSeconds != null && !(intervalSeconds > 0)) {
                throw new ParameterException(spec.commandLine(), "--interval must be a positive number of seconds");
            }
            AgentCall agent = agent();
            JsonNode first = agent.get("/v1/datapath/stats");
            if (intervalSeconds == null) {
                if (json()) {
                    return AgentCall.print(out(), first);
                }
                Table t = new Table("FAMILY", "DIRECTION", "VERDICT", "REASON", "PACKETS", "BYTES");
                first.path("counters").forEach(c -> t.row(c.path("family").asText(), c.path("direction").asText(), c.path("verdict").asText(),
                        c.path("reason").asText(), c.path("packets").asText(), c.path("bytes").asText()));
                t.print(out());
                return 0;
            }
            Duration interval = Duration.ofMillis(Math.round(intervalSeconds * 1000));
            Thread.sleep(interval);
            JsonNode second = agent.get("/v1/datapath/stats");
            ArrayNode rates = rates(first, second, interval.toMillis() / 1000.0);
            if (json()) {
                ObjectNode o = AgentCall.JSON.createObjectNode();
                o.put("intervalSeconds", interval.toMillis() / 1000.0);
                o.set("rates", rates);
                return AgentCall.print(out(), o);
            }
            Table t = new Table("FAMILY", "DIRECTION", "VERDICT", "REASON", "PACKETS/S", "BYTES/S");
            rates.forEach(r -> t.row(r.path("family").asText(), r.path("direction").asText(), r.path("verdict").asText(), r.path("reason").asText(),
                    String.format("%.1f", r.path("packetsPerSecond").asDouble()),
                    String.format("%.1f", r.path("bytesPerSecond").asDouble())));
            t.print(out());
            return 0;
        }

        private static ArrayNode rates(JsonNode first, JsonNode second, double seconds) {
            Map<String, JsonNode> before = new HashMap<>();
            first.path("counters").forEach(c -> before.put(key(c), c));
            ArrayNode rates = AgentCall.JSON.createArrayNode();
            second.path("counters").forEach(c -> {
                JsonNode b = before.get(key(c));
                long packets = c.path("packets").asLong() - (b == null ? 0 : b.path("packets").asLong());
                long bytes = c.path("bytes").asLong() - (b == null ? 0 : b.path("bytes").asLong());
                rates.addObject().put("family", c.path("family").asText()).put("direction", c.path("direction").asText()).put("verdict", c.path("verdict").asText())
                        .put("reason", c.path("reason").asText())
                        .put("packetsPerSecond", packets / seconds).put("bytesPerSecond", bytes / seconds);
            });
            return rates;
        }

        private static String key(JsonNode c) {
            return c.path("family").asText() + "/" + c.path("direction").asText() + "/" + c.path("verdict").asText() + "/" + c.path("reason").asText();
        }
    }
}
