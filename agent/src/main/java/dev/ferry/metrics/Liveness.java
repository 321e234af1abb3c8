package dev.ferry.metrics;

import java.util.Optional;

/**
 * Whether the agent can still serve, for {@code /healthz}: the kubelet restarts
 * the agent when it fails, so it fails only for what a restart cures (the agent
 * socket stopped accepting, or its requests hang), never for a busy agent or an
 * API outage (that is readiness).
 */
@FunctionalInterface
public interface Liveness {
    Liveness LIVE = Optional::empty;

    /** Empty while the agent serves; otherwise what is stuck. */
    Optional<String> notLiveReason();
}
