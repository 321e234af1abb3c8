package dev.ferry.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.cli.Main;
import dev.ferry.monitor.Monitor;
import dev.ferry.testing.CniNode;
import dev.ferry.testing.FerryCni;
import dev.ferry.testing.MetricsPort;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.Shell;
import dev.ferry.testing.TestNetns;
import dev.ferry.testing.Traffic;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A flood of real packets the datapath drops, while {@code ferry monitor} is
 * attached: pod A sends spoofed UDP as fast as bpf/test/flood.c gets it onto its
 * veth (AF_PACKET, PACKET_QDISC_BYPASS, sendmmsg, two threads), each frame
 * dropped by from_pod and offered to the monitor's per-CPU rate limit. The
 * events the CLI gets stay within what the limit lets through, what it held
 * back is reported and keeps growing, and pods B and C go on talking without
 * losing a packet. The rates reached are printed, not asserted:
 * bench/monitor-flood.sh measures them.
 */
@RequiresRoot
class MonitorFloodTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** In the pod CIDR, no pod's: the source pod A's frames claim. */
    private static final String SPOOFED = "10.244.1.210";
    private static final int PORT = 7400;
    private static final Duration WAIT = Duration.ofSeconds(30);
    /** Longer than any test runs: the test stops the flood itself (SIGTERM). */
    private static final int FLOOD_SECONDS = 600;
    private static final int FLOOD_THREADS = 2;
    private static final int PINGS = 20;

    @TempDir
    Path dir;
    private AgentFixture nodes;
    private TestNetns podA;
    private TestNetns podB;
    private TestNetns podC;
    private InetAddress addressB;
    private InetAddress addressC;
    private final List<Process> processes = new ArrayList<>();

    @BeforeEach
    void agentWithThreePods() throws Exception {
        nodes = AgentFixture.create(dir);
        nodes.start(nodes.config(List.of("upl0")));
        podA = TestNetns.create("monfa");
        podB = TestNetns.create("monfb");
        podC = TestNetns.create("monfc");
        add(podA, "f100d0a", "flood-0");
        addressB = add(podB, "f100d0b", "web-0");
        addressC = add(podC, "f100d0c", "web-1");
    }

    private InetAddress add(TestNetns pod, String container, String name) {
        String config = "{\"cniVersion\":\"1.1.0\",\"name\":\"ferry\",\"type\":\"ferry-cni\",\"agentSocket\":\"" + nodes.socket() + "\"}";
        FerryCni.Result add = FerryCni.command("ADD").env("CNI_CONTAINERID", container)
                .env("CNI_NETNS", "/run/netns/" + pod.name()).env("CNI_IFNAME", "eth0").env("CNI_PATH", "/opt/cni/bin")
                .env("CNI_ARGS", "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=" + name).stdin(config).run();
        assertEquals(0, add.exitCode(), add.toString());
        return CniNode.addressOf(add);
    }

    @AfterEach
    void cleanUp() throws Exception {
        processes.forEach(Process::destroyForcibly);
        for (Process p : processes) {
            p.waitFor();
        }
        try {
            nodes.close();
        } finally {
            podA.close();
            podB.close();
            podC.close();
        }
        // Nothing of the test's left: the CLI and the flood, the agent's reader, namespaces, pins.
        assertTrue(processes.stream().noneMatch(Process::isAlive), "a process of the test outlived it");
        assertFalse(Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.getName().equals("ferry-monitor-reader") && t.isAlive()), "the monitor's reader outlived the agent");
        String namespaces = Shell.run("ip", "netns", "list");
        for (TestNetns pod : List.of(podA, podB, podC)) {
            assertFalse(namespaces.contains(pod.name()), namespaces);
        }
        assertFalse(Files.exists(nodes.pins.root()), "pins left at " + nodes.pins.root());
    }

    @Test
    void realPacketFloodIsHeldToTheRateLimitAndCountedWhileOtherPodsLoseNothing() throws Exception {
        long attached = System.nanoTime();
        Lines monitor = start(List.of(ProcessHandle.current().info().command().orElseThrow(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "--socket", nodes.socket().toString(), "monitor", "--verdict", "drop", "-o", "json"));
        monitor.await(l -> l.contains("\"attached\""));

        Lines flood = start(List.of("ip", "netns", "exec", podA.name(), floodTool().toString(), "eth0", SPOOFED,
                addressB.getHostAddress(), String.valueOf(PORT), String.valueOf(FLOOD_SECONDS), String.valueOf(FLOOD_THREADS)));
        JsonNode event = JSON.readTree(monitor.await(l -> l.contains("\"event\"")));
        assertEquals("spoofed_source", event.path("reason").asText(), event.toString());
        assertEquals("shop/flood-0", event.path("sourcePod").asText(), event.toString());
        long firstSuppressed = suppressed(monitor.await(l -> l.contains("\"missed\"") && suppressed(l) > 0));

        // Two other pods, during the flood: every ping answered, a TCP transfer whole.
        String ping = podB.exec("ping", "-c", String.valueOf(PINGS), "-i", "0.05", "-W", "2", addressC.getHostAddress()).stdout();
        assertTrue(ping.contains(PINGS + " packets transmitted, " + PINGS + " received, 0% packet loss"), ping);
        Traffic.tcpTransfer(new Traffic.End(podC, addressC), new Traffic.End(podB, addressB), PORT + 1, 4 << 20);

        // The flood went on all along, and so did the count of what the limit held back.
        monitor.await(l -> l.contains("\"missed\"") && suppressed(l) > firstSuppressed);
        assertTrue(flood.process.isAlive(), "the flood still runs: " + flood.errors());
        // SIGTERM: it stops and prints what it sent (Process.destroy() would also close the pipe it prints to).
        flood.process.toHandle().destroy();
        assertTrue(flood.process.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS));
        assertEquals(0, flood.process.exitValue(), flood.errors());
        JsonNode sent = JSON.readTree(flood.await(l -> l.contains("\"sent\"")));
        long delivered = monitor.seen(l -> l.contains("\"event\""));
        double seconds = (System.nanoTime() - attached) / 1e9;

        // No CPU emits more than its burst and what the time since the monitor was attached earned it.
        long budget = (long) (possibleCpus() * (Monitor.DEFAULT_BURST + Monitor.DEFAULT_EVENTS_PER_SECOND * seconds));
        System.out.printf("monitor flood (real packets): %s; %d events delivered in %.1f s (budget %d), suppressed %.0f%n",
                sent, delivered, seconds, budget, metric("ferry_monitor_events_suppressed_total"));
        assertTrue(delivered <= budget, delivered + " events in " + seconds + " s, over the budget of " + budget);
        assertTrue(delivered < sent.path("sent").asLong(), delivered + " events for " + sent + " drops");
    }

    // ---- helpers ---------------------------------------------------------------------------------

    /** bpf/test/flood.c as the build compiled it (bpf/Makefile, beside the other test helpers). */
    private static Path floodTool() throws Exception {
        return Path.of(MonitorFloodTest.class.getResource("/bpf/flood").toURI());
    }

    /** CPUs with a slot in the per-CPU maps (the kernel's possible CPUs, e.g. "0-1"). */
    private static int possibleCpus() throws IOException {
        int cpus = 0;
        for (String range : Files.readString(Path.of("/sys/devices/system/cpu/possible")).trim().split(",")) {
            String[] ends = range.split("-");
            cpus += ends.length == 1 ? 1 : Integer.parseInt(ends[1]) - Integer.parseInt(ends[0]) + 1;
        }
        return cpus;
    }

    private double metric(String series) {
        return MetricsPort.value(MetricsPort.scrape(nodes.metricsPort()), series);
    }

    private static final Pattern SUPPRESSED = Pattern.compile("\"suppressed\"\\s*:\\s*(\\d+)");

    private static long suppressed(String line) {
        Matcher m = SUPPRESSED.matcher(line);
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    /** A process of the test and its output lines, collected as they come. */
    private record Lines(Process process, BlockingQueue<String> lines, List<String> seen, BlockingQueue<String> stderr) {
        /** The first line from now on that {@code wanted} accepts; every line read is kept in {@link #seen}. */
        String await(Predicate<String> wanted) throws InterruptedException {
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (System.nanoTime() < deadline) {
                String line = lines.poll(100, TimeUnit.MILLISECONDS);
                if (line != null) {
                    seen.add(line);
                    if (wanted.test(line)) {
                        return line;
                    }
                }
            }
            throw new AssertionError("no such line; the process printed " + seen.subList(Math.max(0, seen.size() - 20), seen.size())
                    + " and on stderr " + errors());
        }

        /** Lines read so far that {@code counted} accepts, after taking in what has come. */
        long seen(Predicate<String> counted) {
            lines.drainTo(seen);
            return seen.stream().filter(counted).count();
        }

        String errors() {
            return String.join("\n", stderr);
        }
    }

    private Lines start(List<String> command) throws IOException {
        Process process = new ProcessBuilder(command).start();
        processes.add(process);
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        BlockingQueue<String> errors = new LinkedBlockingQueue<>();
        Thread.ofPlatform().daemon().start(() -> pump(process.getInputStream(), lines));
        Thread.ofPlatform().daemon().start(() -> pump(process.getErrorStream(), errors));
        return new Lines(process, lines, new ArrayList<>(), errors);
    }

    private static void pump(InputStream in, BlockingQueue<String> lines) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                lines.add(line);
            }
        } catch (IOException e) {
            // the process is gone
        }
    }
}
