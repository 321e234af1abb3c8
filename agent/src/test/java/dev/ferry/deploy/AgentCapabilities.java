package dev.ferry.deploy;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;

import java.util.List;
import java.util.Set;

/**
 * The capabilities the agent container adds, read from the manifests themselves:
 * the one list that DaemonSetTest pins, the chart must render, and
 * LeastPrivilegeIT runs the real agent with.
 */
final class AgentCapabilities {
    private AgentCapabilities() {}

    /** deploy/daemonset.yaml's, as Kubernetes spells them (NET_ADMIN, ...). */
    static List<String> ofPlainManifests() {
        return of(PlainManifests.applied());
    }

    static List<String> of(List<HasMetadata> objects) {
        DaemonSet ds = Manifests.only(objects, DaemonSet.class);
        Container agent = ds.getSpec().getTemplate().getSpec().getContainers().stream()
                .filter(c -> c.getName().equals("agent")).findFirst().orElseThrow();
        List<String> add = agent.getSecurityContext().getCapabilities().getAdd();
        if (Set.copyOf(add).size() != add.size()) {
            throw new AssertionError("a capability is added twice: " + add);
        }
        return List.copyOf(add);
    }
}
