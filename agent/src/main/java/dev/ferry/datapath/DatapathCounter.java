package dev.ferry.datapath;

/** One global counter of the datapath, summed over CPUs. */
public record DatapathCounter(Direction direction, Verdict verdict, Reason reason, long packets, long bytes) {}
