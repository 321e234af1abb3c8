package dev.ferry.cni;

import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One lock per container id: ADD, DEL and CHECK for one pod never interleave
 * (a runtime may retry a DEL while its ADD still runs), while different pods
 * proceed in parallel. An entry lives only while someone holds or waits for it,
 * so a node that sees millions of pods keeps no trace of finished ones.
 *
 * <pre>{@code
 * try (var held = locks.lock(containerId)) { ... }
 * }</pre>
 */
public final class ContainerLocks {
    /** A lock and how many threads hold or wait for it; both only change inside the map's compute. */
    private static final class Entry {
        final ReentrantLock lock = new ReentrantLock(true); // fair: a DEL queued behind an ADD runs next
        int users;
    }

    /** Releases the lock when closed; closing twice is harmless. */
    public interface Held extends AutoCloseable {
        @Override
        void close();
    }

    private final ConcurrentHashMap<String, Entry> entries = new ConcurrentHashMap<>();

    /** Blocks until the container's lock is free. */
    public Held lock(String containerId) {
        Entry e = join(containerId);
        e.lock.lock();
        return held(containerId, e);
    }

    /**
     * Waits at most {@code timeout}, then fails with code 11 ("try again later"),
     * which tells the runtime to retry rather than give up on the pod.
     */
    public Held lock(String containerId, Duration timeout) {
        Entry e = join(containerId);
        boolean locked = false;
        try {
            locked = e.lock.tryLock(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt(); // keep the interrupt for the caller; the runtime may retry
        }
        if (!locked) {
            leave(containerId, e);
            throw new CniException(CniError.TRY_AGAIN_LATER, "another operation on container " + containerId + " is in progress",
                    "waited " + timeout.toMillis() + " ms for it to finish");
        }
        return held(containerId, e);
    }

    /** Containers with a holder or a waiter; 0 when idle. */
    public int size() {
        return entries.size();
    }

    private Entry join(String containerId) {
        return entries.compute(containerId, (id, e) -> {
            Entry entry = e == null ? new Entry() : e;
            entry.users++;
            return entry;
        });
    }

    /** Removes the entry with its last user, atomically with any concurrent join. */
    private void leave(String containerId, Entry entry) {
        entries.computeIfPresent(containerId, (id, e) -> {
            assert e == entry;
            return --e.users == 0 ? null : e;
        });
    }

    private Held held(String containerId, Entry e) {
        return new Held() {
            private boolean open = true;

            @Override
            public void close() {
                if (open) {
                    open = false;
                    e.lock.unlock();
                    leave(containerId, e);
                }
            }
        };
    }
}
