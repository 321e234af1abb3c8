package dev.ferry.ipam;

import dev.ferry.net.IpPrefix;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;

class IpamConcurrencyTest {
    private static final IpPrefix CIDR = IpPrefix.parse("10.244.1.0/24");

    @TempDir
    Path state;

    @Test
    void twentyConcurrentAllocationsAreDistinct() throws Exception {
        Ipam ipam = Ipam.open(state, CIDR);
        List<InetAddress> got = runTogether(20, i -> ipam.allocate("c" + i, "eth0").address());
        assertEquals(20, new HashSet<>(got).size());
        assertEquals(20, ipam.used());
    }

    @Test
    void twoInstancesOverOneDirectoryNeverHandOutTheSameAddress() throws Exception {
        // Two instances share nothing in memory, as two agent processes would: only link(2) orders them.
        Ipam first = Ipam.open(state, CIDR);
        Ipam second = Ipam.open(state, CIDR);
        List<InetAddress> got = runTogether(120,
                i -> (i % 2 == 0 ? first : second).allocate("c" + i, "eth0").address());
        assertEquals(120, new HashSet<>(got).size());
        assertEquals(120, first.used());
        try (var names = Files.list(state.resolve("ipam"))) {
            // 120 address files and last_reserved: no temporaries left.
            assertEquals(121, names.count());
        }
    }

    @Test
    void twoInstancesExhaustTogetherWithoutDuplicates() throws Exception {
        Ipam first = Ipam.open(state, IpPrefix.parse("10.244.1.0/28"));
        Ipam second = Ipam.open(state, IpPrefix.parse("10.244.1.0/28"));
        List<InetAddress> got = runTogether(30, i -> {
            try {
                return (i % 2 == 0 ? first : second).allocate("c" + i, "eth0").address();
            } catch (IpamException.Exhausted e) {
                return null;
            }
        });
        List<InetAddress> handed = got.stream().filter(a -> a != null).toList();
        assertEquals(14, handed.size());
        assertEquals(14, new HashSet<>(handed).size());
    }

    interface Task {
        InetAddress run(int i) throws IOException;
    }

    /** Runs {@code n} tasks on {@code n} threads released at once, and returns their results in order. */
    private static List<InetAddress> runTogether(int n, Task task) throws Exception {
        CountDownLatch ready = new CountDownLatch(n);
        CountDownLatch go = new CountDownLatch(1);
        try (ExecutorService pool = Executors.newFixedThreadPool(n)) {
            List<Future<InetAddress>> futures = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int index = i;
                Callable<InetAddress> call = () -> {
                    ready.countDown();
                    go.await();
                    return task.run(index);
                };
                futures.add(pool.submit(call));
            }
            ready.await();
            go.countDown();
            List<InetAddress> results = new ArrayList<>();
            for (Future<InetAddress> f : futures) {
                results.add(f.get());
            }
            return results;
        }
    }
}
