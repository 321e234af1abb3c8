package dev.ferry.deploy;

import dev.ferry.capture.MirrorConfig;
import dev.ferry.k8s.TrafficMirrorObjects;
import dev.ferry.testing.CrdSchema;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.utils.Serialization;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The TrafficMirror CRD's schema refuses what the agent could not use, naming
 * the field, and the agent refuses the same objects on its own.
 */
class TrafficMirrorCrdTest {
    static final CrdSchema SCHEMA = CrdSchema.load(Repo.path("deploy/crds/trafficmirrors.ferry.dev.yaml"));

    static String object(String spec) {
        return "apiVersion: ferry.dev/v1alpha1\nkind: TrafficMirror\nmetadata: {name: m}\nspec: " + spec + "\n";
    }

    static MirrorConfig read(String text) {
        return TrafficMirrorObjects.read(Serialization.unmarshal(text, GenericKubernetesResource.class));
    }

    @Test
    void theChartCarriesTheSameCrdAsThePlainManifests() {
        assertEquals(Repo.read("deploy/crds/trafficmirrors.ferry.dev.yaml"), Repo.read("helm/ferry/crds/trafficmirrors.ferry.dev.yaml"));
        assertEquals("Cluster", SCHEMA.crd().getSpec().getScope());
    }

    @Test
    void aCompleteMirrorIsAdmittedAndReadWithItsFilter() {
        String text = object("{namespaceSelector: {matchLabels: {team: shop}}, podSelector: {matchLabels: {app: web}},"
                + " device: anl0, direction: in, proto: tcp, peer: 10.0.0.9, port: 443}");

        assertEquals(List.of(), SCHEMA.validate(text));
        MirrorConfig m = read(text);
        assertEquals("anl0", m.device());
        assertEquals(6, m.filter().protocol());
        assertEquals(443, m.filter().port());
        assertEquals("namespaces: team=shop; pods: app=web", m.pods().toString());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            no selector       | {device: anl0}                                            | spec: Invalid value: must match one of 2
            no device         | {podSelector: {}}                                         | spec.device: Required value
            device with colon | {podSelector: {}, device: 'eth0:1'}                       | spec.device: Invalid value: should match
            direction unknown | {podSelector: {}, device: anl0, direction: sideways}      | spec.direction: Unsupported value
            proto unknown     | {podSelector: {}, device: anl0, proto: sctp}              | spec.proto: Unsupported value
            peer a name       | {podSelector: {}, device: anl0, peer: db.example}         | spec.peer: Invalid value: must match one of 2
            port zero         | {podSelector: {}, device: anl0, port: 0}                  | spec.port: Invalid value: 0: should be greater than or equal to 1
            port too big      | {podSelector: {}, device: anl0, port: 70000}              | spec.port: Invalid value: 70000: should be less than or equal to 65535
            port a string     | {podSelector: {}, device: anl0, port: http}               | spec.port: Invalid value: must be of type integer
            unknown field     | {podSelector: {}, device: anl0, vlan: 7}                  | spec.vlan: unknown field
            """)
    void theSchemaRefusesAMalformedMirrorNamingTheFieldAndSoDoesTheAgent(String what, String spec, String error) {
        String text = object(spec);

        List<String> errors = SCHEMA.validate(text);

        assertTrue(errors.stream().anyMatch(e -> e.startsWith(error)), what + ": " + errors);
        assertThrows(IllegalArgumentException.class, () -> read(text), what + ": the agent took it");
    }

    @Test
    void aPortWithAProtocolWithoutPortsIsAdmittedByTheSchemaAndRefusedByTheAgentNamingTheField() {
        String text = object("{podSelector: {}, device: anl0, proto: icmp, port: 80}");

        assertEquals(List.of(), SCHEMA.validate(text));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> read(text));
        assertEquals("field 'spec.port': filters TCP and UDP only; proto icmp has no ports", e.getMessage());
    }
}
