package dev.ferry.api;

import java.nio.charset.StandardCharsets;

/**
 * What a route handler answers: a body written with a Content-Length (ferry-cni
 * reads no chunks), or, with a {@code stream}, a body written chunked as it is
 * produced ({@link ApiStream}); {@code body} is empty then.
 */
public record ApiResponse(int status, String contentType, byte[] body, ApiStream stream) {
    public static final String JSON = "application/json";
    /** One JSON document per line, as streams send them. */
    public static final String JSON_LINES = "application/jsonl";

    public ApiResponse {
        if (status < 100 || status > 599) {
            throw new IllegalArgumentException("not an HTTP status: " + status);
        }
        body = body.clone();
    }

    /** A whole answer. */
    public ApiResponse(int status, String contentType, byte[] body) {
        this(status, contentType, body, null);
    }

    /** A 200 whose body {@code stream} writes as it goes. */
    public static ApiResponse stream(String contentType, ApiStream stream) {
        return new ApiResponse(200, contentType, new byte[0], java.util.Objects.requireNonNull(stream, "a streamed answer needs its stream"));
    }

    /** A JSON answer; {@code json} is sent as it is. */
    public static ApiResponse json(int status, String json) {
        return new ApiResponse(status, JSON, json.getBytes(StandardCharsets.UTF_8));
    }

    /** A 200 whose body {@code stream} writes, one JSON document per line. */
    public static ApiResponse jsonLines(ApiStream stream) {
        return stream(JSON_LINES, stream);
    }

    @Override
    public byte[] body() {
        return body.clone();
    }
}
