package dev.ferry.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.IOException;

/** {@code ferry endpoint list|get}: the pod endpoints of this node. */
@Command(name = "endpoint", mixinStandardHelpOptions = true, description = "The pod endpoints on this node.",
        subcommands = {EndpointCommand.List.class, EndpointCommand.Get.class})
final class EndpointCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "endpoint needs a command: list or get");
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Every pod endpoint on this node.")
    static final class List extends AgentCommand {
        @Override
        public Integer call() throws IOException {
            return show(this, "/v1/endpoints");
        }
    }

    @Command(name = "get", mixinStandardHelpOptions = true, description = "One endpoint, by its container id.")
    static final class Get extends AgentCommand {
        @Parameters(paramLabel = "CONTAINER_ID", description = "the runtime's container id (CNI_CONTAINERID)")
        String containerId;

        @Override
        public Integer call() throws IOException {
            return show(this, "/v1/endpoints/" + containerId);
        }
    }

    private static int show(AgentCommand command, String path) throws IOException {
        JsonNode e = command.agent().get(path);
        if (command.json()) {
            return AgentCall.print(command.out(), e);
        }
        Table t = new Table("CONTAINER", "IFNAME", "POD", "ADDRESS", "HOST VETH", "IFINDEX", "ID");
        e.path("endpoints").forEach(x -> t.row(
                x.path("containerId").asText(),
                x.path("ifname").asText(),
                x.path("podName").isTextual() ? x.path("podNamespace").asText("") + "/" + x.path("podName").asText() : "-",
                // A dual-stack pod's IPv6 address beside its IPv4 one: one row per pod, as ip addr would list both.
                x.path("address").asText() + (x.path("address6").isTextual() ? "," + x.path("address6").asText() : ""),
                x.path("hostIfname").asText(),
                x.path("hostIfindex").asText(),
                x.path("endpointId").asText()));
        t.print(command.out());
        return 0;
    }
}
