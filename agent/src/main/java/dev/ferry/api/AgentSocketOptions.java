package dev.ferry.api;

import dev.ferry.http.ConnectionLimits;

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
 * @param connections  open connections at once and how long one may idle; a connection whose request is
 *                     still being handled is never idle
 */
public record AgentSocketOptions(int maxInFlight, int maxBodyBytes, Set<Integer> allowedUids, Duration stuckAfter,
                                 ConnectionLimits connections) {
    public static final int DEFAULT_MAX_IN_FLIGHT = 32;
    /**
     * Twice the longest a CNI command may wait for its container's lock (30 s):
     * a request that has not finished by then is not merely queued.
     */
    public static final Duration DEFAULT_STUCK_AFTER = Duration.ofSeconds(60);
    /** ferry-cni sends at most 1 MiB of network configuration; the margin keeps that from being a 413. */
    public static final int DEFAULT_MAX_BODY_BYTES = 1024 * 1024 + 64 * 1024;
    /**
     * Eight times the request slots: a burst of pod starts queues a few ferry-cni per slot (they get a 503
     * beyond the slots, so more waiting connections serve nobody), and each open connection holds a file
     * descriptor. Idle: ferry-cni and the CLI send one request per connection, so a minute of nothing is a
     * client that went away without closing.
     */
    public static final ConnectionLimits DEFAULT_CONNECTIONS = new ConnectionLimits(8 * DEFAULT_MAX_IN_FLIGHT,
            Duration.ofSeconds(60));

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
        if (connections == null) {
            throw new IllegalArgumentException("connections must be given");
        }
    }

    /** With the default connection cap and idle timeout. */
    public AgentSocketOptions(int maxInFlight, int maxBodyBytes, Set<Integer> allowedUids, Duration stuckAfter) {
        this(maxInFlight, maxBodyBytes, allowedUids, stuckAfter, DEFAULT_CONNECTIONS);
    }

    /** 32 in flight, 1 MiB + 64 KiB bodies, root only, 256 connections idle at most 60 s. */
    public static AgentSocketOptions defaults() {
        return new AgentSocketOptions(DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_BODY_BYTES, Set.of(0), DEFAULT_STUCK_AFTER);
    }
}
