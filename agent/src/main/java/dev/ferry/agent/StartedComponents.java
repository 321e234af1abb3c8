package dev.ferry.agent;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * What the agent has started, in order: closed in the reverse order, each even
 * when one closed before it failed, so that a component never outlives one it
 * uses and a failed start leaves only what it should (pins, routes, state).
 */
final class StartedComponents implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(StartedComponents.class);

    private record Started(String name, AutoCloseable component) {}

    private final Deque<Started> started = new ArrayDeque<>();

    /** Records a started component; returns it. */
    synchronized <T extends AutoCloseable> T add(String name, T component) {
        started.push(new Started(name, component));
        return component;
    }

    @Override
    public synchronized void close() {
        while (!started.isEmpty()) {
            Started s = started.pop();
            try {
                s.component().close();
            } catch (Exception e) {
                log.warn("event=close_failed what={} error=\"{}\"", s.name(), e.toString());
            }
        }
    }
}
