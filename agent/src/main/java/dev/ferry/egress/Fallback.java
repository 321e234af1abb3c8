package dev.ferry.egress;

import java.util.Locale;

/** What a route does with a packet while none of its next hops is live. */
public enum Fallback {
    /** The node's normal path: the default route, masqueraded as any packet to outside the cluster. */
    STACK,
    /** Dropped, counted: for traffic that must never leave by another way (a firewall's clients). */
    DROP;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
