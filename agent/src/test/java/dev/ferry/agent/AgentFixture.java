package dev.ferry.agent;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ferry.agent.AgentConfig.Mode;
import dev.ferry.bpf.BpfMap;
import dev.ferry.datapath.MapLayouts;
import dev.ferry.routes.Peer;
import dev.ferry.datapath.AttachMode;
import dev.ferry.net.IpPrefix;
import dev.ferry.testing.BpfPins;
import dev.ferry.testing.Cleanup;
import dev.ferry.testing.TestNetns;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Two nodes on one wire for agent tests: {@code node} (192.168.50.1 on upl0, MTU
 * 1400), where the agent under test runs, and {@code peer} (192.168.50.2), node-b
 * of its configuration. Closing stops every agent started here and removes the
 * namespaces and pins, each step even when one fails.
 */
final class AgentFixture implements AutoCloseable {
    final Path dir;
    final TestNetns node;
    final TestNetns peer;
    final BpfPins pins;
    /** The mock API server of kubernetes-mode tests ({@link #withApiServer}); null otherwise. */
    MockApi api;
    private final List<Agent> agents = new ArrayList<>();
    private final int metricsPort = freePort();

    private AgentFixture(Path dir, TestNetns node, TestNetns peer, BpfPins pins) {
        this.dir = dir;
        this.node = node;
        this.peer = peer;
        this.pins = pins;
    }

    private static int freePort() {
        try (ServerSocket probe = new ServerSocket(0, 1, IpPrefix.literal("127.0.0.1"))) {
            return probe.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static AgentFixture create(Path dir) throws Exception {
        TestNetns node = TestNetns.create("agent");
        TestNetns peer = null;
        try {
            peer = TestNetns.create("agentpeer");
            node.ip("link", "add", "upl0", "mtu", "1400", "type", "veth", "peer", "name", "upl0p", "netns", peer.name());
            node.ip("address", "add", "192.168.50.1/24", "dev", "upl0");
            node.ip("link", "set", "upl0", "up");
            peer.ip("address", "add", "192.168.50.2/24", "dev", "upl0p");
            peer.ip("link", "set", "upl0p", "up");
            return new AgentFixture(dir, node, peer, BpfPins.create("ferry-test-agent"));
        } catch (RuntimeException e) {
            TestNetns created = peer;
            Cleanup.all(node::close, () -> {
                if (created != null) {
                    created.close();
                }
            });
            throw e;
        }
    }

    /** The two nodes and a mock API server, which closing stops too. */
    static AgentFixture withApiServer(Path dir) throws Exception {
        AgentFixture fixture = create(dir);
        fixture.api = MockApi.start();
        return fixture;
    }

    Path socket() {
        return dir.resolve("run/ferry.sock");
    }

    /** Where the agents of this fixture serve /metrics, /healthz and /readyz: a port free when the fixture was made. */
    int metricsPort() {
        return metricsPort;
    }

    /** A pinned map of the agent under test, by its name in bpf/lib. */
    Path pinnedMap(String name) {
        return pins.resolve(name);
    }

    AgentConfig config(List<String> uplinks) {
        return config(uplinks, List.of(IpPrefix.parse("10.244.1.0/24")));
    }

    /** node-a in standalone mode with these pod CIDRs (an IPv4 and an IPv6 one: dual stack). */
    AgentConfig config(List<String> uplinks, List<IpPrefix> podCidrs) {
        return TestConfigs.of("node-a", Mode.STANDALONE,
                podCidrs,
                List.of(IpPrefix.parse("10.244.0.0/16")),
                uplinks,
                List.of(new Peer("node-b", List.of(IpPrefix.parse("10.244.2.0/24")), IpPrefix.literal("192.168.50.2"))),
                socket(), dir.resolve("state"), pins.root(), dir.resolve("cni"),
                new InetSocketAddress(IpPrefix.literal("127.0.0.1"), metricsPort), AttachMode.TCX);
    }

    /** node-a in kubernetes mode: everything else comes from the API server the kubeconfig names. */
    AgentConfig kubernetesConfig(Path kubeconfig, Duration endpointGcGracePeriod) {
        return kubernetesConfig(kubeconfig, endpointGcGracePeriod, List.of());
    }

    /** node-a in kubernetes mode with the configuration's clusterCIDRs (empty: every Node's pod CIDRs). */
    AgentConfig kubernetesConfig(Path kubeconfig, Duration endpointGcGracePeriod, List<IpPrefix> clusterCidrs) {
        return TestConfigs.of("node-a", Mode.KUBERNETES, List.of(), clusterCidrs, List.of("upl0"), List.of(),
                socket(), dir.resolve("state"), pins.root(), dir.resolve("cni"),
                new InetSocketAddress(IpPrefix.literal("127.0.0.1"), metricsPort), AttachMode.TCX,
                new AgentConfig.Kubernetes(kubeconfig, endpointGcGracePeriod));
    }

    /** An agent with the real pod network. */
    Agent start(AgentConfig config) {
        return start(config, Agent::openPodNetwork);
    }

    Agent start(AgentConfig config, Agent.PodNetworkFactory pods) {
        Agent agent = Agent.start(config, Path.of("/run/netns", node.name()), pods);
        agents.add(agent);
        return agent;
    }

    /** The mirror word of the endpoint with this IPv4 address in the agent's pinned map; 0 when it has none. */
    int mirrorWord(InetAddress address) {
        try (BpfMap map = BpfMap.openPinned(pinnedMap("ferry_endpoints_v3"));
             Arena arena = Arena.ofConfined()) {
            MemorySegment key = arena.allocate(MapLayouts.ENDPOINT_KEY);
            key.set(JAVA_BYTE, 0, (byte) MapLayouts.FAMILY_IPV4);
            MemorySegment.copy(address.getAddress(), 0, key, JAVA_BYTE, 4, 4);
            MemorySegment values = arena.allocate(map.valueSegmentSize(), 8);
            if (!map.lookup(key, values)) {
                return 0;
            }
            return values.get(JAVA_INT,
                    MapLayouts.offset(MapLayouts.ENDPOINT_VALUE, "info")
                            + MapLayouts.offset(MapLayouts.ENDPOINT_INFO, "mirror"));
        }
    }

    /** A GET that must answer 200; its JSON. */
    JsonNode get(String path) throws Exception {
        SocketHttp.Response r = SocketHttp.get(socket(), path);
        assertEquals(200, r.status(), path + ": " + r.json());
        return r.json();
    }

    @Override
    public void close() throws Exception {
        Cleanup.all(() -> agents.forEach(Agent::close), pins::close, node::close, peer::close, () -> {
            if (api != null) {
                api.close();
            }
        });
    }
}
