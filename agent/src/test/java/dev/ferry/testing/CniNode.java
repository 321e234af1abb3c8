package dev.ferry.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.api.AgentSocketOptions;
import dev.ferry.api.AgentSocketServer;
import dev.ferry.api.CniRoute;
import dev.ferry.api.Routes;
import dev.ferry.cni.CniObserver;
import dev.ferry.cni.CniService;
import dev.ferry.cni.Readiness;
import dev.ferry.datapath.AttachMode;
import dev.ferry.datapath.AttachModes;
import dev.ferry.datapath.Datapath;
import dev.ferry.datapath.DatapathProgram;
import dev.ferry.endpoint.Endpoint;
import dev.ferry.endpoint.EndpointManager;
import dev.ferry.ipam.Ipam;
import dev.ferry.net.IpPrefix;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * One node as the CNI sees it: a node namespace (with an address on lo, so host
 * processes have a source to reach pods from), the datapath loaded under a test
 * bpffs root, IPAM and endpoint state in a temporary directory, and the agent
 * socket served in-process. Pods are added through the real ferry-cni binary.
 *
 * <p>Programs are hooked as an agent with the default configuration hooks them
 * ({@link #SHIPPED_MODES}: from_pod as a tc filter on each pod veth; the node
 * has no uplink, so to_pod stays unhooked) unless a test names other modes.
 * Closing the node deletes every pod still there through the binary and fails
 * when anything of Ferry's is left in the node ({@link #footprint()}): "nothing
 * left" is checked in the mode operators run. Suites sharing one node check it
 * after each test as well ({@link NothingLeftBehind}).
 */
public final class CniNode implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    public static final int POD_MTU = 1500;
    /** An agent's default attach modes (AgentConfigLoaderTest holds them): TCX on uplinks, tc on pod veths. */
    public static final AttachModes SHIPPED_MODES = new AttachModes(AttachMode.TCX, AttachMode.TC);

    private final TestNetns node;
    private final BpfPins pins;
    private final Path stateDir;
    private final Path socket;
    private final IpPrefix podCidr;
    /** Every pool's CIDR, {@code podCidr} first: a second one (of the other family) makes the node dual-stack. */
    /** The pools the next {@link #startAgent} opens ({@link #startAgent(List)} changes them, as a new config would). */
    private List<IpPrefix> podCidrs;
    private final AttachModes modes;
    private final InetAddress hostAddress;
    private final List<TestNetns> podNamespaces = new ArrayList<>();
    /** Ids of every program an agent of this node loaded: a BPF link running one of them is this node's. */
    private final Set<Integer> programIds = ConcurrentHashMap.newKeySet();
    /** The node as the first agent found it, before any pod. */
    private Footprint pristine;
    private Datapath datapath;
    private Ipam ipam;
    private List<Ipam> pools;
    private EndpointManager endpoints;
    private AgentSocketServer server;
    private volatile Readiness readiness = Readiness.READY;

    /** A pod as the runtime knows it after ADD. */
    public record Pod(String containerId, TestNetns ns, InetAddress address, FerryCni.Result add) {
        public Traffic.End end() {
            return new Traffic.End(ns, address);
        }

        public String netnsPath() {
            return "/run/netns/" + ns.name();
        }
    }

    private CniNode(String prefix, List<IpPrefix> podCidrs, AttachModes modes, InetAddress hostAddress) throws IOException {
        this.podCidr = podCidrs.getFirst();
        this.podCidrs = List.copyOf(podCidrs);
        this.modes = modes;
        this.hostAddress = hostAddress;
        this.node = TestNetns.create(prefix + "n");
        this.pins = BpfPins.create("ferry-test-" + prefix);
        this.stateDir = Files.createTempDirectory("ferry-test-" + prefix + "-");
        this.socket = stateDir.resolve("ferry.sock");
        node.ip("addr", "add", hostAddress.getHostAddress() + "/32", "dev", "lo");
    }

    /** hostAddress: the node's own address (on lo), outside podCidr. Programs hooked in {@link #SHIPPED_MODES}. */
    public static CniNode start(String prefix, String podCidr, String hostAddress) throws Exception {
        return start(prefix, podCidr, hostAddress, SHIPPED_MODES);
    }

    /** For a test of modes other than the shipped ones: it names them. */
    public static CniNode start(String prefix, String podCidr, String hostAddress, AttachModes modes) throws Exception {
        return start(prefix, List.of(podCidr), hostAddress, modes);
    }

    /** A node with one pool per CIDR (an IPv4 and an IPv6 one make it dual-stack; an IPv6 one alone IPv6-only). */
    public static CniNode start(String prefix, List<String> podCidrs, String hostAddress) throws Exception {
        return start(prefix, podCidrs, hostAddress, SHIPPED_MODES);
    }

    private static CniNode start(String prefix, List<String> podCidrs, String hostAddress, AttachModes modes) throws Exception {
        CniNode n = new CniNode(prefix, podCidrs.stream().map(IpPrefix::parse).toList(), modes, IpPrefix.literal(hostAddress));
        try {
            n.startAgent();
            n.pristine = n.footprint();
            return n;
        } catch (Exception e) {
            n.close();
            throw e;
        }
    }

    /** A fresh agent started with other pod CIDRs (a changed configuration, a Node that lost or gained one). */
    public void startAgent(List<String> cidrs) {
        podCidrs = cidrs.stream().map(IpPrefix::parse).toList();
        startAgent();
    }

    /** What a fresh agent process does at start, in-process. */
    public void startAgent() {
        datapath = Datapath.load(pins.root(), modes);
        for (DatapathProgram program : DatapathProgram.values()) {
            programIds.add(datapath.program(program).id());
        }
        podCidrs.stream().filter(IpPrefix::isIpv4).forEach(datapath.clusterCidrs()::add);
        pools = podCidrs.stream().map(cidr -> Ipam.open(stateDir, cidr)).toList();
        ipam = pools.getFirst();
        endpoints = new EndpointManager(node.handle(), datapath, pools, stateDir, POD_MTU);
        CniService cni = new CniService(endpoints, () -> readiness.notReadyReason(), CniObserver.NONE);
        server = AgentSocketServer.start(socket, Routes.builder()
                .post(CniRoute.PATH, new CniRoute(cni))
                .build(), AgentSocketOptions.defaults());
    }

    /** What an agent exit does: handles closed, pins (and so forwarding) left in place. */
    public void stopAgent() {
        if (server != null) {
            server.close();
            server = null;
        }
        if (endpoints != null) {
            endpoints.close();
            endpoints = null;
        }
        if (datapath != null) {
            datapath.close();
            datapath = null;
        }
    }

    public void readiness(Readiness readiness) {
        this.readiness = readiness;
    }

    public TestNetns node() {
        return node;
    }

    public Datapath datapath() {
        return datapath;
    }

    public Ipam ipam() {
        return ipam;
    }

    /** Every pool, the first one's first. */
    public List<Ipam> pools() {
        return pools;
    }

    public EndpointManager endpoints() {
        return endpoints;
    }

    public Path stateDir() {
        return stateDir;
    }

    public Path socket() {
        return socket;
    }

    public Path spoolDir() {
        return stateDir.resolve("cni-spool");
    }

    public InetAddress hostAddress() {
        return hostAddress;
    }

    /** The network configuration a runtime would stream, naming this node's socket. */
    public String config() {
        return config("1.1.0");
    }

    public String config(String cniVersion) {
        return "{\"cniVersion\":\"" + cniVersion + "\",\"name\":\"ferry-test\",\"type\":\"ferry-cni\","
                + "\"agentSocket\":\"" + socket + "\",\"spoolDir\":\"" + spoolDir() + "\","
                + "\"dns\":{\"nameservers\":[\"10.96.0.10\"]}}";
    }

    /** A fresh pod namespace, deleted with the node. */
    public TestNetns podNamespace(String prefix) {
        TestNetns ns = TestNetns.create(prefix);
        synchronized (podNamespaces) {
            podNamespaces.add(ns);
        }
        return ns;
    }

    public static String newContainerId() {
        return "ferrytest" + Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
    }

    /** The CNI environment of one attachment, as a runtime sets it. */
    public FerryCni cni(String command, String containerId, String netnsPath) {
        return FerryCni.command(command)
                .env("CNI_CONTAINERID", containerId)
                .env("CNI_NETNS", netnsPath)
                .env("CNI_IFNAME", "eth0")
                .env("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=test;K8S_POD_NAME=" + containerId)
                .env("CNI_PATH", "/opt/cni/bin")
                .stdin(config());
    }

    /** ADD through the binary; fails the test unless it succeeds. */
    public Pod addPod(String prefix) {
        String id = newContainerId();
        TestNetns ns = podNamespace(prefix);
        FerryCni.Result r = cni("ADD", id, "/run/netns/" + ns.name()).run();
        if (r.exitCode() != 0) {
            throw new AssertionError("ADD failed (" + r.exitCode() + "): " + r.stdout() + r.stderr());
        }
        return new Pod(id, ns, addressOf(r), r);
    }

    public FerryCni.Result del(Pod pod) {
        return cni("DEL", pod.containerId(), pod.netnsPath()).run();
    }

    /** The pod address of an ADD result ({@code ips[0].address} without the prefix length). */
    public static InetAddress addressOf(FerryCni.Result add) {
        try {
            JsonNode result = JSON.readTree(add.stdout());
            return IpPrefix.parse(result.path("ips").path(0).path("address").asText()).address();
        } catch (IOException e) {
            throw new UncheckedIOException("ADD printed no result: " + add.stdout(), e);
        }
    }

    /** Host veths ADD made in the node ({@code fer...}). */
    public List<String> hostVeths() {
        return node.ip("-o", "link", "show").lines()
                .map(l -> l.split(":")[1].trim().split("@")[0])
                .filter(n -> n.startsWith("fer"))
                .toList();
    }

    /** Files under the endpoint state directory. */
    public List<Path> endpointFiles() {
        return files(stateDir.resolve("endpoints"));
    }

    /** Files under the IPAM directory, allocations and bookkeeping. */
    public List<Path> ipamFiles() {
        return files(stateDir.resolve("ipam")).stream()
                .filter(p -> !p.getFileName().toString().startsWith("last_reserved"))
                .toList();
    }

    private static List<Path> files(Path dir) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Pinned from_pod links left (one per plumbed endpoint when pods are on TCX). */
    public List<Path> fromPodPins() {
        return files(pins.root().resolve("links").resolve("from_pod"));
    }

    /** What Ferry has in the node and under its state now; needs a running agent (for the endpoint map). */
    public Footprint footprint() {
        if (datapath == null) {
            throw new IllegalStateException("the footprint reads the endpoint map: start the agent first");
        }
        return new Footprint(hostVeths().stream().sorted().toList(), tcHooks(), bpfLinks(), linkPins(), hostRoutes(),
                node.ip("neigh", "show", "nud", "permanent").lines().map(String::strip).sorted().toList(),
                names(ipamFiles()), names(endpointFiles()),
                datapath.endpoints().entries().keySet().stream().map(InetAddress::getHostAddress).sorted().toList());
    }

    /** Fails, naming each difference, unless the node's footprint is {@code before} again. */
    public void assertNothingLeftSince(Footprint before) {
        String differences = footprint().differencesFrom(before);
        if (!differences.isEmpty()) {
            throw new AssertionError("node " + node + " is not as it was:\n" + differences);
        }
    }

    /** clsact qdiscs in the node, each with the filters on both of its hooks. */
    private List<String> tcHooks() {
        List<String> hooks = new ArrayList<>();
        for (String qdisc : Shell.run("tc", "-n", node.name(), "qdisc", "show").lines().toList()) {
            if (!qdisc.startsWith("qdisc clsact ")) {
                continue;
            }
            String dev = qdisc.replaceFirst(".* dev (\\S+).*", "$1");
            hooks.add("clsact on " + dev);
            for (String hook : List.of("ingress", "egress")) {
                Shell.run("tc", "-n", node.name(), "filter", "show", "dev", dev, hook).lines()
                        .filter(l -> !l.isBlank())
                        .forEach(l -> hooks.add(dev + " " + hook + ": " + l.strip()));
            }
        }
        return hooks.stream().sorted().toList();
    }

    /**
     * Links of any kind whose program one of this node's agents loaded. bpftool
     * lists the machine's links, whatever their namespace; the program ids keep
     * out those of tests running beside this one.
     */
    private List<String> bpfLinks() {
        try {
            List<String> links = new ArrayList<>();
            for (JsonNode link : JSON.readTree(Shell.run("bpftool", "-j", "link", "show"))) {
                if (programIds.contains(link.path("prog_id").asInt())) {
                    links.add("link " + link.path("id").asInt() + " (type " + link.path("type").asText()
                            + ") runs program " + link.path("prog_id").asInt());
                }
            }
            return links.stream().sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("bpftool printed no JSON", e);
        }
    }

    private List<String> linkPins() {
        Path links = pins.root().resolve("links");
        if (!Files.isDirectory(links)) {
            return List.of();
        }
        try (Stream<Path> s = Files.walk(links)) {
            return s.filter(Files::isRegularFile).map(p -> links.relativize(p).toString()).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * IPv4 routes of the main table (the node has none of its own; they are
     * listed without a "table" word), protocol 70 routes of any table, and IPv6
     * routes other than the kernel's own (link-local, multicast, local). One
     * listing per family: ip leaves out of each line what a filter asked for.
     */
    private List<String> hostRoutes() {
        List<String> v4 = node.ip("-4", "route", "show", "table", "all").lines()
                .map(String::strip)
                .filter(l -> !l.isEmpty() && (!l.contains(" table ") || l.contains(" proto 70 ")))
                .toList();
        List<String> v6 = node.ip("-6", "route", "show", "table", "all").lines()
                .map(String::strip)
                .filter(l -> !l.isEmpty() && !l.contains(" proto kernel ") && !l.startsWith("local ")
                        && !l.startsWith("multicast ") && !l.startsWith("anycast "))
                .map(l -> "inet6 " + l)
                .toList();
        return java.util.stream.Stream.concat(v4.stream(), v6.stream()).sorted().toList();
    }

    private static List<String> names(List<Path> files) {
        return files.stream().map(p -> p.getFileName().toString()).toList();
    }

    /**
     * DEL of every pod the agent still knows, through the binary as a runtime
     * does; then the node must be as the first agent found it. Null when it is.
     */
    private AssertionError leftoversAfterDeletingEveryPod() {
        try {
            for (Endpoint e : endpoints.list()) {
                FerryCni.Result del = cni("DEL", e.containerId(), e.netns()).env("CNI_IFNAME", e.ifname()).run();
                if (del.exitCode() != 0) {
                    return new AssertionError("DEL of " + e.containerId() + " failed when the node closed: " + del);
                }
            }
            String differences = footprint().differencesFrom(pristine);
            return differences.isEmpty() ? null
                    : new AssertionError("node " + node + " after DEL of every pod is not as the agent found it:\n" + differences);
        } catch (RuntimeException e) {
            return new AssertionError("failed to read the footprint of node " + node, e);
        }
    }

    @Override
    public void close() throws Exception {
        // Only a node that started and still has its agent can be checked (a DEL needs the agent).
        AssertionError leftovers = pristine != null && server != null ? leftoversAfterDeletingEveryPod() : null;
        List<TestNetns> pods;
        synchronized (podNamespaces) {
            pods = List.copyOf(podNamespaces);
        }
        try {
            Cleanup.all(
                    this::stopAgent,
                    () -> pods.forEach(TestNetns::close),
                    node::close,
                    pins::close,
                    () -> Cleanup.deleteTree(stateDir));
        } catch (Exception e) {
            if (leftovers != null) {
                leftovers.addSuppressed(e);
                throw leftovers;
            }
            throw e;
        }
        if (leftovers != null) {
            throw leftovers;
        }
    }
}
