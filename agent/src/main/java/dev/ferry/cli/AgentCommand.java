package dev.ferry.cli;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * What every command that asks the agent shares: the socket (given before or
 * after the command's name) and the output format.
 */
abstract class AgentCommand implements Callable<Integer> {
    /** How the answer is printed. */
    enum Format { table, json }

    @Spec
    CommandSpec spec;

    @Option(names = "--socket", paramLabel = "PATH", description = "the agent socket (default: " + Main.DEFAULT_SOCKET + ")")
    Path socket;

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", defaultValue = "table",
            description = "table or json (default: ${DEFAULT-VALUE})")
    Format format;

    /** This command's --socket, else the one given before the command's name, else the default. */
    Path socket() {
        if (socket != null) {
            return socket;
        }
        Path root = ((FerryCommand) spec.root().userObject()).socket;
        return root != null ? root : Path.of(Main.DEFAULT_SOCKET);
    }

    AgentCall agent() {
        return new AgentCall(new SocketClient(socket()));
    }

    boolean json() {
        return format == Format.json;
    }

    PrintWriter out() {
        return spec.commandLine().getOut();
    }
}
