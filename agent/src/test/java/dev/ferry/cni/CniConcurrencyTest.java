package dev.ferry.cni;

import dev.ferry.testing.CniNode;
import dev.ferry.testing.FerryCni;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import dev.ferry.testing.Traffic;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Twenty runtimes' worth of ADDs and DELs at once, through twenty ferry-cni processes. */
@RequiresRoot
class CniConcurrencyTest {
    private static final int PODS = 20;

    @Test
    void twentyConcurrentAddsGetDistinctAddressesThatForwardAndTwentyConcurrentDelsLeaveNothing() throws Exception {
        try (CniNode node = CniNode.start("conc", "10.234.0.0/24", "192.168.234.1");
             ExecutorService runtimes = Executors.newFixedThreadPool(PODS)) {
            List<TestNetns> namespaces = new ArrayList<>();
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < PODS; i++) {
                namespaces.add(node.podNamespace("conc" + i));
                ids.add(CniNode.newContainerId());
            }

            List<FerryCni.Result> adds = all(runtimes, i -> node.cni("ADD", ids.get(i), "/run/netns/" + namespaces.get(i).name()));
            List<CniNode.Pod> pods = new ArrayList<>();
            for (int i = 0; i < PODS; i++) {
                FerryCni.Result r = adds.get(i);
                assertEquals(0, r.exitCode(), "ADD " + i + ": " + r);
                pods.add(new CniNode.Pod(ids.get(i), namespaces.get(i), CniNode.addressOf(r), r));
            }
            List<InetAddress> addresses = pods.stream().map(CniNode.Pod::address).toList();
            assertEquals(PODS, addresses.stream().distinct().count(), "distinct addresses: " + addresses);
            assertEquals(PODS, node.hostVeths().size());
            for (int i = 0; i < PODS; i++) {
                Traffic.ping(pods.get(i).end(), pods.get((i + 1) % PODS).end(), 1);
            }

            List<FerryCni.Result> dels = all(runtimes, i -> node.cni("DEL", ids.get(i), pods.get(i).netnsPath()));
            dels.forEach(r -> assertEquals(0, r.exitCode(), r.toString()));
            assertEquals(List.of(), node.hostVeths(), "host veths");
            assertEquals(List.of(), node.endpointFiles(), "endpoint state");
            assertEquals(List.of(), node.ipamFiles(), "allocations");
            assertTrue(node.datapath().endpoints().entries().isEmpty(), "map entries");
            assertEquals(List.of(), node.fromPodPins(), "pinned links");
            assertTrue(node.node().ip("route", "show", "proto", "70").isBlank(), "host routes");
        }
    }

    /** Starts every invocation at once and waits for all of them. */
    private static List<FerryCni.Result> all(ExecutorService pool, java.util.function.IntFunction<FerryCni> invocation) throws Exception {
        List<Future<FerryCni.Result>> futures = new ArrayList<>();
        for (int i = 0; i < PODS; i++) {
            int n = i;
            futures.add(pool.submit((Callable<FerryCni.Result>) () -> invocation.apply(n).run()));
        }
        List<FerryCni.Result> results = new ArrayList<>();
        for (Future<FerryCni.Result> f : futures) {
            results.add(f.get());
        }
        return results;
    }
}
