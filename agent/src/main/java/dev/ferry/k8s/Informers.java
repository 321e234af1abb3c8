package dev.ferry.k8s;

import dev.ferry.k8s.KubernetesObserver.Operation;
import io.fabric8.kubernetes.client.informers.ExceptionHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Locale;

/** How every informer here handles a failed list or watch. */
final class Informers {
    private static final Logger log = LoggerFactory.getLogger(Informers.class);

    private Informers() {}

    /** An informer that stops on a failure is a node that never hears of a change again: count it, always retry. */
    static ExceptionHandler retryAlways(KubernetesObserver observer, Operation operation) {
        return (started, t) -> {
            observer.apiError(operation);
            log.warn("event=kubernetes_watch_failed operation={} started={} error=\"{}\" action=retry",
                    operation.name().toLowerCase(Locale.ROOT), started, t.toString());
            return true;
        };
    }
}
