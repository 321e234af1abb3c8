package dev.ferry.k8s;

import dev.ferry.egress.EgressRoute;
import dev.ferry.egress.EgressStatus;
import dev.ferry.egress.Fallback;
import dev.ferry.selection.LabelSelector;
import dev.ferry.egress.NextHop;
import dev.ferry.selection.PodSelection;
import dev.ferry.net.IpPrefix;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * EgressRoute objects ({@code egressroutes.ferry.dev}, cluster-scoped) read into
 * routes. The CRD's schema refuses malformed objects before they are stored; this
 * checks them again, because a schema may be older than the agent or have been
 * edited, and judges what a schema cannot: prefixes with host bits, destinations
 * inside the cluster CIDRs, one family per route. An object it cannot use is
 * refused with a one-line reason naming the field; the others are in force.
 */
public final class EgressRouteObjects {
    public static final ResourceDefinitionContext CONTEXT = new ResourceDefinitionContext.Builder()
            .withGroup("ferry.dev").withVersion("v1alpha1").withKind("EgressRoute").withPlural("egressroutes")
            .withNamespaced(false).build();
    private static final Set<String> SPEC_KEYS = Set.of("namespaceSelector", "podSelector", "destinations", "nextHops",
            "masquerade", "fallback");

    /** What one object gives: a route, or why not. */
    public sealed interface Read {
        record Route(EgressRoute route) implements Read {}

        record Refused(EgressStatus.Refused why) implements Read {}
    }

    private EgressRouteObjects() {}

    /** Every object, oldest first (the order conflicts are settled in), then by name. */
    public static List<Read> readAll(List<GenericKubernetesResource> objects, List<IpPrefix> clusterCidrs) {
        return objects.stream()
                .sorted(Comparator.comparing((GenericKubernetesResource o) ->
                                Optional.ofNullable(o.getMetadata().getCreationTimestamp()).orElse(""))
                        .thenComparing(o -> o.getMetadata().getName()))
                .map(o -> read(o, clusterCidrs)).toList();
    }

    public static Read read(GenericKubernetesResource object, List<IpPrefix> clusterCidrs) {
        String name = object.getMetadata().getName();
        try {
            return new Read.Route(route(name, object.getAdditionalProperties().get("spec"), clusterCidrs));
        } catch (IllegalArgumentException e) {
            return new Read.Refused(new EgressStatus.Refused(name, e.getMessage()));
        }
    }

    private static EgressRoute route(String name, Object specObject, List<IpPrefix> clusterCidrs) {
        Map<String, Object> spec = map("spec", specObject);
        for (String key : spec.keySet()) {
            if (!SPEC_KEYS.contains(key)) {
                throw bad("spec." + key, "is not a field of EgressRoute (" + String.join(", ", SPEC_KEYS.stream().sorted().toList()) + ")");
            }
        }
        if (!spec.containsKey("namespaceSelector") && !spec.containsKey("podSelector")) {
            throw bad("spec", "needs a namespaceSelector or a podSelector (use {} in one of them to mean every pod)");
        }
        LabelSelector namespaces = selector("spec.namespaceSelector", spec.get("namespaceSelector"));
        LabelSelector pods = selector("spec.podSelector", spec.get("podSelector"));

        List<NextHop> hops = new ArrayList<>();
        List<Object> hopList = list("spec.nextHops", spec.get("nextHops"));
        if (hopList.isEmpty() || hopList.size() > EgressRoute.MAX_NEXT_HOPS) {
            throw bad("spec.nextHops", "needs 1 to " + EgressRoute.MAX_NEXT_HOPS + " next hops, not " + hopList.size());
        }
        for (int i = 0; i < hopList.size(); i++) {
            String key = "spec.nextHops[" + i + "]";
            Map<String, Object> hop = map(key, hopList.get(i));
            InetAddress via = address(key + ".via", string(key + ".via", hop.get("via")));
            if (!(via instanceof Inet4Address)) {
                throw bad(key + ".via", via.getHostAddress() + " is IPv6; egress routes are IPv4 only for now");
            }
            for (IpPrefix cluster : clusterCidrs) {
                if (cluster.contains(via)) {
                    throw bad(key + ".via", via.getHostAddress() + " is a pod address (cluster CIDR " + cluster + ")");
                }
            }
            Optional<String> device = Optional.ofNullable(hop.get("device")).map(d -> ifname(key + ".device", string(key + ".device", d)));
            if (hops.stream().anyMatch(h -> h.via().equals(via))) {
                throw bad(key + ".via", via.getHostAddress() + " is listed twice");
            }
            hops.add(new NextHop(via, device));
        }

        List<IpPrefix> destinations = EgressRoute.OUTSIDE_THE_CLUSTER;
        if (spec.containsKey("destinations")) {
            List<Object> list = list("spec.destinations", spec.get("destinations"));
            if (list.isEmpty()) {
                throw bad("spec.destinations", "is empty; leave it out for every destination outside the cluster");
            }
            Set<IpPrefix> seen = new LinkedHashSet<>();
            for (int i = 0; i < list.size(); i++) {
                String key = "spec.destinations[" + i + "]";
                IpPrefix d = cidr(key, string(key, list.get(i)));
                if (!d.isIpv4()) {
                    throw bad(key, d + " is IPv6; egress routes are IPv4 only for now");
                }
                for (IpPrefix cluster : clusterCidrs) {
                    if (cluster.isIpv4() && d.length() >= cluster.length() && cluster.contains(d.network())) {
                        throw bad(key, d + " is inside the cluster CIDR " + cluster + "; egress routes serve destinations outside it");
                    }
                }
                if (!seen.add(d)) {
                    throw bad(key, d + " is listed twice");
                }
            }
            destinations = List.copyOf(seen);
        }
        boolean masquerade = Optional.ofNullable(spec.get("masquerade")).map(m -> bool("spec.masquerade", m)).orElse(false);
        Fallback fallback = Optional.ofNullable(spec.get("fallback")).map(f -> switch (string("spec.fallback", f)) {
            case "stack" -> Fallback.STACK;
            case "drop" -> Fallback.DROP;
            default -> throw bad("spec.fallback", "must be stack or drop, not '" + f + "'");
        }).orElse(Fallback.STACK);
        return new EgressRoute(name, new PodSelection.Labels(namespaces, pods), destinations, hops, masquerade, fallback);
    }

