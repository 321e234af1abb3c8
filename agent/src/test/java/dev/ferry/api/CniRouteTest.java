package dev.ferry.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.cni.CniCommand;
import dev.ferry.cni.CniError;
import dev.ferry.cni.CniReply;
import dev.ferry.cni.CniRequest;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * POST /v1/cni as ferry-cni sees it: the headers and body become the CNI
 * request, and the reply comes back as the JSON to print with a status that is
 * 2xx exactly when the command succeeded.
 */
class CniRouteTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CONFIG = "{\"cniVersion\":\"1.0.0\",\"name\":\"ferry\",\"type\":\"ferry-cni\"}";

    private static ApiRequest request(Map<String, String> headers, String body) {
        return new ApiRequest("POST", CniRoute.PATH, headers, body.getBytes(StandardCharsets.UTF_8), new PeerCredentials(1, 0, 0));
    }

    private static Map<String, String> del() {
        Map<String, String> headers = new HashMap<>();
        headers.put("cni-command", "DEL"); // header names in any case, as HTTP has them
        headers.put("CNI-ContainerID", "c0ffee");
        headers.put("CNI-IfName", "eth0");
        headers.put("CNI-Path", "/opt/cni/bin");
        return headers;
    }

    private static JsonNode json(ApiResponse response) throws Exception {
        return JSON.readTree(response.body());
    }

    @Test
    void theHeadersAndBodyReachTheHandlerAsACniRequest() {
        AtomicReference<CniRequest> seen = new AtomicReference<>();

        ApiResponse response = new CniRoute(r -> {
            seen.set(r);
            return CniReply.Done.INSTANCE;
        }).handle(request(del(), CONFIG), Map.of());

        assertEquals(200, response.status());
        assertEquals(0, response.body().length, "DEL prints nothing when it succeeds");
        assertEquals(CniCommand.DEL, seen.get().command());
        assertEquals("c0ffee", seen.get().containerId());
        assertEquals("1.0.0", seen.get().cniVersion());
    }

    @Test
    void aRequestWithoutItsEnvironmentIsCode4AndA400WithoutReachingTheHandler() throws Exception {
        AtomicReference<CniRequest> seen = new AtomicReference<>();
        Map<String, String> headers = del();
        headers.remove("CNI-ContainerID");

        ApiResponse response = new CniRoute(r -> {
            seen.set(r);
            return CniReply.Done.INSTANCE;
        }).handle(request(headers, CONFIG), Map.of());

        assertEquals(400, response.status());
        assertEquals(CniError.INVALID_ENVIRONMENT_VARIABLES, json(response).path("code").asInt());
        assertEquals("1.0.0", json(response).path("cniVersion").asText(), "in the version of the configuration");
        assertNull(seen.get());
    }

    @Test
    void eachCniErrorIsAnHttpFailureSoThePluginExitsNonZero() throws Exception {
        Map<Integer, Integer> statuses = Map.of(
                CniError.UNKNOWN_CONTAINER, 404,
                CniError.FERRY_ALREADY_EXISTS, 409,
                CniError.TRY_AGAIN_LATER, 503,
                CniError.PLUGIN_NOT_AVAILABLE, 503,
                CniError.FERRY_ADDRESSES_EXHAUSTED, 503,
                CniError.INVALID_NETWORK_CONFIG, 400,
                CniError.FERRY_ADD_FAILED, 500,
                CniError.INTERNAL, 500);
        for (Map.Entry<Integer, Integer> e : statuses.entrySet()) {
            CniError error = new CniError(e.getKey(), "failed", "why");

            ApiResponse response = new CniRoute(r -> error).handle(request(del(), CONFIG), Map.of());

            assertEquals(e.getValue(), response.status(), "code " + e.getKey());
            assertEquals(e.getKey(), json(response).path("code").asInt());
        }
    }
}
