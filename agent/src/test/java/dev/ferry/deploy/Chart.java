package dev.ferry.deploy;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import io.fabric8.kubernetes.api.model.HasMetadata;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * helm/ferry rendered by Helm's own engine (helm-java), as
 * `helm template ferry helm/ferry -n kube-system -f values.yaml` would.
 */
final class Chart {
    static final String NAMESPACE = "kube-system";

    private Chart() {}

    /** The rendered manifest text for a values file with {@code valuesYaml} ("" for the chart's defaults). */
    static String template(String valuesYaml) {
        Path values = null;
        try {
            values = Files.createTempFile("ferry-values-", ".yaml");
            Files.writeString(values, valuesYaml);
            return new Helm(Repo.path("helm/ferry")).template().withName("ferry").withNamespace(NAMESPACE)
                    .withValuesFile(values).call();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            delete(values);
        }
    }

    static List<HasMetadata> render(String valuesYaml) {
        return Manifests.parse(template(valuesYaml));
    }

    static List<HasMetadata> renderDefaults() {
        return render("");
    }

    static LintResult lintStrict() {
        return new Helm(Repo.path("helm/ferry")).lint().strict().call();
    }

    private static void delete(Path file) {
        if (file != null) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