    private static LabelSelector selector(String key, Object value) {
        if (value == null) {
            return LabelSelector.EVERYTHING;
        }
        Map<String, Object> s = map(key, value);
        for (String k : s.keySet()) {
            if (!k.equals("matchLabels") && !k.equals("matchExpressions")) {
                throw bad(key + "." + k, "is not a field of a label selector (matchLabels, matchExpressions)");
            }
        }
        Map<String, String> labels = new HashMap<>();
        map(key + ".matchLabels", s.getOrDefault("matchLabels", Map.of()))
                .forEach((k, v) -> labels.put(k, string(key + ".matchLabels." + k, v)));
        List<LabelSelector.Requirement> requirements = new ArrayList<>();
        List<Object> expressions = list(key + ".matchExpressions", s.getOrDefault("matchExpressions", List.of()));
        for (int i = 0; i < expressions.size(); i++) {
            String ek = key + ".matchExpressions[" + i + "]";
            Map<String, Object> e = map(ek, expressions.get(i));
            String labelKey = string(ek + ".key", e.get("key"));
            String op = string(ek + ".operator", e.get("operator"));
            List<String> values = list(ek + ".values", e.getOrDefault("values", List.of())).stream()
                    .map(v -> string(ek + ".values", v)).toList();
            LabelSelector.Operator operator = switch (op) {
                case "In" -> LabelSelector.Operator.IN;
                case "NotIn" -> LabelSelector.Operator.NOT_IN;
                case "Exists" -> LabelSelector.Operator.EXISTS;
                case "DoesNotExist" -> LabelSelector.Operator.DOES_NOT_EXIST;
                default -> throw bad(ek + ".operator", "must be In, NotIn, Exists or DoesNotExist, not '" + op + "'");
            };
            boolean needsValues = operator == LabelSelector.Operator.IN || operator == LabelSelector.Operator.NOT_IN;
            if (needsValues == values.isEmpty()) {
                throw bad(ek + ".values", needsValues ? "must not be empty for " + op : "must be empty for " + op);
            }
            requirements.add(new LabelSelector.Requirement(labelKey, operator, Set.copyOf(values)));
        }
        return new LabelSelector(labels, requirements);
    }

    private static IpPrefix cidr(String key, String text) {
        IpPrefix prefix;
        try {
            if (!text.contains("/")) {
                throw new IllegalArgumentException("no prefix length");
            }
            prefix = IpPrefix.parse(text);
        } catch (IllegalArgumentException e) {
            throw bad(key, "'" + text + "' is not a CIDR");
        }
        if (!prefix.network().equals(prefix.address())) {
            throw bad(key, "'" + text + "' has host bits set; did you mean " + new IpPrefix(prefix.network(), prefix.length()) + "?");
        }
        return prefix;
    }

    private static InetAddress address(String key, String text) {
        try {
            return IpPrefix.literal(text);
        } catch (IllegalArgumentException e) {
            throw bad(key, "'" + text + "' is not an IP address");
        }
    }

    /** The kernel's rule for interface names (dev_valid_name). */
    private static String ifname(String key, String name) {
        if (name.isEmpty() || name.length() > 15 || name.equals(".") || name.equals("..")
                || name.chars().anyMatch(c -> c == '/' || c == ':' || Character.isWhitespace(c) || c > 127)) {
            throw bad(key, "'" + name + "' is not an interface name (1-15 bytes, no '/', ':' or whitespace)");
        }
        return name;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(String key, Object value) {
        if (!(value instanceof Map<?, ?> m)) {
            throw bad(key, value == null ? "is required" : "must be an object");
        }
        return (Map<String, Object>) m;
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(String key, Object value) {
        if (!(value instanceof List<?> l)) {
            throw bad(key, value == null ? "is required" : "must be a list");
        }
        return (List<Object>) l;
    }

    private static String string(String key, Object value) {
        if (!(value instanceof String s)) {
            throw bad(key, value == null ? "is required" : "must be a string");
        }
        return s;
    }

    private static boolean bool(String key, Object value) {
        if (!(value instanceof Boolean b)) {
            throw bad(key, "must be true or false");
        }
        return b;
    }

    /** "field 'spec.x' is required", or "field 'spec.x': '10.0.0.1' is not a CIDR" when a value is named. */
    private static IllegalArgumentException bad(String key, String what) {
        boolean verb = what.startsWith("is ") || what.startsWith("must ") || what.startsWith("needs ");
        return new IllegalArgumentException("field '" + key + "'" + (verb ? " " : ": ") + what);
    }
}
