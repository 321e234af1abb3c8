package dev.ferry.api;

import java.nio.charset.StandardCharsets;

/**
 * What a route handler answers: written with a Content-Length, never chunked
 * (ferry-cni reads no chunks), unless it carries a {@link ApiStream}: then the
 * body is that stream's, chunked, and {@code body} is empty.
 */
public record ApiResponse(int status, String contentType, byte[] body, ApiStream stream) {
    public static final String JSON = "application/json";

    public ApiResponse {
        if (status < 100 || status > 599) {
            throw new IllegalArgumentException("not an HTTP status: " + status);
        }
        body = body.clone();
    }

    public ApiResponse(int status, String contentType, byte[] body) {
        this(status, contentType, body, null);
    }

    /** A 200 whose body {@code stream} writes as it goes. */
    public static ApiResponse stream(String contentType, ApiStream stream) {
        return new ApiResponse(200, contentType, new byte[0], java.util.Objects.requireNonNull(stream));
    }

    /** A JSON answer; {@code json} is sent as it is. */
    public static ApiResponse json(int status, String json) {
        return new ApiResponse(status, JSON, json.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public byte[] body() {
        return body.clone();
    }
}
