package dev.ferry.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.util.ArrayList;

/** {@code ferry egress list}: the egress routes, the pods they select on this node, their next hops and health. */
@Command(name = "egress", mixinStandardHelpOptions = true, description = "Egress routes: chosen pods leave through chosen next hops.",
        subcommands = {EgressCommand.List.class})
final class EgressCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "egress needs a command: list");
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "Every egress route: one row per next hop, with the route's selected pods on this node.")
    static final class List extends AgentCommand {
        @Override
        public Integer call() throws IOException {
            JsonNode e = agent().get("/v1/egress");
            if (json()) {
                return AgentCall.print(out(), e);
            }
            Table t = new Table("ROUTE", "PODS", "DESTINATIONS", "NEXT HOP", "DEVICE", "LIVE", "NEIGHBOUR", "PACKETS", "FALLBACK");
            e.path("routes").forEach(r -> {
                java.util.List<String> pods = new ArrayList<>();
                r.path("pods").forEach(p -> pods.add(p.path("name").asText("").isEmpty()
                        ? p.path("address").asText() : p.path("name").asText() + "(" + p.path("address").asText() + ")"));
                java.util.List<String> destinations = new ArrayList<>();
                r.path("destinations").forEach(d -> destinations.add(d.asText()));
                String route = r.path("name").asText() + (r.path("masquerade").asBoolean() ? " (masquerade)" : "");
                String fallback = r.path("fallback").asText() + ":" + r.path("fallbackPackets").asText();
                boolean first = true;
                for (JsonNode h : r.path("nextHops")) {
                    t.row(first ? route : "", first ? (pods.isEmpty() ? "-" : String.join(",", pods)) : "",
                            first ? String.join(",", destinations) : "",
                            h.path("via").asText(), h.path("device").asText(), h.path("live").asBoolean() ? "yes" : "no",
                            h.path("neighbour").asText(), h.path("packets").asText(), first ? fallback : "");
                    first = false;
                }
            });
            t.print(out());
            if (!e.path("known").asBoolean(true)) {
                out().println("waiting for the API server's list of EgressRoutes; the routes pinned before stay in force");
            }
            for (JsonNode x : e.path("refused")) {
                out().println("refused: " + x.path("name").asText() + ": " + x.path("reason").asText());
            }
            for (JsonNode c : e.path("conflicts")) {
                out().println("conflict: " + c.path("destination").asText() + " goes by " + c.path("winner").asText()
                        + ", not " + c.path("loser").asText() + " (" + c.path("rule").asText().replace('_', ' ') + ")");
            }
            return 0;
        }
    }
}
