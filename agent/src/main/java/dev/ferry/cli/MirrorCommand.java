package dev.ferry.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.util.ArrayList;

/** {@code ferry mirror list}: the persistent mirrors in force on this node, those refused, and the captures running. */
@Command(name = "mirror", mixinStandardHelpOptions = true,
        description = "Persistent mirrors: chosen pods' packets copied to a device of the node.",
        subcommands = {MirrorCommand.List.class})
final class MirrorCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "mirror needs a command: list");
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "Every persistent mirror (configuration and TrafficMirror objects): its device, slot, filter,"
                    + " selector, the pods of this node it copies and the copies made; then the refused ones and the"
                    + " captures running.")
    static final class List extends AgentCommand {
        @Override
        public Integer call() throws IOException {
            JsonNode m = agent().get("/v1/mirrors");
            if (json()) {
                return AgentCall.print(out(), m);
            }
            Table t = new Table("MIRROR", "KIND", "DEVICE", "SLOT", "FILTER", "SELECTOR", "PODS", "COPIES");
            m.path("mirrors").forEach(x -> {
                java.util.List<String> pods = new ArrayList<>();
                x.path("pods").forEach(p -> {
                    java.util.List<String> addresses = new ArrayList<>();
                    p.path("addresses").forEach(a -> addresses.add(a.asText()));
                    pods.add(p.path("name").asText() + "(" + String.join(",", addresses) + ")");
                });
                String device = x.path("device").asText() + (x.path("devicePresent").asBoolean()
                        ? " (ifindex " + x.path("deviceIfindex").asText() + ")" : " (missing)");
                long failed = x.path("failedCopies").asLong();
                t.row(x.path("name").asText(), x.path("kind").asText(), device, x.path("slot").asText(),
                        x.path("filter").asText(), x.path("selector").asText(), pods.isEmpty() ? "-" : String.join(" ", pods),
                        x.path("copies").asText() + (failed == 0 ? "" : " (" + failed + " failed)"));
            });
            t.print(out());
            for (JsonNode r : m.path("refused")) {
                out().println("refused: " + r.path("name").asText() + " (" + r.path("kind").asText() + "): "
                        + r.path("reason").asText());
            }
            for (JsonNode c : m.path("captures")) {
                out().println("capture: slot " + c.path("slot").asText() + ": " + c.path("pod").asText() + " ("
                        + c.path("filter").asText() + ")");
            }
            return 0;
        }
    }
}
