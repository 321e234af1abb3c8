package dev.ferry.net;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class PrefixAggregationTest {
    private static List<IpPrefix> of(String... cidrs) {
        return PrefixAggregation.of(List.of(cidrs).stream().map(IpPrefix::parse).toList());
    }

    private static List<String> text(List<IpPrefix> prefixes) {
        return prefixes.stream().map(IpPrefix::toString).toList();
    }

    @Test
    void twoHalvesBecomeTheirParent() {
        assertEquals(List.of("10.244.0.0/23"), text(of("10.244.1.0/24", "10.244.0.0/24")));
    }

    @Test
    void neighboursThatAreNotHalvesOfOnePrefixStayApart() {
        assertEquals(List.of("10.244.1.0/24", "10.244.2.0/24"), text(of("10.244.1.0/24", "10.244.2.0/24")));
    }

    @Test
    void aPrefixInsideAnotherGoes() {
        assertEquals(List.of("10.244.0.0/16"), text(of("10.244.7.0/24", "10.244.0.0/16", "10.244.200.0/24")));
    }

    @Test
    void aThousandNodeCidrsFromOneRangeFoldIntoAFew() {
        List<IpPrefix> nodes = new ArrayList<>();
        for (int i = 0; i < 1500; i++) {
            nodes.add(IpPrefix.parse("10." + (64 + i / 256) + "." + (i % 256) + ".0/24"));
        }
        // 1500 = 1024 + 256 + 128 + 64 + 16 + 8 + 4: one prefix per bit.
        assertEquals(List.of("10.64.0.0/14", "10.68.0.0/16", "10.69.0.0/17", "10.69.128.0/18", "10.69.192.0/20",
                "10.69.208.0/21", "10.69.216.0/22"), text(PrefixAggregation.of(nodes)));
    }

    @Test
    void mergesCascadeAndFamiliesStaySeparate() {
        assertEquals(List.of("10.0.0.0/22", "fd00::/63"),
                text(of("fd00:0:0:1::/64", "10.0.3.0/24", "10.0.2.0/24", "fd00::/64", "10.0.0.0/23")));
    }
}
