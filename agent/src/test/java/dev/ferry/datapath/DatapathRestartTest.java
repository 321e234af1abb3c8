package dev.ferry.datapath;

import dev.ferry.bpf.TcxLink;
import dev.ferry.testing.BpfPins;
import dev.ferry.testing.Cleanup;
import dev.ferry.testing.RequiresRoot;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The datapath outlives the process that loaded it: while a UDP stream flows
 * from pod A to pod B, the loader exits, packets keep arriving through the pinned
 * maps and links, and a new loader adopts the pins and swaps the program
 * atomically. Not one datagram of the stream is lost. Node forwarding is off, so
 * every datagram that arrived was carried by a program.
 */
@RequiresRoot
class DatapathRestartTest {
    static final int PORT = 7100;
    static final Duration WAIT = Duration.ofSeconds(20);

    NodeWithPods topology;
    BpfPins pins;
    final List<Process> loaders = new ArrayList<>();

    @BeforeEach
    void podsAndEndpoints() {
        topology = new NodeWithPods("frs");
        topology.addPod("10.79.1.2");
        topology.addPod("10.79.1.3");
        pins = BpfPins.create("ferry-test-restart");
        try (Datapath datapath = Datapath.load(pins.root(), AttachMode.TCX)) {
            for (NodeWithPods.Pod pod : topology.pods) {
                datapath.endpoints().put(pod.inet(), pod.entry());
            }
        }
    }

