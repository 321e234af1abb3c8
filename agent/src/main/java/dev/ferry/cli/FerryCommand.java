package dev.ferry.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.nio.file.Path;

/** The root: names the commands; on its own it is a usage error. */
@Command(name = "ferry", mixinStandardHelpOptions = true, versionProvider = FerryCommand.Version.class,
        description = "The operator's view of this node's Ferry agent, over its socket.",
        subcommands = {StatusCommand.class, EndpointCommand.class, DatapathCommand.class, MonitorCommand.class, EgressCommand.class, MirrorCommand.class,
                CaptureCommand.class,
                CompletionCommand.class},
        footer = {"", "Exit status: 0 done, 1 the agent said no or is unreachable, 2 usage."})
final class FerryCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Option(names = "--socket", paramLabel = "PATH", description = "the agent socket (default: " + Main.DEFAULT_SOCKET + ")")
    Path socket;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "no command given");
    }

    /** The version the jar was built as. */
    static final class Version implements picocli.CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = FerryCommand.class.getPackage().getImplementationVersion();
            return new String[] {"ferry " + (v == null ? "(development build)" : v)};
        }
    }
}
