package dev.ferry.api;

import java.nio.charset.StandardCharsets;

/** What a route handler answers: written with a Content-Length, never chunked (ferry-cni reads no chunks). */
public record ApiResponse(int status, String contentType, byte[] body) {
    public static final String JSON = "application/json";

    public ApiResponse {
        if (status < 100 || status > 599) {
            throw new IllegalArgumentException("not an HTTP status: " + status);
        }
        body = body.clone();
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
