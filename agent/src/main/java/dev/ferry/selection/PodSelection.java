package dev.ferry.selection;

import dev.ferry.net.IpPrefix;

import java.util.List;
import java.util.stream.Collectors;

/**
 * Which pods an egress route takes: by address (standalone mode's
 * {@code sources}) or by labels (an EgressRoute object's namespace and pod
 * selectors).
 */
public sealed interface PodSelection {
    boolean selects(SelectablePod pod);

    /** Pods whose address is in one of the prefixes. */
    record SourceCidrs(List<IpPrefix> cidrs) implements PodSelection {
        public SourceCidrs {
            cidrs = List.copyOf(cidrs);
        }

        @Override
        public boolean selects(SelectablePod pod) {
            return cidrs.stream().anyMatch(c -> c.contains(pod.address()));
        }

        @Override
        public String toString() {
            return cidrs.stream().map(IpPrefix::toString).collect(Collectors.joining(","));
        }
    }

    /**
     * Pods whose labels match {@code pods}, in namespaces whose labels match
     * {@code namespaces}. A pod whose labels are not known (the runtime gave no
     * name, or the API server has not told this node of it yet) is not selected.
     */
    record Labels(LabelSelector namespaces, LabelSelector pods) implements PodSelection {
        @Override
        public boolean selects(SelectablePod pod) {
            return pod.labels().isPresent() && namespaces.matches(pod.labels().get().namespace())
                    && pods.matches(pod.labels().get().pod());
        }

        @Override
        public String toString() {
            return "namespaces: " + namespaces + "; pods: " + pods;
        }
    }
}
