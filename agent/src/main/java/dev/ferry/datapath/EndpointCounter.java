package dev.ferry.datapath;

/** One per-endpoint counter, summed over CPUs; direction is seen from the pod. */
public record EndpointCounter(int endpointId, Direction direction, Verdict verdict, long packets, long bytes) {}
