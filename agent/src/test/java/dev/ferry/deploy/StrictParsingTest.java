package dev.ferry.deploy;

import io.fabric8.kubernetes.api.model.HasMetadata;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StrictParsingTest {
    private static final String DAEMONSET_WITH_TYPO = """
            apiVersion: apps/v1
            kind: DaemonSet
            metadata: {name: x}
            spec:
              selector: {matchLabels: {a: b}}
              template:
                metadata: {labels: {a: b}}
                spec:
                  hostNetwrok: true
                  containers: [{name: c, image: i}]
            """;

    @Test
    void aMisspelledFieldIsRejectedNamingWhereItIs() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Manifests.parse(DAEMONSET_WITH_TYPO));
        assertTrue(e.getMessage().contains("hostNetwrok"), e.getMessage());
        assertTrue(e.getMessage().contains("DaemonSet/x.spec.template.spec"), e.getMessage());
    }

    @Test
    void aMisspelledFieldDeepInAContainerIsRejected() {
        String yaml = DAEMONSET_WITH_TYPO.replace("hostNetwrok: true", "hostNetwork: true")
                .replace("{name: c, image: i}", "{name: c, image: i, securityContext: {capabilites: {add: [BPF]}}}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Manifests.parse(yaml));
        assertTrue(e.getMessage().contains("capabilites"), e.getMessage());
    }

    @Test
    void everyYamlFileInDeployParsesStrictly() {
        List<Path> files = Repo.allDeployYamlFiles();
        assertTrue(files.size() >= 7, "deploy/ YAML files: " + files);
        List<HasMetadata> objects = PlainManifests.parseAll(files);
        assertEquals(List.of("ClusterRole", "ClusterRoleBinding", "ConfigMap", "ConfigMap", "CustomResourceDefinition", "CustomResourceDefinition", "DaemonSet", "Service",
                        "ServiceAccount", "ServiceMonitor"),
                objects.stream().map(HasMetadata::getKind).sorted().toList());
    }

    @Test
    void everyObjectTheChartRendersParsesStrictly() {
        List<HasMetadata> objects = Chart.render("{serviceMonitor: {enabled: true}, dashboard: {enabled: true}}");
        assertEquals(8, objects.size(), objects.stream().map(HasMetadata::getKind).toList().toString());
        assertFalse(objects.stream().anyMatch(o -> o.getMetadata().getName() == null));
    }
}
