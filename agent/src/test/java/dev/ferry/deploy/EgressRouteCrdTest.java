package dev.ferry.deploy;

import dev.ferry.k8s.EgressRouteObjects;
import dev.ferry.net.IpPrefix;
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
 * The EgressRoute CRD's schema refuses what the agent could not use, each time
 * naming the field, as the API server answers {@code kubectl apply}; and the
 * agent refuses the same objects on its own, so a CRD installed with an older or
 * edited schema still hands it no route it would misread.
 */
class EgressRouteCrdTest {
    static final CrdSchema SCHEMA = CrdSchema.load(Repo.path("deploy/crds/egressroutes.ferry.dev.yaml"));

    static String object(String spec) {
        return "apiVersion: ferry.dev/v1alpha1\nkind: EgressRoute\nmetadata: {name: r}\nspec: " + spec + "\n";
    }

    @Test
    void theChartCarriesTheSameCrdAsThePlainManifests() {
        assertEquals(Repo.read("deploy/crds/egressroutes.ferry.dev.yaml"), Repo.read("helm/ferry/crds/egressroutes.ferry.dev.yaml"));
    }

    @Test
    void theCrdIsClusterScopedInGroupFerryDev() {
        assertEquals("Cluster", SCHEMA.crd().getSpec().getScope());
        assertEquals("egressroutes.ferry.dev", SCHEMA.crd().getMetadata().getName());
        assertEquals("EgressRoute", SCHEMA.crd().getSpec().getNames().getKind());
    }

    @Test
    void aCompleteRouteIsAdmittedAndReadAsItSays() {
        String text = object("{namespaceSelector: {matchLabels: {team: shop}}, podSelector: {matchExpressions:"
                + " [{key: app, operator: In, values: [web, api]}]}, destinations: [203.0.113.0/24, 198.51.100.0/24],"
                + " nextHops: [{via: 192.168.10.1, device: eth1}, {via: 192.168.20.1}], masquerade: true, fallback: drop}");

        assertEquals(List.of(), SCHEMA.validate(text));
        var route = EgressRouteObjects.read(Serialization.unmarshal(text, GenericKubernetesResource.class), List.of());
        assertEquals(List.of(IpPrefix.parse("203.0.113.0/24"), IpPrefix.parse("198.51.100.0/24")), route.destinations());
        assertEquals(2, route.nextHops().size());
        assertTrue(route.masquerade());
        assertEquals("namespaces: team=shop; pods: app in (api,web)", route.pods().toString());
    }

    @Test
    void aRouteWithOnlyAPodSelectorTakesEveryDestinationOutsideTheCluster() {
        String text = object("{podSelector: {}, nextHops: [{via: 192.168.10.1}]}");
        assertEquals(List.of(), SCHEMA.validate(text));
        var route = EgressRouteObjects.read(Serialization.unmarshal(text, GenericKubernetesResource.class), List.of());
        assertEquals(List.of(IpPrefix.DEFAULT_V4), route.destinations());
    }

