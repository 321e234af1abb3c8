package dev.ferry.metrics;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.testing.CniNode;
import dev.ferry.testing.NothingLeftBehind;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.Shell;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A real Prometheus (Debian's package) scrapes the agent while two pods talk; promtool lints the exposition. */
@RequiresRoot
class PrometheusScrapeTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @TempDir
    static Path dir;
    private static CniNode node;
    private static Metrics metrics;
    private static MetricsServer server;

    @BeforeAll
    static void start() throws Exception {
        node = CniNode.start("prom", "10.238.0.0/24", "192.168.238.1");
        metrics = new Metrics(node.datapath(), () -> node.endpoints().list(), dev.ferry.cni.Readiness.READY, Liveness.LIVE,
                dev.ferry.state.Quarantine.of(node.stateDir()));
        server = MetricsServer.start(new InetSocketAddress("127.0.0.1", 0), metrics);
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
        metrics.close();
        node.close();
    }

    @RegisterExtension
    static final NothingLeftBehind nothingLeft = new NothingLeftBehind(() -> node);

    @Test
    void prometheusSeesRedirectPeerRatesAndPerPodSeriesOfThePodsThatTalked() throws Exception {
        CniNode.Pod a = node.addPod("proma");
        CniNode.Pod b = node.addPod("promb");
        int port = freePort();
        Path config = dir.resolve("prometheus.yml");
        Files.writeString(config, """
                global:
                  scrape_interval: 1s
                scrape_configs:
                  - job_name: ferry
                    static_configs:
                      - targets: ['127.0.0.1:%d']
                """.formatted(server.address().getPort()));
        Process prometheus = new ProcessBuilder("prometheus", "--config.file=" + config,
                "--storage.tsdb.path=" + dir.resolve("tsdb"), "--web.listen-address=127.0.0.1:" + port)
                .redirectErrorStream(true).redirectOutput(dir.resolve("prometheus.log").toFile()).start();
        Process pinger = new ProcessBuilder("nsenter", "--net=/run/netns/" + a.ns().name(),
                "ping", "-q", "-i", "0.2", "-w", "60", b.address().getHostAddress())
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofSeconds(1)).until(() ->
                    query(port, "rate(ferry_datapath_packets_total{verdict=\"redirect_peer\"}[30s]) > 0").size() > 0);
            for (CniNode.Pod pod : java.util.List.of(a, b)) {
                String series = "ferry_endpoint_packets_total{pod=\"" + pod.containerId() + "\",verdict=\"redirect_peer\"}";
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofSeconds(1))
                        .until(() -> query(port, series).size() > 0);
            }
        } finally {
            pinger.destroy();
            prometheus.destroy();
            pinger.waitFor(10, TimeUnit.SECONDS);
            if (!prometheus.waitFor(10, TimeUnit.SECONDS)) {
                prometheus.destroyForcibly();
            }
            assertEquals(0, node.del(a).exitCode());
            assertEquals(0, node.del(b).exitCode());
        }
    }

    @Test
    void promtoolFindsNoProblemInTheExposition() throws Exception {
        CniNode.Pod c = node.addPod("promc");
        CniNode.Pod d = node.addPod("promd");
        assertEquals(0, c.ns().exec("ping", "-c", "2", "-W", "2", d.address().getHostAddress()).exitCode());
        byte[] exposition = metrics.scrape(null).body();

        Process promtool = new ProcessBuilder("promtool", "check", "metrics").redirectErrorStream(true).start();
        try (OutputStream in = promtool.getOutputStream()) {
            in.write(exposition);
        }
        String said = new String(promtool.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(promtool.waitFor(30, TimeUnit.SECONDS));

        assertEquals(0, promtool.exitValue(), said);
        assertEquals("", said.strip(), "promtool's findings");
        assertEquals(0, node.del(c).exitCode());
        assertEquals(0, node.del(d).exitCode());
    }

    private static JsonNode query(int port, String promql) throws IOException, InterruptedException {
        URI uri = URI.create("http://127.0.0.1:" + port + "/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8));
        HttpResponse<String> r;
        try {
            r = HTTP.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException notUpYet) {
            return JSON.createArrayNode();
        }
        return r.statusCode() == 200 ? JSON.readTree(r.body()).path("data").path("result") : JSON.createArrayNode();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
