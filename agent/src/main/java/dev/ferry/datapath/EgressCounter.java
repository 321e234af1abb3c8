package dev.ferry.datapath;

/**
 * What one route sent through one next hop ({@code nextHop} is its configured
 * index) or, with {@code nextHop} -1, what it left to its fallback; summed over the CPUs.
 */
public record EgressCounter(int route, int nextHop, long packets, long bytes) {
    public static final int FALLBACK = -1;
}
