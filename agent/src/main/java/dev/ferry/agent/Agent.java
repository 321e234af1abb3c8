package dev.ferry.agent;

import dev.ferry.capture.Captures;
import dev.ferry.capture.MirrorSlots;
import dev.ferry.capture.MirrorConfig;
import dev.ferry.capture.MirrorStatus;
import dev.ferry.capture.PersistentMirrors;
import dev.ferry.cni.CniObserver;
import dev.ferry.cni.CniService;
import dev.ferry.cni.PodNetwork;
import dev.ferry.cni.Readiness;
import dev.ferry.datapath.Attachment;
import dev.ferry.datapath.Datapath;
import dev.ferry.monitor.Monitor;
import dev.ferry.egress.EgressRoute;
import dev.ferry.egress.EgressRoutes;
import dev.ferry.egress.EgressStatus;
import dev.ferry.endpoint.Endpoint;
import dev.ferry.endpoint.EndpointManager;
import dev.ferry.ipam.Ipam;
import dev.ferry.k8s.ClusterWatch;
import dev.ferry.k8s.ObjectWatch;
import dev.ferry.k8s.KubernetesClients;
import dev.ferry.masquerade.Masquerade;
import dev.ferry.masquerade.MasqueradeWriter;
import dev.ferry.metrics.Metrics;
import dev.ferry.metrics.MetricsOptions;
import dev.ferry.metrics.MetricsServer;
import dev.ferry.net.IpPrefix;
import dev.ferry.netlink.RtNetlink;
import dev.ferry.netns.NetNamespace;
import dev.ferry.routes.PeerRoutes;
import dev.ferry.state.Quarantine;
import dev.ferry.state.StateLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The running agent: components started one after the other, each built with
 * what the ones before it made, and closed in the reverse order. The order is
 * what each needs:
 * <ol>
 * <li>the node's network namespace, a netlink socket in it and the datapath (the
 *     pinned links adopted): everything after acts on them;</li>
 * <li>{@link Uplinks}: {@code to_pod} on every uplink (a missing uplink fails the
 *     start before the datapath is touched);</li>
 * <li>metrics and their port, served from here on, so that the kubelet's probes
 *     and Prometheus see a starting agent as such;</li>
 * <li>{@link MasqueradeWriter}, before the cluster watch that feeds it: closing in
 *     reverse stops the feeder first;</li>
 * <li>peer routes, from the configuration, or the {@link ClusterWatch}, which
 *     also gives this node's pod CIDR (a stand-in socket says why while it waits);</li>
 * <li>the pod network: IPAM on the pod CIDR, the endpoints and the CNI service,
 *     then endpoint GC (kubernetes mode);</li>
 * <li>{@link AgentSocket}: it takes ADDs, so it comes after all that ADD needs;</li>
 * <li>{@link ConfListWriter}, last: runtimes send pods once the conflist exists,
 *     and it waits for the readiness event (at once in standalone mode).</li>
 * </ol>
 * Pinned maps and links, routes and the masquerade table are left as they are
 * when the agent stops: packets keep moving while no agent runs, and the next
 * agent takes over from them.
 *
 * <p>Everything that depends on the network namespace (devices, routes, sysctls,
 * attaching programs) runs in the node's namespace, opened from a path: the
 * agent's own ({@code /proc/self/ns/net}) in production, which is the node's when
 * the agent was started with {@code nsenter --net=/run/netns/NODE}.
 */
