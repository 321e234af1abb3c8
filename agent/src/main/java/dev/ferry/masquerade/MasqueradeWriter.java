package dev.ferry.masquerade;

import dev.ferry.net.IpPrefix;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The one writer of the masquerade table. Two things write it: a change of the
 * pod CIDRs ({@link #update}, from the configuration or the cluster watch) and a
 * rewrite every {@link #RECONCILE} that undoes edits made by others (a firewall
 * reload). Both run on this class's one thread and both write the latest pod
 * CIDRs at the time they run, so a rewrite can never put back a set that a
 * newer update replaced.
 *
 * <p>A failed write is logged and leaves the old table: pod to pod traffic does
 * not need it, and the next update or rewrite tries again.
 */
public final class MasqueradeWriter implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MasqueradeWriter.class);
    /** How often the table is rewritten whole. */
    public static final Duration RECONCILE = Duration.ofSeconds(60);
    /** How many CIDRs a log line names before it counts the rest. */
    private static final int BRIEF = 8;

    private final Masquerade masquerade;
    private final MasqueradeFamilies families;
    private final List<IpPrefix> clusterCidrs;
    private final ScheduledExecutorService writer =
            Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("ferry-masquerade").daemon().factory());
    /** The pod CIDRs to write; null until the first update. */
    private final AtomicReference<List<IpPrefix>> latest = new AtomicReference<>();
    /** The update's write queued and not started yet; null when none is. */
    private final AtomicReference<CompletableFuture<Void>> pending = new AtomicReference<>();
    /** Updates' writes done (for tests). */
    private final AtomicLong writes = new AtomicLong();

    /**
     * Starts the periodic rewrite; nothing is written before the first {@link #update}.
     *
     * @param families     the families masqueraded; the table of one that is not is removed, and kept removed
     * @param clusterCidrs destinations that keep the pod's address (both families); empty for the pod CIDRs themselves
     */
    public MasqueradeWriter(Masquerade masquerade, MasqueradeFamilies families, List<IpPrefix> clusterCidrs) {
        this(masquerade, families, clusterCidrs, RECONCILE);
    }

    /** @param period how often the table is rewritten (tests wait less than a minute) */
    MasqueradeWriter(Masquerade masquerade, MasqueradeFamilies families, List<IpPrefix> clusterCidrs, Duration period) {
        this.masquerade = masquerade;
        this.families = families;
        this.clusterCidrs = List.copyOf(clusterCidrs);
        writer.scheduleWithFixedDelay(() -> write(true), period.toMillis(), period.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Writes the table for these pod CIDRs (this node's and every other node's)
     * on the writer's thread; the future completes once it is written, or the
     * write failed and was logged.
     */
    public CompletableFuture<Void> update(Collection<IpPrefix> podCidrs) {
        latest.set(List.copyOf(new LinkedHashSet<>(podCidrs)));
        // A write not started yet reads the latest CIDRs when it runs, so it writes these too: a burst
        // of Node events (thousands when a large cluster's agent starts) costs one nft run, not one each.
        while (true) {
            CompletableFuture<Void> queued = pending.get();
            if (queued != null) {
                return queued;
            }
            CompletableFuture<Void> mine = new CompletableFuture<>();
            if (pending.compareAndSet(null, mine)) {
                try {
                    writer.execute(() -> {
                        // Cleared before the read: an update from now on queues a write of its own.
                        pending.compareAndSet(mine, null);
                        write(false);
                        writes.incrementAndGet();
                        mine.complete(null);
                    });
                } catch (RejectedExecutionException closed) {
                    pending.compareAndSet(mine, null);
                    throw closed;
                }
                return mine;
            }
        }
    }

    /** How many times an update's write ran (the periodic rewrite not counted). */
    long writes() {
        return writes.get();
    }

    /** @param periodic the timer's rewrite, logged at debug: it says nothing new */
    private void write(boolean periodic) {
        List<IpPrefix> podCidrs = latest.get();
        if (podCidrs == null) {
            return;
        }
        MasqueradeRules rules = new MasqueradeRules(families, podCidrs, clusterCidrs.isEmpty() ? podCidrs : clusterCidrs);
        try {
            masquerade.apply(rules);
            if (periodic) {
                log.debug("event=masquerade_reconciled ipv4={} ipv6={}", families.ipv4(), families.ipv6());
            } else {
                log.info("event=masquerade_applied ipv4={} ipv6={} pod_cidrs={} cluster_cidrs={}", families.ipv4(),
                        families.ipv6(), brief(rules.podCidrs()), brief(rules.clusterCidrs()));
            }
        } catch (RuntimeException e) {
            log.error("event=masquerade_failed error=\"{}\"", e.getMessage());
        }
    }

    /** The CIDRs for a log line: all of a few, the count of many (a line per update must not grow with the cluster). */
    private static String brief(List<IpPrefix> cidrs) {
        return cidrs.size() <= BRIEF ? cidrs.toString() : cidrs.subList(0, BRIEF) + " and " + (cidrs.size() - BRIEF) + " more";
    }

    /** Stops writing; the table stays as it is, so pods keep reaching out while no agent runs. */
    @Override
    public void close() {
        writer.shutdownNow();
        try {
            writer.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
