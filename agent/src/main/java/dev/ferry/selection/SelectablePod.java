package dev.ferry.selection;

import java.net.InetAddress;
import java.util.Map;
import java.util.Optional;

/**
 * One address of a pod of this node, as egress routes and mirrors select it.
 *
 * @param labels the pod's and its namespace's labels, when known (Kubernetes mode)
 */
public record SelectablePod(InetAddress address, Optional<PodLabels.Labels> labels) {
    public static SelectablePod unlabelled(InetAddress address) {
        return new SelectablePod(address, Optional.empty());
    }

    /** For tests and for standalone mode's callers: labels of a pod in a namespace. */
    public static SelectablePod labelled(InetAddress address, Map<String, String> namespace, Map<String, String> pod) {
        return new SelectablePod(address, Optional.of(new PodLabels.Labels(namespace, pod)));
    }
}
