package dev.ferry.k8s;

import dev.ferry.net.IpPrefix;
import dev.ferry.selection.LabelSelector;
import dev.ferry.selection.PodSelection;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reading the spec of one of Ferry's objects: each getter checks the type and
 * fails with the field's path, as the API server's schema errors do, so a
 * refused object says which field is wrong.
 */
final class SpecFields {
    private SpecFields() {}

    /** The pods an object takes: spec.namespaceSelector and spec.podSelector, at least one of them. */
    static PodSelection.Labels pods(Map<String, Object> spec) {
        if (!spec.containsKey("namespaceSelector") && !spec.containsKey("podSelector")) {
            throw bad("spec", "needs a namespaceSelector or a podSelector (use {} in one of them to mean every pod)");
        }
        return new PodSelection.Labels(selector("spec.namespaceSelector", spec.get("namespaceSelector")),
                selector("spec.podSelector", spec.get("podSelector")));
    }

    static LabelSelector selector(String key, Object value) {
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

    static IpPrefix cidr(String key, String text) {
        try {
            return IpPrefix.parseNetwork(text);
        } catch (IllegalArgumentException e) {
            throw bad(key, e.getMessage());
        }
    }

    static InetAddress address(String key, String text) {
        try {
            return IpPrefix.literal(text);
        } catch (IllegalArgumentException e) {
            throw bad(key, "'" + text + "' is not an IP address");
        }
    }

    /** The kernel's rule for interface names (dev_valid_name). */
    static String ifname(String key, String name) {
        if (name.isEmpty() || name.length() > 15 || name.equals(".") || name.equals("..")
                || name.chars().anyMatch(c -> c == '/' || c == ':' || Character.isWhitespace(c) || c > 127)) {
            throw bad(key, "'" + name + "' is not an interface name (1-15 bytes, no '/', ':' or whitespace)");
        }
        return name;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(String key, Object value) {
        if (!(value instanceof Map<?, ?> m)) {
            throw bad(key, value == null ? "is required" : "must be an object");
        }
        return (Map<String, Object>) m;
    }

    @SuppressWarnings("unchecked")
    static List<Object> list(String key, Object value) {
        if (!(value instanceof List<?> l)) {
            throw bad(key, value == null ? "is required" : "must be a list");
        }
        return (List<Object>) l;
    }

    static String string(String key, Object value) {
        if (!(value instanceof String s)) {
            throw bad(key, value == null ? "is required" : "must be a string");
        }
        return s;
    }

    static boolean bool(String key, Object value) {
        if (!(value instanceof Boolean b)) {
            throw bad(key, "must be true or false");
        }
        return b;
    }

    /** "field 'spec.x' is required", or "field 'spec.x': '10.0.0.1' is not a CIDR" when a value is named. */
    static IllegalArgumentException bad(String key, String what) {
        boolean verb = what.startsWith("is ") || what.startsWith("must ") || what.startsWith("needs ");
        return new IllegalArgumentException("field '" + key + "'" + (verb ? " " : ": ") + what);
    }
}
