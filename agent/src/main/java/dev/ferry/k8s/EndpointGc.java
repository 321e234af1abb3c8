package dev.ferry.k8s;

import dev.ferry.cni.PodNetwork;
import dev.ferry.endpoint.Endpoint;
import dev.ferry.endpoint.EndpointKey;
import dev.ferry.k8s.KubernetesObserver.Operation;
import dev.ferry.k8s.KubernetesObserver.Resource;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * This node's pods (informer with field selector {@code spec.nodeName}) and the
 * collection of endpoints whose pod is gone: an endpoint whose pod (namespace,
 * name, and uid when both know it) is not on this node in a synced, watching
 * cache, for a whole grace period, is removed exactly as a DEL would. The runtime's
 * own DEL normally comes first; this catches the DEL that never comes.
 *
 * <p>Nothing is collected while the cache is not synced or the watch is down: a
 * pod missing from a stale cache is not a pod that is gone, so the grace period
 * starts again after an outage.
 */
public final class EndpointGc implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EndpointGc.class);

    private final String nodeName;
    private final PodNetwork endpoints;
    private final Duration gracePeriod;
    private final KubernetesClient client;
    private final BooleanSupplier apiReachable;
    private final KubernetesObserver observer;
    private final Runnable synced;
    private volatile SharedIndexInformer<Pod> pods;
    private final ScheduledExecutorService sweeper =
            Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("ferry-endpoint-gc").daemon().factory());
    /** When each endpoint was first seen without its pod. Sweeper thread only. */
    private final Map<EndpointKey, Long> missingSince = new HashMap<>();

    /**
     * Starts the pod informer and the sweeps.
     *
     * @param synced runs each time an informer of this GC has listed every pod (at start and after a restart)
     */
    EndpointGc(KubernetesClient client, String nodeName, PodNetwork endpoints, Duration gracePeriod,
               BooleanSupplier apiReachable, KubernetesObserver observer, Runnable synced) {
        this.observer = observer;
        this.client = client;
        this.nodeName = nodeName;
        this.endpoints = endpoints;
        this.gracePeriod = gracePeriod;
        this.apiReachable = apiReachable;
        this.synced = synced;
        pods = startInformer();
        long period = Math.clamp(gracePeriod.toMillis() / 4, 100, 5_000);
        sweeper.scheduleWithFixedDelay(this::sweepSafely, period, period, TimeUnit.MILLISECONDS);
    }

    private SharedIndexInformer<Pod> startInformer() {
        // The server filters by node; the CRUD mock server (fabric8 #3669) and anything else that ignores the
        // selector is filtered again in podExists.
        SharedIndexInformer<Pod> informer = client.pods().inAnyNamespace().withField("spec.nodeName", nodeName).runnableInformer(0);
        informer.exceptionHandler(Informers.retryAlways(observer, Operation.WATCH_PODS));
        // The GC reads the informer's store when it sweeps; the events are only counted.
        informer.addEventHandler(Informers.counting(observer, Resource.POD, () -> { }));
        informer.start().thenRun(synced);
        return informer;
    }

    /** A new informer (a full list) after an outage; GC waits for its sync. */
    void restartInformer() {
        SharedIndexInformer<Pod> old = pods;
        pods = startInformer();
        old.close();
    }

    /** Whether the Pod cache has listed every pod of this node. */
    boolean synced() {
        return pods.hasSynced();
    }

    /** The labels of this node's pod by namespace and name, when the cache holds it. */
    Optional<Map<String, String>> podLabels(String namespace, String name) {
        Pod pod = pods.getStore().getByKey(namespace + "/" + name);
        if (pod == null || pod.getSpec() == null || !nodeName.equals(pod.getSpec().getNodeName())) {
            return Optional.empty();
        }
        return Optional.of(pod.getMetadata().getLabels() == null ? Map.of() : pod.getMetadata().getLabels());
    }

    Optional<String> notReadyReason() {
        if (!pods.hasSynced()) {
            return Optional.of("the Pod cache is not synced with the API server yet");
        }
        if (!pods.isWatching()) {
            return Optional.of("the watch on Pods is down (is the API server reachable?); the datapath is unchanged");
        }
        return Optional.empty();
    }

    private void sweepSafely() {
        try {
            sweep(System.nanoTime());
        } catch (RuntimeException e) {
            log.error("event=endpoint_gc_failed error=\"{}\"", e.getMessage(), e);
        }
    }

    private void sweep(long now) {
        SharedIndexInformer<Pod> pods = this.pods;
        if (!pods.hasSynced() || !pods.isWatching() || !apiReachable.getAsBoolean()) {
            missingSince.clear();
            return;
        }
        List<Endpoint> all = endpoints.endpoints();
        Set<EndpointKey> listed = all.stream().map(e -> new EndpointKey(e.containerId(), e.ifname())).collect(Collectors.toSet());
        missingSince.keySet().retainAll(listed);
        for (Endpoint e : all) {
            if (e.podNamespace().isEmpty() || e.podName().isEmpty()) {
                continue; // not a Kubernetes pod's (no K8S_POD_* in CNI_ARGS): nothing to compare with
            }
            EndpointKey key = new EndpointKey(e.containerId(), e.ifname());
            if (podExists(pods, e)) {
                missingSince.remove(key);
                continue;
            }
            long since = missingSince.computeIfAbsent(key, k -> now);
            if (now - since >= gracePeriod.toNanos()) {
                Optional<String> error = endpoints.deleteEndpoint(key).map(c -> c.msg() + ": " + c.details());
                missingSince.remove(key);
                log.info("event=endpoint_collected container={} ifname={} pod={}/{} uid={} why=pod_gone grace_ms={} error=\"{}\"",
                        e.containerId(), e.ifname(), e.podNamespace().get(), e.podName().get(), e.podUid().orElse(""),
                        gracePeriod.toMillis(), error.orElse(""));
            }
        }
    }

    private boolean podExists(SharedIndexInformer<Pod> pods, Endpoint e) {
        Pod pod = pods.getStore().getByKey(e.podNamespace().get() + "/" + e.podName().get());
        if (pod == null || pod.getSpec() == null || !nodeName.equals(pod.getSpec().getNodeName())) {
            return false;
        }
        // Same name, other uid: the pod was deleted and made again, and this endpoint belongs to the old one.
        return e.podUid().isEmpty() || pod.getMetadata().getUid() == null || e.podUid().get().equals(pod.getMetadata().getUid());
    }

    @Override
    public void close() {
        sweeper.shutdownNow();
        pods.close();
    }
}
