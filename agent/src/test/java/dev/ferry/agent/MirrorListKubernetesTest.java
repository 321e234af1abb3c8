package dev.ferry.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.cli.Main;
import dev.ferry.k8s.TrafficMirrorObjects;
import dev.ferry.testing.RequiresRoot;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.utils.Serialization;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@code ferry mirror list} in Kubernetes mode: the TrafficMirror objects in
 * force and the ones the agent refused, with the field it names. Node pod CIDR
 * 10.248.9.0/24 and analyzer device mlk0 are this class's.
 */
@RequiresRoot
class MirrorListKubernetesTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    private AgentFixture nodes;

    private record Run(int exit, String out, String err) {
    }

    @BeforeEach
    void agentOnTheMockApiServer() throws Exception {
        nodes = AgentFixture.withApiServer(dir);
        nodes.node.ip("link", "add", "mlk0", "type", "veth", "peer", "name", "mlk0p");
        nodes.api.createNode("node-a", "10.248.9.0/24", "192.168.50.1");
        Agent agent = nodes.start(nodes.kubernetesConfig(nodes.api.writeKubeconfig(dir), Duration.ofMinutes(10)));
        await().atMost(Duration.ofSeconds(30)).until(() -> agent.notReadyReason().isEmpty());
    }

    @AfterEach
    void cleanUp() throws Exception {
        if (nodes != null) {
            nodes.close();
        }
    }

    @Test
    void aTrafficMirrorTheAgentRefusesIsListedAsRefusedNamingTheField() throws Exception {
        create("icmp-port", "{podSelector: {matchLabels: {app: web}}, device: mlk0, proto: icmp, port: 80}");
        create("db", "{podSelector: {matchLabels: {app: db}}, device: mlk0}");

        JsonNode all = awaitList(m -> m.path("mirrors").size() == 1 && m.path("refused").size() == 1);

        JsonNode refused = all.path("refused").path(0);
        assertEquals("icmp-port", refused.path("name").asText());
        assertEquals("TrafficMirror", refused.path("kind").asText());
        assertEquals("field 'spec.port': filters TCP and UDP only; proto icmp has no ports", refused.path("reason").asText());
        JsonNode inForce = all.path("mirrors").path(0);
        assertEquals("db", inForce.path("name").asText(), "the refused one is not among those in force");
        assertEquals("TrafficMirror", inForce.path("kind").asText());
        assertEquals("all", inForce.path("filter").asText());
        assertTrue(inForce.path("selector").asText().contains("app"), inForce.toString());

        Run table = cli("mirror", "list");
        assertEquals(0, table.exit(), table.err());
        assertTrue(table.out().contains(
                "refused: icmp-port (TrafficMirror): field 'spec.port': filters TCP and UDP only; proto icmp has no ports"),
                table.out());
    }

    private void create(String name, String spec) {
        GenericKubernetesResource mirror = Serialization.unmarshal("apiVersion: ferry.dev/v1alpha1\nkind: TrafficMirror\n"
                + "metadata: {name: " + name + "}\nspec: " + spec + "\n", GenericKubernetesResource.class);
        nodes.api.client().genericKubernetesResources(TrafficMirrorObjects.CONTEXT).resource(mirror).create();
    }

    private JsonNode awaitList(java.util.function.Predicate<JsonNode> condition) throws Exception {
        Instant deadline = Instant.now().plusSeconds(15);
        while (true) {
            Run r = cli("mirror", "list", "-o", "json");
            assertEquals(0, r.exit(), r.err());
            JsonNode all = JSON.readTree(r.out());
            if (condition.test(all)) {
                return all;
            }
            if (Instant.now().isAfter(deadline)) {
                fail("the list never got there: " + all);
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
