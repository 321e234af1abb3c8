package dev.ferry.metrics;

import dev.ferry.cni.Readiness;
import dev.ferry.endpoint.Endpoint;
import dev.ferry.http.ConnectionLimits;
import dev.ferry.state.Quarantine;
import dev.ferry.testing.CniNode;
import dev.ferry.testing.MetricsPort;
import dev.ferry.testing.NothingLeftBehind;
import dev.ferry.testing.RequiresRoot;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The metrics port under load: the probes answer whatever the scrapes do, the
 * datapath is read once per interval, connections are capped and idle ones closed.
 * "Answers within" below is the kubelet's probe timeout (5 s), not a speed claim:
 * the speed is bench/probes.sh's.
 */
@RequiresRoot
class MetricsServerTest {
    /** The DaemonSet's livenessProbe.timeoutSeconds. */
    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(5);
    private static CniNode node;

    @BeforeAll
    static void start() throws Exception {
        node = CniNode.start("msrv", "10.226.0.0/24", "192.168.226.1");
    }

    @AfterAll
    static void stop() throws Exception {
        node.close();
    }

    @RegisterExtension
    static final NothingLeftBehind nothingLeft = new NothingLeftBehind(() -> node);

    private static Metrics metrics(Supplier<List<Endpoint>> endpoints, MetricsOptions options) {
        return new Metrics(node.datapath(), endpoints, Readiness.READY, Liveness.LIVE, Quarantine.of(node.stateDir()), options);
    }

    @Test
    void healthzAndReadyzAnswerWhileAScrapeIsStuck() throws Exception {
        // A scrape reads the endpoints (files, in the agent); this one hangs there until released.
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean hang = new AtomicBoolean();
        Supplier<List<Endpoint>> endpoints = () -> {
            if (hang.get()) {
                awaitQuietly(release);
            }
            return node.endpoints().list();
        };
        try (Metrics metrics = new Metrics(node.datapath(), endpoints, Readiness.READY, Liveness.LIVE, Quarantine.of(node.stateDir()));
             MetricsServer server = MetricsServer.start(new InetSocketAddress("127.0.0.1", 0), metrics)) {
            hang.set(true);
            HttpClient scraper = HttpClient.newHttpClient();
            var scrape = scraper.sendAsync(request(server, "/metrics"), HttpResponse.BodyHandlers.ofString());
            try (scraper) {
                await().atMost(Duration.ofSeconds(10)).until(() -> release.getCount() == 1 && scrapeIsHanging());

                assertEquals(200, probe(server, "/healthz").statusCode());
                assertEquals(200, probe(server, "/readyz").statusCode());
                assertFalse(scrape.isDone(), "the scrape is still held");
                release.countDown();
                assertEquals(200, scrape.get(30, TimeUnit.SECONDS).statusCode(), "the held scrape is answered once released");
            } finally {
                release.countDown();
            }
        }
    }

