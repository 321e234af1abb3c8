package dev.ferry.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * The error answers of the socket itself: a CNI error object on {@code /v1/cni}
 * (ferry-cni prints it as the plugin's error), {@code {"error": "..."}} elsewhere.
 */
public final class ApiErrors {
    /** CNI spec error codes used by the socket layer. */
    public static final int CNI_INVALID_CONFIG = 7;
    public static final int CNI_TRY_AGAIN_LATER = 11;
    public static final int CNI_GENERIC = 999;

    private static final String DEFAULT_CNI_VERSION = "1.1.0";
    private static final ObjectMapper JSON = new ObjectMapper();

    private ApiErrors() {}

    /** {@code {"error": message}}. */
    public static ApiResponse error(int status, String message) {
        ObjectNode node = JSON.createObjectNode().put("error", message);
        return new ApiResponse(status, ApiResponse.JSON, bytes(node));
    }

    /** A CNI error object, in the cniVersion of the request's network configuration when it names one. */
    private static ApiResponse cniError(int status, byte[] configuration, int code, String msg, String details) {
        ObjectNode node = JSON.createObjectNode()
                .put("cniVersion", cniVersion(configuration))
                .put("code", code)
                .put("msg", msg);
        if (details != null && !details.isEmpty()) {
            node.put("details", details);
        }
        return new ApiResponse(status, ApiResponse.JSON, bytes(node));
    }

    /** A CNI error object on {@code /v1/cni}, {@code {"error": ...}} on any other path. */
    public static ApiResponse forPath(String path, byte[] body, int status, int cniCode, String msg, String details) {
        if (CniRoute.PATH.equals(path)) {
            return cniError(status, body, cniCode, msg, details);
        }
        return error(status, details == null || details.isEmpty() ? msg : msg + ": " + details);
    }

    /**
     * An error both kinds of client understand, for answers given before the path is
     * known: a CNI error object that also carries {@code error}.
     */
    public static ApiResponse forAnyClient(int status, int cniCode, String message) {
        ObjectNode node = JSON.createObjectNode()
                .put("cniVersion", DEFAULT_CNI_VERSION)
                .put("code", cniCode)
                .put("msg", message)
                .put("error", message);
        return new ApiResponse(status, ApiResponse.JSON, bytes(node));
    }

    private static String cniVersion(byte[] configuration) {
        try {
            JsonNode version = JSON.readTree(configuration).path("cniVersion");
            return version.isTextual() && !version.asText().isEmpty() ? version.asText() : DEFAULT_CNI_VERSION;
        } catch (IOException | RuntimeException e) {
            return DEFAULT_CNI_VERSION; // not JSON: the agent's CNI handler would say so; the socket layer does not care
        }
    }

    private static byte[] bytes(ObjectNode node) {
        try {
            return JSON.writeValueAsBytes(node);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
