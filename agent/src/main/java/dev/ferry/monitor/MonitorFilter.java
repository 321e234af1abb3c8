package dev.ferry.monitor;

import dev.ferry.datapath.MonitorEvent;
import dev.ferry.datapath.Reason;
import dev.ferry.datapath.Verdict;

import java.util.Optional;
import java.util.Set;

/**
 * What one monitor client wants to see, applied in the agent before an event
 * is written to it.
 *
 * @param endpointIds the pod's endpoint ids (sender or receiver); empty: every pod
 */
public record MonitorFilter(Set<Integer> endpointIds, Optional<Verdict> verdict, Optional<Reason> reason) {
    public static final MonitorFilter ALL = new MonitorFilter(Set.of(), Optional.empty(), Optional.empty());

    public MonitorFilter {
        endpointIds = Set.copyOf(endpointIds);
    }

    public boolean accepts(MonitorEvent e) {
        return (endpointIds.isEmpty() || endpointIds.contains(e.sourceEndpoint())
                || endpointIds.contains(e.destinationEndpoint()))
                && verdict.map(v -> v == e.verdict()).orElse(true)
                && reason.map(r -> r == e.reason()).orElse(true);
    }
}
