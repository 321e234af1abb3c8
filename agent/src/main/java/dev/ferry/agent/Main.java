package dev.ferry.agent;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * {@code ferry-agent --config FILE}: loads the configuration, starts the agent and
 * runs until SIGTERM or SIGINT, which stop it cleanly with exit status 0. A bad
 * command line or configuration is one line on stderr and status 2; an agent
 * that cannot start is one line and status 1.
 */
public final class Main {
    private static final Logger log = LoggerFactory.getLogger(Main.class);

    /** The agent runs in the namespace it was started in: the node's (nsenter --net=... for a namespace of its own). */
    static final Path NODE_NETNS = Path.of("/proc/self/ns/net");

    static final String USAGE = """
            usage: ferry-agent --config FILE
                   ferry-agent --help

            Runs Ferry's node agent: loads the eBPF datapath, serves the CNI plugin and the
            API on the agent socket, and routes pod CIDRs to the other nodes. FILE is YAML
            with the keys nodeName, mode, podCIDRs, clusterCIDRs, uplinks, peers, socket,
            stateDir, bpffsRoot, cniConfDir, metricsAddress, attach, podAttach, masquerade, kubeconfig,
            endpointGcGracePeriod, logLevel, logLevels, cniVersion and metricsPerPod (see docs/configuration.md).
            Stop it with SIGTERM: the datapath keeps forwarding until the next agent starts.
            """;

    /** Leaves main with a status and, unless empty, one line for stderr. */
    static final class Exit extends Exception {
        final int status;

        Exit(int status, String message) {
            super(message, null, false, false);
            this.status = status;
        }
    }

    private Main() {}

    public static void main(String[] args) {
        Agent agent;
        try {
            agent = start(args, System.out);
        } catch (Exit e) {
            if (!e.getMessage().isEmpty()) {
                System.err.println("ferry-agent: " + e.getMessage());
            }
            System.exit(e.status);
            return;
        }
        // A signal runs the shutdown hooks; the agent's is the only one that matters, and halting
        // with 0 after it makes SIGTERM a clean stop (the JVM would report 143).
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            agent.close();
            Runtime.getRuntime().halt(0);
        }, "ferry-agent-shutdown"));
        awaitSignal();
    }

    /** Parses the command line, loads the configuration and starts the agent; every way out is an {@link Exit}. */
    static Agent start(String[] args, PrintStream out) throws Exit {
        Path configFile = configFile(args, out);
        AgentConfig config;
        try {
            config = AgentConfigLoader.load(configFile);
        } catch (ConfigException e) {
            throw new Exit(2, e.getMessage());
        }
        config.logLevels().apply();
        try {
            return Agent.start(config, NODE_NETNS);
        } catch (RuntimeException | LinkageError e) {
            // LinkageError: a native library that cannot be loaded fails a class's static initialiser.
            log.debug("event=agent_start_failed", e);
            throw new Exit(1, "failed to start: " + oneLine(e));
        }
    }

    static Path configFile(String[] args, PrintStream out) throws Exit {
        if (args.length == 1 && (args[0].equals("--help") || args[0].equals("-h"))) {
            out.print(USAGE);
            throw new Exit(0, "");
        }
        if (args.length == 2 && args[0].equals("--config")) {
            return Path.of(args[1]);
        }
        if (args.length == 1 && args[0].startsWith("--config=")) {
            return Path.of(args[0].substring("--config=".length()));
        }
        throw new Exit(2, (args.length == 0 ? "missing --config FILE" : "unexpected arguments: " + String.join(" ", args))
                + " (usage: ferry-agent --config FILE; see --help)");
    }

    /**
     * The message and its causes' messages, each once: what an operator reads on one
     * line. Ferry's own failures carry sentences; anything else keeps its class name,
     * which is then the most telling part.
     */
    static String oneLine(Throwable thrown) {
        Throwable e = thrown instanceof ExceptionInInitializerError && thrown.getCause() != null ? thrown.getCause() : thrown;
        boolean worded = e.getMessage() != null && (e instanceof IllegalStateException || e instanceof IllegalArgumentException
                || e instanceof UncheckedIOException || e.getClass().getName().startsWith("dev.ferry."));
        StringBuilder line = new StringBuilder(worded ? e.getMessage() : e.toString());
        for (Throwable cause = e.getCause(); cause != null && cause != cause.getCause(); cause = cause.getCause()) {
            String m = cause.getMessage();
            if (m != null && !line.toString().contains(m)) {
                line.append(": ").append(m);
            }
        }
        return line.toString().replace('\n', ' ');
    }

    private static void awaitSignal() {
        try {
            new CountDownLatch(1).await(); // the shutdown hook ends the process
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
