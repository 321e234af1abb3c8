package dev.ferry.http;

import java.time.Duration;

/**
 * How many connections an HTTP server holds open at once, and how long one may
 * sit idle. Both guard the server's threads and file descriptors from clients
 * that connect and never finish (a slowloris, a leaked keep-alive pool).
 *
 * @param maxConnections open connections at once; the next one is closed as soon as it is accepted, and counted
 * @param idleTimeout    a connection that neither reads nor writes this long with no request outstanding is closed
 */
public record ConnectionLimits(int maxConnections, Duration idleTimeout) {
    public ConnectionLimits {
        if (maxConnections < 1) {
            throw new IllegalArgumentException("maxConnections must be at least 1, not " + maxConnections);
        }
        if (idleTimeout == null || idleTimeout.isNegative() || idleTimeout.isZero()) {
            throw new IllegalArgumentException("idleTimeout must be positive, not " + idleTimeout);
        }
    }
}