    @AfterEach
    void cleanUp() throws Exception {
        Cleanup.all(
                () -> {
                    for (Process p : loaders) {
                        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS); // by PID, through its handle
                    }
                },
                () -> {
                    Path links = pins.root().resolve("links/from_pod");
                    if (Files.isDirectory(links)) {
                        try (var list = Files.list(links)) {
                            for (Path pin : list.toList()) {
                                TcxLink.openPinnedIfExists(pin).ifPresent(link -> {
                                    try (link) {
                                        link.detach();
                                    }
                                });
                            }
                        }
                    }
                },
                () -> pins.close(),
                () -> topology.close());
    }

    @Test
    void forwardingSurvivesLoaderExitAndAtomicProgramSwap() throws Exception {
        NodeWithPods.Pod a = topology.pods.get(0);
        NodeWithPods.Pod b = topology.pods.get(1);

        Loader first = startLoader(true);
        try (Stream stream = Stream.start(a, b)) {
            stream.awaitReceived(200);

            first.stop();
            assertTrue(first.process.waitFor(20, TimeUnit.SECONDS), "first loader exited");
            assertEquals(0, first.process.exitValue());
            int atExit = stream.received();
            stream.awaitReceived(atExit + 200); // nobody holds the programs but the pinned links

            Loader second = startLoader(false);
            assertNotEquals(first.programId, second.programId, "the new loader brought its own program");
            for (NodeWithPods.Pod pod : topology.pods) {
                try (TcxLink link = TcxLink.openPinned(pins.root().resolve("links/from_pod").resolve(pod.hostIfname()))) {
                    assertEquals(second.programId, link.programId(), "link of " + pod.hostIfname() + " runs the new program");
                }
            }
            int atSwap = stream.received();
            stream.awaitReceived(atSwap + 200);
            second.stop();
            second.process.waitFor(20, TimeUnit.SECONDS);

            int sent = stream.stop();
            assertTrue(sent >= 600, "the stream ran through all three phases");
            assertEquals(List.of(), stream.missing(sent), "datagrams that never arrived (first 20)");
            assertEquals(sent, stream.received(), "every datagram arrived exactly once");
        }
    }

    record Loader(Process process, int programId) {
        void stop() throws Exception {
            process.getOutputStream().write('\n');
            process.getOutputStream().flush();
        }
    }

    private Loader startLoader(boolean attach) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(
                "nsenter", "--net=/run/netns/" + topology.node.name(),
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED",
                // surefire runs tests from a manifest-only jar; it names the real class path here
                "-cp", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")),
                DatapathLoaderMain.class.getName(),
                "--bpffs", pins.root().toString()));
        if (attach) {
            for (NodeWithPods.Pod pod : topology.pods) {
                cmd.add("--attach");
                cmd.add("FROM_POD:" + pod.hostIfname() + ":" + pod.hostIfindex());
            }
        }
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        loaders.add(p);
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream()));
        for (String line; (line = out.readLine()) != null; ) {
            if (line.startsWith("READY ")) {
                return new Loader(p, Integer.parseInt(line.substring(6).trim()));
            }
        }
        throw new AssertionError("loader exited before it was ready (exit " + p.waitFor() + ")");
    }

    /** Numbered datagrams from A to B, one per millisecond, until stopped. */
    static final class Stream implements AutoCloseable {
        private final DatagramSocket sender;
        private final DatagramSocket receiver;
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final AtomicInteger sent = new AtomicInteger();
        private final AtomicInteger received = new AtomicInteger();
        private final BitSet seen = new BitSet();
        private final Thread sendThread;
        private final Thread receiveThread;

        private Stream(DatagramSocket sender, DatagramSocket receiver, InetSocketAddress to) {
            this.sender = sender;
            this.receiver = receiver;
            this.sendThread = Thread.ofPlatform().daemon().start(() -> {
                ByteBuffer buf = ByteBuffer.allocate(8);
                try {
                    while (running.get()) {
                        buf.clear();
                        buf.putInt(0, sent.get());
                        sender.send(new DatagramPacket(buf.array(), 8, to));
                        sent.incrementAndGet();
                        LockSupport.parkNanos(1_000_000); // the stream's pace: about a thousand per second
                    }
                } catch (Exception e) {
                    running.set(false);
                }
            });
            this.receiveThread = Thread.ofPlatform().daemon().start(() -> {
                byte[] buf = new byte[8];
                DatagramPacket p = new DatagramPacket(buf, 8);
                while (!receiver.isClosed()) {
                    try {
                        receiver.receive(p);
                        synchronized (seen) {
                            seen.set(ByteBuffer.wrap(buf).getInt(0));
                        }
                        received.incrementAndGet();
                    } catch (SocketTimeoutException e) {
                        // re-check whether the stream is closed
                    } catch (Exception e) {
                        return;
                    }
                }
            });
        }

        static Stream start(NodeWithPods.Pod a, NodeWithPods.Pod b) throws Exception {
            DatagramSocket receiver = b.ns().handle().call(() -> new DatagramSocket(new InetSocketAddress(b.inet(), PORT)));
            receiver.setSoTimeout(200);
            receiver.setReceiveBufferSize(1 << 20);
            DatagramSocket sender = a.ns().handle().call(() -> new DatagramSocket(new InetSocketAddress(a.inet(), 0)));
            return new Stream(sender, receiver, new InetSocketAddress(b.inet(), PORT));
        }

        void awaitReceived(int count) {
            await().atMost(WAIT).until(() -> received.get() >= count);
        }

        int received() {
            return received.get();
        }

        /** Sequence numbers below {@code sent} that never arrived, the first 20. */
        List<Integer> missing(int sent) {
            synchronized (seen) {
                return java.util.stream.IntStream.range(0, sent).filter(i -> !seen.get(i)).limit(20).boxed().toList();
            }
        }

        /** Stops sending, gives the last datagrams time to land, and returns how many were sent. */
        int stop() throws InterruptedException {
            running.set(false);
            sendThread.join();
            int total = sent.get();
            try {
                await().atMost(Duration.ofSeconds(5)).until(() -> received.get() >= total);
            } catch (ConditionTimeoutException e) {
                // the assertions report what is missing
            }
            return total;
        }

        @Override
        public void close() throws InterruptedException {
            running.set(false);
            sendThread.join();
            sender.close();
            receiver.close();
            receiveThread.join();
        }
    }
}
