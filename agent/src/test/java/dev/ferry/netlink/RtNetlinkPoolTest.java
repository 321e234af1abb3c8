package dev.ferry.netlink;

import dev.ferry.testing.RequiresRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@RequiresRoot
class RtNetlinkPoolTest extends TwoNamespaces {
    private RtNetlinkPool pool;

    @BeforeEach
    void openPool() {
        pool = new RtNetlinkPool(host.handle());
    }

    @AfterEach
    void closePool() {
        pool.close();
    }

    @Test
    void callsInProgressAtOnceEachHaveASocketOfTheirOwn() throws Exception {
        CountDownLatch bothInside = new CountDownLatch(2);
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            Future<RtNetlink> first = threads.submit(() -> pool.apply(nl -> holdUntil(bothInside, nl)));
            Future<RtNetlink> second = threads.submit(() -> pool.apply(nl -> holdUntil(bothInside, nl)));
            assertNotSame(first.get(10, TimeUnit.SECONDS), second.get(10, TimeUnit.SECONDS));
        }
        assertEquals(2, pool.idle());
    }

    @Test
    void aSocketIsUsedAgainOnceItsCallIsOver() {
        RtNetlink first = pool.apply(nl -> nl);
        assertSame(first, pool.apply(nl -> nl));
        assertEquals(1, pool.idle());
    }

    @Test
    void theSocketsActInThePoolsNamespace() {
        pool.apply(nl -> nl.createVeth(VethPair.of(hostName, hostName + "p")));
        assertNotNull(Ip.link(host, hostName));
        pool.apply(nl -> {
            nl.deleteLink(hostName);
            return null;
        });
        assertTrue(nl.link(hostName).isEmpty());
    }

    @Test
    void noMoreSocketsThanMaxIdleAreKept() throws Exception {
        int calls = RtNetlinkPool.MAX_IDLE + 3;
        CountDownLatch allInside = new CountDownLatch(calls);
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<RtNetlink>> running = new ArrayList<>();
            for (int i = 0; i < calls; i++) {
                running.add(threads.submit(() -> pool.apply(nl -> holdUntil(allInside, nl))));
            }
            for (Future<RtNetlink> call : running) {
                call.get(10, TimeUnit.SECONDS);
            }
        }
        assertEquals(RtNetlinkPool.MAX_IDLE, pool.idle());
    }

    @Test
    void aClosedPoolTakesNoCallAndClosesTheSocketInUseWhenItComesBack() {
        RtNetlink inUse = pool.apply(nl -> {
            pool.close();
            return nl;
        });
        assertEquals(0, pool.idle());
        assertThrows(IllegalStateException.class, () -> inUse.link(1));
        IllegalStateException refused = assertThrows(IllegalStateException.class, () -> pool.apply(nl -> nl));
        assertTrue(refused.getMessage().contains("closed"), refused.getMessage());
    }

    private static RtNetlink holdUntil(CountDownLatch latch, RtNetlink nl) {
        latch.countDown();
        try {
            assertTrue(latch.await(10, TimeUnit.SECONDS), "the other calls never came in");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        return nl;
    }
}
