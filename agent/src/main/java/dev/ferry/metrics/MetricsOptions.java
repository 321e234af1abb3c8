package dev.ferry.metrics;

import java.time.Duration;

/**
 * What the metrics expose and how often they may cost a walk of the datapath's maps.
 *
 * @param perPod           per-pod series ({@code ferry_endpoint_*}, labelled with the pod's namespace and
 *                         name); off for clusters where whoever reaches the metrics port must not learn
 *                         the node's pods
 * @param datapathInterval the datapath's counters are read at most once per this, however many scrapes come:
 *                         a scrape within it shows the counters as of the last read
 */
public record MetricsOptions(boolean perPod, Duration datapathInterval) {
    /**
     * One second: well under any scrape interval Prometheus is given, so a real scraper
     * always sees fresh counters, while fifty scrapers in a loop cost one map walk a second.
     */
    public static final Duration DEFAULT_DATAPATH_INTERVAL = Duration.ofSeconds(1);
    public static final MetricsOptions DEFAULTS = new MetricsOptions(true, DEFAULT_DATAPATH_INTERVAL);

    public MetricsOptions {
        if (datapathInterval == null || datapathInterval.isNegative()) {
            throw new IllegalArgumentException("datapathInterval must not be negative, not " + datapathInterval);
        }
    }
}
