package dev.ferry.metrics;

import io.netty.util.concurrent.DefaultThreadFactory;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Renders expositions on one thread of its own, so that a scrape never holds the
 * metrics port's event loop, and shares each rendering among every scrape that
 * asked for its format before it started: fifty scrapers in a loop cost one
 * rendering at a time, and every answer is still rendered after its request came.
 */
final class SharedRenderings implements AutoCloseable {
    private final Function<Metrics.Format, Metrics.Exposition> render;
    private final ExecutorService thread = Executors.newSingleThreadExecutor(new DefaultThreadFactory("ferry-metrics-render", true));
    /** Per format, the rendering that is queued and has not started: the next scrapes join it. Guarded by this. */
    private final Map<Metrics.Format, CompletableFuture<Metrics.Exposition>> queued = new EnumMap<>(Metrics.Format.class);
    private long renderings;

    SharedRenderings(Function<Metrics.Format, Metrics.Exposition> render) {
        this.render = render;
    }

    /** The next rendering of {@code format} to start; it completes exceptionally when rendering fails. */
    synchronized CompletableFuture<Metrics.Exposition> next(Metrics.Format format) {
        CompletableFuture<Metrics.Exposition> waiting = queued.get(format);
        if (waiting != null) {
            return waiting;
        }
        CompletableFuture<Metrics.Exposition> next = new CompletableFuture<>();
        queued.put(format, next);
        try {
            thread.execute(() -> run(format, next));
        } catch (RejectedExecutionException closed) {
            queued.remove(format);
            next.completeExceptionally(new IllegalStateException("the metrics renderer is stopped"));
        }
        return next;
    }

    private void run(Metrics.Format format, CompletableFuture<Metrics.Exposition> rendering) {
        synchronized (this) {
            // From here on, a scrape that comes needs a rendering that starts after it.
            queued.remove(format, rendering);
            renderings++;
        }
        try {
            rendering.complete(render.apply(format));
        } catch (RuntimeException | Error e) {
            rendering.completeExceptionally(e);
        }
    }

    /** Renderings started so far. */
    synchronized long renderings() {
        return renderings;
    }

    @Override
    public void close() {
        synchronized (this) {
            queued.values().forEach(r -> r.completeExceptionally(new IllegalStateException("the metrics renderer is stopped")));
            queued.clear();
        }
        thread.shutdownNow();
        try {
            thread.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
