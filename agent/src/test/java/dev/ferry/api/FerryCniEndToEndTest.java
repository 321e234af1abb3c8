package dev.ferry.api;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The real ferry-cni binary against the real server: what the container runtime sees. */
class FerryCniEndToEndTest {
    private static final String RESULT = "{\"cniVersion\":\"1.1.0\",\"interfaces\":[{\"name\":\"eth0\"}],"
            + "\"ips\":[{\"address\":\"10.244.1.5/24\",\"interface\":0}]}";
    private static final String CNI_ERROR = "{\"cniVersion\":\"1.1.0\",\"code\":7,"
            + "\"msg\":\"invalid network configuration\",\"details\":\"no podCIDR\"}";

    @TempDir
    Path dir;

    private record Run(int exit, String stdout, String stderr) {}

    @Test
    void addIsForwardedAndTheResultPrintedWithExitZero() throws Exception {
        AtomicReference<ApiRequest> seen = new AtomicReference<>();
        Routes router = Routes.builder().post("/v1/cni", (request, vars) -> {
            seen.set(request);
            return ApiResponse.json(200, RESULT);
        }).build();
        Path socket = dir.resolve("ferry.sock");
        try (AgentSocketServer server = AgentSocketServer.start(socket, router, AgentSocketOptions.defaults())) {
            String config = config(socket);
            Run run = runPlugin("ADD", config);

            assertEquals(0, run.exit(), run.stderr());
            assertEquals(RESULT, run.stdout());
            ApiRequest request = seen.get();
            assertEquals("ADD", request.header("cni-command").orElseThrow());
            assertEquals("3f6940ab5ab43bc522569d15b23f8c1b", request.header("CNI-ContainerID").orElseThrow());
            assertEquals("eth0", request.header("CNI-IfName").orElseThrow());
            assertEquals(config, new String(request.body(), StandardCharsets.UTF_8), "the body is the raw config");
        }
    }

    @Test
    void cniErrorFromTheHandlerIsPrintedWithExitOne() throws Exception {
        Routes router = Routes.builder()
                .post("/v1/cni", (request, vars) -> ApiResponse.json(400, CNI_ERROR))
                .build();
        Path socket = dir.resolve("ferry.sock");
        try (AgentSocketServer server = AgentSocketServer.start(socket, router, AgentSocketOptions.defaults())) {
            Run run = runPlugin("ADD", config(socket));

            assertEquals(1, run.exit(), run.stderr());
            assertEquals(CNI_ERROR, run.stdout());
        }
    }

    private static String config(Path socket) {
        return "{\"cniVersion\":\"1.1.0\",\"name\":\"ferry\",\"type\":\"ferry-cni\",\"agentSocket\":\""
                + socket + "\"}";
    }

    private static Run runPlugin(String command, String config) throws Exception {
        Path binary = Path.of(System.getProperty("ferry.cni.binary", "../cni-plugin/target/ferry-cni"));
        assertTrue(Files.isExecutable(binary), "ferry-cni is not built at " + binary + " (run the reactor build)");
        ProcessBuilder pb = new ProcessBuilder(binary.toAbsolutePath().toString());
        pb.environment().clear();
        pb.environment().putAll(Map.of(
                "CNI_COMMAND", command,
                "CNI_CONTAINERID", "3f6940ab5ab43bc522569d15b23f8c1b",
                "CNI_NETNS", "/var/run/netns/cni-1234",
                "CNI_IFNAME", "eth0",
                "CNI_ARGS", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0",
                "CNI_PATH", "/opt/cni/bin",
                "FERRY_CNI_TIMEOUT_SECONDS", "20"));
        Process process = pb.start();
        try {
            try (OutputStream stdin = process.getOutputStream()) {
                stdin.write(config.getBytes(StandardCharsets.UTF_8));
            }
            CompletableFuture<String> stdout = CompletableFuture.supplyAsync(() -> drain(process.getInputStream()));
            CompletableFuture<String> stderr = CompletableFuture.supplyAsync(() -> drain(process.getErrorStream()));
            assertTrue(process.waitFor(30, TimeUnit.SECONDS), "ferry-cni did not exit within 30 s");
            return new Run(process.exitValue(), stdout.get(30, TimeUnit.SECONDS), stderr.get(30, TimeUnit.SECONDS));
        } finally {
            process.destroyForcibly();
        }
    }

    private static String drain(InputStream stream) {
        try (stream) {
            return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
