package dev.ferry.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.http.ConnectionLimits;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AgentSocketServerTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private static final Routes ROUTER = Routes.builder()
            .get("/v1/endpoints/{id}", (request, vars) -> ApiResponse.json(200,
                    "{\"id\":\"" + vars.get("id") + "\",\"uid\":" + request.peer().uid() + "}"))
            .get("/v1/status", (request, vars) -> ApiResponse.json(200, "{\"ready\":true}"))
            .post("/v1/cni", (request, vars) -> {
                throw new IllegalStateException("failed to create veth 'fer3f6940ab5ab': file exists");
            })
            .build();

    /** Options with the default stuck limit. */
    private static AgentSocketOptions options(int maxInFlight, int maxBodyBytes, Set<Integer> allowedUids) {
        return new AgentSocketOptions(maxInFlight, maxBodyBytes, allowedUids, AgentSocketOptions.DEFAULT_STUCK_AFTER);
    }

    private AgentSocketServer start(ApiRouter router, AgentSocketOptions options) {
        return AgentSocketServer.start(dir.resolve("run/ferry.sock"), router, options);
    }

    @Test
    void routesGetWithPathVariable() throws Exception {
        try (AgentSocketServer server = start(ROUTER, AgentSocketOptions.defaults())) {
            RawHttp.Response response = RawHttp.exchange(server.socket(), "GET", "/v1/endpoints/abc123", null);
            assertEquals(200, response.status());
            assertEquals("application/json", response.headers().get("Content-Type"));
            JsonNode body = JSON.readTree(response.body());
            assertEquals("abc123", body.get("id").asText());
            assertEquals(0, body.get("uid").asInt(), "the peer's credentials reach the handler");
        }
    }

    @Test
    void unknownPathIs404WithJsonError() throws Exception {
        try (AgentSocketServer server = start(ROUTER, AgentSocketOptions.defaults())) {
            RawHttp.Response response = RawHttp.exchange(server.socket(), "GET", "/v1/nothing", null);
            assertEquals(404, response.status());
            assertTrue(JSON.readTree(response.body()).get("error").asText().contains("/v1/nothing"));
        }
    }

    @Test
    void wrongMethodIs405() throws Exception {
        try (AgentSocketServer server = start(ROUTER, AgentSocketOptions.defaults())) {
            RawHttp.Response response = RawHttp.exchange(server.socket(), "DELETE", "/v1/status", null);
            assertEquals(405, response.status());
            assertTrue(JSON.readTree(response.body()).get("error").asText().contains("GET"));
        }
    }

    @Test
    void keepAliveConnectionServesSeveralRequests() throws Exception {
        try (AgentSocketServer server = start(ROUTER, AgentSocketOptions.defaults());
             RawHttp http = RawHttp.connect(server.socket())) {
            assertEquals(200, http.send("GET", "/v1/status", null, true).status());
            assertEquals(404, http.send("GET", "/v1/nothing", null, true).status());
            RawHttp.Response last = http.send("GET", "/v1/endpoints/x", null, false);
            assertEquals(200, last.status());
            assertEquals("close", last.headers().get("Connection"));
            assertTrue(http.closedByServer());
        }
    }

    @Test
    void socketFileIsRootOnly() throws Exception {
        try (AgentSocketServer server = start(ROUTER, AgentSocketOptions.defaults())) {
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(server.socket())));
            assertEquals("rwxr-xr-x", PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(server.socket().getParent())));
        }
    }

    @Test
    void staleSocketFileIsReplaced() throws Exception {
        Path socket = dir.resolve("run/ferry.sock");
        Files.createDirectories(socket.getParent());
        try (ServerSocketChannel gone = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            gone.bind(UnixDomainSocketAddress.of(socket)); // closing leaves the file behind, like a killed agent
        }
        assertTrue(Files.exists(socket));
        try (AgentSocketServer server = start(ROUTER, AgentSocketOptions.defaults())) {
            assertEquals(200, RawHttp.exchange(server.socket(), "GET", "/v1/status", null).status());
        }
    }

    @Test
    void liveServerOnTheSamePathMakesStartFail() throws Exception {
        try (AgentSocketServer first = start(ROUTER, AgentSocketOptions.defaults())) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> start(ROUTER, AgentSocketOptions.defaults()).close());
            assertTrue(e.getMessage().contains("another agent is serving on " + first.socket()), e.getMessage());
            assertEquals(200, RawHttp.exchange(first.socket(), "GET", "/v1/status", null).status(),
                    "the running agent keeps its socket");
        }
    }

    @Test
    void oversizedBodyIs413() throws Exception {
        try (AgentSocketServer server = start(ROUTER, options(AgentSocketOptions.DEFAULT_MAX_IN_FLIGHT, 1024, Set.of(0)));
             RawHttp http = RawHttp.connect(server.socket())) {
            http.writeRaw(("POST /v1/cni HTTP/1.1\r\nHost: ferry\r\nContent-Length: 4096\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            RawHttp.Response response = http.read();
            assertEquals(413, response.status());
            JsonNode error = JSON.readTree(response.body());
            assertEquals(7, error.get("code").asInt(), "a CNI error object on /v1/cni");
            assertTrue(error.get("details").asText().contains("1024 bytes"));
            assertTrue(http.closedByServer());
        }
    }

    @Test
    void requestBeyondTheConcurrencyLimitIs503WithCniCode11() throws Exception {
        int limit = 2;
        CountDownLatch entered = new CountDownLatch(limit);
        CountDownLatch release = new CountDownLatch(1);
        Routes slow = Routes.builder().post("/v1/cni", (request, vars) -> {
            entered.countDown();
            release.await(30, TimeUnit.SECONDS);
            return ApiResponse.json(200, "{\"cniVersion\":\"1.1.0\"}");
        }).build();
        List<CompletableFuture<RawHttp.Response>> slowOnes = new ArrayList<>();
        ExecutorService clients = Executors.newFixedThreadPool(limit);
        try (AgentSocketServer server = start(slow, options(limit, AgentSocketOptions.DEFAULT_MAX_BODY_BYTES, Set.of(0)))) {
            try {
                for (int i = 0; i < limit; i++) {
                    slowOnes.add(CompletableFuture.supplyAsync(() -> cniAdd(server.socket()), clients));
                }
                assertTrue(entered.await(30, TimeUnit.SECONDS), "the first requests reach the handler");

                RawHttp.Response busy = cniAdd(server.socket());
                assertEquals(503, busy.status());
                JsonNode error = JSON.readTree(busy.body());
                assertEquals(11, error.get("code").asInt());
                assertEquals("ferry agent is busy, try again later", error.get("msg").asText());
                assertEquals("1.0.0", error.get("cniVersion").asText(), "in the configuration's CNI version");
            } finally {
                release.countDown();
            }
            for (CompletableFuture<RawHttp.Response> f : slowOnes) {
                assertEquals(200, f.get(30, TimeUnit.SECONDS).status());
            }
            assertEquals(200, cniAdd(server.socket()).status(), "finished requests free their slots");
        } finally {
            clients.shutdownNow();
        }
    }

    @Test
    void clientsThatHangUpBeforeTheAnswerGiveTheirSlotBackWhenTheWorkEnds() throws Exception {
        int limit = 2;
        AtomicInteger entered = new AtomicInteger();
        AtomicInteger finished = new AtomicInteger();
        Routes slow = Routes.builder().post("/v1/cni", (request, vars) -> {
            entered.incrementAndGet();
            Thread.sleep(100); // the runtime's timeout kills ferry-cni while the agent still works
            finished.incrementAndGet();
            return ApiResponse.json(200, "{\"cniVersion\":\"1.0.0\"}");
        }).build();
        try (AgentSocketServer server = start(slow, options(limit, AgentSocketOptions.DEFAULT_MAX_BODY_BYTES, Set.of(0)))) {
            int hungUp = 5 * limit;
            for (int i = 0; i < hungUp; i++) {
                int admitted = i + 1;
                await().atMost(Duration.ofSeconds(10)).until(() -> server.inFlight() < limit);
                try (RawHttp http = RawHttp.connect(server.socket())) {
                    http.writeRaw(cniAddRequest());
                    await().atMost(Duration.ofSeconds(10)).until(() -> entered.get() == admitted);
                } // closed with the request in flight, as a SIGKILLed ferry-cni does
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> finished.get() == hungUp);

            await().atMost(Duration.ofSeconds(10)).until(() -> server.inFlight() == 0);
            assertEquals(200, cniAdd(server.socket()).status(), "every slot is free again");
        }
    }

    @Test
    void aSocketWhoseEverySlotHangsIsNotServingUntilOneFinishes() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        Routes hanging = Routes.builder().post("/v1/cni", (request, vars) -> {
            release.await(30, TimeUnit.SECONDS);
            return ApiResponse.json(200, "{\"cniVersion\":\"1.0.0\"}");
        }).build();
        AgentSocketOptions options = new AgentSocketOptions(1, AgentSocketOptions.DEFAULT_MAX_BODY_BYTES, Set.of(0), Duration.ofMillis(300));
        ExecutorService clients = Executors.newSingleThreadExecutor();
        try (AgentSocketServer server = start(hanging, options)) {
            assertEquals(Optional.empty(), server.notServingReason(), "an idle socket serves");
            CompletableFuture<RawHttp.Response> held = CompletableFuture.supplyAsync(() -> cniAdd(server.socket()), clients);
            await().atMost(Duration.ofSeconds(10)).until(() -> server.inFlight() == 1);

            await().atMost(Duration.ofSeconds(10)).until(() -> server.notServingReason().isPresent());
            assertTrue(server.notServingReason().get().contains("all 1 request slots"), server.notServingReason()::get);

            release.countDown();
            assertEquals(200, held.get(30, TimeUnit.SECONDS).status());
            // The slot goes back once the write completes on the event loop, which may be just after the client read it.
            await().atMost(Duration.ofSeconds(10)).until(() -> server.notServingReason().isEmpty());
        } finally {
            release.countDown();
            clients.shutdownNow();
        }
    }

    @Test
    void handlerExceptionOnCniIs500WithCniError999() throws Exception {
        try (AgentSocketServer server = start(ROUTER, AgentSocketOptions.defaults())) {
            RawHttp.Response response = cniAdd(server.socket());
            assertEquals(500, response.status());
            JsonNode error = JSON.readTree(response.body());
            assertEquals(999, error.get("code").asInt());
            assertEquals("failed to create veth 'fer3f6940ab5ab': file exists", error.get("msg").asText());
            assertEquals("1.0.0", error.get("cniVersion").asText());
        }
    }

    @Test
    void peerWhoseUidIsNotAllowedIs403() throws Exception {
        try (AgentSocketServer server = start(ROUTER, options(AgentSocketOptions.DEFAULT_MAX_IN_FLIGHT, AgentSocketOptions.DEFAULT_MAX_BODY_BYTES, Set.of(12345)));
             RawHttp http = RawHttp.connect(server.socket())) {
            RawHttp.Response response = http.send("GET", "/v1/status", null, true);
            assertEquals(403, response.status());
            assertTrue(JSON.readTree(response.body()).get("error").asText().contains("uid 0"));
            assertTrue(http.closedByServer());
        }
    }

    @Test
    void aRefusedPeerSlowToSendItsRequestStillGetsTheForbiddenAnswer() throws Exception {
        try (AgentSocketServer server = start(ROUTER, options(AgentSocketOptions.DEFAULT_MAX_IN_FLIGHT, AgentSocketOptions.DEFAULT_MAX_BODY_BYTES, Set.of(12345)));
             RawHttp http = RawHttp.connect(server.socket())) {
            // A loaded machine's client is this slow between connect and send; the answer must wait for it.
            Thread.sleep(300);
            RawHttp.Response response = http.send("GET", "/v1/status", null, true);
            assertEquals(403, response.status());
            assertTrue(http.closedByServer());
        }
    }

    @Test
    void closeRemovesTheSocketAndStopsItsThreads() throws Exception {
        Set<Thread> before = apiThreads();
        AgentSocketServer server = start(ROUTER, AgentSocketOptions.defaults());
        try {
            assertEquals(200, RawHttp.exchange(server.socket(), "GET", "/v1/status", null).status());
            assertFalse(Set.copyOf(before).containsAll(apiThreads()), "the server runs its own threads");
        } finally {
            server.close();
        }
        assertFalse(Files.exists(server.socket()));
        await().atMost(Duration.ofSeconds(10)).until(() -> before.containsAll(apiThreads()));
    }

    @Test
    void anIdleConnectionIsClosedAfterTheIdleTimeout() throws Exception {
        AgentSocketOptions options = new AgentSocketOptions(4, AgentSocketOptions.DEFAULT_MAX_BODY_BYTES, Set.of(0),
                AgentSocketOptions.DEFAULT_STUCK_AFTER, new ConnectionLimits(16, Duration.ofMillis(300)));
        try (AgentSocketServer server = start(ROUTER, options);
             RawHttp http = RawHttp.connect(server.socket())) {
            assertEquals(200, http.send("GET", "/v1/status", null, true).status());

            assertTrue(closedWithin(http, Duration.ofSeconds(30)), "the server closed the idle keep-alive connection");
            await().atMost(Duration.ofSeconds(10)).until(() -> server.openConnections() == 0);
        }
    }

    @Test
    void aRequestThatOutlastsTheIdleTimeoutIsStillAnswered() throws Exception {
        // An ADD that waits for its container's lock neither reads nor writes: the connection is busy, not idle.
        Routes slow = Routes.builder().get("/v1/status", (request, vars) -> {
            new CountDownLatch(1).await(1500, TimeUnit.MILLISECONDS); // the work takes five idle timeouts
            return ApiResponse.json(200, "{\"ready\":true}");
        }).build();
        AgentSocketOptions options = new AgentSocketOptions(4, AgentSocketOptions.DEFAULT_MAX_BODY_BYTES, Set.of(0),
                AgentSocketOptions.DEFAULT_STUCK_AFTER, new ConnectionLimits(16, Duration.ofMillis(300)));
        try (AgentSocketServer server = start(slow, options);
             RawHttp http = RawHttp.connect(server.socket())) {
            assertEquals(200, http.send("GET", "/v1/status", null, true).status());
        }
    }

    @Test
    void connectionsBeyondTheCapAreClosedAndCounted() throws Exception {
        AgentSocketOptions options = new AgentSocketOptions(4, AgentSocketOptions.DEFAULT_MAX_BODY_BYTES, Set.of(0),
                AgentSocketOptions.DEFAULT_STUCK_AFTER, new ConnectionLimits(2, Duration.ofMinutes(5)));
        try (AgentSocketServer server = start(ROUTER, options);
             RawHttp first = RawHttp.connect(server.socket());
             RawHttp second = RawHttp.connect(server.socket())) {
            await().atMost(Duration.ofSeconds(10)).until(() -> server.openConnections() == 2);

            try (RawHttp third = RawHttp.connect(server.socket())) {
                assertTrue(closedWithin(third, Duration.ofSeconds(30)), "the third connection is closed at once");
            }
            assertEquals(1, server.refusedConnections());
            assertEquals(200, first.send("GET", "/v1/status", null, true).status(), "the two within the cap still serve");
            assertEquals(200, second.send("GET", "/v1/status", null, true).status());
        }
    }

    /** Whether the server closes {@code http} within {@code limit}; false when it still holds it open then. */
    private static boolean closedWithin(RawHttp http, Duration limit) throws Exception {
        CompletableFuture<Boolean> closed = CompletableFuture.supplyAsync(() -> {
            try {
                return http.closedByServer();
            } catch (java.io.IOException e) {
                return false;
            }
        });
        try {
            return closed.get(limit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException stillOpen) {
            return false;
        }
    }

    private static Set<Thread> apiThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("ferry-api") && t.isAlive())
                .collect(Collectors.toSet());
    }

    private static byte[] cniAddRequest() {
        String config = "{\"cniVersion\":\"1.0.0\",\"name\":\"ferry\",\"type\":\"ferry-cni\"}";
        byte[] body = config.getBytes(StandardCharsets.UTF_8);
        return ("POST /v1/cni HTTP/1.1\r\nHost: ferry\r\nCNI-Command: ADD\r\nCNI-ContainerID: abc\r\n"
                + "Content-Length: " + body.length + "\r\nConnection: close\r\n\r\n" + config)
                .getBytes(StandardCharsets.UTF_8);
    }

    private static RawHttp.Response cniAdd(Path socket) {
        try (RawHttp http = RawHttp.connect(socket)) {
            http.writeRaw(cniAddRequest());
            return http.read();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
