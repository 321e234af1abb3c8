package dev.ferry.k8s;

import dev.ferry.egress.EgressRoute;
import dev.ferry.egress.EgressRouteRules;
import dev.ferry.egress.Fallback;
import dev.ferry.egress.NextHop;
import dev.ferry.selection.PodSelection;
import dev.ferry.masquerade.MasqueradeFamilies;
import dev.ferry.net.IpPrefix;
import dev.ferry.net.IpText;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;

import java.net.InetAddress;
import java.util.LinkedHashSet;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static dev.ferry.k8s.SpecFields.address;
import static dev.ferry.k8s.SpecFields.bad;
import static dev.ferry.k8s.SpecFields.bool;
import static dev.ferry.k8s.SpecFields.cidr;
import static dev.ferry.k8s.SpecFields.ifname;
import static dev.ferry.k8s.SpecFields.list;
import static dev.ferry.k8s.SpecFields.map;
import static dev.ferry.k8s.SpecFields.pods;
import static dev.ferry.k8s.SpecFields.string;

/**
 * EgressRoute objects ({@code egressroutes.ferry.dev}, cluster-scoped) read into
 * routes. The CRD's schema refuses malformed objects before they are stored; this
 * checks them again, because a schema may be older than the agent or have been
 * edited, and judges what a schema cannot: prefixes with host bits, destinations
 * inside the cluster CIDRs, a family of destinations without a next hop of it. An object it cannot use is
 * refused with a one-line reason naming the field; the others are in force.
 */
public final class EgressRouteObjects {
    public static final ResourceDefinitionContext CONTEXT = new ResourceDefinitionContext.Builder()
            .withGroup("ferry.dev").withVersion("v1alpha1").withKind("EgressRoute").withPlural("egressroutes")
            .withNamespaced(false).build();
    private static final Set<String> SPEC_KEYS = Set.of("namespaceSelector", "podSelector", "destinations", "nextHops",
            "masquerade", "fallback");

    private EgressRouteObjects() {}

    /** The route one object gives; an IllegalArgumentException naming the field when it gives none. */
    public static EgressRoute read(GenericKubernetesResource object, List<IpPrefix> clusterCidrs) {
        return read(object, clusterCidrs, MasqueradeFamilies.ALL);
    }

    /**
     * @param clusterCidrs the configured cluster CIDRs (empty when they come from the Nodes): no route may send them away
     * @param masquerade   the node's masquerade: a route's masquerade of a family needs the node's table of that family
     */
    public static EgressRoute read(GenericKubernetesResource object, List<IpPrefix> clusterCidrs, MasqueradeFamilies masquerade) {
        return route(object.getMetadata().getName(), object.getAdditionalProperties().get("spec"), clusterCidrs, masquerade);
    }

    private static EgressRoute route(String name, Object specObject, List<IpPrefix> clusterCidrs, MasqueradeFamilies nodeMasquerade) {
        Map<String, Object> spec = map("spec", specObject);
        for (String key : spec.keySet()) {
            if (!SPEC_KEYS.contains(key)) {
                throw bad("spec." + key, "is not a field of EgressRoute (" + String.join(", ", SPEC_KEYS.stream().sorted().toList()) + ")");
            }
        }
        PodSelection pods = pods(spec);

        List<NextHop> hops = new ArrayList<>();
        List<Object> hopList = list("spec.nextHops", spec.get("nextHops"));
        if (hopList.isEmpty() || hopList.size() > EgressRoute.MAX_NEXT_HOPS) {
            throw bad("spec.nextHops", "needs 1 to " + EgressRoute.MAX_NEXT_HOPS + " next hops, not " + hopList.size());
        }
        for (int i = 0; i < hopList.size(); i++) {
            String key = "spec.nextHops[" + i + "]";
            Map<String, Object> hop = map(key, hopList.get(i));
            InetAddress via = address(key + ".via", string(key + ".via", hop.get("via")));
            Optional<String> device = Optional.ofNullable(hop.get("device")).map(d -> ifname(key + ".device", string(key + ".device", d)));
            EgressRouteRules.nextHop(via, device, clusterCidrs).ifPresent(why -> {
                throw bad(key + ".via", why);
            });
            if (hops.stream().anyMatch(h -> h.via().equals(via))) {
                throw bad(key + ".via", IpText.format(via) + " is listed twice");
            }
            hops.add(new NextHop(via, device));
        }

        List<IpPrefix> destinations = EgressRoute.outsideTheCluster(hops);
        if (spec.containsKey("destinations")) {
            List<Object> list = list("spec.destinations", spec.get("destinations"));
            if (list.isEmpty()) {
                throw bad("spec.destinations", "is empty; leave it out for every destination outside the cluster");
            }
            Set<IpPrefix> seen = new LinkedHashSet<>();
            for (int i = 0; i < list.size(); i++) {
                String key = "spec.destinations[" + i + "]";
                IpPrefix d = cidr(key, string(key, list.get(i)));
                EgressRouteRules.family(d, hops).or(() -> EgressRouteRules.outsideTheCluster(d, clusterCidrs))
                        .ifPresent(why -> {
                            throw bad(key, why);
                        });
                if (!seen.add(d)) {
                    throw bad(key, d + " is listed twice");
                }
            }
            destinations = List.copyOf(seen);
        }
        boolean masquerade = Optional.ofNullable(spec.get("masquerade")).map(m -> bool("spec.masquerade", m)).orElse(false);
        EgressRouteRules.masquerade(masquerade, hops, nodeMasquerade).ifPresent(why -> {
            throw bad("spec.masquerade", why);
        });
        Fallback fallback = Optional.ofNullable(spec.get("fallback")).map(f -> switch (string("spec.fallback", f)) {
            case "stack" -> Fallback.STACK;
            case "drop" -> Fallback.DROP;
            default -> throw bad("spec.fallback", "must be stack or drop, not '" + f + "'");
        }).orElse(Fallback.STACK);
        return new EgressRoute(name, pods, destinations, hops, masquerade, fallback);
    }
}
