package dev.ferry.metrics;

import dev.ferry.egress.EgressStatus;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** ferry_egress_packets_total and _bytes_total: by route and next hop, read when scraped. */
class EgressMetersTest {

    static EgressStatus status(long hopPackets, long fallbackPackets) {
        return new EgressStatus(true, List.of(new EgressStatus.Route("via-fw", 1, "10.244.1.0/28", List.of("0.0.0.0/0"),
                false, "stack", List.of(), List.of(new EgressStatus.Hop("192.168.20.1", "eth1", true, "reachable",
                        hopPackets, hopPackets * 100),
                new EgressStatus.Hop("192.168.30.1", "eth2", false, "failed", 0, 0)),
                fallbackPackets, fallbackPackets * 60)), List.of(), List.of());
    }

    @Test
    void aNextHopsSeriesAppearsWithItsFirstPacketAndFollowsTheMapAtEveryScrape() {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        AtomicReference<EgressStatus> now = new AtomicReference<>(status(5, 0));
        EgressMeters meters = new EgressMeters(registry, now::get);

        meters.refresh();
        String first = registry.scrape();
        assertTrue(first.contains("ferry_egress_packets_total{next_hop=\"192.168.20.1\",route=\"via-fw\"} 5.0"), first);
        assertTrue(first.contains("ferry_egress_bytes_total{next_hop=\"192.168.20.1\",route=\"via-fw\"} 500.0"), first);
        assertFalse(first.contains("192.168.30.1"), "no series before the first packet: " + first);
        assertFalse(first.contains("next_hop=\"fallback\""), first);

        now.set(status(7, 3));
        meters.refresh();
        String second = registry.scrape();
        assertTrue(second.contains("ferry_egress_packets_total{next_hop=\"192.168.20.1\",route=\"via-fw\"} 7.0"), second);
        assertTrue(second.contains("ferry_egress_packets_total{next_hop=\"fallback\",route=\"via-fw\"} 3.0"), second);
    }
}
