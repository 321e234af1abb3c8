package dev.ferry.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.awaitility.Awaitility.await;

/**
 * Every route write in a namespace as the kernel announces it ({@code ip -o
 * monitor route}): what a test counts to prove a change wrote only the routes it
 * should. A blackhole route to a documentation address marks a point in the
 * stream, so "everything so far" is exact, not a matter of waiting long enough.
 */
public final class RouteMonitor implements AutoCloseable {
    private static final String MARKER = "203.0.113.77";

    private final TestNetns ns;
    private final Process monitor;
    private final List<String> lines = new ArrayList<>();
    private final AtomicInteger markers = new AtomicInteger();

    private RouteMonitor(TestNetns ns, Process monitor) {
        this.ns = ns;
        this.monitor = monitor;
        Thread.ofVirtual().name("route-monitor-" + ns.name()).start(this::read);
    }

    /** Watches {@code ns}; returns once the monitor sees writes, so none made after this is missed. */
    public static RouteMonitor start(TestNetns ns) {
        Process p;
        try {
            p = new ProcessBuilder("nsenter", "--net=/run/netns/" + ns.name(), "ip", "-o", "monitor", "route")
                    .redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        RouteMonitor m = new RouteMonitor(ns, p);
        try {
            // ip monitor subscribes a moment after it starts: a mark made before that is never seen, so mark
            // until one is, then take what came meanwhile.
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100)).until(() -> {
                m.mark();
                return m.markers.get() > 0;
            });
            m.changes();
        } catch (RuntimeException | Error e) {
            m.close();
            throw e;
        }
        return m;
    }

    /** The route writes since the last call (adds and replaces as the route, deletes as "Deleted ..."). */
    public List<String> changes() {
        int seen = markers.get();
        mark();
        await().atMost(Duration.ofSeconds(10)).until(() -> markers.get() >= seen + 2);
        synchronized (lines) {
            List<String> since = List.copyOf(lines);
            lines.clear();
            return since;
        }
    }

    /** A route add and delete the monitor reports as two marker lines. */
    private void mark() {
        ns.ip("route", "add", "blackhole", MARKER + "/32");
        ns.ip("route", "del", "blackhole", MARKER + "/32");
    }

    private void read() {
        try (BufferedReader out = new BufferedReader(new InputStreamReader(monitor.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = out.readLine()) != null; ) {
                if (line.contains(MARKER)) {
                    markers.incrementAndGet();
                } else {
                    synchronized (lines) {
                        lines.add(line.strip());
                    }
                }
            }
        } catch (IOException e) {
            // the monitor was stopped
        }
    }

    @Override
    public void close() {
        monitor.destroyForcibly();
    }
}
