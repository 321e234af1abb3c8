package dev.ferry.monitor;

import dev.ferry.bpf.RingBuffer;
import dev.ferry.datapath.MonitorEvent;
import dev.ferry.datapath.MonitorMaps;
import dev.ferry.datapath.Verdict;
import dev.ferry.endpoint.Endpoint;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * The agent's side of {@code ferry monitor}: while at least one client is
 * subscribed, the programs emit decision events (lib/monitor.h) and a reader
 * thread takes them from ferry_events, names their pods and hands each client
 * those its filter accepts. With no client the programs are told to emit
 * nothing and no thread, reader or file descriptor is held.
 *
 * <p>A client never slows the reader down: its {@link Sink} takes an update or
 * refuses it at once, and what it refuses is counted and reported to it in the
 * next {@link MonitorUpdate.Missed}, beside what the rate limit suppressed.
 */
public final class Monitor implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Monitor.class);

    /** Events a CPU may emit per second: a node with 64 CPUs in a flood writes at most 64,000 a second. */
    public static final int DEFAULT_EVENTS_PER_SECOND = 1000;
    /** Events a CPU may emit at once after a quiet spell. */
    public static final int DEFAULT_BURST = 100;
    private static final int POLL_MILLIS = 100;
    private static final long MISSED_EVERY_NANOS = 1_000_000_000L;
    /** How long a pod-name lookup is trusted: endpoint ids are reused after DEL. */
    private static final long NAMES_FOR_NANOS = 1_000_000_000L;

    /** Where one client's updates go; called on the reader thread, so it must never block. */
    public interface Sink {
        /** Takes the update, or returns false at once when the client cannot take it now (it is dropped). */
        boolean offer(MonitorUpdate update);

        /** The monitor stopped (the agent is stopping, or reading failed): no more updates come. */
        void ended(String why);
    }

    private final MonitorMaps maps;
    private final Supplier<List<Endpoint>> endpoints;
    private final int eventsPerSecond;
    private final int burst;
    private final ReentrantLock lock = new ReentrantLock();
    /** Guarded by lock. */
    private final List<Subscriber> subscribers = new ArrayList<>();
    private Thread reader;
    private boolean running;
    /** Events clients were too slow to take, over every client since the agent started. */
    private final AtomicLong dropped = new AtomicLong();
    private boolean closed;
    /** Reader thread only. */
    private Map<Integer, String> names; // null until first needed
    private long namesAt;

    public Monitor(MonitorMaps maps, Supplier<List<Endpoint>> endpoints, int eventsPerSecond, int burst) {
        this.maps = maps;
        this.endpoints = endpoints;
        this.eventsPerSecond = eventsPerSecond;
        this.burst = burst;
    }

    /** One client's claim on the monitor; closing it detaches the client (more than once is fine). */
    public final class Subscription implements AutoCloseable {
        private final Subscriber subscriber;

        private Subscription(Subscriber subscriber) {
            this.subscriber = subscriber;
        }

        @Override
        public void close() {
            unsubscribe(subscriber);
        }
    }

    private static final class Subscriber {
        final MonitorFilter filter;
        final int sampleRedirects;
        final Sink sink;
        final MonitorMaps.Counts baseline;
        /** Reader thread only. */
        volatile long dropped; // written by the reader thread only
        MonitorUpdate.Missed lastMissed = new MonitorUpdate.Missed(0, 0, 0);

        Subscriber(MonitorFilter filter, int sampleRedirects, Sink sink, MonitorMaps.Counts baseline) {
            this.filter = filter;
            this.sampleRedirects = sampleRedirects;
            this.sink = sink;
            this.baseline = baseline;
        }
    }

    /**
     * The endpoint ids of a pod of this node, by its namespace and name; empty
     * when this node has no such pod.
     */
    public Optional<Set<Integer>> endpointIdsOf(String namespace, String name) {
        Set<Integer> ids = endpoints.get().stream()
                .filter(e -> e.podNamespace().equals(Optional.of(namespace)) && e.podName().equals(Optional.of(name)))
                .map(Endpoint::endpointId)
                .collect(Collectors.toSet());
        return ids.isEmpty() ? Optional.empty() : Optional.of(ids);
    }

    /**
     * Attaches a client. The programs sample redirects at the smallest N any
     * attached client asked for (0: none); a client that asked for none is sent none.
     */
    public Subscription subscribe(MonitorFilter filter, int sampleRedirects, Sink sink) {
        if (sampleRedirects < 0) {
            throw new IllegalArgumentException("sampleRedirects must not be negative, not " + sampleRedirects);
        }
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("the monitor is closed: the agent is stopping");
            }
            Subscriber s = new Subscriber(filter, sampleRedirects, sink, maps.counts());
            subscribers.add(s);
            if (running) {
                maps.configure(config());
            } else {
                running = true;
                Thread previous = reader;
                reader = Thread.ofPlatform().name("ferry-monitor-reader").daemon(true).start(() -> read(previous));
            }
            log.info("event=monitor_client_attached clients={} sample_redirects={}", subscribers.size(), sampleRedirects);
            return new Subscription(s);
        } finally {
            lock.unlock();
        }
    }

    private void unsubscribe(Subscriber s) {
        lock.lock();
        try {
            if (!subscribers.remove(s)) {
                return;
            }
            log.info("event=monitor_client_detached clients={} dropped={}", subscribers.size(), s.dropped);
            if (running && !subscribers.isEmpty()) {
                maps.configure(config());
            }
            // With none left the reader sees it within a poll, turns the programs' events off and ends.
        } finally {
            lock.unlock();
        }
    }

    /** Clients attached now. */
    public int clients() {
        lock.lock();
        try {
            return subscribers.size();
        } finally {
            lock.unlock();
        }
    }

    /** Events clients were too slow to take, summed over every client since the agent started. */
    public long dropped() {
        return dropped.get();
    }

    /** Whether the reader thread (and its ring buffer reader) is alive. */
    public boolean reading() {
        lock.lock();
        try {
            return reader != null && reader.isAlive();
        } finally {
            lock.unlock();
        }
    }

    /** Guarded by lock. */
    private MonitorMaps.Config config() {
        int sample = subscribers.stream().mapToInt(s -> s.sampleRedirects).filter(n -> n > 0).min().orElse(0);
        return new MonitorMaps.Config(true, sample, eventsPerSecond, burst);
    }

    private void read(Thread previous) {
        // Two readers of one ring would each take some of its records: the last one must be gone.
        if (previous != null) {
            joinQuietly(previous);
        }
        try (RingBuffer ring = RingBuffer.open(maps.events(), MonitorMaps.EVENT_BYTES)) {
            ring.drain(); // written before this client came: not its events
            List<Subscriber> attached = configureOrStop();
            long missedAt = System.nanoTime();
            while (!attached.isEmpty()) {
                List<byte[]> records = ring.poll(POLL_MILLIS);
                if (!records.isEmpty()) {
                    dispatch(records, attached);
                }
                if (System.nanoTime() - missedAt >= MISSED_EVERY_NANOS) {
                    reportMissed(attached);
                    missedAt = System.nanoTime();
                }
                attached = configureOrStop();
            }
        } catch (RuntimeException e) {
            log.error("event=monitor_reader_failed error=\"{}\"", e.toString());
            endAll("the agent failed to read the datapath's events: " + e.getMessage());
        }
    }

    /** The clients attached now; with none, turns the programs' events off and marks the reader done. */
    private List<Subscriber> configureOrStop() {
        lock.lock();
        try {
            if (subscribers.isEmpty()) {
                maps.configure(MonitorMaps.Config.OFF);
                running = false;
                return List.of();
            }
            maps.configure(config());
            return List.copyOf(subscribers);
        } finally {
            lock.unlock();
        }
    }

    private void endAll(String why) {
        List<Subscriber> ended;
        lock.lock();
        try {
            ended = List.copyOf(subscribers);
            subscribers.clear();
            running = false;
            try {
                maps.configure(MonitorMaps.Config.OFF);
            } catch (RuntimeException e) {
                log.warn("event=monitor_off_failed error=\"{}\"", e.toString());
            }
        } finally {
            lock.unlock();
        }
        ended.forEach(s -> s.sink.ended(why));
    }

    private void dispatch(List<byte[]> records, List<Subscriber> attached) {
        for (byte[] record : records) {
            MonitorEvent event;
            try {
                event = MonitorEvent.decode(record);
            } catch (IllegalArgumentException e) {
                log.debug("event=monitor_event_skipped error=\"{}\"", e.getMessage());
                continue; // a newer program's reason or verdict: this agent cannot name it
            }
            MonitorUpdate.Event update = null;
            for (Subscriber s : attached) {
                if (!s.filter.accepts(event) || (isRedirect(event.verdict()) && s.sampleRedirects == 0)) {
                    continue;
                }
                if (update == null) {
                    update = new MonitorUpdate.Event(event, pod(event.sourceEndpoint()), pod(event.destinationEndpoint()));
                }
                if (!s.sink.offer(update)) {
                    s.dropped++;
                    dropped.incrementAndGet();
                }
            }
        }
    }

    private static boolean isRedirect(Verdict v) {
        return v == Verdict.REDIRECT_PEER || v == Verdict.REDIRECT_NEIGH;
    }

    private void reportMissed(List<Subscriber> attached) {
        MonitorMaps.Counts now = maps.counts();
        for (Subscriber s : attached) {
            MonitorUpdate.Missed missed = new MonitorUpdate.Missed(now.suppressed() - s.baseline.suppressed(),
                    now.lost() - s.baseline.lost(), s.dropped);
            if (!missed.equals(s.lastMissed) && s.sink.offer(missed)) {
                s.lastMissed = missed;
            }
        }
    }

    /** The pod of an endpoint id, from a lookup at most a second old. */
    private Optional<String> pod(int endpointId) {
        if (endpointId == 0) {
            return Optional.empty();
        }
        if (names == null || System.nanoTime() - namesAt > NAMES_FOR_NANOS) {
            Map<Integer, String> fresh = new HashMap<>();
            for (Endpoint e : endpoints.get()) {
                fresh.put(e.endpointId(), e.podName().isPresent()
                        ? e.podNamespace().orElse("") + "/" + e.podName().get()
                        : e.containerId());
            }
            names = fresh;
            namesAt = System.nanoTime();
        }
        return Optional.ofNullable(names.get(endpointId));
    }

    private static void joinQuietly(Thread thread) {
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Ends every client's stream, turns the programs' events off and waits for the reader to stop. */
    @Override
    public void close() {
        Thread last;
        lock.lock();
        try {
            closed = true;
            last = reader;
        } finally {
            lock.unlock();
        }
        endAll("the agent is stopping");
        if (last != null) {
            joinQuietly(last);
        }
    }
}
