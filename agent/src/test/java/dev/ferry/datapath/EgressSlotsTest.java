package dev.ferry.datapath;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EgressSlotsTest {

    @Test
    void everyLiveNextHopGetsAnEqualShareOfTheBuckets() {
        int[] slots = EgressSlots.assign(new boolean[]{true, true});
        assertEquals(32, Arrays.stream(slots).filter(s -> s == 0).count());
        assertEquals(32, Arrays.stream(slots).filter(s -> s == 1).count());
    }

    @Test
    void aDeadNextHopsBucketsGoToTheLiveOnesAndNoOtherBucketMoves() {
        int[] all = EgressSlots.assign(new boolean[]{true, true, true});
        int[] oneDown = EgressSlots.assign(new boolean[]{true, false, true});
        for (int b = 0; b < all.length; b++) {
            if (all[b] != 1) {
                assertEquals(all[b], oneDown[b], "bucket " + b + " of a live hop stays");
            } else {
                assertTrue(oneDown[b] == 0 || oneDown[b] == 2, "bucket " + b + " moves to a live hop");
            }
        }
        long toZero = Arrays.stream(oneDown).filter(s -> s == 0).count();
        long toTwo = Arrays.stream(oneDown).filter(s -> s == 2).count();
        assertTrue(Math.abs(toZero - toTwo) <= 1, toZero + " vs " + toTwo);
    }

    @Test
    void noLiveNextHopLeavesEveryBucketEmpty() {
        assertTrue(Arrays.stream(EgressSlots.assign(new boolean[]{false, false})).allMatch(s -> s == EgressSlots.NONE));
        assertTrue(Arrays.stream(EgressSlots.assign(new boolean[]{})).allMatch(s -> s == EgressSlots.NONE));
    }
}
