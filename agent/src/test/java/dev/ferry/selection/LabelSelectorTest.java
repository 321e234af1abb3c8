package dev.ferry.selection;

import dev.ferry.selection.LabelSelector.Operator;
import dev.ferry.selection.LabelSelector.Requirement;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Kubernetes' label selector semantics, which EgressRoute objects select pods and namespaces by. */
class LabelSelectorTest {

    static LabelSelector expression(String key, Operator op, String... values) {
        return new LabelSelector(Map.of(), List.of(new Requirement(key, op, Set.of(values))));
    }

    @Test
    void theEmptySelectorMatchesEveryPodEvenOneWithoutLabels() {
        assertTrue(LabelSelector.EVERYTHING.matches(Map.of()));
        assertTrue(LabelSelector.EVERYTHING.matches(Map.of("app", "web")));
    }

    @Test
    void matchLabelsNeedsEveryPair() {
        LabelSelector s = new LabelSelector(Map.of("app", "web", "tier", "front"), List.of());
        assertTrue(s.matches(Map.of("app", "web", "tier", "front", "extra", "x")));
        assertFalse(s.matches(Map.of("app", "web")));
        assertFalse(s.matches(Map.of("app", "web", "tier", "back")));
    }

    @Test
    void inNeedsTheKeyWithOneOfTheValues() {
        assertTrue(expression("env", Operator.IN, "prod", "staging").matches(Map.of("env", "prod")));
        assertFalse(expression("env", Operator.IN, "prod").matches(Map.of("env", "dev")));
        assertFalse(expression("env", Operator.IN, "prod").matches(Map.of()));
    }

    @Test
    void notInMatchesAPodWithoutTheKey() {
        assertTrue(expression("env", Operator.NOT_IN, "prod").matches(Map.of()));
        assertTrue(expression("env", Operator.NOT_IN, "prod").matches(Map.of("env", "dev")));
        assertFalse(expression("env", Operator.NOT_IN, "prod").matches(Map.of("env", "prod")));
    }

    @Test
    void existsAndDoesNotExistLookAtTheKeyOnly() {
        assertTrue(expression("egress", Operator.EXISTS).matches(Map.of("egress", "")));
        assertFalse(expression("egress", Operator.EXISTS).matches(Map.of()));
        assertTrue(expression("egress", Operator.DOES_NOT_EXIST).matches(Map.of()));
        assertFalse(expression("egress", Operator.DOES_NOT_EXIST).matches(Map.of("egress", "yes")));
    }

    @Test
    void printsAsKubectlWritesSelectors() {
        LabelSelector s = new LabelSelector(Map.of("app", "web"), List.of(new Requirement("env", Operator.IN, Set.of("b", "a"))));
        assertEquals("app=web,env in (a,b)", s.toString());
        assertEquals("<all>", LabelSelector.EVERYTHING.toString());
    }
}
