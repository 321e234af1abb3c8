package dev.ferry.datapath;

import dev.ferry.testing.Shell;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Java layouts agree with bpf/lib/abi.h: sizes and every field's offset and
 * size, as printed by the C side (bpf/test/abi_layout.c, built with the header).
 */
class MapLayoutsTest {

    @Test
    void javaLayoutsMatchTheCHeaderFieldForField() throws Exception {
        Map<String, String> c = cSide();
        Map<String, String> java = new LinkedHashMap<>();
        for (StructLayout layout : MapLayouts.ALL) {
            String struct = layout.name().orElseThrow();
            java.put(struct, String.valueOf(layout.byteSize()));
            for (MemoryLayout field : layout.memberLayouts()) {
                String name = field.name().orElseThrow();
                java.put(struct + "." + name, MapLayouts.offset(layout, name) + " " + field.byteSize());
            }
        }
        java.put("reason.max", String.valueOf(Reason.MAX));
        java.put("family.count", String.valueOf(MapLayouts.FAMILY_COUNT));
        java.put("direction.count", String.valueOf(MapLayouts.DIRECTION_COUNT));
        java.put("verdict.count", String.valueOf(MapLayouts.VERDICT_COUNT));
        java.put("metrics.reason_slots", String.valueOf(MapLayouts.METRICS_REASON_SLOTS));
        java.put("metrics.slots", String.valueOf(MapLayouts.METRICS_SLOTS));
        java.put("egress.routes_max", String.valueOf(MapLayouts.EGRESS_ROUTES_MAX));
        java.put("egress.nexthops", String.valueOf(MapLayouts.EGRESS_NEXTHOPS));
        java.put("egress.slots", String.valueOf(MapLayouts.EGRESS_SLOTS));
        java.put("egress.slots_per_family", String.valueOf(MapLayouts.EGRESS_SLOTS_PER_FAMILY));
        java.put("mirror.slots", String.valueOf(MapLayouts.MIRROR_SLOTS));
        assertEquals(c, java);
    }

    /** Numbers are never reused, so a retired (or not yet merged) reason leaves a hole. */
    @Test
    void reasonNumbersAreUniqueAndBelowMax() {
        for (Reason reason : Reason.values()) {
            assertTrue(reason.code() >= 0 && reason.code() < Reason.MAX, reason + " is below FERRY_REASON_MAX");
            assertEquals(reason, Reason.of(reason.code()));
        }
    }

    @Test
    void directionAndVerdictCodesIndexTheCounterArrays() {
        for (int code = 0; code < MapLayouts.DIRECTION_COUNT; code++) {
            assertEquals(code, Direction.of(code).code());
        }
        for (int code = 0; code < MapLayouts.VERDICT_COUNT; code++) {
            assertEquals(code, Verdict.of(code).code());
        }
        for (int code = 0; code < MapLayouts.FAMILY_COUNT; code++) {
            assertEquals(code, TrafficFamily.of(code).code());
        }
    }

    private static Map<String, String> cSide() throws Exception {
        Path dumper = Path.of(MapLayoutsTest.class.getResource("/bpf/abi_layout").toURI());
        Map<String, String> lines = new LinkedHashMap<>();
        for (String line : Shell.run(dumper.toString()).strip().split("\n")) {
            int space = line.indexOf(' ');
            lines.put(line.substring(0, space), line.substring(space + 1));
        }
        return lines;
    }
}
