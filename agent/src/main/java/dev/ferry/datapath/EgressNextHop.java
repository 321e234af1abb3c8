package dev.ferry.datapath;

import java.net.InetAddress;

/**
 * One next hop of an egress route as the datapath sees it: the uplink's ifindex
 * (bpf_redirect_neigh's device), the neighbour's address, and whether flows may
 * take it now.
 */
public record EgressNextHop(int ifindex, InetAddress address, boolean live) {}
