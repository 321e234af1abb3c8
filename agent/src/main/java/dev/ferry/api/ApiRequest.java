package dev.ferry.api;

import java.util.Collections;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * One request on the agent socket, decoupled from Netty: what a route handler sees.
 *
 * @param headers the request headers, looked up case-insensitively; repeated headers are joined with ", "
 * @param body    the request body, empty when there is none
 */
public record ApiRequest(String method, String path, Map<String, String> headers, byte[] body,
                         PeerCredentials peer) {

    public ApiRequest {
        TreeMap<String, String> copy = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        copy.putAll(headers);
        headers = Collections.unmodifiableMap(copy);
        body = body.clone();
    }

    /** The value of a header, in any spelling of its name. */
    public Optional<String> header(String name) {
        return Optional.ofNullable(headers.get(name));
    }

    @Override
    public byte[] body() {
        return body.clone();
    }
}
