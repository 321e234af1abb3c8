package dev.ferry.api;

import java.util.Set;

/**
 * How the agent socket admits work.
 *
 * @param maxInFlight  requests handled or queued at once, over all connections; more get a 503. Route
 *                     handlers run on a pool of this many platform threads that the server owns.
 * @param maxBodyBytes the largest request body; larger gets a 413
 * @param allowedUids  peer uids that may connect; others get a 403
 */
public record AgentSocketOptions(int maxInFlight, int maxBodyBytes, Set<Integer> allowedUids) {
    public static final int DEFAULT_MAX_IN_FLIGHT = 32;
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
    }

    /** 32 in flight, 1 MiB + 64 KiB bodies, root only. */
    public static AgentSocketOptions defaults() {
        return new AgentSocketOptions(DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_BODY_BYTES, Set.of(0));
    }
}
