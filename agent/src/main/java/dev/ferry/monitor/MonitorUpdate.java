package dev.ferry.monitor;

import dev.ferry.datapath.MonitorEvent;

import java.util.Optional;

/** What a monitor client is sent: an event, or word that some were not. */
public sealed interface MonitorUpdate {

    /**
     * One datapath decision, its endpoints named.
     *
     * @param sourcePod      the sending local pod ({@code namespace/name}, or its container id outside Kubernetes)
     * @param destinationPod the local pod it was delivered into
     */
    record Event(MonitorEvent event, Optional<String> sourcePod, Optional<String> destinationPod) implements MonitorUpdate {}

    /**
     * Totals since this client attached, sent when one of them moved.
     *
     * @param suppressed events the datapath's rate limit held back (every client's, all CPUs)
     * @param lost       events the ring buffer had no room for
     * @param dropped    events this client was too slow to take
     */
    record Missed(long suppressed, long lost, long dropped) implements MonitorUpdate {}
}
