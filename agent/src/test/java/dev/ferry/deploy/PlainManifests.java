package dev.ferry.deploy;

import io.fabric8.kubernetes.api.model.HasMetadata;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** deploy/'s objects, parsed strictly. */
final class PlainManifests {
    private PlainManifests() {}

    /** What `kubectl apply -f deploy/` creates. */
    static List<HasMetadata> applied() {
        return parseAll(Repo.plainManifestFiles());
    }

    /** The optional extras (ServiceMonitor, dashboard ConfigMap). */
    static List<HasMetadata> extras() {
        return parseAll(Repo.allDeployYamlFiles().stream().filter(f -> f.getParent().endsWith("extras")).toList());
    }

    static List<HasMetadata> parseAll(List<Path> files) {
        List<HasMetadata> objects = new ArrayList<>();
        for (Path f : files) {
            try {
                objects.addAll(Manifests.parse(Files.readString(f)));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (RuntimeException e) {
                throw new AssertionError(f + ": " + e.getMessage(), e);
            }
        }
        return objects;
    }
}
