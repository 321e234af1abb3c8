package dev.ferry.selection;

import java.util.Map;
import java.util.Optional;

/**
 * Where the labels of this node's pods and their namespaces come from: the API
 * server's caches in Kubernetes mode, nowhere in standalone mode.
 */
@FunctionalInterface
public interface PodLabels {
    PodLabels NONE = (namespace, name) -> Optional.empty();

    /** Empty when the pod or its namespace is not known (yet). */
    Optional<Labels> of(String namespace, String name);

    record Labels(Map<String, String> namespace, Map<String, String> pod) {
        public Labels {
            namespace = Map.copyOf(namespace);
            pod = Map.copyOf(pod);
        }
    }
}
