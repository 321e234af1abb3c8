package dev.ferry.deploy;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;

class RbacTest {
    private static final List<HasMetadata> OBJECTS = PlainManifests.applied();

    @Test
    void theClusterRoleOnlyReadsWhatTheAgentReads() {
        List<PolicyRule> rules = Manifests.only(OBJECTS, ClusterRole.class).getRules();
        assertEquals(3, rules.size());
        assertRule(rules.get(0), "", Set.of("nodes"), Set.of("get", "list", "watch"));
        assertRule(rules.get(1), "", Set.of("pods", "namespaces"), Set.of("list", "watch"));
        assertRule(rules.get(2), "ferry.dev", Set.of("egressroutes", "trafficmirrors"), Set.of("list", "watch"));
    }

    private static void assertRule(PolicyRule r, String group, Set<String> resources, Set<String> verbs) {
        assertEquals(List.of(group), r.getApiGroups());
        assertEquals(resources, Set.copyOf(r.getResources()));
        assertEquals(verbs, Set.copyOf(r.getVerbs()));
        assertEquals(List.of(), r.getResourceNames());
        assertEquals(List.of(), r.getNonResourceURLs());
    }

    @Test
    void theBindingGivesTheRoleToTheAgentsServiceAccount() {
        ClusterRoleBinding b = Manifests.only(OBJECTS, ClusterRoleBinding.class);
        ServiceAccount sa = Manifests.only(OBJECTS, ServiceAccount.class);
        assertEquals("ClusterRole", b.getRoleRef().getKind());
        assertEquals(Manifests.only(OBJECTS, ClusterRole.class).getMetadata().getName(), b.getRoleRef().getName());
        assertEquals(1, b.getSubjects().size());
        assertEquals("ServiceAccount", b.getSubjects().getFirst().getKind());
        assertEquals(sa.getMetadata().getName(), b.getSubjects().getFirst().getName());
        assertEquals(sa.getMetadata().getNamespace(), b.getSubjects().getFirst().getNamespace());
    }
}
