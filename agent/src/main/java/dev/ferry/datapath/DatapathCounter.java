package dev.ferry.datapath;

/** One global counter of the datapath, summed over CPUs: one ferry_metrics_v3 slot. */
public record DatapathCounter(TrafficFamily family, Direction direction, Verdict verdict, Reason reason, long packets,
                              long bytes) {}
