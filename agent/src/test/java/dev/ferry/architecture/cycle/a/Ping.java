package dev.ferry.architecture.cycle.a;

import dev.ferry.architecture.cycle.b.Pong;

/** Half of a deliberate package cycle (a -> b -> a) for ArchitectureRulesCatchViolationsTest. */
public record Ping(Pong reply) {}
