package dev.ferry.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.cli.Main;
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
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The ferry CLI against a running agent with one pod. */
@RequiresRoot
class CliTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CONTAINER = "c11ca11";

    @TempDir
    Path dir;
    private AgentFixture nodes;
    private TestNetns pod;

    private record Run(int exit, String out, String err) {
    }

    @BeforeEach
    void agentWithOnePod() throws Exception {
        nodes = AgentFixture.create(dir);
        nodes.start(nodes.config(List.of("upl0")));
        pod = TestNetns.create("clipod");
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
    void endpointListShowsThePodInATable() {
        Run r = cli("endpoint", "list");

        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().startsWith("CONTAINER"), r.out());
        assertTrue(r.out().contains(CONTAINER) && r.out().contains("shop/cart-0") && r.out().contains("10.244.1."), r.out());
    }

    @Test
    void endpointListAsJsonParsesAndNamesThePod() throws Exception {
        Run r = cli("endpoint", "list", "-o", "json");

        JsonNode endpoints = JSON.readTree(r.out()).path("endpoints");
        assertEquals(1, endpoints.size());
        assertEquals("cart-0", endpoints.path(0).path("podName").asText());
    }

    @Test
    void endpointGetOfAnUnknownContainerSaysSoWithExitOne() {
        Run r = cli("endpoint", "get", "nosuch");

        assertEquals(1, r.exit());
        assertTrue(r.err().contains("no endpoint for container 'nosuch'"), r.err());
    }

    @Test
    void datapathStatsAsJsonParsesAndRatesCoverAnInterval() throws Exception {
        Run totals = cli("datapath", "stats", "-o", "json");
        Run rates = cli("datapath", "stats", "--interval", "0.2", "-o", "json");

        assertTrue(JSON.readTree(totals.out()).path("counters").isArray(), totals.out());
        assertEquals(0.2, JSON.readTree(rates.out()).path("intervalSeconds").asDouble(), 1e-9);
    }

    @Test
    void datapathStatsTableNamesEachCountersFamilyFirst() {
        Run r = cli("datapath", "stats");

        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().matches("(?s)FAMILY\\s+DIRECTION\\s+VERDICT\\s+REASON\\s+PACKETS\\s+BYTES.*"), r.out());
    }

    @Test
    void statusSaysReadyAndNamesTheNode() {
        Run r = cli("status");

        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("node-a") && r.out().matches("(?s).*ready\\s+yes.*"), r.out());
        assertTrue(r.out().matches("(?s).*kernel\\s+\\d+\\.\\d+\\S* \\(TCX yes, BTF yes, BPF JIT on\\).*"), r.out());
    }

    @Test
    void aSocketWithoutAgentIsExitOneNamingIt() {
        Run r = run("--socket", dir.resolve("nothing.sock").toString(), "status");

        assertEquals(1, r.exit());
        assertTrue(r.err().contains("cannot reach the agent at " + dir.resolve("nothing.sock")), r.err());
    }

    @Test
    void anUnknownCommandIsExitTwoWithUsage() {
        Run r = cli("frobnicate");

        assertEquals(2, r.exit());
        assertTrue(r.err().contains("unknown command 'frobnicate'") && r.err().contains("usage: ferry"), r.err());
    }

    private Run cli(String... args) {
        String[] all = new String[args.length + 2];
        all[0] = "--socket";
        all[1] = nodes.socket().toString();
        System.arraycopy(args, 0, all, 2, args.length);
        return run(all);
    }

    private static Run run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = new Main(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8)).run(args);
        return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
