package dev.ferry.cni;

import java.time.Duration;

/** Told of every CNI command the service ran: for metrics, without the CNI layer knowing about them. */
@FunctionalInterface
public interface CniObserver {
    CniObserver NONE = (command, result, latency) -> { };

    /** @param result "ok", or the CNI error code as text */
    void observed(CniCommand command, String result, Duration latency);
}
