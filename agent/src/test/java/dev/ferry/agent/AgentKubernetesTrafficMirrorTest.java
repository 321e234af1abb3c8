package dev.ferry.agent;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.datapath.MapLayouts;
import dev.ferry.k8s.TrafficMirrorObjects;
import dev.ferry.testing.Cleanup;
import dev.ferry.testing.CniNode;
import dev.ferry.testing.FerryCni;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import dev.ferry.testing.Traffic;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.utils.Serialization;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 19's persistent mirrors in Kubernetes mode: TrafficMirror objects on the
 * (mock) API server copy the packets of the pods they select, by labels, to an
 * analyzer's device of the node. Real pods, a real datapath, real packets counted
 * where the copies arrive. Addresses 10.249.1.0/24 and namespace names k8smir*
 * are this class's.
 */
@RequiresRoot
class AgentKubernetesTrafficMirrorTest {
    static final Duration APPLIED = Duration.ofSeconds(15);

    @TempDir
    Path dir;
    private AgentFixture nodes;
    private MockApi api;
    private final List<TestNetns> pods = new ArrayList<>();

    @BeforeEach
    void nodeAnalyzerAndApiServer() throws Exception {
        nodes = AgentFixture.withApiServer(dir);
        api = nodes.api;
        // The analyzer's interface: copies leave anl0 and arrive at anl0p, whose counters say how many came.
        nodes.node.ip("link", "add", "anl0", "type", "veth", "peer", "name", "anl0p");
        for (String end : List.of("anl0", "anl0p")) {
            nodes.node.ip("link", "set", end, "addrgenmode", "none"); // sends nothing of its own
            nodes.node.ip("link", "set", end, "up");
        }
        api.createNode("node-a", "10.249.1.0/24", "192.168.50.1");
        api.client().namespaces().resource(new NamespaceBuilder().withNewMetadata().withName("shop")
                .withLabels(Map.of("team", "shop")).endMetadata().build()).create();
        Agent agent = nodes.start(nodes.kubernetesConfig(api.writeKubeconfig(dir), Duration.ofMinutes(10)));
        await().atMost(Duration.ofSeconds(30)).until(() -> agent.notReadyReason().isEmpty());
    }

    @AfterEach
    void cleanUp() throws Exception {
        Cleanup.all(() -> pods.forEach(TestNetns::close), () -> {
            if (nodes != null) {
                nodes.close();
            }
        });
    }

    private Traffic.End pod(String name, Map<String, String> labels) throws Exception {
        Pod pod = api.client().pods().inNamespace("shop").resource(new PodBuilder()
                .withNewMetadata().withNamespace("shop").withName(name).withLabels(labels).endMetadata()
                .withNewSpec().withNodeName("node-a").addNewContainer().withName("c").withImage("pause").endContainer().endSpec()
                .build()).create();
        TestNetns ns = TestNetns.create("k8smir" + pods.size());
        pods.add(ns);
        String netconf = "{\"cniVersion\":\"1.1.0\",\"name\":\"ferry\",\"type\":\"ferry-cni\",\"agentSocket\":\""
                + nodes.socket() + "\",\"spoolDir\":\"" + dir.resolve("state/cni-spool") + "\"}";
        FerryCni.Result add = AgentKubernetesTest.attachment("ADD", ns, pod).stdin(netconf).run();
        assertEquals(0, add.exitCode(), add.toString());
        return new Traffic.End(ns, CniNode.addressOf(add));
    }

    private static GenericKubernetesResource mirror(String name, String spec) {
        return Serialization.unmarshal("apiVersion: ferry.dev/v1alpha1\nkind: TrafficMirror\nmetadata: {name: " + name
                + "}\nspec: " + spec + "\n", GenericKubernetesResource.class);
    }

    private void create(GenericKubernetesResource mirror) {
        api.client().genericKubernetesResources(TrafficMirrorObjects.CONTEXT).resource(mirror).create();
    }

    @Test
    void theSelectedPodsPacketsReachTheAnalyzerAndOnlyTheirs() throws Exception {
        Traffic.End web = pod("web-1", Map.of("app", "web"));
        Traffic.End db = pod("db-1", Map.of("app", "db"));
        create(mirror("web-icmp", "{podSelector: {matchLabels: {app: web}}, device: anl0, proto: icmp}"));
        await().atMost(APPLIED).until(() -> mirrorWord(web.inet()) != 0);
        assertEquals(0, mirrorWord(db.inet()), "a pod the selector does not take");

        long before = received();
        Traffic.ping(web, db, 3);

        assertEquals(6, received() - before, "web's 3 echo requests out and 3 replies in");
    }

    @Test
    void relabellingThePodAndDeletingTheMirrorTurnItsCopiesOff() throws Exception {
        Traffic.End web = pod("web-1", Map.of("app", "web"));
        create(mirror("web", "{namespaceSelector: {matchLabels: {team: shop}}, podSelector: {matchLabels: {app: web}}, device: anl0}"));
        await().atMost(APPLIED).until(() -> mirrorWord(web.inet()) != 0);

        api.client().pods().inNamespace("shop").withName("web-1").edit(p -> new PodBuilder(p).editMetadata()
                .withLabels(Map.of("app", "web-old")).endMetadata().build());
        await().atMost(APPLIED).until(() -> mirrorWord(web.inet()) == 0);

        api.client().pods().inNamespace("shop").withName("web-1").edit(p -> new PodBuilder(p).editMetadata()
                .withLabels(Map.of("app", "web")).endMetadata().build());
        await().atMost(APPLIED).until(() -> mirrorWord(web.inet()) != 0);

        api.client().genericKubernetesResources(TrafficMirrorObjects.CONTEXT).withName("web").delete();
        await().atMost(APPLIED).until(() -> mirrorWord(web.inet()) == 0);
    }

    @Test
    void aMirrorTheSchemaRefusesIsNeverStoredAndOneTheAgentRefusesTurnsNothingOn() throws Exception {
        Traffic.End web = pod("web-1", Map.of("app", "web"));

        KubernetesClientException refused = assertThrows(KubernetesClientException.class,
                () -> create(mirror("bad", "{podSelector: {}, device: anl0, port: 70000, direction: sideways}")));
        assertEquals(422, refused.getCode());
        assertTrue(refused.getMessage().contains("spec.port") && refused.getMessage().contains("spec.direction"),
                refused.getMessage());

        // Admitted by the schema, refused by the agent: ICMP has no ports.
        create(mirror("icmp-port", "{podSelector: {matchLabels: {app: web}}, device: anl0, proto: icmp, port: 80}"));
        create(mirror("good", "{podSelector: {matchLabels: {app: db}}, device: anl0}"));
        Traffic.End db = pod("db-1", Map.of("app", "db"));
        await().atMost(APPLIED).until(() -> mirrorWord(db.inet()) != 0); // the object after it was applied
        assertEquals(0, mirrorWord(web.inet()), "the refused mirror turned nothing on");
    }

    /** Packets anl0p received: what the mirror sent out of anl0. */
    private long received() throws Exception {
        String json = nodes.node.ip("-s", "-j", "link", "show", "anl0p");
        return new ObjectMapper().readTree(json).path(0).path("stats64").path("rx").path("packets").asLong();
    }

    private int mirrorWord(InetAddress address) {
        return nodes.mirrorWord(address);
    }
}
