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
import dev.ferry.datapath.Datapath;
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
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * One node as the CNI sees it: a node namespace (with an address on lo, so host
 * processes have a source to reach pods from), the datapath loaded under a test
 * bpffs root, IPAM and endpoint state in a temporary directory, and the agent
 * socket served in-process. Pods are added through the real ferry-cni binary.
 */
public final class CniNode implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    public static final int POD_MTU = 1500;

    private final TestNetns node;
    private final BpfPins pins;
    private final Path stateDir;
    private final Path socket;
    private final IpPrefix podCidr;
    private final AttachMode mode;
    private final InetAddress hostAddress;
    private final List<TestNetns> podNamespaces = new ArrayList<>();
    private Datapath datapath;
    private Ipam ipam;
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

    private CniNode(String prefix, IpPrefix podCidr, AttachMode mode, InetAddress hostAddress) throws IOException {
        this.podCidr = podCidr;
        this.mode = mode;
        this.hostAddress = hostAddress;
        this.node = TestNetns.create(prefix + "n");
        this.pins = BpfPins.create("ferry-test-" + prefix);
        this.stateDir = Files.createTempDirectory("ferry-test-" + prefix + "-");
        this.socket = stateDir.resolve("ferry.sock");
        node.ip("addr", "add", hostAddress.getHostAddress() + "/32", "dev", "lo");
    }

    /** hostAddress: the node's own address (on lo), outside podCidr. */
    public static CniNode start(String prefix, String podCidr, String hostAddress) throws Exception {
        return start(prefix, podCidr, hostAddress, AttachMode.TCX);
    }

    public static CniNode start(String prefix, String podCidr, String hostAddress, AttachMode mode) throws Exception {
        CniNode n = new CniNode(prefix, IpPrefix.parse(podCidr), mode, IpPrefix.literal(hostAddress));
        try {
            n.startAgent();
            return n;
        } catch (Exception e) {
            n.close();
            throw e;
        }
    }

    /** What a fresh agent process does at start, in-process. */
    public void startAgent() {
        datapath = Datapath.load(pins.root(), mode);
        datapath.clusterCidrs().add(podCidr);
        ipam = Ipam.open(stateDir, podCidr);
        endpoints = new EndpointManager(node.handle(), datapath, ipam, stateDir, POD_MTU);
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
                .filter(p -> !p.getFileName().toString().equals("last_reserved"))
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

    /** Pinned from_pod links left (one per plumbed endpoint in TCX mode). */
    public List<Path> fromPodPins() {
        return files(pins.root().resolve("links").resolve("from_pod"));
    }

    @Override
    public void close() throws Exception {
        List<TestNetns> pods;
        synchronized (podNamespaces) {
            pods = List.copyOf(podNamespaces);
        }
        Cleanup.all(
                this::stopAgent,
                () -> pods.forEach(TestNetns::close),
                node::close,
                pins::close,
                () -> Cleanup.deleteTree(stateDir));
    }
}
