package dev.ferry.selection;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * A Kubernetes label selector, with its semantics: every {@code matchLabels}
 * pair and every expression must hold; the empty selector matches everything.
 */
public record LabelSelector(Map<String, String> matchLabels, List<Requirement> matchExpressions) {
    /** Matches every set of labels. */
    public static final LabelSelector EVERYTHING = new LabelSelector(Map.of(), List.of());

    public LabelSelector {
        matchLabels = Map.copyOf(matchLabels);
        matchExpressions = List.copyOf(matchExpressions);
    }

    public enum Operator { IN, NOT_IN, EXISTS, DOES_NOT_EXIST }

    /** One {@code matchExpressions} entry; {@code values} is empty for EXISTS and DOES_NOT_EXIST. */
    public record Requirement(String key, Operator operator, Set<String> values) {
        public Requirement {
            values = Set.copyOf(values);
        }

        boolean matches(Map<String, String> labels) {
            String value = labels.get(key);
            return switch (operator) {
                case IN -> value != null && values.contains(value);
                // As in Kubernetes: a missing key is not in any set.
                case NOT_IN -> value == null || !values.contains(value);
                case EXISTS -> value != null;
                case DOES_NOT_EXIST -> value == null;
            };
        }

        @Override
        public String toString() {
            return switch (operator) {
                case IN -> key + " in (" + String.join(",", new java.util.TreeSet<>(values)) + ")";
                case NOT_IN -> key + " notin (" + String.join(",", new java.util.TreeSet<>(values)) + ")";
                case EXISTS -> key;
                case DOES_NOT_EXIST -> "!" + key;
            };
        }
    }

    public boolean matches(Map<String, String> labels) {
        for (Map.Entry<String, String> e : matchLabels.entrySet()) {
            if (!e.getValue().equals(labels.get(e.getKey()))) {
                return false;
            }
        }
        return matchExpressions.stream().allMatch(r -> r.matches(labels));
    }

    /** kubectl's way of writing a selector: {@code app=web,tier in (a,b)}; {@code <all>} for the empty one. */
    @Override
    public String toString() {
        String labels = new TreeMap<>(matchLabels).entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
                .collect(Collectors.joining(","));
        String expressions = matchExpressions.stream().map(Requirement::toString).collect(Collectors.joining(","));
        String all = labels.isEmpty() ? expressions : expressions.isEmpty() ? labels : labels + "," + expressions;
        return all.isEmpty() ? "<all>" : all;
    }
}
