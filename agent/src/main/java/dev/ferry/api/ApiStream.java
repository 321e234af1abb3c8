package dev.ferry.api;

import java.util.Map;

/**
 * A response body written as it is made (HTTP chunked), for answers that last:
 * a capture's packets. The route returns it inside {@link ApiResponse#stream};
 * the socket writes the head, frees the request's concurrency slot, and runs
 * {@link #run} on a thread of its own until it returns, then ends the response
 * and closes the connection.
 */
public interface ApiStream {
    /** Extra response headers (the content type is the response's). */
    Map<String, String> headers();

    /** Writes the body through {@code sink}; returns when done or when the sink is closed. */
    void run(Sink sink) throws Exception;

    /** Where a stream's bytes go: the client's connection. */
    interface Sink {
        /** Sends {@code bytes} as one chunk, waiting while the connection is too full; false once the client is gone. */
        boolean write(byte[] bytes);

        /** Whether the client is still connected. */
        boolean open();
    }
}
