package dev.ferry.agent;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.capture.CaptureRequest;
import dev.ferry.capture.MirrorConfig;
import dev.ferry.datapath.MapLayouts;
import dev.ferry.net.IpPrefix;
import dev.ferry.testing.CniNode;
import dev.ferry.testing.FerryCni;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import dev.ferry.testing.Traffic;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A persistent mirror of the configuration: the selected pods' packets that its
 * filter matches arrive at the named device (an analyzer's interface, here one
 * end of a veth pair whose other end is counted), from the pods' ADD on, and
 * stop when the agent stops.
 */
@RequiresRoot
class PersistentMirrorTest {
    @TempDir
    Path dir;
    private AgentFixture nodes;
    private Agent agent;
    private TestNetns podA;
    private TestNetns podB;

    @BeforeEach
    void analyzerDevice() throws Exception {
        nodes = AgentFixture.create(dir);
        // The analyzer's interface: copies leave anl0 and arrive at anl0p, whose counters say how many came.
        nodes.node.ip("link", "add", "anl0", "type", "veth", "peer", "name", "anl0p");
        for (String end : List.of("anl0", "anl0p")) {
            nodes.node.ip("link", "set", end, "addrgenmode", "none"); // sends nothing of its own
            nodes.node.ip("link", "set", end, "up");
        }
        podA = TestNetns.create("mirpa");
        podB = TestNetns.create("mirpb");
    }

    @AfterEach
    void cleanUp() throws Exception {
        try {
            nodes.close();
        } finally {
            podA.close();
            podB.close();
        }
    }

    @Test
    void selectedPodsPacketsThatTheFilterMatchesReachTheDeviceUntilTheAgentStops() throws Exception {
        agent = nodes.start(nodes.config(List.of("upl0")).withMirrors(List.of(new MirrorConfig("analyzer",
                List.of(IpPrefix.parse("10.244.1.0/24")), "anl0", CaptureRequest.Filter.parse(null, "icmp", null, null)))));
        Traffic.End a = new Traffic.End(podA, add("mir0a", podA));
        Traffic.End b = new Traffic.End(podB, add("mir0b", podB));
        await(() -> mirrorWord(a.inet()) != 0 && mirrorWord(b.inet()) != 0, "both pods mirrored after their ADD");

        long before = received();
        Traffic.ping(a, b, 3);
        Traffic.udpEcho(a, b, 7301, 2); // not ICMP: not copied

        assertEquals(6, received() - before, "3 echo requests and 3 replies, each copied once though both ends are mirrored");

        agent.close();
        assertEquals(0, mirrorWord(a.inet()) | mirrorWord(b.inet()), "words cleared when the agent stops");
        long stopped = received();
        Traffic.ping(a, b, 1);
        assertEquals(stopped, received(), "nothing copied once the agent stopped");
    }

    private InetAddress add(String container, TestNetns pod) {
        String config = "{\"cniVersion\":\"1.1.0\",\"name\":\"ferry\",\"type\":\"ferry-cni\",\"agentSocket\":\"" + nodes.socket() + "\"}";
        FerryCni.Result add = FerryCni.command("ADD").env("CNI_CONTAINERID", container)
                .env("CNI_NETNS", "/run/netns/" + pod.name()).env("CNI_IFNAME", "eth0").env("CNI_PATH", "/opt/cni/bin")
                .stdin(config).run();
        assertEquals(0, add.exitCode(), add.toString());
        return CniNode.addressOf(add);
    }

    /** Packets anl0p received: what the mirror sent out of anl0. */
    private long received() throws Exception {
        String json = nodes.node.ip("-s", "-j", "link", "show", "anl0p");
        return new ObjectMapper().readTree(json).path(0).path("stats64").path("rx").path("packets").asLong();
    }

    private int mirrorWord(InetAddress address) {
        return nodes.mirrorWord(address);
    }

    private static void await(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(10));
        while (!condition.getAsBoolean()) {
            assertTrue(Instant.now().isBefore(deadline), what);
            Thread.sleep(50);
        }
    }
}