public final class Agent implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Agent.class);

    /** How often egress routes look at their next hops' neighbour entries: a dead one leaves within ~4 s. */
    static final java.time.Duration EGRESS_TICK = java.time.Duration.ofMillis(500);
    /** In the state directory: each EgressRoute's id in the pinned tables, for the next agent (Kubernetes mode). */
    static final String EGRESS_ROUTE_IDS = "egress-route-ids";

    private final AgentConfig config;
    /** The agent's own reason not to take ADDs (starting, waiting for the pod CIDR, stopping); null when none. */
    private final AtomicReference<String> notReady = new AtomicReference<>("the agent is starting");
    private final StartedComponents components = new StartedComponents();
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Kubernetes mode's; null in standalone mode. */
    private final ClusterWatch cluster;
    /** Null until the pod network runs: metrics are scraped from before that. */
    private volatile PodNetwork pods;
    /** Null until the socket serves: liveness probes come from before that. */
    private volatile AgentSocket socket;

    /** How the agent gets its pod network: the real one, or a stand-in that plumbs nothing (tests of the wiring). */
    @FunctionalInterface
    interface PodNetworkFactory {
        PodNetwork open(NetNamespace node, Datapath datapath, List<Ipam> pools, Path stateDir, int podMtu, Readiness readiness,
                        CniObserver observer);
    }

    /** Starts the agent in the network namespace at {@code nodeNetns}; on failure, what was started is closed again. */
    public static Agent start(AgentConfig config, Path nodeNetns) {
        return new Agent(config, nodeNetns, Agent::openPodNetwork);
    }

    static Agent start(AgentConfig config, Path nodeNetns, PodNetworkFactory podNetwork) {
        return new Agent(config, nodeNetns, podNetwork);
    }

    /** The real pod network: the endpoint manager, owned by the CNI service over it. */
    static PodNetwork openPodNetwork(NetNamespace node, Datapath datapath, List<Ipam> pools, Path stateDir, int podMtu,
                                     Readiness readiness, CniObserver observer) {
        return new CniService(new EndpointManager(node, datapath, pools, stateDir, podMtu), readiness, observer);
    }

    private Agent(AgentConfig config, Path nodeNetns, PodNetworkFactory podNetwork) {
        this.config = config;
        long started = System.nanoTime();
        log.info("event=agent_starting node={} mode={} version={} socket={} state_dir={} bpffs_root={}",
                config.nodeName(), config.mode().label(), AgentApi.version(), config.socket(), config.stateDir(),
                config.bpffsRoot());
        try {
            AgentSocket.refuseIfServed(config.socket()); // the other agent owns this node: leave everything as it is
            // Before any kernel object is touched: two agents started at once on one state would both hook the
            // uplink and every pod veth before one of them lost the socket.
            components.add("state_lock", StateLock.acquire(config.stateDir(), config.spoolDir()));
            NetNamespace node = components.add("node_netns", NetNamespace.open(nodeNetns));
            RtNetlink netlink = components.add("netlink", RtNetlink.open(node));
            Uplinks uplinks = Uplinks.find(config.uplinks(), node, netlink);
            Datapath datapath = components.add("datapath", Datapath.load(config.bpffsRoot(), config.attach()));
            uplinks.attach(datapath, adoptPinnedLinks(datapath));

            Metrics metrics = components.add("metrics", new Metrics(datapath, this::endpoints, this::notReadyReason,
                    this::notServingReason, Quarantine.of(config.stateDir()),
                    new MetricsOptions(config.metricsPerPod(), MetricsOptions.DEFAULT_DATAPATH_INTERVAL)));
            components.add("metrics_server", MetricsServer.start(config.metricsAddress(), metrics));
            MasqueradeWriter masquerade = components.add("masquerade",
                    new MasqueradeWriter(new Masquerade(node), config.masquerade(), config.clusterCidrs()));

            BootScopedState.claim(config.stateDir());
            PeerRoutes peerRoutes = new PeerRoutes(netlink);
            List<IpPrefix> podCidrs;
            if (kubernetes()) {
                // Routes, cluster CIDRs and masquerade follow the Nodes from here on; the pinned map keeps what it had
                // until the Node cache is synced, so a start during an API outage changes nothing.
                cluster = components.add("cluster_watch", new ClusterWatch(
                        KubernetesClients.connect(config.kubernetes().kubeconfig()), config.nodeName(), config.stateDir(),
                        peerRoutes, clusterCidrsFromNodes() ? Optional.of(datapath.clusterCidrs()) : Optional.empty(),
                        masquerade::update, metrics.kubernetesObserver()));
                podCidrs = awaitPodCidrs();
            } else {
                cluster = null;
                routeConfiguredPeers(peerRoutes);
                masquerade.update(configuredPodCidrs()).join();
                podCidrs = config.podCidrs();
            }

            // One pool per family, IPv4 first (a dual-stack pod's first address) whatever order the configuration gave.
            List<Ipam> pools = podCidrs.stream().sorted(Comparator.comparing(c -> !c.isIpv4()))
                    .map(cidr -> Ipam.open(config.stateDir(), cidr)).toList();
            pools.forEach(p -> log.info("event=ipam_opened pod_cidr={} used={} capacity={}", p.podCidr(), p.used(), p.capacity()));
            pods = components.add("pod_network", podNetwork.open(node, datapath, pools, config.stateDir(), uplinks.podMtu(),
                    this::notReadyReason, metrics.cniObserver()));
            log.info("event=endpoints_loaded endpoints={} pod_mtu={}", pods.endpoints().size(), uplinks.podMtu());
            if (cluster != null) {
                components.add("endpoint_gc", cluster.collectEndpoints(pods, config.kubernetes().endpointGcGracePeriod()));
            }

            // Before the socket that starts captures: what a killed agent left turned on goes first.
            MirrorSlots mirrorSlots = MirrorSlots.reset(node, datapath);
            List<PersistentMirrors> persistentMirrors = new java.util.ArrayList<>();
            if (cluster != null) {
                // The configuration's mirrors and the TrafficMirror objects' side by side: each holds its own slots.
                ObjectWatch<MirrorConfig> mirrorWatch = components.add("traffic_mirror_watch", cluster.watchTrafficMirrors());
                PersistentMirrors objects = components.add("mirror_objects", PersistentMirrors.ofObjects(netlink, mirrorSlots,
                        this::endpoints, cluster.podLabels()));
                mirrorWatch.start((mirrors, refused) -> objects.update(mirrors,
                        refused.stream().map(r -> new PersistentMirrors.Refused(r.name(), r.reason())).toList()));
                persistentMirrors.add(objects);
            }
            persistentMirrors.addFirst(components.add("mirrors", new PersistentMirrors(netlink, mirrorSlots, this::endpoints,
                    config.mirrors())));
            Captures captures = components.add("captures",
                    new Captures(node, netlink, datapath, mirrorSlots, this::endpoints, config.nodeName(),
                            address -> config.peers().stream()
                                    .filter(p -> p.podCidrs().stream().anyMatch(c -> c.contains(address)))
                                    .map(p -> p.name()).findFirst()));

            RtNetlink egressNetlink = components.add("egress_netlink", RtNetlink.open(node));
            EgressRoutes egress;
            if (cluster != null) {
                // The EgressRoute objects: until their first list the routes pinned before stay in force.
                ObjectWatch<EgressRoute> egressWatch = components.add("egress_route_watch",
                        cluster.watchEgressRoutes(config.clusterCidrs(), config.masquerade()));
                EgressRoutes routes = components.add("egress_routes", EgressRoutes.awaitRoutes(uplinks.links(), egressNetlink,
                        datapath.egress(), datapath.endpoints(), this::endpoints, cluster.podLabels(),
                        config.stateDir().resolve(EGRESS_ROUTE_IDS), EGRESS_TICK));
                egressWatch.start((inForce, refused) -> routes.update(inForce,
                        refused.stream().map(r -> new EgressStatus.Refused(r.name(), r.reason())).toList()));
                egress = routes;
            } else {
                // Also with no route configured: a start after routes were removed takes them out of the pinned maps.
                egress = components.add("egress_routes", EgressRoutes.start(config.egressRoutes(), uplinks.links(),
                        egressNetlink, datapath.egress(), datapath.endpoints(), this::endpoints, EGRESS_TICK));
            }
            metrics.egress(egress::status);

            // Closed after the socket (components close in reverse): its streams end first.
            Monitor monitor = components.add("monitor", new Monitor(datapath.monitor(), this::endpoints,
                    Monitor.DEFAULT_EVENTS_PER_SECOND, Monitor.DEFAULT_BURST));
            metrics.bindMonitor(monitor);
            AgentApi api = new AgentApi(config, uplinks.links(), pools, datapath.counters(), pods, this::notReadyReason,
                    monitor, egress::status, () -> MirrorStatus.of(persistentMirrors, captures), captures);
            socket = components.add("socket", AgentSocket.start(config.socket(), api.routes(), new DelSpool(config.spoolDir()), pods));
            // Serving (DEL, status, the reason) but not taking pods while the configuration contradicts the Node.
            Optional<String> misconfigured = clusterCidrFamilyMissing(config.clusterCidrs(), podCidrs, config.nodeName());
            misconfigured.ifPresent(why -> log.error("event=cluster_cidr_family_missing node={} error=\"{}\" action=not_ready",
                    config.nodeName(), why));
            notReady.set(misconfigured.orElse(null));
            components.add("conflist", new ConfListWriter(config,
                    cluster == null ? CompletableFuture.completedFuture(null) : cluster.whenReady(), started));
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    /** Takes over the links the agent before pinned; the cluster CIDRs the configuration sets go into their map. */
    private List<Attachment> adoptPinnedLinks(Datapath datapath) {
        List<Attachment> adopted = datapath.adoptPinnedLinks();
        log.info("event=datapath_loaded bpffs_root={} attach={} adopted_links={}", config.bpffsRoot(),
                config.attach().label(), adopted.size());
        if (!clusterCidrsFromNodes()) {
            datapath.clusterCidrs().replaceAll(Set.copyOf(config.clusterCidrs()));
            log.info("event=cluster_cidrs_set cidrs={}", config.clusterCidrs());
        }
        return adopted;
    }

    private boolean clusterCidrsFromNodes() {
        return kubernetes() && config.clusterCidrs().isEmpty();
    }

    /**
     * This node's pod CIDRs (one per family): at once when persisted, else once the
     * Node has a usable one. Nothing can be allocated before the pools are known;
     * meanwhile a stand-in socket says why.
     */
    private List<IpPrefix> awaitPodCidrs() {
        notReady.set("node " + config.nodeName() + " has no podCIDR yet");
        Optional<List<IpPrefix>> known = cluster.podCidrsNow();
        if (known.isPresent()) {
            return known.get();
        }
        // The cluster watch says why in more words (what the Node holds instead of a pod CIDR) as it learns them.
        try (AgentSocket waiting = AgentSocket.notRunning(config.socket(),
                () -> cluster.podCidrNow().isPresent() ? notReady.get() : cluster.notReadyReason().orElse(notReady.get()))) {
            return cluster.awaitPodCidrs();
        }
    }

    /**
     * A configured cluster CIDR of a family this node has no pod CIDR of: the
     * configuration and the Node disagree on what the cluster is (standalone mode
     * refuses it when loading; in Kubernetes mode the Node's pod CIDRs are known
     * only now). Empty when each family of clusterCIDRs has a pool here.
     */
    static Optional<String> clusterCidrFamilyMissing(List<IpPrefix> clusterCidrs, List<IpPrefix> podCidrs, String nodeName) {
        for (int i = 0; i < clusterCidrs.size(); i++) {
            IpPrefix c = clusterCidrs.get(i);
            if (podCidrs.stream().noneMatch(p -> p.isIpv4() == c.isIpv4())) {
                String family = c.isIpv4() ? "IPv4" : "IPv6";
                return Optional.of("key 'clusterCIDRs[" + i + "]': " + c + " is " + family + " but node " + nodeName
                        + " has no " + family + " pod CIDR (its pod CIDRs: " + podCidrs + ")");
            }
        }
        return Optional.empty();
    }

    /** Standalone mode: the configuration's peers, routed once. */
    private void routeConfiguredPeers(PeerRoutes peerRoutes) {
        PeerRoutes.Outcome routes = peerRoutes.reconcile(config.peers());
        log.info("event=peer_routes_reconciled peers={} added={} replaced={} deleted={} unchanged={} conflicts={} failed={}",
                config.peers().size(), routes.added(), routes.replaced(), routes.deleted(), routes.unchanged(),
                routes.conflicts(), routes.failed());
    }

    /** Standalone mode's masquerade sources: this node's pod CIDRs and the peers'. */
    private Set<IpPrefix> configuredPodCidrs() {
        Set<IpPrefix> podCidrs = new LinkedHashSet<>(config.podCidrs());
        config.peers().forEach(p -> podCidrs.addAll(p.podCidrs()));
        return podCidrs;
    }

    private List<Endpoint> endpoints() {
        PodNetwork network = pods;
        return network == null ? List.of() : network.endpoints();
    }

    private boolean kubernetes() {
        return config.mode() == AgentConfig.Mode.KUBERNETES;
    }

    /** The agent's own readiness (starting, stopping), then kubernetes mode's (pod CIDR, caches, API). */
    /** Why the agent cannot serve, for the liveness probe: its socket stopped taking requests. */
    private Optional<String> notServingReason() {
        AgentSocket served = socket;
        return served == null ? Optional.empty() : served.notServingReason();
    }

    Optional<String> notReadyReason() {
        return Optional.ofNullable(notReady.get()).or(() -> cluster == null ? Optional.empty() : cluster.notReadyReason());
    }

    /**
     * Stops serving and releases the process's handles, in the reverse order of
     * start, each step even when one before it failed. Pinned maps and links stay:
     * pods keep their traffic.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        notReady.set("the agent is stopping");
        components.close();
        log.info("event=agent_stopped node={} pins_kept={}", config.nodeName(), config.bpffsRoot());
    }
}
