package dev.ferry.datapath;

/**
 * Which next hop each flow hash bucket of a route takes. A bucket's home is
 * next hop {@code bucket % configured}; while its home lives it stays there, so a
 * next hop that fails moves only its own flows (each to the live hop with the
 * fewest buckets, so the shares stay even) and a
 * restored one takes back exactly its own buckets.
 */
public final class EgressSlots {
    /** A bucket with no next hop: the route has none live (its fallback). */
    public static final int NONE = 0xff;

    private EgressSlots() {}

    /** @param live which of the route's configured next hops are live, in their configured order */
    public static int[] assign(boolean[] live) {
        int configured = live.length;
        if (configured > MapLayouts.EGRESS_NEXTHOPS) {
            throw new IllegalArgumentException(configured + " next hops; a route takes at most " + MapLayouts.EGRESS_NEXTHOPS);
        }
        int[] slots = new int[MapLayouts.EGRESS_SLOTS];
        int[] taken = new int[configured];
        for (int bucket = 0; bucket < slots.length; bucket++) {
            int home = configured == 0 ? 0 : bucket % configured;
            if (configured > 0 && live[home]) {
                slots[bucket] = home;
                taken[home]++;
            } else {
                slots[bucket] = NONE;
            }
        }
        for (int bucket = 0; bucket < slots.length && configured > 0; bucket++) {
            if (slots[bucket] != NONE) {
                continue;
            }
            // An orphaned bucket goes to the live hop with the fewest so far: the shares stay even.
            int least = -1;
            for (int hop = 0; hop < configured; hop++) {
                if (live[hop] && (least < 0 || taken[hop] < taken[least])) {
                    least = hop;
                }
            }
            if (least < 0) {
                break; // none live: every bucket stays NONE, the route's fallback
            }
            slots[bucket] = least;
            taken[least]++;
        }
        return slots;
    }
}
