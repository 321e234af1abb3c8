package dev.ferry.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

@Command(name = "status", mixinStandardHelpOptions = true,
        description = "The agent: node, mode, attach, readiness, IPAM, uplinks, peers, kernel features and known issues.")
final class StatusCommand extends AgentCommand {
    @Override
    public Integer call() throws Exception {
        JsonNode s = agent().get("/v1/status");
        if (json()) {
            return AgentCall.print(out(), s);
        }
        Table t = new Table("FIELD", "VALUE");
        t.row("node", s.path("nodeName").asText());
        t.row("mode", s.path("mode").asText());
        t.row("attach", s.path("attach").asText() + " uplinks, " + s.path("podAttach").asText() + " pods");
        t.row("ready", s.path("ready").asBoolean() ? "yes" : "no: " + s.path("notReadyReason").asText());
        if (s.path("pools").size() > 1) {
            // A dual-stack node: one row per pool.
            s.path("pools").forEach(p -> {
                t.row("pod CIDR", p.path("podCIDR").asText());
                t.row("addresses", p.path("used").asInt() + " of " + p.path("capacity").asInt() + " in use");
            });
        } else {
            t.row("pod CIDR", s.path("podCIDR").asText());
            t.row("addresses", s.path("ipam").path("used").asInt() + " of " + s.path("ipam").path("capacity").asInt() + " in use");
        }
        t.row("endpoints", s.path("endpoints").asText());
        // Files the agent could not read wait in stateDir/quarantine for an operator (docs/operations.md).
        s.path("quarantined").forEach(q -> t.row("quarantined", q.asText()));
        JsonNode k = s.path("kernel");
        t.row("kernel", k.path("release").asText() + " (TCX " + yesNo(k.path("tcx")) + ", BTF " + yesNo(k.path("btf"))
                + ", BPF JIT " + k.path("jit").asText() + ")");
        // A fix the kernel lacks (or may lack) changes what the datapath does: say so where operators look first.
        k.path("fixes").forEach(f -> {
            if (!"NOT_AFFECTED".equals(f.path("status").asText())) {
                t.row("kernel issue", f.path("name").asText() + ": " + f.path("status").asText().toLowerCase(Locale.ROOT)
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
        t.print(out());
        return 0;
    }

    private static String yesNo(JsonNode b) {
        return b.asBoolean() ? "yes" : "no";
    }
}
