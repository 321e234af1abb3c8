package dev.ferry.datapath;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EgressSlotsTest {
    private static final int HALF = MapLayouts.EGRESS_SLOTS_PER_FAMILY;

    private static int[] ipv4Half(int[] slots) {
        return Arrays.copyOfRange(slots, 0, HALF);
    }

    private static int[] ipv6Half(int[] slots) {
        return Arrays.copyOfRange(slots, HALF, 2 * HALF);
    }

    @Test
    void everyLiveNextHopGetsAnEqualShareOfItsFamilysBuckets() {
        int[] slots = EgressSlots.assign(new boolean[]{true, true}, new boolean[]{false, false});
        assertEquals(16, Arrays.stream(ipv4Half(slots)).filter(s -> s == 0).count());
        assertEquals(16, Arrays.stream(ipv4Half(slots)).filter(s -> s == 1).count());
    }

    @Test
    void aRouteOfOneFamilyLeavesTheOtherFamilysBucketsEmpty() {
        int[] ipv4Only = EgressSlots.assign(new boolean[]{true, true}, new boolean[]{false, false});
        int[] ipv6Only = EgressSlots.assign(new boolean[]{true, true}, new boolean[]{true, true});
        assertTrue(Arrays.stream(ipv6Half(ipv4Only)).allMatch(s -> s == EgressSlots.NONE));
        assertTrue(Arrays.stream(ipv4Half(ipv6Only)).allMatch(s -> s == EgressSlots.NONE));
        assertEquals(16, Arrays.stream(ipv6Half(ipv6Only)).filter(s -> s == 1).count());
    }

    @Test
    void eachFamilysBucketsTakeOnlyThatFamilysNextHops() {
        // Configured: IPv4, IPv6, IPv4, IPv6.
        int[] slots = EgressSlots.assign(new boolean[]{true, true, true, true}, new boolean[]{false, true, false, true});
        assertTrue(Arrays.stream(ipv4Half(slots)).allMatch(s -> s == 0 || s == 2), Arrays.toString(slots));
        assertTrue(Arrays.stream(ipv6Half(slots)).allMatch(s -> s == 1 || s == 3), Arrays.toString(slots));
        assertEquals(16, Arrays.stream(ipv6Half(slots)).filter(s -> s == 3).count());
    }

    @Test
    void aFamilyWithoutALiveNextHopHasNoBucketsWhileTheOtherKeepsItsOwn() {
        int[] slots = EgressSlots.assign(new boolean[]{true, false}, new boolean[]{false, true});
        assertTrue(Arrays.stream(ipv4Half(slots)).allMatch(s -> s == 0));
        assertTrue(Arrays.stream(ipv6Half(slots)).allMatch(s -> s == EgressSlots.NONE));
    }

    @Test
    void aDeadNextHopsBucketsGoToTheLiveOnesAndNoOtherBucketMoves() {
        boolean[] v6 = {true, true, true};
        int[] all = EgressSlots.assign(new boolean[]{true, true, true}, v6);
        int[] oneDown = EgressSlots.assign(new boolean[]{true, false, true}, v6);
        for (int b = HALF; b < all.length; b++) {
            if (all[b] != 1) {
                assertEquals(all[b], oneDown[b], "bucket " + b + " of a live hop stays");
            } else {
                assertTrue(oneDown[b] == 0 || oneDown[b] == 2, "bucket " + b + " moves to a live hop");
            }
        }
        long toZero = Arrays.stream(ipv6Half(oneDown)).filter(s -> s == 0).count();
        long toTwo = Arrays.stream(ipv6Half(oneDown)).filter(s -> s == 2).count();
        assertTrue(Math.abs(toZero - toTwo) <= 1, toZero + " vs " + toTwo);
    }

    @Test
    void noLiveNextHopLeavesEveryBucketEmpty() {
        assertTrue(Arrays.stream(EgressSlots.assign(new boolean[]{false, false}, new boolean[]{false, true}))
                .allMatch(s -> s == EgressSlots.NONE));
        assertTrue(Arrays.stream(EgressSlots.assign(new boolean[]{}, new boolean[]{})).allMatch(s -> s == EgressSlots.NONE));
    }
}
