package dev.ferry.masquerade;

import dev.ferry.netns.NetNamespace;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs {@code nft -f -} with a ruleset on stdin: one transaction, applied whole or not
 * at all. Exec'ing nft is acceptable here because it runs at start and at reconcile,
 * never on the CNI ADD path; libnftables through FFM would save a fork for no gain.
 *
 * <p>The process is started from a thread inside the node's namespace (see
 * {@link NetNamespace#call}): a child inherits the namespace of the thread that
 * forks it, so nft sees the node's tables without nsenter.
 */
final class Nft {
    static final String PACKAGE_HINT = "install the nftables package (Debian/Ubuntu: apt-get install nftables)";
    private static final List<String> SBIN_DIRS = List.of("/usr/sbin", "/sbin", "/usr/local/sbin");
    private static final long TIMEOUT_SECONDS = 30;

    private final String program;

    /** program: "nft" to search PATH and the sbin directories, or a path. */
    Nft(String program) {
        this.program = program;
    }

    void run(NetNamespace netns, String ruleset) {
        Path binary = resolve();
        Process process;
        try {
            process = netns.call(() -> new ProcessBuilder(binary.toString(), "-f", "-").start());
        } catch (InterruptedException e) {
            // The writer is being closed (the agent stops) while it was about to write.
            Thread.currentThread().interrupt();
            throw new MasqueradeException("interrupted before nft ran (the agent is stopping)", e);
        } catch (Exception e) {
            throw new MasqueradeException("failed to run '" + binary + "' in network namespace '" + netns.path()
                    + "': " + e, e);
        }
        try {
            CompletableFuture<byte[]> stderr = CompletableFuture.supplyAsync(() -> readAll(process, true));
            CompletableFuture<byte[]> stdout = CompletableFuture.supplyAsync(() -> readAll(process, false));
            IOException writeFailed = null;
            try (OutputStream in = process.getOutputStream()) {
                in.write(ruleset.getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                writeFailed = e; // nft quit before reading it all: its exit status and stderr say why
            }
            if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new MasqueradeException("nft did not finish within " + TIMEOUT_SECONDS + "s");
            }
            if (process.exitValue() != 0) {
                String err = new String(stderr.join(), StandardCharsets.UTF_8).strip();
                String out = new String(stdout.join(), StandardCharsets.UTF_8).strip();
                throw new MasqueradeException("nft rejected the ruleset for tables ip and ip6 " + NatTable.NAME
                        + " (exit " + process.exitValue() + "): "
                        + (err.isEmpty() ? out : err) + "\nruleset:\n" + ruleset);
            }
            if (writeFailed != null) {
                throw new MasqueradeException("failed to write the ruleset to nft: " + writeFailed.getMessage(),
                        writeFailed);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new MasqueradeException("interrupted while nft ran", e);
        }
    }

    private static byte[] readAll(Process process, boolean error) {
        try {
            return (error ? process.getErrorStream() : process.getInputStream()).readAllBytes();
        } catch (IOException e) {
            return ("(could not read nft's output: " + e.getMessage() + ")").getBytes(StandardCharsets.UTF_8);
        }
    }

    /** The agent may run with a PATH without the sbin directories, where Debian puts nft. */
    private Path resolve() {
        if (program.contains("/")) {
            Path p = Path.of(program);
            if (Files.isExecutable(p)) {
                return p;
            }
            throw new MasqueradeException("nft not found at '" + program + "': " + PACKAGE_HINT);
        }
        List<String> dirs = new ArrayList<>();
        String path = System.getenv("PATH");
        if (path != null) {
            dirs.addAll(List.of(path.split(":")));
        }
        dirs.addAll(SBIN_DIRS);
        for (String dir : dirs) {
            if (dir.isEmpty()) {
                continue;
            }
            Path candidate = Path.of(dir, program);
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        throw new MasqueradeException("'" + program + "' not found on PATH or in " + String.join(", ", SBIN_DIRS)
                + ": masquerade needs it; " + PACKAGE_HINT + ", or turn masquerade off");
    }
}
