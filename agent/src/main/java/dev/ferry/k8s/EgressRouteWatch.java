package dev.ferry.k8s;

import dev.ferry.egress.EgressRoute;
import dev.ferry.egress.EgressStatus;
import dev.ferry.selection.PodLabels;
import dev.ferry.k8s.KubernetesObserver.Action;
import dev.ferry.k8s.KubernetesObserver.Operation;
import dev.ferry.k8s.KubernetesObserver.Resource;
import dev.ferry.net.IpPrefix;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;
import java.util.function.BooleanSupplier;

/**
 * Kubernetes mode's egress routes: the EgressRoute objects (informer on the
 * cluster-scoped {@code egressroutes.ferry.dev}) handed whole to the egress
 * routes on every change, and the Namespaces' labels the routes select by.
 *
 * <p>Nothing is handed over before the informer has listed every object: until
 * then the routes an earlier agent pinned stay in force. Changes are applied on
 * one thread, and a burst of events makes one update. The CRD not installed (an
 * upgrade that skipped it) is logged once and retried; it never makes the agent
 * not ready, since pods start fine without egress routes.
 */
public final class EgressRouteWatch implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EgressRouteWatch.class);

    private final SharedIndexInformer<GenericKubernetesResource> routes;
    private final SharedIndexInformer<Namespace> namespaces;
    private final KubernetesObserver observer;
    private final EndpointGcLabels podLabels;
    private volatile BiConsumer<List<EgressRoute>, List<EgressStatus.Refused>> apply;
    private final List<IpPrefix> clusterCidrs;
    private final ExecutorService applier =
            Executors.newSingleThreadExecutor(Thread.ofPlatform().name("ferry-egress-route-watch").daemon().factory());
    private final AtomicBoolean pending = new AtomicBoolean();
    private final AtomicBoolean crdMissingLogged = new AtomicBoolean();
    private volatile boolean synced;
    private final BooleanSupplier podsSynced;
    private volatile boolean closed;

    /**
     * Starts the Namespace informer; {@link #start} starts the EgressRoute one.
     *
     * @param clusterCidrs the configured cluster CIDRs (empty when they come from the Nodes): no route may send them away
     * @param podLabels    the labels of this node's pods by namespace and name
     */
    EgressRouteWatch(KubernetesClient client, List<IpPrefix> clusterCidrs, EndpointGcLabels podLabels,
                     BooleanSupplier podsSynced, KubernetesObserver observer) {
        this.clusterCidrs = List.copyOf(clusterCidrs);
        this.podsSynced = podsSynced;
        this.observer = observer;
        this.podLabels = podLabels;
        this.namespaces = client.namespaces().runnableInformer(0);
        namespaces.exceptionHandler(Informers.retryAlways(observer, Operation.WATCH_NAMESPACES));
        // Label changes reach the routes by the egress routes' own tick, which re-plans when a pod's labels differ.
        namespaces.addEventHandler(counting(observer, Resource.NAMESPACE, () -> { }));
        namespaces.start();
        this.routes = client.genericKubernetesResources(EgressRouteObjects.CONTEXT).runnableInformer(0);
    }

    /**
     * Starts the EgressRoute informer.
     *
     * @param apply given every route in force and every refused object, oldest first, after each change
     */
    public void start(BiConsumer<List<EgressRoute>, List<EgressStatus.Refused>> apply) {
        this.apply = apply;
        routes.exceptionHandler((started, t) -> {
            observer.apiError(Operation.WATCH_EGRESS_ROUTES);
            if (t instanceof KubernetesClientException k && k.getCode() == 404) {
                if (crdMissingLogged.compareAndSet(false, true)) {
                    log.warn("event=egress_route_crd_missing crd=egressroutes.ferry.dev action=retry"
                            + " why=\"the CRD is not installed (deploy/crds/); egress routes pinned before stay as they are\"");
                }
            } else {
                log.warn("event=kubernetes_watch_failed operation=watch_egress_routes started={} error=\"{}\" action=retry",
                        started, t.toString());
            }
            return true;
        });
        routes.addEventHandler(counting(observer, Resource.EGRESS_ROUTE, this::changed));
        routes.start().thenRun(() -> {
            synced = true;
            if (crdMissingLogged.get()) {
                log.info("event=egress_route_crd_found crd=egressroutes.ferry.dev");
            }
            changed();
        });
    }

    /** The pods' labels from the endpoint GC's Pod cache, their namespaces' from this watch's Namespace cache. */
    public PodLabels labels() {
        return (namespace, name) -> {
            Namespace ns = namespaces.getStore().getByKey(namespace);
            if (ns == null) {
                return Optional.empty();
            }
            Map<String, String> nsLabels = ns.getMetadata().getLabels() == null ? Map.of() : ns.getMetadata().getLabels();
            return podLabels.of(namespace, name).map(pod -> new PodLabels.Labels(nsLabels, pod));
        };
    }

    /** The labels of this node's pods, as the endpoint GC's Pod cache has them. */
    @FunctionalInterface
    interface EndpointGcLabels {
        Optional<Map<String, String>> of(String namespace, String name);
    }

    /** Whether the informer has listed every EgressRoute (false while the CRD is missing). */
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
                // take the routes an earlier agent pinned away from them until the caches fill.
                while (!(podsSynced.getAsBoolean() && namespaces.hasSynced())) {
                    if (closed) {
                        return;
                    }
                    Thread.sleep(50);
                }
                List<EgressRoute> inForce = new ArrayList<>();
                List<EgressStatus.Refused> refused = new ArrayList<>();
                for (EgressRouteObjects.Read read : EgressRouteObjects.readAll(routes.getStore().list(), clusterCidrs)) {
                    switch (read) {
                        case EgressRouteObjects.Read.Route r -> inForce.add(r.route());
                        case EgressRouteObjects.Read.Refused r -> refused.add(r.why());
                    }
                }
                apply.accept(inForce, refused);
            } catch (RuntimeException e) {
                // The datapath keeps what it has; the next change tries again.
                log.error("event=egress_routes_update_failed error=\"{}\"", e.getMessage(), e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    private static <T> ResourceEventHandler<T> counting(KubernetesObserver observer, Resource resource, Runnable then) {
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

    @Override
    public void close() {
        closed = true;
        routes.close();
        namespaces.close();
        applier.shutdownNow();
    }

}
