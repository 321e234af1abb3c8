package dev.ferry.architecture.cycle.b;

import dev.ferry.architecture.cycle.a.Ping;

/** The other half of the deliberate cycle: b depends back on a. */
public record Pong(Ping request) {}
