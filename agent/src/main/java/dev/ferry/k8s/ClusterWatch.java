package dev.ferry.k8s;

import dev.ferry.cni.PodNetwork;
import dev.ferry.capture.MirrorConfig;
import dev.ferry.datapath.ClusterCidrMap;
import dev.ferry.egress.EgressRoute;
import dev.ferry.k8s.KubernetesObserver.Operation;
import dev.ferry.k8s.KubernetesObserver.Resource;
import dev.ferry.masquerade.MasqueradeFamilies;
import dev.ferry.net.IpPrefix;
import dev.ferry.routes.PeerRoutes;
import dev.ferry.selection.PodLabels;
import io.fabric8.kubernetes.client.KubernetesClient;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

/**
 * Kubernetes mode's one entry point: what the agent learns from the API server,
 * assembled from parts that each do one job.
 * <ul>
 * <li>{@link NodeInformer}: the informer on all Nodes, applied on one thread, to
 *   <ul>
 *   <li>{@link PodCidrSource}: this node's pod CIDR (IPAM's pool), persisted;</li>
 *   <li>{@link PeerRouteSync}: every other node's pod CIDRs routed via its InternalIP;</li>
 *   <li>{@link ClusterCidrSync}: every node's pod CIDRs in the BPF cluster-CIDR map and the masquerade rules;</li>
 *   </ul></li>
 * <li>{@link EndpointGc}: this node's Pods, and the collection of endpoints whose pod is gone, once the pod network runs;</li>
 * <li>{@link ObjectWatch}: Ferry's own objects (EgressRoute, TrafficMirror), and {@link ClusterLabels}, the pods' and
 *   namespaces' labels they select by;</li>
 * <li>{@link ApiProbe}: outage detection; when the API server is back, both informers list anew.</li>
 * </ul>
 * An API outage changes nothing: the informers retry and re-list, and only what
 * the re-list says changed is written.
 *
 * <p>Readiness (pod CIDR known, API reachable, every cache synced and watching)
 * is re-checked whenever one of those may have changed: after each Node event,
 * each pod list and each probe. The first time it holds, {@link #whenReady}
 * completes; the probe's tick covers the one change fabric8 reports to nobody, a
 * watch it re-established on its own.
 */
