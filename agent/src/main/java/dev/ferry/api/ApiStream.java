package dev.ferry.api;

import java.util.Map;

/**
 * A response body written as it is produced, for as long as it lasts: sent
 * chunked, ended by the producer ({@link StreamSink#end}) or by the client
 * going away. The request's slot is given back once {@link #start} returns, so
 * a long stream holds a connection, never a request slot.
 */
public interface ApiStream {
    /** Called once the response head is out; must return soon, producing into {@code sink} from elsewhere. */
    void start(StreamSink sink);

    /** Extra response headers (the content type is the response's). */
    default Map<String, String> headers() {
        return Map.of();
    }

    /** Where a stream's chunks go; safe to call from any thread. */
    interface StreamSink {
        /**
         * Writes one chunk, or returns false at once without writing it when the
         * client is behind (its connection's buffer is full) or gone: a slow
         * reader never blocks the producer.
         */
        boolean offer(byte[] chunk);

        /** Ends the stream: the last chunk, then the connection closes. */
        void end();

        /** Runs {@code action} once when the stream ends, however: {@link #end}, the client gone, the server closing. */
        void onEnd(Runnable action);
    }
}
