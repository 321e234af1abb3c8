package dev.ferry.capture;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** A filter as {@code ferry mirror list} shows it: in the words it was given in, defaults left out. */
class FilterWordsTest {

    @Test
    void aFilterThatTakesEveryPacketIsAll() {
        assertEquals("all", CaptureRequest.Filter.ANY.words());
        assertEquals("all", CaptureRequest.Filter.parse("both", null, null, null).words());
    }

    @Test
    void eachWordGivenIsShownInLowerCaseInTheCliOrder() {
        CaptureRequest.Filter filter = CaptureRequest.Filter.parse("IN", "TCP", "10.248.3.9", "8080");

        assertEquals("direction in proto tcp peer 10.248.3.9 port 8080", filter.words());
    }

    @Test
    void theWordsParseBackToTheSameFilter() {
        for (String[] given : new String[][] {{"out", "icmpv6", "fd00::9", null}, {null, "udp", null, "53"}, {"in", null, null, null}}) {
            CaptureRequest.Filter filter = CaptureRequest.Filter.parse(given[0], given[1], given[2], given[3]);
            java.util.Map<String, String> words = new java.util.HashMap<>();
            String[] w = filter.words().split(" ");
            for (int i = 0; i + 1 < w.length; i += 2) {
                words.put(w[i], w[i + 1]);
            }
            assertEquals(filter, CaptureRequest.Filter.parse(words.get("direction"), words.get("proto"), words.get("peer"),
                    words.get("port")), filter.words());
        }
    }
}
