package dev.ferry.egress;

import dev.ferry.net.IpPrefix;

/**
 * Two routes that both select some pod of this node for an overlapping
 * destination: {@code winner} serves {@code destination} for those pods.
 *
 * @param rule {@code more_specific} (the winner's prefix is longer) or {@code older} (the same prefix; the route
 *             listed first in the configuration, or created first, wins)
 */
public record Conflict(IpPrefix destination, String winner, String loser, String rule) {
    public static final String MORE_SPECIFIC = "more_specific";
    public static final String OLDER = "older";
}
