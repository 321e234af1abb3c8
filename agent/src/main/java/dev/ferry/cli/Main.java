package dev.ferry.cli;

import picocli.CommandLine;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.UnmatchedArgumentException;

import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;

/**
 * {@code ferry}: the operator's view of one node's agent, over its socket.
 * <pre>
 * ferry [--socket PATH] status [-o json]
 * ferry [--socket PATH] endpoint list [-o json]
 * ferry [--socket PATH] endpoint get CONTAINER_ID [-o json]
 * ferry [--socket PATH] datapath stats [--interval SECONDS] [-o json]
 * ferry [--socket PATH] egress list [-o json]
 * ferry [--socket PATH] mirror list [-o json]
 * ferry [--socket PATH] monitor [--pod NS/NAME] [--verdict V] [--reason R] [--sample-redirects N] [-o json]
 * ferry [--socket PATH] capture POD [-w FILE|-] [--count N] [--duration TIME] [--direction in|out|both]
 *                                 [--proto tcp|udp|icmp|icmpv6] [--peer ADDR] [--port N]
 * ferry completion
 * </pre>
 * Every command has its own {@code --help}. Exit status: 0 done, 1 the agent
 * said no or is unreachable, 2 usage.
 */
public final class Main {
    static final String DEFAULT_SOCKET = "/run/ferry/ferry.sock";

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
        CommandLine cli = commandLine();
        PrintWriter errWriter = new PrintWriter(err, true, StandardCharsets.UTF_8);
        cli.setOut(new PrintWriter(out, true, StandardCharsets.UTF_8));
        cli.setErr(errWriter);
        cli.setParameterExceptionHandler(Main::usageError);
        cli.setExecutionStrategy(Main::refuseUnmatchedThenRun);
        cli.setExecutionExceptionHandler((e, commandLine, parsed) -> {
            errWriter.println("ferry: " + describe(e, commandLine.getCommand()));
            return 1;
        });
        return cli.execute(args);
    }

    /** The command tree, with every command's usage in the same words. */
    static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new FerryCommand());
        cli.setUsageHelpAutoWidth(false);
        headings(cli);
        return cli;
    }

    private static void headings(CommandLine cli) {
        cli.getCommandSpec().usageMessage().synopsisHeading("usage: ");
        cli.getSubcommands().values().forEach(Main::headings);
    }

    /**
     * picocli lets words it does not know pass when --help is among them, and
     * then prints the help of whatever command it matched: {@code ferry anything
     * --help} answered the general usage with exit 0. An unknown word is a usage
     * error wherever it stands.
     */
    private static int refuseUnmatchedThenRun(ParseResult parsed) {
        for (ParseResult r = parsed; r != null; r = r.subcommand()) {
            if (!r.unmatched().isEmpty()) {
                throw new UnmatchedArgumentException(r.commandSpec().commandLine(), r.unmatched());
            }
        }
        return new CommandLine.RunLast().execute(parsed);
    }

    /** A usage error: what is wrong, then the usage of the command it was made in; exit 2. */
    private static int usageError(ParameterException e, String[] args) {
        CommandLine cli = e.getCommandLine();
        PrintWriter w = cli.getErr();
        w.println("ferry: " + problem(e));
        UnmatchedArgumentException.printSuggestions(e, w);
        w.print(cli.getUsageMessage());
        w.flush();
        return CommandLine.ExitCode.USAGE;
    }

    /** picocli's words, except for a word it did not match, which is named as what it is. */
    private static String problem(ParameterException e) {
        if (e instanceof UnmatchedArgumentException u && !u.getUnmatched().isEmpty()) {
            String word = u.getUnmatched().getFirst();
            if (word.startsWith("-")) {
                return "unknown option '" + word + "'";
            }
            return u.getCommandLine().getSubcommands().isEmpty()
                    ? "unexpected argument '" + word + "'"
                    : "unknown command '" + word + "'";
        }
        return e.getMessage();
    }

    private static String describe(Exception e, Object command) {
        String socket = command instanceof AgentCommand a ? a.socket().toString()
                : command instanceof CaptureCommand c && c.socket != null ? c.socket.toString() : DEFAULT_SOCKET;
        return switch (e) {
            case AgentCall.AgentError a -> a.getMessage();
            case NoSuchFileException n -> "cannot reach the agent at " + socket + ": " + n.getMessage()
                    + " (is ferry-agent running? --socket names another socket)";
            case SocketException s -> "cannot reach the agent at " + socket + ": " + s.getMessage()
                    + " (is ferry-agent running? --socket names another socket)";
            case IOException io -> "talking to the agent at " + socket + " failed: " + io.getMessage();
            default -> "internal error: " + e;
        };
    }
}
