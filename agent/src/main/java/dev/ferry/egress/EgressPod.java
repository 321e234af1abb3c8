package dev.ferry.egress;

import java.net.InetAddress;
import java.util.Map;
import java.util.Optional;

/**
 * One address of a pod of this node, as routes select it.
 *
 * @param labels the pod's and its namespace's labels, when known (Kubernetes mode)
 */
public record EgressPod(InetAddress address, Optional<PodLabels.Labels> labels) {
    public static EgressPod unlabelled(InetAddress address) {
        return new EgressPod(address, Optional.empty());
    }

    /** For tests and for standalone mode's callers: labels of a pod in a namespace. */
    public static EgressPod labelled(InetAddress address, Map<String, String> namespace, Map<String, String> pod) {
        return new EgressPod(address, Optional.of(new PodLabels.Labels(namespace, pod)));
    }
}
