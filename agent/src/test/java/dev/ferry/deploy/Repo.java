package dev.ferry.deploy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** The repository the tests run in: its root and its files. */
final class Repo {
    private Repo() {}

    /** The directory holding helm/ferry and deploy/, found upwards from the working directory (agent/ under Maven). */
    static Path root() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.isRegularFile(dir.resolve("helm/ferry/Chart.yaml")) && Files.isDirectory(dir.resolve("deploy"))) {
                return dir;
            }
        }
        throw new IllegalStateException("no repository root (helm/ferry/Chart.yaml) above " + Path.of("").toAbsolutePath());
    }

    static Path path(String relative) {
        return root().resolve(relative);
    }

    static String read(String relative) {
        try {
            return Files.readString(path(relative), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static byte[] bytes(String relative) {
        try {
            return Files.readAllBytes(path(relative));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The files `kubectl apply -f deploy/` applies: deploy/*.yaml, not its subdirectories. */
    static List<Path> plainManifestFiles() {
        return yamlFiles(path("deploy"), 1);
    }

    /** Every YAML file under deploy/, the optional extras included. */
    static List<Path> allDeployYamlFiles() {
        return yamlFiles(path("deploy"), Integer.MAX_VALUE);
    }

    private static List<Path> yamlFiles(Path dir, int depth) {
        try (Stream<Path> files = Files.walk(dir, depth)) {
            return files.filter(f -> f.toString().endsWith(".yaml") || f.toString().endsWith(".yml")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
