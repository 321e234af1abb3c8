package dev.ferry.k8s;

import dev.ferry.routes.Peer;
import dev.ferry.routes.PeerRoutes;
import dev.ferry.cni.PodNetwork;
import dev.ferry.datapath.ClusterCidrMap;
import dev.ferry.k8s.KubernetesObserver.Action;
import dev.ferry.k8s.KubernetesObserver.Operation;
import dev.ferry.k8s.KubernetesObserver.Resource;
import dev.ferry.net.IpPrefix;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeAddress;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Kubernetes mode's one entry point: the Node informer and, once the pod network
 * runs, the pod informer with endpoint GC ({@link EndpointGc}).
 *
 * <p>From the Nodes: this node's IPv4 pod CIDR (the IPAM pool, persisted under the
 * state directory), every other node's pod CIDRs routed via its InternalIP
 * ({@link PeerRoutes}: a full reconcile once the cache is synced, then one node's
 * diff per event), and all pod CIDRs in the BPF cluster-CIDR map unless the
 * config set clusterCIDRs. Informer handlers only enqueue; one thread applies, in
 * order. An API outage changes nothing: the informers retry and re-list, and only
 * what the re-list says changed is written.
 */
public final class ClusterWatch implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ClusterWatch.class);
    private static final Duration PROBE_INTERVAL = Duration.ofSeconds(2);

    private final KubernetesClient client;
    private final String nodeName;
    private final PodCidrFile podCidrFile;
    private final PeerRoutes routes;
    private final Optional<ClusterCidrMap> clusterCidrs;
    private volatile Consumer<Set<IpPrefix>> podCidrsListener = cidrs -> { };
    private final ApiCalls api;
    private final KubernetesObserver observer;
    private final ExecutorService worker = Executors.newSingleThreadExecutor(Thread.ofPlatform().name("ferry-cluster-watch").daemon().factory());
    private final CompletableFuture<IpPrefix> podCidr = new CompletableFuture<>();
    /** Every node's pod CIDRs as last applied: the cluster-CIDR map's diff base. Worker thread only. */
    private final Map<String, List<IpPrefix>> nodeCidrs = new HashMap<>();
    private final ScheduledExecutorService prober =
            Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("ferry-api-probe").daemon().factory());
    private volatile SharedIndexInformer<Node> nodes;
    private volatile boolean reconciled;
    private volatile boolean apiReachable = true;
    private volatile EndpointGc endpointGc;

    /**
     * Starts the Node informer; returns without waiting for the API server.
     *
     * @param clusterCidrs the BPF map to fill with every node's pod CIDRs; empty when the config sets them
     * @param observer    told of every watch event and API error (the metrics)
     */
    public ClusterWatch(KubernetesClient client, String nodeName, Path stateDir, PeerRoutes routes,
                        Optional<ClusterCidrMap> clusterCidrs, KubernetesObserver observer) {
        this.client = client;
        this.nodeName = nodeName;
        this.podCidrFile = PodCidrFile.in(stateDir);
        this.routes = routes;
        this.clusterCidrs = clusterCidrs;
        this.observer = observer;
        this.api = ApiCalls.defaults(observer);
        podCidrFile.read().ifPresent(cidr -> {
            log.info("event=pod_cidr_restored node={} pod_cidr={} file={}", nodeName, cidr, podCidrFile.file());
            podCidr.complete(cidr);
        });
        nodes = startNodeInformer();
        prober.scheduleWithFixedDelay(this::probe, PROBE_INTERVAL.toMillis(), PROBE_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
    }

    private SharedIndexInformer<Node> startNodeInformer() {
        SharedIndexInformer<Node> informer = client.nodes().runnableInformer(0);
        informer.addEventHandler(new ResourceEventHandler<>() {
            @Override
            public void onAdd(Node node) {
                observer.watchEvent(Resource.NODE, Action.ADD);
                enqueue("node_applied", () -> applied(node));
            }

            @Override
            public void onUpdate(Node before, Node node) {
                observer.watchEvent(Resource.NODE, Action.UPDATE);
                enqueue("node_applied", () -> applied(node));
            }

            @Override
            public void onDelete(Node node, boolean finalStateUnknown) {
                observer.watchEvent(Resource.NODE, Action.DELETE);
                enqueue("node_removed", () -> removed(node.getMetadata().getName()));
            }
        });
        informer.exceptionHandler((started, t) -> retryAlways(observer, Operation.WATCH_NODES, started, t));
        informer.start().thenRun(() -> enqueue("nodes_reconcile", this::reconcileAll));
        return informer;
    }

    /**
     * The outage signal. fabric8's informers reconnect their watch on their own,
     * forever, and say {@code isWatching()} all the while, so they cannot tell an
     * outage; a cheap GET /version (served from
     * memory by the API server, no etcd read) can. When the server answers again the
     * informers are made anew: a full list, then the full reconcile, so whatever
     * changed during the outage (or a server that came back with other state) is
     * applied, and readiness waits for it.
     */
    private void probe() {
        boolean up;
        try {
            // The raw body, unparsed: reachability is the question (and the mock server, restarted, answers
            // /version with a body fabric8 cannot parse).
            client.raw("/version");
            up = true;
        } catch (RuntimeException e) {
            up = false;
            observer.apiError(Operation.PROBE_VERSION);
            if (apiReachable) {
                log.warn("event=kubernetes_api_unreachable error=\"{}\" cause=\"{}\" action=keep_the_datapath", e.getMessage(),
                        String.valueOf(e.getCause()));
            }
        }
        if (up && !apiReachable) {
            log.info("event=kubernetes_api_back action=relist");
            enqueue("informers_restarted", this::restartInformers);
        }
        apiReachable = up;
    }

    private void restartInformers() {
        reconciled = false;
        nodes.close();
        nodes = startNodeInformer();
        EndpointGc gc = endpointGc;
        if (gc != null) {
            gc.restartInformer();
        }
    }

    /** One event's work on the worker; a failure is logged, and the next event or re-list tries again. */
    private void enqueue(String what, Runnable work) {
        worker.execute(() -> {
            try {
                work.run();
            } catch (RuntimeException e) {
                log.error("event=cluster_watch_failed what={} error=\"{}\"", what, e.getMessage(), e);
            }
        });
    }

    /** A client from {@code kubeconfig}, or from $KUBECONFIG, ~/.kube/config or the in-cluster config when null. */
    public static KubernetesClient client(Path kubeconfig) {
        Config config;
        try {
            config = kubeconfig == null ? Config.autoConfigure(null) : Config.fromKubeconfig(Files.readString(kubeconfig));
        } catch (IOException e) {
            throw new UncheckedIOException("failed to read kubeconfig '" + kubeconfig + "': " + e.getMessage(), e);
        }
        // Direct calls retry through ApiCalls (backoff, jitter, circuit breaker), not fabric8's own loop too.
        config.setRequestRetryBackoffLimit(0);
        config.setWatchReconnectInterval(500);
        // Short timeouts: a call to an API server that went away must fail, not hang the probe. HTTP/1.1: the
        // JDK client's HTTP/2 connection to a server that restarted was seen to hang every later request.
        config.setConnectionTimeout(5_000);
        config.setRequestTimeout(5_000);
        config.setHttp2Disable(true);
        return new KubernetesClientBuilder().withConfig(config).build();
    }

    /** An informer that stops on a failure is a node that never hears of a change again: always retry. */
    static boolean retryAlways(KubernetesObserver observer, Operation operation, boolean started, Throwable t) {
        observer.apiError(operation);
        log.warn("event=kubernetes_watch_failed operation={} started={} error=\"{}\" action=retry",
                operation.name().toLowerCase(Locale.ROOT), started, t.toString());
        return true;
    }

    /**
     * This node's pod CIDR: the persisted one at once, else the Node's (a GET with
     * retry, then the informer), waiting while the Node has none.
     */
    public IpPrefix awaitPodCidr() {
        if (!podCidr.isDone()) {
            try {
                Node node = api.call(Operation.GET_NODE, () -> client.nodes().withName(nodeName).get());
                if (node != null) {
                    ownPodCidr(node).ifPresent(this::podCidrAssigned);
                }
            } catch (RuntimeException e) {
                log.warn("event=node_get_failed node={} error=\"{}\" action=wait_for_the_informer", nodeName, e.toString());
            }
        }
        if (!podCidr.isDone()) {
            log.info("event=waiting_for_pod_cidr node={} why=\"node {} has no podCIDR yet\"", nodeName, nodeName);
        }
        return podCidr.join();
    }

    /** The pod CIDR if known now (persisted, or the Node's already seen). */
    /**
     * Told every node's pod CIDRs after the full reconcile and whenever a Node's
     * change them (the masquerade rules follow them); called on the informer's thread.
     */
    public void onPodCidrsChanged(Consumer<Set<IpPrefix>> listener) {
        this.podCidrsListener = Objects.requireNonNull(listener);
        if (reconciled) {
            listener.accept(allCidrs());
        }
    }

    public Optional<IpPrefix> podCidrNow() {
        return Optional.ofNullable(podCidr.getNow(null));
    }

    /** Starts the pod informer and endpoint GC; call once the pod network runs. */
    public void collectEndpoints(PodNetwork endpoints, Duration gracePeriod) {
        endpointGc = new EndpointGc(client, nodeName, endpoints, gracePeriod, () -> apiReachable, observer);
    }

    /** Empty when ready: the pod CIDR known, and every informer synced and watching. */
    public Optional<String> notReadyReason() {
        if (!podCidr.isDone()) {
            return Optional.of("node " + nodeName + " has no podCIDR yet");
        }
        if (!apiReachable) {
            return Optional.of("the Kubernetes API server is unreachable; the datapath is unchanged and DEL works");
        }
        if (!nodes.hasSynced() || !reconciled) {
            return Optional.of("the Node cache is not synced with the API server yet");
        }
        if (!nodes.isWatching()) {
            return Optional.of("the watch on Nodes is down (is the API server reachable?); the datapath is unchanged");
        }
        EndpointGc gc = endpointGc;
        return gc == null ? Optional.empty() : gc.notReadyReason();
    }

    /** The full reconcile, once the cache holds every Node. */
    private void reconcileAll() {
        List<Peer> peers = new ArrayList<>();
        nodeCidrs.clear();
        for (Node node : nodes.getStore().list()) {
            String name = node.getMetadata().getName();
            nodeCidrs.put(name, podCidrs(node));
            if (name.equals(nodeName)) {
                ownPodCidr(node).ifPresent(this::podCidrAssigned);
            } else {
                peer(node).ifPresent(peers::add);
            }
        }
        long started = System.nanoTime();
        PeerRoutes.Outcome o = routes.reconcile(peers);
        clusterCidrs.ifPresent(map -> map.replaceAll(allCidrs()));
        podCidrsListener.accept(allCidrs());
        reconciled = true;
        log.info("event=nodes_reconciled nodes={} peers={} added={} replaced={} deleted={} unchanged={} conflicts={} took_ms={}",
                nodeCidrs.size(), peers.size(), o.added(), o.replaced(), o.deleted(), o.unchanged(), o.conflicts(),
                (System.nanoTime() - started) / 1_000_000);
    }

    private void applied(Node node) {
        if (!reconciled) {
            return; // the full reconcile reads the synced cache, which has this node too
        }
        String name = node.getMetadata().getName();
        if (name.equals(nodeName)) {
            ownPodCidr(node).ifPresent(this::podCidrAssigned);
        } else {
            peer(node).ifPresentOrElse(routes::apply, () -> routes.remove(name));
        }
        updateClusterCidrs(name, podCidrs(node));
    }

    private void removed(String name) {
        if (!reconciled) {
            return;
        }
        if (!name.equals(nodeName)) {
            routes.remove(name);
        }
        updateClusterCidrs(name, List.of());
    }

    private void updateClusterCidrs(String name, List<IpPrefix> now) {
        List<IpPrefix> before = now.isEmpty() ? nodeCidrs.remove(name) : nodeCidrs.put(name, now);
        if (Objects.equals(before, now)) {
            return;
        }
        podCidrsListener.accept(allCidrs());
        if (clusterCidrs.isEmpty()) {
            return;
        }
        ClusterCidrMap map = clusterCidrs.get();
        Set<IpPrefix> all = allCidrs();
        if (before != null) {
            before.stream().filter(c -> !all.contains(c)).forEach(map::remove);
        }
        now.forEach(map::add);
    }

    private Set<IpPrefix> allCidrs() {
        Set<IpPrefix> all = new LinkedHashSet<>();
        nodeCidrs.values().forEach(all::addAll);
        return all;
    }

    private void podCidrAssigned(IpPrefix cidr) {
        if (podCidr.isDone()) {
            IpPrefix known = podCidr.join();
            if (!known.equals(cidr)) {
                log.warn("event=pod_cidr_changed node={} pod_cidr={} in_use={} action=keep_until_restart", nodeName, cidr, known);
            }
            return;
        }
        podCidrFile.write(cidr);
        log.info("event=pod_cidr_assigned node={} pod_cidr={} persisted={}", nodeName, cidr, podCidrFile.file());
        podCidr.complete(cidr);
    }

    /** The node's IPv4 pod CIDRs ({@code spec.podCIDRs}, else the older {@code spec.podCIDR}). */
    static List<IpPrefix> podCidrs(Node node) {
        if (node.getSpec() == null) {
            return List.of();
        }
        List<String> texts = node.getSpec().getPodCIDRs() != null && !node.getSpec().getPodCIDRs().isEmpty()
                ? node.getSpec().getPodCIDRs()
                : node.getSpec().getPodCIDR() == null ? List.of() : List.of(node.getSpec().getPodCIDR());
        List<IpPrefix> cidrs = new ArrayList<>();
        for (String text : new HashSet<>(texts).stream().sorted().toList()) {
            try {
                IpPrefix cidr = IpPrefix.parse(text);
                if (cidr.isIpv4()) {
                    cidrs.add(cidr);
                }
            } catch (RuntimeException e) {
                log.warn("event=node_pod_cidr_invalid node={} pod_cidr=\"{}\"", node.getMetadata().getName(), text);
            }
        }
        return List.copyOf(cidrs);
    }

    private static Optional<IpPrefix> ownPodCidr(Node node) {
        return podCidrs(node).stream().findFirst();
    }

    /** Another node as a peer: its IPv4 pod CIDRs via its IPv4 InternalIP; empty without either. */
    static Optional<Peer> peer(Node node) {
        List<IpPrefix> cidrs = podCidrs(node);
        if (cidrs.isEmpty() || node.getStatus() == null || node.getStatus().getAddresses() == null) {
            return Optional.empty();
        }
        for (NodeAddress a : node.getStatus().getAddresses()) {
            if ("InternalIP".equals(a.getType())) {
                try {
                    InetAddress address = IpPrefix.literal(a.getAddress());
                    if (address instanceof Inet4Address) {
                        return Optional.of(new Peer(node.getMetadata().getName(), cidrs, address));
                    }
                } catch (RuntimeException e) {
                    log.warn("event=node_address_invalid node={} address=\"{}\"", node.getMetadata().getName(), a.getAddress());
                }
            }
        }
        return Optional.empty();
    }

    @Override
    public void close() {
        EndpointGc gc = endpointGc;
        if (gc != null) {
            gc.close();
        }
        prober.shutdownNow();
        nodes.close();
        worker.shutdownNow();
        try {
            worker.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        client.close();
    }
}
