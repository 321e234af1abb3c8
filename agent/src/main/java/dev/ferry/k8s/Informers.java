package dev.ferry.k8s;

import dev.ferry.k8s.KubernetesObserver.Action;
import dev.ferry.k8s.KubernetesObserver.Operation;
import dev.ferry.k8s.KubernetesObserver.Resource;
import io.fabric8.kubernetes.client.informers.ExceptionHandler;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
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

    /** Counts every event of {@code resource} and runs {@code then} after it (what changed is read from the store). */
    static <T> ResourceEventHandler<T> counting(KubernetesObserver observer, Resource resource, Runnable then) {
        return new ResourceEventHandler<>() {
            @Override
            public void onAdd(T obj) {
                observer.watchEvent(resource, Action.ADD);
                then.run();
            }

            @Override
            public void onUpdate(T before, T obj) {
                observer.watchEvent(resource, Action.UPDATE);
                then.run();
            }

            @Override
            public void onDelete(T obj, boolean finalStateUnknown) {
                observer.watchEvent(resource, Action.DELETE);
                then.run();
            }
        };
    }
}
