package dev.ferry.datapath;

import java.util.ArrayList;
import java.util.List;

/**
 * Which next hop each flow hash bucket of a route takes. IPv4 flows hash into the
 * first half of the buckets and IPv6 flows into the second (a flow never changes
 * family, so each half holds next hops of its own family only; a half whose family
 * has no live next hop is empty, that family's fallback). Within a half, a
 * bucket's home is the family's hop {@code bucket % hops of the family}; while
 * its home lives it stays there, so a next hop that fails moves only its own
 * flows (each to the live hop with the fewest buckets, so the shares stay even)
 * and a restored one takes back exactly its own buckets.
 */
public final class EgressSlots {
    /** A bucket with no next hop: the route has none live (its fallback). */
    public static final int NONE = 0xff;

    private EgressSlots() {}

    /**
     * @param live which of the route's configured next hops are live, in their configured order
     * @param ipv6 which of them are IPv6 next hops
     */
    public static int[] assign(boolean[] live, boolean[] ipv6) {
        int configured = live.length;
        if (configured > MapLayouts.EGRESS_NEXTHOPS) {
            throw new IllegalArgumentException(configured + " next hops; a route takes at most " + MapLayouts.EGRESS_NEXTHOPS);
        }
        if (ipv6.length != configured) {
            throw new IllegalArgumentException(configured + " next hops but " + ipv6.length + " families");
        }
        int[] slots = new int[MapLayouts.EGRESS_SLOTS];
        for (int half = 0; half < 2; half++) {
            List<Integer> hops = new ArrayList<>();
            for (int i = 0; i < configured; i++) {
                if (ipv6[i] == (half == 1)) {
                    hops.add(i);
                }
            }
            spread(slots, half * MapLayouts.EGRESS_SLOTS_PER_FAMILY, hops, live);
        }
        return slots;
    }

    /** Fills slots[from, from + EGRESS_SLOTS_PER_FAMILY) with the live ones of {@code hops} (configured indices). */
    private static void spread(int[] slots, int from, List<Integer> hops, boolean[] live) {
        int n = hops.size();
        int[] taken = new int[n];
        for (int bucket = 0; bucket < MapLayouts.EGRESS_SLOTS_PER_FAMILY; bucket++) {
            int home = n == 0 ? 0 : bucket % n;
            if (n > 0 && live[hops.get(home)]) {
                slots[from + bucket] = hops.get(home);
                taken[home]++;
            } else {
                slots[from + bucket] = NONE;
            }
        }
        for (int bucket = 0; bucket < MapLayouts.EGRESS_SLOTS_PER_FAMILY && n > 0; bucket++) {
            if (slots[from + bucket] != NONE) {
                continue;
            }
            // An orphaned bucket goes to the live hop with the fewest so far: the shares stay even.
            int least = -1;
            for (int hop = 0; hop < n; hop++) {
                if (live[hops.get(hop)] && (least < 0 || taken[hop] < taken[least])) {
                    least = hop;
                }
            }
            if (least < 0) {
                break; // none live: every bucket of the half stays NONE, the family's fallback
            }
            slots[from + bucket] = hops.get(least);
            taken[least]++;
        }
    }
}
