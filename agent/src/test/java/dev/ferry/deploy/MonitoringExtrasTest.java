package dev.ferry.deploy;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class MonitoringExtrasTest {
    private static final List<HasMetadata> EXTRAS = PlainManifests.extras();
    private static final DaemonSet DS = Manifests.only(PlainManifests.applied(), DaemonSet.class);

    @Test
    void theServiceMonitorScrapesTheMetricsPortOfTheAgentsService() {
        GenericKubernetesResource sm = Manifests.generic(EXTRAS, "ServiceMonitor");
        assertEquals("monitoring.coreos.com/v1", sm.getApiVersion());
        Service svc = Manifests.only(EXTRAS, Service.class);
        assertEquals(svc.getMetadata().getLabels(), sm.get("spec", "selector", "matchLabels"));
        assertEquals(List.of(svc.getMetadata().getNamespace()), sm.get("spec", "namespaceSelector", "matchNames"));
        List<Map<String, Object>> endpoints = sm.get("spec", "endpoints");
        assertEquals(1, endpoints.size());
        assertEquals("metrics", endpoints.getFirst().get("port"));
        assertEquals("/metrics", endpoints.getFirst().get("path"));
        assertEquals("metrics", svc.getSpec().getPorts().getFirst().getName());
        assertEquals("metrics", svc.getSpec().getPorts().getFirst().getTargetPort().getStrVal());
    }

    @Test
    void theMetricsServiceSelectsTheAgentPods() {
        Service svc = Manifests.only(EXTRAS, Service.class);
        assertEquals("None", svc.getSpec().getClusterIP());
        assertEquals(DS.getSpec().getSelector().getMatchLabels(), svc.getSpec().getSelector());
        assertEquals(DS.getMetadata().getNamespace(), svc.getMetadata().getNamespace());
    }

    @Test
    void theDashboardConfigMapHoldsTheDashboardByteForByteWithTheSidecarsLabel() {
        ConfigMap cm = Manifests.only(EXTRAS, ConfigMap.class);
        assertEquals("1", cm.getMetadata().getLabels().get("grafana_dashboard"));
        assertEquals(Repo.read("deploy/grafana/ferry-dashboard.json"), cm.getData().get("ferry-dashboard.json"));
    }

    @Test
    void theChartsDashboardIsTheSourceOfTruthByteForByte() {
        ConfigMap cm = Chart.render("dashboard: {enabled: true}").stream()
                .filter(o -> o.getMetadata().getName().equals("ferry-grafana-dashboard"))
                .map(ConfigMap.class::cast).findFirst().orElseThrow();
        assertEquals(new String(Repo.bytes("deploy/grafana/ferry-dashboard.json"), StandardCharsets.UTF_8),
                cm.getData().get("ferry-dashboard.json"));
    }
}
