package dev.ferry.endpoint;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * The undo steps of a half-done ADD, run newest first when the ADD fails, so a
 * failure at any step leaves nothing behind. An undo that fails is logged and
 * the others still run: each one frees something independent.
 *
 * <pre>{@code
 * try (Rollback rollback = new Rollback(key)) {
 *     make(a); rollback.add("a", () -> unmake(a));
 *     ...
 *     rollback.commit();
 * }
 * }</pre>
 */
final class Rollback implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Rollback.class);

    private record Step(String what, Runnable undo) {
    }

    private final EndpointKey key;
    private final Deque<Step> steps = new ArrayDeque<>();
    private boolean committed;

    Rollback(EndpointKey key) {
        this.key = key;
    }

    void add(String what, Runnable undo) {
        steps.push(new Step(what, undo));
    }

    void commit() {
        committed = true;
    }

    @Override
    public void close() {
        if (committed) {
            return;
        }
        while (!steps.isEmpty()) {
            Step step = steps.pop();
            try {
                step.undo().run();
            } catch (RuntimeException e) {
                log.warn("event=rollback_step_failed endpoint={} step={} error=\"{}\"", key, step.what(), e.getMessage());
            }
        }
    }
}
