package dev.ferry.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a command for a test's set-up or probing (tests may use ip/nft; the agent never does). */
public final class Shell {
    private Shell() {}

    public record Result(int exitCode, String stdout, String stderr) {
        public boolean ok() {
            return exitCode == 0;
        }
    }

    /** Runs the command and fails with its stderr when it exits non-zero. */
    public static String run(String... command) {
        Result r = exec(command);
        if (!r.ok()) {
            throw new IllegalStateException("command failed (" + r.exitCode + "): "
                    + String.join(" ", command) + "\n" + r.stderr + r.stdout);
        }
        return r.stdout;
    }

    /** Runs the command and returns whatever happened, bounded to a minute. */
    public static Result exec(String... command) {
        try {
            Process p = new ProcessBuilder(List.of(command)).start();
            p.getOutputStream().close();
            var out = p.getInputStream().readAllBytes();
            var err = p.getErrorStream().readAllBytes();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("command timed out: " + String.join(" ", command));
            }
            return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8),
                    new String(err, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + String.join(" ", command), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
