package dev.ferry.k8s;

import dev.ferry.k8s.KubernetesObserver.Operation;
import dev.ferry.k8s.KubernetesObserver.Resource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.function.Function;

/**
 * Ferry's own objects of one kind (EgressRoute, TrafficMirror: cluster-scoped
 * custom resources), read by an informer and handed whole, oldest first, to the
 * part they configure after every change: the ones the agent can use, and the
 * ones it refuses with why.
 *
 * <p>Nothing is handed over before the informer has listed every object and the
 * pod and namespace caches the objects select by are synced: until then the
 * part keeps what it has (for egress routes, what an earlier agent pinned).
 * Changes are applied on one thread, and a burst of events makes one update.
 * The CRD not installed (an upgrade that skipped it) is logged once and
 * retried; it never makes the agent not ready, since pods start without these.
 *
 * @param <T> what one object reads into
 */
public final class ObjectWatch<T> implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ObjectWatch.class);

    /** An object the agent cannot use (the others are in force), and why, naming the field. */
    public record Refused(String name, String reason) {}

    /** Given every object in force and every refused one, oldest first, after each change. */
    @FunctionalInterface
    public interface Apply<T> {
        void accept(List<T> inForce, List<Refused> refused);
    }

    private final SharedIndexInformer<GenericKubernetesResource> informer;
    private final String crd;
    private final Function<GenericKubernetesResource, T> read;
    private final BooleanSupplier cachesSynced;
    private final KubernetesObserver observer;
    private final Resource resource;
    private final Operation operation;
    private final ExecutorService applier;
    private final AtomicBoolean pending = new AtomicBoolean();
    private final AtomicBoolean crdMissingLogged = new AtomicBoolean();
    private volatile Apply<T> apply;
    private volatile boolean synced;
    private volatile boolean closed;

    /**
     * @param read         one object to what it configures; an IllegalArgumentException refuses it with its message
     * @param cachesSynced whether the caches the objects select pods by are synced
     */
    ObjectWatch(KubernetesClient client, ResourceDefinitionContext context, Function<GenericKubernetesResource, T> read,
                BooleanSupplier cachesSynced, KubernetesObserver observer, Resource resource, Operation operation) {
        this.informer = client.genericKubernetesResources(context).runnableInformer(0);
        this.crd = context.getPlural() + "." + context.getGroup();
        this.read = read;
        this.cachesSynced = cachesSynced;
        this.observer = observer;
        this.resource = resource;
        this.operation = operation;
        this.applier = Executors.newSingleThreadExecutor(
                Thread.ofPlatform().name("ferry-watch-" + context.getPlural()).daemon().factory());
    }

    /** Starts the informer; {@code apply} is called on this watch's thread. */
    public void start(Apply<T> apply) {
        this.apply = apply;
        informer.exceptionHandler((started, t) -> {
            observer.apiError(operation);
            if (notFound(t)) {
                if (crdMissingLogged.compareAndSet(false, true)) {
                    log.warn("event=crd_missing crd={} action=retry why=\"the CRD is not installed (deploy/crds/);"
                            + " what it configures stays as it is\"", crd);
                }
            } else {
                log.warn("event=kubernetes_watch_failed operation={} started={} error=\"{}\" action=retry",
                        operation.name().toLowerCase(Locale.ROOT), started, t.toString());
            }
            return true;
        });
        informer.addEventHandler(Informers.counting(observer, resource, this::changed));
        informer.start().thenRun(() -> {
            synced = true;
            if (crdMissingLogged.get()) {
                log.info("event=crd_found crd={}", crd);
            }
            changed();
        });
    }

    /** A 404 anywhere in the chain: the informer's first list arrives wrapped in a CompletionException. */
    private static boolean notFound(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof KubernetesClientException k && k.getCode() == 404) {
                return true;
            }
        }
        return false;
    }

    /** Whether the informer has listed every object (false while the CRD is missing). */
    public boolean synced() {
        return synced;
    }

    private void changed() {
        if (!synced || !pending.compareAndSet(false, true)) {
            return; // not listed yet, or an update is queued that will see this change too
        }
        applier.execute(() -> {
            pending.set(false);
            try {
                // A plan made before the caches hold this node's pods and their namespaces would select no pod, and
                // take away what an earlier agent set up for them until the caches fill.
                while (!cachesSynced.getAsBoolean()) {
                    if (closed) {
                        return;
                    }
                    Thread.sleep(50);
                }
                List<T> inForce = new ArrayList<>();
                List<Refused> refused = new ArrayList<>();
                for (GenericKubernetesResource o : oldestFirst(informer.getStore().list())) {
                    try {
                        inForce.add(read.apply(o));
                    } catch (IllegalArgumentException e) {
                        refused.add(new Refused(o.getMetadata().getName(), e.getMessage()));
                    }
                }
                apply.accept(inForce, refused);
            } catch (RuntimeException e) {
                // What is configured stays; the next change tries again.
                log.error("event=objects_apply_failed crd={} error=\"{}\"", crd, e.getMessage(), e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    /** Oldest first (the order conflicts are settled in), then by name. */
    static List<GenericKubernetesResource> oldestFirst(List<GenericKubernetesResource> objects) {
        return objects.stream()
                .sorted(Comparator.comparing((GenericKubernetesResource o) ->
                                Optional.ofNullable(o.getMetadata().getCreationTimestamp()).orElse(""))
                        .thenComparing(o -> o.getMetadata().getName()))
                .toList();
    }

    @Override
    public void close() {
        closed = true;
        informer.close();
        applier.shutdownNow();
    }
}
