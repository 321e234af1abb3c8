package dev.ferry.deploy;

import io.fabric8.kubernetes.api.model.HasMetadata;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** With default values, `helm install` and `kubectl apply -f deploy/` create the same objects. */
class ChartMatchesManifestsTest {
    private static final Comparator<HasMetadata> BY_KIND_AND_NAME =
            Comparator.comparing((HasMetadata o) -> o.getKind()).thenComparing(o -> o.getMetadata().getName());

    @Test
    void theChartWithDefaultValuesRendersExactlyThePlainManifests() {
        assertEquals(sorted(PlainManifests.applied()), sorted(Chart.renderDefaults()));
    }

    @Test
    void theChartsServiceMonitorAndDashboardAreThePlainExtras() {
        List<HasMetadata> rendered = Chart.render("{serviceMonitor: {enabled: true}, dashboard: {enabled: true}}");
        List<HasMetadata> plain = new ArrayList<>(PlainManifests.applied());
        plain.addAll(PlainManifests.extras());
        assertEquals(sorted(plain), sorted(rendered));
    }

    private static List<HasMetadata> sorted(List<HasMetadata> objects) {
        return objects.stream().sorted(BY_KIND_AND_NAME).toList();
    }
}