    @Test
    void anIpv6RouteIsAdmittedAndTakesEveryOutsideIpv6DestinationByDefault() {
        String text = object("{podSelector: {}, nextHops: [{via: 'fd00:20::1'}, {via: 'fe80::1', device: eth1}]}");

        assertEquals(List.of(), SCHEMA.validate(text));
        var route = EgressRouteObjects.read(Serialization.unmarshal(text, GenericKubernetesResource.class), List.of());
        assertEquals(List.of(IpPrefix.DEFAULT_V6), route.destinations());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            no spec               | NONE                                                                                 | spec: Required value
            no selector           | {nextHops: [{via: 192.168.10.1}]}                                                    | spec: Invalid value: must match one of 2
            no next hop           | {podSelector: {}}                                                                    | spec.nextHops: Required value
            empty next hops       | {podSelector: {}, nextHops: []}                                                      | spec.nextHops: Invalid value: should have at least 1
            nine next hops        | {podSelector: {}, nextHops: [{via: 10.9.0.1},{via: 10.9.0.2},{via: 10.9.0.3},{via: 10.9.0.4},{via: 10.9.0.5},{via: 10.9.0.6},{via: 10.9.0.7},{via: 10.9.0.8},{via: 10.9.0.9}]} | spec.nextHops: Too many
            via no address        | {podSelector: {}, nextHops: [{via: router-1}]}                                       | spec.nextHops[0].via: Invalid value: must match one of 2
            via a CIDR            | {podSelector: {}, nextHops: [{via: 192.168.10.1/24}]}                                | spec.nextHops[0].via: Invalid value: must match one of 2
            hop without via       | {podSelector: {}, nextHops: [{device: eth1}]}                                        | spec.nextHops[0].via: Required value
            device with slash     | {podSelector: {}, nextHops: [{via: 192.168.10.1, device: eth/1}]}                    | spec.nextHops[0].device: Invalid value: should match
            device too long       | {podSelector: {}, nextHops: [{via: 192.168.10.1, device: averyveryverylongname}]}    | spec.nextHops[0].device: Too long
            destination address   | {podSelector: {}, destinations: [203.0.113.7], nextHops: [{via: 192.168.10.1}]}      | spec.destinations[0]: Invalid value: must be of format cidr
            destination twice     | {podSelector: {}, destinations: [203.0.113.0/24, 203.0.113.0/24], nextHops: [{via: 192.168.10.1}]} | spec.destinations: Duplicate value
            empty destinations    | {podSelector: {}, destinations: [], nextHops: [{via: 192.168.10.1}]}                 | spec.destinations: Invalid value: should have at least 1
            fallback unknown      | {podSelector: {}, nextHops: [{via: 192.168.10.1}], fallback: maybe}                  | spec.fallback: Unsupported value: "maybe"
            masquerade a string   | {podSelector: {}, nextHops: [{via: 192.168.10.1}], masquerade: 'yes'}                | spec.masquerade: Invalid value: must be of type boolean
            unknown field         | {podSelector: {}, nextHops: [{via: 192.168.10.1}], gateway: 192.168.10.1}            | spec.gateway: unknown field
            bad operator          | {podSelector: {matchExpressions: [{key: app, operator: Equals, values: [web]}]}, nextHops: [{via: 192.168.10.1}]} | spec.podSelector.matchExpressions[0].operator: Unsupported value
            label not a string    | {podSelector: {matchLabels: {app: 7}}, nextHops: [{via: 192.168.10.1}]}              | spec.podSelector.matchLabels.app: Invalid value: must be of type string
            """)
    void theSchemaRefusesAMalformedRouteNamingTheFieldAndSoDoesTheAgent(String what, String spec, String error) {
        String text = spec.equals("NONE")
                ? "apiVersion: ferry.dev/v1alpha1\nkind: EgressRoute\nmetadata: {name: r}\n" : object(spec);

        List<String> errors = SCHEMA.validate(text);

        assertTrue(errors.stream().anyMatch(e -> e.startsWith(error)), what + ": " + errors);
        assertThrows(IllegalArgumentException.class, () -> EgressRouteObjects.read(
                Serialization.unmarshal(text, GenericKubernetesResource.class), List.of()), what + ": the agent took it");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            host bits set         | {podSelector: {}, destinations: [203.0.113.7/24], nextHops: [{via: 192.168.10.1}]} | field 'spec.destinations[0]': '203.0.113.7/24' has host bits set; did you mean 203.0.113.0/24?
            inside the cluster    | {podSelector: {}, destinations: [10.244.3.0/24], nextHops: [{via: 192.168.10.1}]}  | field 'spec.destinations[0]': 10.244.3.0/24 is inside the cluster CIDR 10.244.0.0/16
            via a pod address     | {podSelector: {}, nextHops: [{via: 10.244.1.9}]}                                   | field 'spec.nextHops[0].via': 10.244.1.9 is a pod address
            via twice             | {podSelector: {}, nextHops: [{via: 192.168.10.1}, {via: 192.168.10.1}]}            | field 'spec.nextHops[1].via': 192.168.10.1 is listed twice
            family without hop    | {podSelector: {}, destinations: [203.0.113.0/24], nextHops: [{via: 'fd00:20::1'}]}   | field 'spec.destinations[0]': 203.0.113.0/24 is IPv4 and the route has no IPv4 next hop
            link-local no device  | {podSelector: {}, nextHops: [{via: 'fe80::1'}]}                                    | field 'spec.nextHops[0].via': fe80::1 is link-local, on every uplink's link; name the device
            in with no values     | {podSelector: {matchExpressions: [{key: app, operator: In}]}, nextHops: [{via: 192.168.10.1}]} | field 'spec.podSelector.matchExpressions[0].values' must not be empty for In
            """)
    void whatOnlyTheAgentCanJudgeIsRefusedByItWithTheField(String what, String spec, String error) {
        String text = object(spec);
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> EgressRouteObjects.read(
                Serialization.unmarshal(text, GenericKubernetesResource.class), List.of(IpPrefix.parse("10.244.0.0/16"))));
        assertTrue(refused.getMessage().startsWith(error), what + ": " + refused.getMessage());
    }
}
