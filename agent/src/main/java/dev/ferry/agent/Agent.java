package dev.ferry.agent;

import dev.ferry.api.AgentSocketOptions;
import dev.ferry.api.AgentSocketServer;
import dev.ferry.api.ApiErrors;
import dev.ferry.api.Routes;
import dev.ferry.cni.CniService;
import dev.ferry.cni.Readiness;
import dev.ferry.datapath.Attachment;
import dev.ferry.datapath.Datapath;
import dev.ferry.datapath.DatapathCounter;
import dev.ferry.datapath.DatapathProgram;
import dev.ferry.endpoint.Endpoint;
import dev.ferry.endpoint.EndpointKey;
import dev.ferry.ipam.Ipam;
import dev.ferry.k8s.ClusterWatch;
import dev.ferry.k8s.EndpointGc;
import dev.ferry.masquerade.Masquerade;
import dev.ferry.masquerade.MasqueradeRules;
import dev.ferry.metrics.Metrics;
import dev.ferry.metrics.MetricsServer;
import dev.ferry.net.IpPrefix;
import dev.ferry.netlink.Ipv4DevConf;
import dev.ferry.netlink.Link;
import dev.ferry.netlink.RtNetlink;
import dev.ferry.netns.NetNamespace;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The running agent: {@link #start} wires the datapath, the node's routes, IPAM,
 * the pod network and the agent socket, in that order, logging one line per step;
 * {@link #close} lets go of them. The pinned maps and links stay, so packets keep
 * moving while no agent runs and the next agent takes over from them.
 *
 * <p>Everything that depends on the network namespace (devices, routes, sysctls,
 * attaching programs) runs in the node's namespace, opened from a path: the
 * agent's own ({@code /proc/self/ns/net}) in production, which is the node's when
 * the agent was started with {@code nsenter --net=/run/netns/NODE}.
 */
public final class Agent implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Agent.class);
    /** How often the masquerade table is rewritten whole, undoing edits made by others. */
    static final java.time.Duration MASQUERADE_RECONCILE = java.time.Duration.ofSeconds(60);

    private final AgentConfig config;
    private final AtomicReference<String> notReady = new AtomicReference<>("the agent is starting");
    private NetNamespace node;
    private RtNetlink netlink;
    private Datapath datapath;
    private volatile PodNetwork pods; // read by metrics scrapes on their own thread
    private AgentSocketServer server;
    private volatile ClusterWatch cluster;
    private PeerRoutes peerRoutes;
    private Metrics metrics;
    private MetricsServer metricsServer;
    private Masquerade masquerade;
    private volatile Set<IpPrefix> masqueradedPodCidrs;
    private java.util.concurrent.ScheduledExecutorService masqueradeReconciler;
    private boolean closed;

    private Agent(AgentConfig config) {
        this.config = config;
    }

    /** Starts the agent in the network namespace at {@code nodeNetns}; on failure, what was opened is closed again. */
    public static Agent start(AgentConfig config, Path nodeNetns) {
        return start(config, nodeNetns, PodNetwork::open);
    }

    static Agent start(AgentConfig config, Path nodeNetns, PodNetwork.Factory podNetwork) {
        Agent agent = new Agent(config);
        try {
            agent.run(nodeNetns, podNetwork);
            return agent;
        } catch (RuntimeException | Error e) {
            agent.close();
            throw e;
        }
    }

    private void run(Path nodeNetns, PodNetwork.Factory podNetwork) {
        long started = System.nanoTime();
        log.info("event=agent_starting node={} mode={} version={} socket={} state_dir={} bpffs_root={}",
                config.nodeName(), config.mode().label(), AgentApi.version(), config.socket(), config.stateDir(),
                config.bpffsRoot());
        refuseIfServed(config.socket()); // before anything is touched: the other agent owns this node

        node = NetNamespace.open(nodeNetns);
        netlink = RtNetlink.open(node);
        List<Link> uplinks = uplinks();
        log.info("event=node_netns path={} uplinks={} source={}", nodeNetns, names(uplinks),
                config.uplinks().isEmpty() ? "default_route" : "config");

        datapath = Datapath.load(config.bpffsRoot(), config.attach());
        List<Attachment> adopted = datapath.adoptPinnedLinks();
        log.info("event=datapath_loaded bpffs_root={} attach={} adopted_links={}", config.bpffsRoot(),
                config.attach().label(), adopted.size());
        boolean fromNodes = kubernetes() && config.clusterCidrs().isEmpty();
        if (!fromNodes) {
            datapath.clusterCidrs().replaceAll(Set.copyOf(config.clusterCidrs()));
            log.info("event=cluster_cidrs_set cidrs={}", config.clusterCidrs());
        }
        attachUplinks(uplinks, adopted);

        Readiness readiness = this::notReadyReason;
        // Served from the start, so the kubelet's probes and Prometheus see a starting agent as such.
        metrics = new Metrics(datapath, () -> pods == null ? List.of() : pods.endpoints(), readiness);
        metricsServer = MetricsServer.start(config.metricsAddress(), metrics);
        masquerade = new Masquerade(node);

        createPrivateDirectory(config.stateDir());
        BootScopedState.claim(config.stateDir());
        peerRoutes = new PeerRoutes(netlink);
        IpPrefix podCidr;
        if (kubernetes()) {
            // Routes and cluster CIDRs follow the Nodes from here on; the pinned map keeps what it had until the
            // Node cache is synced, so a start during an API outage changes nothing.
            cluster = new ClusterWatch(ClusterWatch.client(config.kubernetes().kubeconfig()), config.nodeName(),
                    config.stateDir(), peerRoutes, fromNodes ? Optional.of(datapath.clusterCidrs()) : Optional.empty(),
                    metrics.kubernetesObserver());
            notReady.set("node " + config.nodeName() + " has no podCIDR yet");
            podCidr = awaitPodCidrServingStatus();
        } else {
            PeerRoutes.Outcome routes = peerRoutes.reconcile(config.peers());
            log.info("event=peer_routes_reconciled peers={} added={} replaced={} deleted={} unchanged={} conflicts={}",
                    config.peers().size(), routes.added(), routes.replaced(), routes.deleted(), routes.unchanged(),
                    routes.conflicts());
            podCidr = config.podCidr();
        }
        Ipam ipam = Ipam.open(config.stateDir(), podCidr);
        log.info("event=ipam_opened pod_cidr={} used={} capacity={}", ipam.podCidr(), ipam.used(), ipam.capacity());
        int podMtu = uplinks.stream().mapToInt(Link::mtu).min().orElseThrow();
        pods = podNetwork.open(node, datapath, ipam, config.stateDir(), podMtu, readiness, metrics.cniObserver());
        log.info("event=endpoints_loaded endpoints={} pod_mtu={}", pods.endpoints().size(), podMtu);
        if (cluster != null) {
            cluster.collectEndpoints(new EndpointGc.Endpoints() {
                @Override
                public List<Endpoint> list() {
                    return pods.endpoints();
                }

                @Override
                public Optional<String> delete(EndpointKey key) {
                    return pods.deleteEndpoint(key);
                }
            }, config.kubernetes().endpointGcGracePeriod());
        }

        // Spooled DELs go first: once the socket accepts, a runtime may ADD again what they free.
        DelSpool spool = new DelSpool(config.spoolDir());
        logDrain(spool, spool.drain(pods::handle), "before_socket");
        AgentApi api = new AgentApi(config, uplinks, ipam, datapath.counters(), pods, readiness::notReadyReason);
        createPrivateDirectory(config.socket().getParent());
        server = AgentSocketServer.start(config.socket(), api.routes(), AgentSocketOptions.defaults());
        // A plugin that found no socket between the first drain and the bind spooled its DEL: replay it now.
        logDrain(spool, spool.drain(pods::handle), "after_socket");

        if (cluster == null) {
            Set<IpPrefix> podCidrs = new java.util.LinkedHashSet<>(config.podCidrs());
            config.peers().forEach(p -> podCidrs.addAll(p.podCidrs()));
            applyMasquerade(podCidrs);
        } else {
            cluster.onPodCidrsChanged(this::applyMasquerade);
        }

        // Someone may flush or edit our table (a firewall reload): put it back now and then.
        masqueradeReconciler = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().name("ferry-masquerade").daemon(true).factory());
        masqueradeReconciler.scheduleWithFixedDelay(() -> {
            Set<IpPrefix> cidrs = masqueradedPodCidrs;
            if (cidrs != null) {
                applyMasquerade(cidrs, true);
            }
        }, MASQUERADE_RECONCILE.toSeconds(), MASQUERADE_RECONCILE.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);

        notReady.set(null);
        if (cluster == null) {
            writeConfList(started);
        } else {
            // Kubernetes mode is ready once the caches are synced, which an API outage can delay for long; the
            // socket already serves DEL, so the wait runs beside start, not in it.
            Thread.ofVirtual().name("ferry-ready-wait").start(() -> writeConfListOnceReady(readiness, started));
        }
    }

    /**
     * The masquerade table for these pod CIDRs: pods' traffic to anything outside
     * the cluster CIDRs (the config's, else every node's pod CIDRs) leaves with
     * the node's address. A failure is logged and leaves the old table: pod to pod
     * traffic does not need it.
     */
    private void applyMasquerade(Set<IpPrefix> podCidrs) {
        applyMasquerade(podCidrs, false);
    }

    /** @param periodic the timer's rewrite, logged at debug: it says nothing new */
    private void applyMasquerade(Set<IpPrefix> podCidrs, boolean periodic) {
        masqueradedPodCidrs = Set.copyOf(podCidrs);
        MasqueradeRules rules = config.masquerade()
                ? MasqueradeRules.enabled(List.copyOf(podCidrs),
                        config.clusterCidrs().isEmpty() ? List.copyOf(podCidrs) : config.clusterCidrs())
                : MasqueradeRules.disabled();
        try {
            masquerade.apply(rules);
            if (periodic) {
                log.debug("event=masquerade_reconciled enabled={}", rules.enabled());
                return;
            }
            log.info("event=masquerade_applied enabled={} pod_cidrs={} cluster_cidrs={}", rules.enabled(),
                    rules.podCidrs(), rules.clusterCidrs());
        } catch (RuntimeException e) {
            log.error("event=masquerade_failed error=\"{}\"", e.getMessage());
        }
    }

    private void writeConfListOnceReady(Readiness readiness, long started) {
        Optional<String> last = Optional.empty();
        while (!isClosed()) {
            Optional<String> notReadyNow = readiness.notReadyReason();
            if (notReadyNow.isEmpty()) {
                writeConfList(started);
                return;
            }
            if (!notReadyNow.equals(last)) {
                log.info("event=agent_waiting why=\"{}\"", notReadyNow.get());
                last = notReadyNow;
            }
            try {
                Thread.sleep(100); // fabric8 offers no callback for "synced and watching again"; this is the cheap poll
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private synchronized boolean isClosed() {
        return closed;
    }

    private synchronized void writeConfList(long started) {
        if (closed) {
            return;
        }
        Path conflist = CniConfList.write(config.cniConfDir(), config.socket(), config.spoolDir());
        log.info("event=cni_config_written path={}", conflist);
        log.info("event=agent_ready node={} took_ms={}", config.nodeName(), (System.nanoTime() - started) / 1_000_000);
    }

    /**
     * Waits for the Node's pod CIDR (at once when one was persisted). Meanwhile a
     * stand-in socket answers STATUS with code 50 and the reason, and every other
     * command "try again later": nothing can be allocated before the pool is known.
     * A DEL that finds no socket in the moment between the stand-in and the real
     * server is spooled by ferry-cni and replayed by the drain after the bind.
     */
    private IpPrefix awaitPodCidrServingStatus() {
        Optional<IpPrefix> known = cluster.podCidrNow();
        if (known.isPresent()) {
            return known.get();
        }
        createPrivateDirectory(config.socket().getParent());
        try (AgentSocketServer waiting = AgentSocketServer.start(config.socket(), Routes.builder()
                .post(ApiErrors.CNI_PATH, (request, vars) -> CniService.notRunning(request, notReady.get()))
                .get("/v1/status", (request, vars) -> ApiErrors.error(503, notReady.get()))
                .build(), AgentSocketOptions.defaults())) {
            return cluster.awaitPodCidr();
        }
    }

    private boolean kubernetes() {
        return config.mode() == AgentConfig.Mode.KUBERNETES;
    }

    /** The agent's own readiness (starting, stopping), then kubernetes mode's (pod CIDR, caches, API). */
    Optional<String> notReadyReason() {
        return Optional.ofNullable(notReady.get()).or(() -> cluster == null ? Optional.empty() : cluster.notReadyReason());
    }

    /** Peer route adds, replaces and deletes so far (tests: a node's change writes that node's routes only). */
    long peerRouteWrites() {
        return peerRoutes.routeWrites();
    }

    /** Where /metrics, /healthz and /readyz are served (the bound port when the config said 0). */
    java.net.InetSocketAddress metricsAddress() {
        return metricsServer.address();
    }

    /** The pod addresses the BPF endpoint map holds now. */
    Set<java.net.InetAddress> endpointMapEntries() {
        return datapath.endpoints().entries().keySet();
    }

    /** What the BPF cluster-CIDR map holds now. */
    Set<IpPrefix> clusterCidrs() {
        return datapath.clusterCidrs().cidrs();
    }

    /** The datapath's global counters, summed over CPUs. */
    List<DatapathCounter> counters() {
        return datapath.counters().global();
    }

    /** Fails when an agent answers on the socket; {@link AgentSocketServer} checks again when it binds. */
    private static void refuseIfServed(Path socket) {
        if (!Files.exists(socket)) {
            return;
        }
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(UnixDomainSocketAddress.of(socket));
        } catch (IOException nobodyListens) {
            return; // a stale file from an agent that is gone; the server replaces it
        }
        throw new IllegalStateException("another agent is serving on " + socket
                + ": stop it, or give this agent its own socket, stateDir and bpffsRoot");
    }

    private List<Link> uplinks() {
        if (config.uplinks().isEmpty()) {
            return List.of(netlink.defaultRouteLink().orElseThrow(() -> new IllegalStateException(
                    "no uplinks configured and the node's network namespace has no default route to take one from:"
                            + " set uplinks in the config")));
        }
        return config.uplinks().stream().map(name -> netlink.link(name).orElseThrow(() -> new IllegalStateException(
                "uplink '" + name + "' does not exist in the node's network namespace (" + node.path() + ")"))).toList();
    }

    /**
     * to_pod on every uplink, and forwarding on it: packets the programs leave to
     * the stack (towards a pod whose veth the BPF map does not know yet, replies
     * to kube-proxy's NAT) are routed only when the input device forwards, and
     * bpf_fib_lookup answers FWD_DISABLED without it. A to_pod link adopted from
     * a device that is no longer an uplink is detached.
     */
    private void attachUplinks(List<Link> uplinks, List<Attachment> adopted) {
        Set<String> names = new HashSet<>(names(uplinks));
        for (Attachment stale : adopted) {
            if (stale.program() == DatapathProgram.TO_POD && !names.contains(stale.ifname())) {
                node.execute(() -> datapath.detach(DatapathProgram.TO_POD, stale.ifname(), stale.ifindex()));
                log.info("event=uplink_detached uplink={} ifindex={} why=not_an_uplink_any_more", stale.ifname(), stale.ifindex());
            }
        }
        for (Link uplink : uplinks) {
            Attachment a = node.run(() -> datapath.attach(DatapathProgram.TO_POD, uplink.name(), uplink.index()));
            int before = netlink.ipv4DevConf(uplink.index(), Ipv4DevConf.FORWARDING).orElse(-1);
            netlink.setIpv4DevConf(uplink.index(), Ipv4DevConf.FORWARDING, 1);
            log.info("event=uplink_attached uplink={} ifindex={} mtu={} program={} prog_id={} forwarding=1 forwarding_was={}",
                    uplink.name(), uplink.index(), uplink.mtu(), a.program().programName(), a.programId(), before);
        }
    }

    private static void logDrain(DelSpool spool, DelSpool.Drain d, String when) {
        if (when.equals("before_socket") || !d.equals(DelSpool.Drain.NOTHING)) {
            log.info("event=spool_drained when={} dir={} replayed={} failed={} malformed={} stale_temps={}", when,
                    spool.dir(), d.replayed(), d.failed(), d.malformed(), d.staleTemps());
        }
    }

    /** Root-only: the state holds pod ownership and the spool, the socket's directory guards the socket. */
    private static void createPrivateDirectory(Path dir) {
        if (Files.isDirectory(dir)) {
            return;
        }
        try {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (IOException e) {
            throw new UncheckedIOException("failed to create directory '" + dir + "': " + e.getMessage(), e);
        }
    }

    private static List<String> names(List<Link> links) {
        return links.stream().map(Link::name).toList();
    }

    public AgentConfig config() {
        return config;
    }

    /**
     * Stops serving and releases the process's handles, each step even when one
     * before it failed. Pinned maps and links stay: pods keep their traffic.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        notReady.set("the agent is stopping");
        if (masqueradeReconciler != null) {
            masqueradeReconciler.shutdownNow();
        }
        closeQuietly("cluster_watch", cluster);
        closeQuietly("socket", server);
        closeQuietly("metrics_server", metricsServer);
        closeQuietly("metrics", metrics);
        closeQuietly("pod_network", pods);
        closeQuietly("netlink", netlink);
        closeQuietly("datapath", datapath);
        closeQuietly("node_netns", node);
        log.info("event=agent_stopped node={} pins_kept={}", config.nodeName(), config.bpffsRoot());
    }

    private static void closeQuietly(String what, AutoCloseable resource) {
        if (resource == null) {
            return;
        }
        try {
            resource.close();
        } catch (Exception e) {
            log.warn("event=close_failed what={} error=\"{}\"", what, e.toString());
        }
    }
}
