package dev.ferry.endpoint;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Supplier;

/**
 * An ADD step that runs on a virtual thread of its own while the steps after
 * it go on, for work that shares nothing with them. The script takes the
 * result with {@link #join} where it needs it, as if the step had run there;
 * an undo takes it with {@link #settled}, which waits for the step to end, so
 * that an undo never overtakes the step it undoes.
 */
final class Background<T> {
    private final CompletableFuture<T> future;

    private Background(CompletableFuture<T> future) {
        this.future = future;
    }

    /** Starts {@code step}; {@code name} names its thread. It must not enter a namespace (a virtual thread never calls setns). */
    static <T> Background<T> start(String name, Supplier<T> step) {
        return new Background<>(CompletableFuture.supplyAsync(step, task -> Thread.ofVirtual().name(name).start(task)));
    }

    /** Waits for the step; its exception is thrown as the step threw it. */
    T join() {
        try {
            return future.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw e;
        }
    }

    /** Waits for the step; empty when it failed, which leaves nothing to undo. */
    Optional<T> settled() {
        try {
            return Optional.ofNullable(future.join());
        } catch (CompletionException e) {
            return Optional.empty();
        }
    }
}