    @Test
    void healthzAnswersWhileFiftyKeepAliveClientsFloodMetrics() throws Exception {
        List<CniNode.Pod> pods = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            pods.add(node.addPod("msrvf" + i));
        }
        ExecutorService clients = Executors.newFixedThreadPool(50);
        AtomicBoolean flooding = new AtomicBoolean(true);
        AtomicInteger scrapes = new AtomicInteger();
        try (Metrics metrics = metrics(() -> node.endpoints().list(), MetricsOptions.DEFAULTS);
             MetricsServer server = MetricsServer.start(new InetSocketAddress("127.0.0.1", 0), metrics)) {
            List<Future<?>> flood = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                flood.add(clients.submit(() -> {
                    // A client of its own per thread: one keep-alive connection each, reused scrape after scrape.
                    try (HttpClient client = HttpClient.newHttpClient()) {
                        while (flooding.get()) {
                            HttpResponse<String> r = client.send(request(server, "/metrics"), HttpResponse.BodyHandlers.ofString());
                            assertEquals(200, r.statusCode());
                            scrapes.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> scrapes.get() >= 100);

            for (int i = 0; i < 20; i++) {
                assertEquals(200, probe(server, "/healthz").statusCode(), "probe " + i + " during the flood");
            }
            assertTrue(server.renderings() < scrapes.get(), "scrapes that came together shared a rendering: "
                    + server.renderings() + " renderings for " + scrapes.get() + " scrapes");
            flooding.set(false);
            for (Future<?> f : flood) {
                f.get(30, TimeUnit.SECONDS);
            }
        } finally {
            flooding.set(false);
            clients.shutdownNow();
            assertTrue(clients.awaitTermination(30, TimeUnit.SECONDS));
            for (CniNode.Pod pod : pods) {
                assertEquals(0, node.del(pod).exitCode());
            }
        }
    }

    @Test
    void manyScrapesWithinTheIntervalReadTheDatapathOnce() throws Exception {
        try (Metrics metrics = metrics(() -> node.endpoints().list(), new MetricsOptions(true, Duration.ofHours(1)));
             MetricsServer server = MetricsServer.start(new InetSocketAddress("127.0.0.1", 0), metrics)) {
            ExecutorService clients = Executors.newFixedThreadPool(20);
            try {
                List<Future<Integer>> answers = new ArrayList<>();
                for (int i = 0; i < 100; i++) {
                    answers.add(clients.submit(() -> MetricsPort.get(server.address().getPort(), "/metrics").statusCode()));
                }
                for (Future<Integer> a : answers) {
                    assertEquals(200, a.get(60, TimeUnit.SECONDS));
                }
            } finally {
                clients.shutdownNow();
            }

            assertEquals(1, metrics.datapathReads(), "100 scrapes within one interval");
        }
    }

    @Test
    void theDatapathIsReadAgainOnceTheIntervalHasPassed() throws Exception {
        try (Metrics metrics = metrics(() -> node.endpoints().list(), new MetricsOptions(true, Duration.ZERO))) {
            metrics.scrape(null);
            metrics.scrape(null);

            assertEquals(2, metrics.datapathReads());
        }
    }

    @Test
    void anIdleConnectionIsClosedAfterTheIdleTimeout() throws Exception {
        try (Metrics metrics = metrics(() -> node.endpoints().list(), MetricsOptions.DEFAULTS);
             MetricsServer server = MetricsServer.start(new InetSocketAddress("127.0.0.1", 0), metrics,
                     new ConnectionLimits(16, Duration.ofMillis(500)));
             Socket idle = new Socket()) {
            idle.connect(server.address());
            idle.setSoTimeout((int) Duration.ofSeconds(30).toMillis());

            // read() returns -1 when the server closes; the socket timeout fails the test if it never does.
            assertEquals(-1, idle.getInputStream().read(), "the server closed the idle connection");
            await().atMost(Duration.ofSeconds(10)).until(() -> server.openConnections() == 0);
        }
    }

    @Test
    void aKeepAliveConnectionBetweenScrapesStaysOpenWithinTheIdleTimeout() throws Exception {
        try (Metrics metrics = metrics(() -> node.endpoints().list(), MetricsOptions.DEFAULTS);
             MetricsServer server = MetricsServer.start(new InetSocketAddress("127.0.0.1", 0), metrics);
             Socket client = new Socket()) {
            client.connect(server.address());
            client.setSoTimeout((int) PROBE_TIMEOUT.toMillis());

            assertTrue(exchange(client, "/healthz").startsWith("HTTP/1.1 200"));
            assertTrue(exchange(client, "/healthz").startsWith("HTTP/1.1 200"), "the same connection serves again");
        }
    }

    @Test
    void connectionsBeyondTheCapAreClosedAndCounted() throws Exception {
        try (Metrics metrics = metrics(() -> node.endpoints().list(), MetricsOptions.DEFAULTS);
             MetricsServer server = MetricsServer.start(new InetSocketAddress("127.0.0.1", 0), metrics,
                     new ConnectionLimits(2, Duration.ofMinutes(5)));
             Socket first = new Socket();
             Socket second = new Socket();
             Socket third = new Socket()) {
            first.connect(server.address());
            second.connect(server.address());
            await().atMost(Duration.ofSeconds(10)).until(() -> server.openConnections() == 2);

            third.connect(server.address());
            third.setSoTimeout((int) Duration.ofSeconds(30).toMillis());

            assertEquals(-1, third.getInputStream().read(), "the third connection is closed at once");
            first.setSoTimeout((int) PROBE_TIMEOUT.toMillis());
            assertTrue(exchange(first, "/healthz").startsWith("HTTP/1.1 200"), "the two within the cap still serve");
            String exposition = new String(metrics.scrape(null).body(), StandardCharsets.UTF_8);
            assertEquals(1, MetricsPort.value(exposition, "ferry_metrics_connections_refused_total"), exposition);
        }
    }

    @Test
    void withPerPodOffNoSeriesCarriesAPodsNamespaceOrName() throws Exception {
        CniNode.Pod a = node.addPod("msrva");
        CniNode.Pod b = node.addPod("msrvb");
        try (Metrics perPod = metrics(() -> node.endpoints().list(), new MetricsOptions(true, Duration.ZERO));
             Metrics podless = metrics(() -> node.endpoints().list(), new MetricsOptions(false, Duration.ZERO))) {
            assertEquals(0, a.ns().exec("ping", "-c", "2", "-W", "2", b.address().getHostAddress()).exitCode());

            String with = new String(perPod.scrape(null).body(), StandardCharsets.UTF_8);
            String without = new String(podless.scrape(null).body(), StandardCharsets.UTF_8);

            assertTrue(with.contains("pod=\"" + a.containerId() + "\""), "per-pod series by default");
            assertFalse(without.contains("pod=\""), without);
            assertFalse(without.contains("namespace=\""), without);
            assertFalse(without.contains(a.containerId()), without);
            assertTrue(without.contains("ferry_datapath_packets_total{direction=\"egress\",family=\"ipv4\",reason=\"forwarded\",verdict=\"redirect_peer\"}"),
                    "the node-wide datapath series stay");
        } finally {
            assertEquals(0, node.del(a).exitCode());
            assertEquals(0, node.del(b).exitCode());
        }
    }

    /** The scrape thread is parked in the endpoints supplier: the hold is in place. */
    private static boolean scrapeIsHanging() {
        return Thread.getAllStackTraces().entrySet().stream().anyMatch(e ->
                e.getKey().getName().startsWith("ferry-metrics")
                        && List.of(e.getValue()).stream().anyMatch(f -> f.getMethodName().equals("awaitQuietly")));
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static HttpRequest request(MetricsServer server, String path) {
        return HttpRequest.newBuilder(MetricsPort.uri(server.address().getPort(), path)).timeout(Duration.ofSeconds(60)).build();
    }

    /** What the kubelet does: a fresh connection, and a failure after the probe's timeout. */
    private static HttpResponse<String> probe(MetricsServer server, String path) throws IOException, InterruptedException {
        try (HttpClient kubelet = HttpClient.newBuilder().connectTimeout(PROBE_TIMEOUT).build()) {
            return kubelet.send(HttpRequest.newBuilder(MetricsPort.uri(server.address().getPort(), path)).timeout(PROBE_TIMEOUT)
                    .build(), HttpResponse.BodyHandlers.ofString());
        }
    }

    /** One keep-alive request on {@code socket}; returns the response head and body (a probe's body is short). */
    private static String exchange(Socket socket, String path) throws IOException {
        OutputStream out = socket.getOutputStream();
        out.write(("GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        InputStream in = socket.getInputStream();
        StringBuilder text = new StringBuilder();
        try {
            while (!text.toString().endsWith("ok\n")) {
                int c = in.read();
                if (c < 0) {
                    break;
                }
                text.append((char) c);
            }
        } catch (SocketTimeoutException e) {
            throw new IOException("no full answer within " + PROBE_TIMEOUT + ": " + text, e);
        }
        return text.toString();
    }
}
