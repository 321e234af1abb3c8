package dev.ferry.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** Runs every clean-up step even when one fails, then reports the first failure with the others suppressed. */
public final class Cleanup {
    private Cleanup() {}

    @FunctionalInterface
    public interface Step {
        void run() throws Exception;
    }

    public static void all(Step... steps) throws Exception {
        Exception first = null;
        for (Step step : steps) {
            try {
                step.run();
            } catch (Exception e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** Deletes a directory and everything below it; nothing there is fine. */
    public static void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("failed to delete " + root, e);
        }
    }
}
