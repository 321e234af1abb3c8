package dev.ferry.cni;

import static dev.ferry.cni.Cni.assertCniError;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class ContainerLocksTest {
    private final ContainerLocks locks = new ContainerLocks();

    @Test
    void sameContainerIsRefusedWithCode11WhileHeld() throws Exception {
        try (ExecutorService other = Executors.newSingleThreadExecutor();
             var held = locks.lock("pod-a")) {
            Future<?> attempt = other.submit(() -> assertCniError(CniError.TRY_AGAIN_LATER, "pod-a",
                    () -> locks.lock("pod-a", Duration.ofMillis(20))));
            attempt.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void differentContainerProceedsWhileOneIsHeld() throws Exception {
        try (ExecutorService other = Executors.newSingleThreadExecutor();
             var held = locks.lock("pod-a")) {
            other.submit(() -> {
                try (var b = locks.lock("pod-b", Duration.ofSeconds(10))) {
                    return null;
                }
            }).get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void waiterGetsTheLockOnceReleased() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        try (ExecutorService other = Executors.newSingleThreadExecutor()) {
            Future<?> waiter;
            try (var held = locks.lock("pod-a")) {
                waiter = other.submit(() -> {
                    try (var w = locks.lock("pod-a")) {
                        entered.countDown();
                    }
                });
                assertEquals(1, entered.getCount(), "the waiter must not enter while the lock is held");
            }
            waiter.get(10, TimeUnit.SECONDS);
            assertEquals(0, entered.getCount());
        }
    }

    @Test
    void operationsOnOneContainerNeverOverlap() throws Exception {
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger maxInside = new AtomicInteger();
        CountDownLatch start = new CountDownLatch(1);
        try (ExecutorService pool = Executors.newFixedThreadPool(8)) {
            List<Future<?>> all = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                all.add(pool.submit(() -> {
                    start.await();
                    for (int i = 0; i < 500; i++) {
                        try (var held = locks.lock("pod-a")) {
                            maxInside.accumulateAndGet(inside.incrementAndGet(), Math::max);
                            Thread.onSpinWait();
                            inside.decrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : all) {
                f.get(30, TimeUnit.SECONDS);
            }
        }
        assertEquals(1, maxInside.get());
    }

    @Test
    void differentContainersRunAtTheSameTime() throws Exception {
        CountDownLatch bothInside = new CountDownLatch(2);
        try (ExecutorService pool = Executors.newFixedThreadPool(2)) {
            List<Future<?>> all = new ArrayList<>();
            for (String id : List.of("pod-a", "pod-b")) {
                all.add(pool.submit(() -> {
                    try (var held = locks.lock(id)) {
                        bothInside.countDown();
                        // Only returns true if the other pod's holder is inside at the same time.
                        return bothInside.await(10, TimeUnit.SECONDS);
                    }
                }));
            }
            for (Future<?> f : all) {
                assertEquals(true, f.get(30, TimeUnit.SECONDS));
            }
        }
    }

    @Test
    void entriesAreRemovedWhenUnused() throws Exception {
        for (int i = 0; i < 10_000; i++) {
            try (var held = locks.lock("pod-" + i)) {
                assertEquals(1, locks.size());
            }
        }
        assertCniError(CniError.TRY_AGAIN_LATER, "pod-x", () -> {
            try (ExecutorService other = Executors.newSingleThreadExecutor(); var held = locks.lock("pod-x")) {
                try {
                    other.submit(() -> locks.lock("pod-x", Duration.ZERO)).get();
                } catch (java.util.concurrent.ExecutionException e) {
                    throw e.getCause();
                }
            }
        });
        assertEquals(0, locks.size(), "neither holders nor timed-out waiters may leave entries behind");
    }

    @Test
    void closingTwiceReleasesOnce() {
        var held = locks.lock("pod-a");
        held.close();
        held.close();
        assertEquals(0, locks.size());
        try (var again = locks.lock("pod-a", Duration.ZERO)) {
            assertEquals(1, locks.size());
        }
    }
}
