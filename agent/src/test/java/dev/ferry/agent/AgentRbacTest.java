package dev.ferry.agent;

import dev.ferry.k8s.EgressRouteObjects;
import dev.ferry.k8s.TrafficMirrorObjects;
import dev.ferry.testing.CrdSchema;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.client.utils.Serialization;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Least privilege on the API server, proven rather than claimed: an agent in
 * Kubernetes mode lives a whole life against the mock API server (start, a pod's
 * ADD and its endpoint GC, an EgressRoute and a TrafficMirror applied, stop),
 * and every request it sent must be one the shipped ClusterRole grants, and
 * every grant must have been used. Requests are told apart from the test's own
 * by the kubeconfig's token. Addresses 10.246.20.0/24 and namespace rbacpod are this class's.
 */
@RequiresRoot
class AgentRbacTest {
    /** What every authenticated client may read without a grant (system:public-info-viewer). */
    static final Set<String> PUBLIC = Set.of("/version");
    private static final Pattern CORE = Pattern.compile("/api/v1(?:/namespaces/[^/]+)?/([^/?]+)(/[^/?]+)?");
    private static final Pattern GROUP = Pattern.compile("/apis/([^/]+)/[^/]+(?:/namespaces/[^/]+)?/([^/?]+)(/[^/?]+)?");

    @TempDir
    Path dir;

    /** {@code group/resource:verb} of one request, or the path of a non-resource one. */
    static String access(MockApi.Request r) {
        String path = r.path().contains("?") ? r.path().substring(0, r.path().indexOf('?')) : r.path();
        boolean watch = r.path().contains("watch=true");
        Matcher m = CORE.matcher(path);
        String group;
        String resource;
        boolean named;
        if (m.matches()) {
            group = "";
            resource = m.group(1);
            named = m.group(2) != null;
        } else if ((m = GROUP.matcher(path)).matches()) {
            group = m.group(1);
            resource = m.group(2);
            named = m.group(3) != null;
        } else {
            return path;
        }
        String verb = switch (r.method()) {
            case "GET" -> named ? "get" : watch ? "watch" : "list";
            case "POST" -> "create";
            case "PUT" -> "update";
            case "PATCH" -> "patch";
            case "DELETE" -> named ? "delete" : "deletecollection";
            default -> r.method();
        };
        return group + "/" + resource + ":" + verb;
    }

    static Set<String> granted() throws Exception {
        try (InputStream in = Files.newInputStream(CrdSchema.repoFile("deploy/clusterrole.yaml"))) {
            ClusterRole role = Serialization.unmarshal(in, ClusterRole.class);
            Set<String> all = new TreeSet<>();
            for (PolicyRule rule : role.getRules()) {
                for (String g : rule.getApiGroups()) {
                    for (String res : rule.getResources()) {
                        for (String verb : rule.getVerbs()) {
                            all.add(g + "/" + res + ":" + verb);
                        }
                    }
                }
            }
            return all;
        }
    }

    @Test
    void everyRequestOfTheAgentIsGrantedByTheClusterRoleAndEveryGrantIsUsed() throws Exception {
        try (AgentFixture nodes = AgentFixture.withApiServer(dir)) {
            MockApi api = nodes.api;
            api.createNode("node-a", "10.246.20.0/24", "192.168.50.1");
            api.client().namespaces().resource(new NamespaceBuilder().withNewMetadata().withName("shop").endMetadata()
                    .build()).create();
            Pod pod = api.createPod("shop", "web-1", "node-a");
            api.client().genericKubernetesResources(EgressRouteObjects.CONTEXT).resource(Serialization.unmarshal(
                    "apiVersion: ferry.dev/v1alpha1\nkind: EgressRoute\nmetadata: {name: r}\n"
                            + "spec: {podSelector: {}, nextHops: [{via: 192.168.50.2}]}\n", GenericKubernetesResource.class)).create();
            api.client().genericKubernetesResources(TrafficMirrorObjects.CONTEXT).resource(Serialization.unmarshal(
                    "apiVersion: ferry.dev/v1alpha1\nkind: TrafficMirror\nmetadata: {name: m}\n"
                            + "spec: {podSelector: {}, device: anl9}\n", GenericKubernetesResource.class)).create();
            Agent agent = nodes.start(nodes.kubernetesConfig(api.writeKubeconfig(dir), Duration.ofSeconds(1)));
            await().atMost(Duration.ofSeconds(30)).until(() -> agent.notReadyReason().isEmpty());
            TestNetns podNs = TestNetns.create("rbacpod");
            try {
                String netconf = "{\"cniVersion\":\"1.1.0\",\"name\":\"ferry\",\"type\":\"ferry-cni\",\"agentSocket\":\""
                        + nodes.socket() + "\"}";
                assertEquals(0, AgentKubernetesTest.attachment("ADD", podNs, pod).stdin(netconf).run().exitCode());
                await().atMost(Duration.ofSeconds(15)).until(() -> nodes.get("/v1/egress").path("routes").size() == 1);
                // The endpoint GC's sweeps and the probes run for a while, as in any agent's life.
                api.client().pods().inNamespace("shop").withName("web-1").delete();
                await().atMost(Duration.ofSeconds(15)).until(() -> nodes.get("/v1/endpoints").path("endpoints").isEmpty());
            } finally {
                agent.close();
                podNs.close();
            }

            Set<String> used = new TreeSet<>();
            api.agentRequests().forEach(r -> used.add(access(r)));
            used.removeAll(PUBLIC);
            Set<String> granted = granted();

            Set<String> ungranted = new TreeSet<>(used);
            ungranted.removeAll(granted);
            assertEquals(Set.of(), ungranted, "requests the ClusterRole does not grant (used: " + used + ")");
            Set<String> unused = new TreeSet<>(granted);
            unused.removeAll(used);
            assertEquals(Set.of(), unused, "grants the agent never used (used: " + used + ")");
        }
    }
}
