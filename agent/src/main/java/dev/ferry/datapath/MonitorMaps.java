package dev.ferry.datapath;

import dev.ferry.bpf.BpfMap;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static dev.ferry.datapath.MapLayouts.MONITOR_CONFIG;
import static dev.ferry.datapath.MapLayouts.MONITOR_STATE;
import static dev.ferry.datapath.MapLayouts.offset;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The monitor's maps (bpf/lib/monitor.h): the events ring buffer, the config the
 * programs read before building an event, and the per-CPU token buckets with
 * their counts.
 */
public final class MonitorMaps {
    static final String EVENTS = "ferry_events";
    static final String CONFIG = "ferry_monitor_config";
    static final String STATE = "ferry_monitor_state";

    /** Size of one event record in the ring buffer. */
    public static final int EVENT_BYTES = MonitorEvent.SIZE;

    private static final long ENABLED = offset(MONITOR_CONFIG, "enabled");
    private static final long SAMPLE_REDIRECTS = offset(MONITOR_CONFIG, "sample_redirects");
    private static final long EVENT_COST_NS = offset(MONITOR_CONFIG, "event_cost_ns");
    private static final long BURST_NS = offset(MONITOR_CONFIG, "burst_ns");
    private static final long EMITTED = offset(MONITOR_STATE, "emitted");
    private static final long SUPPRESSED = offset(MONITOR_STATE, "suppressed");
    private static final long LOST = offset(MONITOR_STATE, "lost");

    /**
     * What the programs are told.
     *
     * @param enabled         whether any event is built at all (a client is attached)
     * @param sampleRedirects 0: no redirect events; N: one redirect in N, counted per CPU
     * @param eventsPerSecond events each CPU may emit per second, on average
     * @param burst           events a CPU may emit at once after a quiet spell
     */
    public record Config(boolean enabled, int sampleRedirects, int eventsPerSecond, int burst) {
        /** Nothing emitted: what a loaded datapath starts with. */
        public static final Config OFF = new Config(false, 0, 1, 1);

        public Config {
            if (sampleRedirects < 0) {
                throw new IllegalArgumentException("sampleRedirects must not be negative, not " + sampleRedirects);
            }
            if (eventsPerSecond < 1 || burst < 1) {
                throw new IllegalArgumentException("eventsPerSecond and burst must be at least 1, not "
                        + eventsPerSecond + " and " + burst);
            }
        }

        long eventCostNanos() {
            return 1_000_000_000L / eventsPerSecond;
        }
    }

    /** Counts summed over CPUs since the maps were made: events written, held back by the rate limit, and lost to a full ring. */
    public record Counts(long emitted, long suppressed, long lost) {}

    private final BpfMap events;
    private final BpfMap config;
    private final BpfMap state;

    MonitorMaps(BpfMap events, BpfMap config, BpfMap state) {
        this.events = events;
        this.config = config;
        this.state = state;
    }

    /** The ring buffer, for a {@link dev.ferry.bpf.RingBuffer} reader. */
    public BpfMap events() {
        return events;
    }

    public void configure(Config c) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment key = arena.allocate(JAVA_INT);
            MemorySegment value = arena.allocate(MONITOR_CONFIG);
            value.set(JAVA_INT, ENABLED, c.enabled() ? 1 : 0);
            value.set(JAVA_INT, SAMPLE_REDIRECTS, c.sampleRedirects());
            value.set(JAVA_LONG, EVENT_COST_NS, c.eventCostNanos());
            value.set(JAVA_LONG, BURST_NS, c.eventCostNanos() * c.burst());
            config.update(key, value, BpfMap.ANY);
        }
    }

    /** The counts of every CPU, summed; a read of one per-CPU slot. */
    public Counts counts() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment key = arena.allocate(JAVA_INT);
            MemorySegment values = arena.allocate(state.valueSegmentSize(), 8);
            if (!state.lookup(key, values)) {
                return new Counts(0, 0, 0);
            }
            long stride = state.perCpuValueStride();
            long emitted = 0;
            long suppressed = 0;
            long lost = 0;
            for (int cpu = 0; cpu < BpfMap.possibleCpus(); cpu++) {
                emitted += values.get(JAVA_LONG, cpu * stride + EMITTED);
                suppressed += values.get(JAVA_LONG, cpu * stride + SUPPRESSED);
                lost += values.get(JAVA_LONG, cpu * stride + LOST);
            }
            return new Counts(emitted, suppressed, lost);
        }
    }
}