public final class ClusterWatch implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ClusterWatch.class);

    private final KubernetesClient client;
    private final String nodeName;
    private final KubernetesObserver observer;
    private final PodCidrSource podCidr;
    private final NodeInformer nodes;
    private final ApiProbe probe;
    private final CompletableFuture<Void> ready = new CompletableFuture<>();
    private volatile EndpointGc endpointGc;
    /** Made by the first {@link #podLabels}. Guarded by this. */
    private ClusterLabels labels;
    /** The reason last logged while waiting to be ready. Guarded by this. */
    private Optional<String> waitingFor = Optional.empty();

    /**
     * Starts the Node informer and the probe; returns without waiting for the API server.
     *
     * @param client          the watch's own from now on: {@link #close} closes it
     * @param clusterCidrs    the BPF map to fill with every node's pod CIDRs; empty when the config sets them
     * @param podCidrsChanged told every node's IPv4 pod CIDRs after each full list and each change, on the watch's thread
     * @param observer        told of every watch event and API error (the metrics)
     */
    public ClusterWatch(KubernetesClient client, String nodeName, Path stateDir, PeerRoutes routes,
                        Optional<ClusterCidrMap> clusterCidrs, Consumer<Set<IpPrefix>> podCidrsChanged,
                        KubernetesObserver observer) {
        this.client = client;
        this.nodeName = nodeName;
        this.observer = observer;
        this.podCidr = new PodCidrSource(client, ApiCalls.defaults(observer), nodeName, stateDir);
        this.nodes = new NodeInformer(client, observer, List.of(podCidr, new PeerRouteSync(routes, nodeName, () -> podCidr.all().orElse(List.of())),
                new ClusterCidrSync(nodeName, () -> podCidr.all().orElse(List.of()), clusterCidrs, podCidrsChanged)), this::recheckReadiness);
        this.probe = new ApiProbe(client, observer, this::relist, this::recheckReadiness);
        // Started once every part exists: their callbacks reach the others.
        nodes.start();
        probe.start();
    }

    /** The pod CIDR if known now (persisted, or the Node's already seen). */
    public Optional<IpPrefix> podCidrNow() {
        return podCidr.now();
    }

    /** Every pod CIDR of this node if known now, IPv4 first. */
    public Optional<List<IpPrefix>> podCidrsNow() {
        return podCidr.all();
    }

    /** This node's pod CIDRs (one per family, IPv4 first): the persisted ones at once, else the Node's, waiting while the Node has none. */
    public List<IpPrefix> awaitPodCidrs() {
        return podCidr.await();
    }

    /**
     * Starts the pod informer and endpoint GC over {@code pods}; call once the pod
     * network runs. The caller closes the GC, before the pod network it removes from.
     */
    public EndpointGc collectEndpoints(PodNetwork pods, Duration gracePeriod) {
        EndpointGc gc = new EndpointGc(client, nodeName, pods, gracePeriod, probe::reachable, observer, this::recheckReadiness);
        endpointGc = gc;
        recheckReadiness();
        return gc;
    }

    /**
     * The labels of this node's pods and their namespaces, which EgressRoute and
     * TrafficMirror objects select by; call after {@link #collectEndpoints}, whose
     * Pod cache has the pods'. One Namespace informer serves every caller.
     */
    public PodLabels podLabels() {
        return labels();
    }

    private synchronized ClusterLabels labels() {
        if (labels == null) {
            EndpointGc gc = endpointGc;
            if (gc == null) {
                throw new IllegalStateException("objects select pods of this node: collectEndpoints first");
            }
            labels = new ClusterLabels(client, gc, observer);
        }
        return labels;
    }

    /**
     * The EgressRoute objects (start the watch with the egress routes' update).
     * Not part of readiness: pods start without egress routes. The caller closes it.
     *
     * @param clusterCidrs the configured cluster CIDRs (empty when they come from the Nodes): no route may send them away
     * @param masquerade   the node's masquerade families, which a route's masquerade needs
     */
    public ObjectWatch<EgressRoute> watchEgressRoutes(List<IpPrefix> clusterCidrs, MasqueradeFamilies masquerade) {
        return new ObjectWatch<>(client, EgressRouteObjects.CONTEXT, o -> EgressRouteObjects.read(o, clusterCidrs, masquerade),
                labels()::synced, observer, Resource.EGRESS_ROUTE, Operation.WATCH_EGRESS_ROUTES);
    }

    /** The TrafficMirror objects (start the watch with the persistent mirrors' update). The caller closes it. */
    public ObjectWatch<MirrorConfig> watchTrafficMirrors() {
        return new ObjectWatch<>(client, TrafficMirrorObjects.CONTEXT, TrafficMirrorObjects::read,
                labels()::synced, observer, Resource.TRAFFIC_MIRROR, Operation.WATCH_TRAFFIC_MIRRORS);
    }

    /** Empty when ready: the pod CIDR known, the API server reachable, and every informer synced and watching. */
    public Optional<String> notReadyReason() {
        Optional<String> why = podCidr.notReadyReason();
        if (why.isPresent()) {
            return why;
        }
        if (!probe.reachable()) {
            return Optional.of("the Kubernetes API server is unreachable; the datapath is unchanged and DEL works");
        }
        why = nodes.notReadyReason();
        if (why.isPresent()) {
            return why;
        }
        EndpointGc gc = endpointGc;
        return gc == null ? Optional.of("the pod network is not running yet") : gc.notReadyReason();
    }

    /** Completes the first time the watch is ready; not again after an outage (readiness itself says so). */
    public CompletionStage<Void> whenReady() {
        return ready.minimalCompletionStage();
    }

    /** The API server is back after an outage: both informers list anew, and readiness waits for them. */
    private void relist() {
        nodes.restart();
        EndpointGc gc = endpointGc;
        if (gc != null) {
            gc.restartInformer();
        }
    }

    private void recheckReadiness() {
        if (ready.isDone()) {
            return;
        }
        Optional<String> why = notReadyReason();
        synchronized (this) {
            if (why.isPresent() && !why.equals(waitingFor)) {
                log.info("event=agent_waiting why=\"{}\"", why.get());
            }
            waitingFor = why;
        }
        if (why.isEmpty()) {
            ready.complete(null);
        }
    }

    /** Stops the probe and the Node informer and closes the client; routes, maps and the pod CIDR file stay. */
    @Override
    public void close() {
        synchronized (this) {
            if (labels != null) {
                labels.close();
            }
        }
        probe.close();
        nodes.close();
        client.close();
    }
}
