package dev.ferry.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.cli.Main;
import dev.ferry.egress.EgressRoute;
import dev.ferry.egress.Fallback;
import dev.ferry.egress.NextHop;
import dev.ferry.net.IpPrefix;
import dev.ferry.testing.FerryCni;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@code ferry egress list} and {@code GET /v1/egress} against a running agent
 * whose configuration routes its pod CIDR to everything outside ({@code all-out},
 * listed first) and to 203.0.113.0/24 ({@code via-peer}, more specific: a
 * conflict it wins) through the peer on the uplink (192.168.50.2), with one pod
 * added through ferry-cni.
 */
@RequiresRoot
class EgressCliTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CONTAINER = "e9e55c11";

    @TempDir
    Path dir;
    private AgentFixture nodes;
    private TestNetns pod;

    private record Run(int exit, String out, String err) {
    }

    static EgressRoute route(String via) {
        return new EgressRoute("via-peer", List.of(IpPrefix.parse("10.244.1.0/24")), List.of(IpPrefix.parse("203.0.113.0/24")),
                List.of(new NextHop(IpPrefix.literal(via), Optional.empty())), false, Fallback.DROP);
    }

    @BeforeEach
    void agentWithARouteAndOnePod() throws Exception {
        nodes = AgentFixture.create(dir);
        EgressRoute wider = new EgressRoute("all-out", List.of(IpPrefix.parse("10.244.1.0/24")), EgressRoute.OUTSIDE_THE_CLUSTER,
                List.of(new NextHop(IpPrefix.literal("192.168.50.2"), Optional.of("upl0"))), false, Fallback.STACK);
        nodes.start(TestConfigs.withEgressRoutes(nodes.config(List.of("upl0")), List.of(wider, route("192.168.50.2"))));
        pod = TestNetns.create("egrpod");
        String config = "{\"cniVersion\":\"1.1.0\",\"name\":\"ferry\",\"type\":\"ferry-cni\",\"agentSocket\":\"" + nodes.socket() + "\"}";
        FerryCni.Result add = FerryCni.command("ADD").env("CNI_CONTAINERID", CONTAINER)
                .env("CNI_NETNS", "/run/netns/" + pod.name()).env("CNI_IFNAME", "eth0").env("CNI_PATH", "/opt/cni/bin")
                .env("CNI_ARGS", "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=cart-0").stdin(config).run();
        assertEquals(0, add.exitCode(), add.toString());
    }

    @AfterEach
    void cleanUp() throws Exception {
        try {
            nodes.close();
        } finally {
            pod.close();
        }
    }

    @Test
    void egressListShowsTheRouteItsPodOnThisNodeAndItsLiveNextHop() throws Exception {
        JsonNode route = awaitRoute(r -> r.path("pods").size() == 1 && r.path("nextHops").path(0).path("neighbour").asText().equals("reachable"));
        assertEquals("shop/cart-0", route.path("pods").path(0).path("name").asText());

        Run r = cli("egress", "list");

        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().startsWith("ROUTE"), r.out());
        assertTrue(r.out().contains("via-peer") && r.out().contains("shop/cart-0(10.244.1.") && r.out().contains("203.0.113.0/24")
                && r.out().contains("192.168.50.2") && r.out().contains("upl0") && r.out().contains("yes")
                && r.out().contains("drop:0"), r.out());
        assertTrue(r.out().contains("conflict: 203.0.113.0/24 goes by via-peer, not all-out (more specific)"), r.out());
    }

    @Test
    void egressListAsJsonNamesTheRouteFallbackDestinationsAndTheConflict() throws Exception {
        awaitRoute(r -> r.path("pods").size() == 1); // the conflict is between routes that select the same pod
        Run r = cli("egress", "list", "-o", "json");

        assertEquals(0, r.exit(), r.err());
        JsonNode route = JSON.readTree(r.out()).path("routes").path(1);
        assertEquals("via-peer", route.path("name").asText());
        assertEquals("drop", route.path("fallback").asText());
        assertEquals("203.0.113.0/24", route.path("destinations").path(0).asText());
        JsonNode conflict = JSON.readTree(r.out()).path("conflicts").path(0);
        assertEquals("via-peer", conflict.path("winner").asText());
        assertEquals("more_specific", conflict.path("rule").asText());
    }

    @Test
    void aNextHopOnNoUplinkFailsTheStartNamingTheKey() throws Exception {
        nodes.close();
        AgentFixture other = AgentFixture.create(dir.resolve("other"));
        try {
            RuntimeException e = assertThrows(RuntimeException.class,
                    () -> other.start(TestConfigs.withEgressRoutes(other.config(List.of("upl0")), List.of(route("10.99.0.1")))));
            assertEquals("key 'egressRoutes[0].nextHops[0].via': 10.99.0.1 is in the subnet of no uplink (upl0); name the device",
                    e.getMessage());
            assertFalse(e.getMessage().contains("\n"));
        } finally {
            other.close();
        }
    }

    private JsonNode awaitRoute(java.util.function.Predicate<JsonNode> condition) throws Exception {
        Instant deadline = Instant.now().plusSeconds(10);
        while (true) {
            Run r = cli("egress", "list", "-o", "json");
            JsonNode route = JSON.readTree(r.out()).path("routes").path(1);
            if (condition.test(route)) {
                return route;
            }
            if (Instant.now().isAfter(deadline)) {
                fail("the route never got there: " + r.out());
            }
            Thread.sleep(100);
        }
    }

    private Run cli(String... args) {
        String[] all = new String[args.length + 2];
        all[0] = "--socket";
        all[1] = nodes.socket().toString();
        System.arraycopy(args, 0, all, 2, args.length);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = new Main(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8)).run(all);
        return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
