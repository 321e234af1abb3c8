package dev.ferry.api;

import java.time.Duration;
import java.util.Set;

/**
 * How the agent socket admits work.
 *
 * @param maxInFlight  requests handled or queued at once, over all connections; more get a 503. Route
 *                     handlers run on a pool of this many platform threads that the server owns.
 * @param maxBodyBytes the largest request body; larger gets a 413
 * @param allowedUids  peer uids that may connect; others get a 403
 * @param stuckAfter   how long every slot may stay taken with none finishing before the socket
 *                     counts as unable to serve (liveness fails and the kubelet restarts the agent)
 */
public record AgentSocketOptions(int maxInFlight, int maxBodyBytes, Set<Integer> allowedUids, Duration stuckAfter) {
    public static final int DEFAULT_MAX_IN_FLIGHT = 32;
    /**
     * Twice the longest a CNI command may wait for its container's lock (30 s):
     * a request that has not finished by then is not merely queued.
     */
    public static final Duration DEFAULT_STUCK_AFTER = Duration.ofSeconds(60);
    /** ferry-cni sends at most 1 MiB of network configuration; the margin keeps that from being a 413. */
    public static final int DEFAULT_MAX_BODY_BYTES = 1024 * 1024 + 64 * 1024;

    public AgentSocketOptions {
        if (maxInFlight < 1) {
            throw new IllegalArgumentException("maxInFlight must be at least 1, not " + maxInFlight);
        }
        if (maxBodyBytes < 0) {
            throw new IllegalArgumentException("maxBodyBytes must not be negative, not " + maxBodyBytes);
        }
        allowedUids = Set.copyOf(allowedUids);
        if (stuckAfter == null || stuckAfter.isNegative() || stuckAfter.isZero()) {
            throw new IllegalArgumentException("stuckAfter must be positive, not " + stuckAfter);
        }
    }

    /** 32 in flight, 1 MiB + 64 KiB bodies, root only. */
    public static AgentSocketOptions defaults() {
        return new AgentSocketOptions(DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_BODY_BYTES, Set.of(0), DEFAULT_STUCK_AFTER);
    }
}
