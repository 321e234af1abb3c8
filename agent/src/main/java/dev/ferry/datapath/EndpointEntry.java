package dev.ferry.datapath;

import dev.ferry.net.MacAddress;

/**
 * A value of the ferry_endpoints_v3 map: how the datapath delivers into one pod.
 *
 * @param ifindex    host-side veth, the bpf_redirect_peer target
 * @param endpointId key of the pod's counters, never 0
 * @param flags      {@link #FLAG_STACK_ONLY} or 0
 * @param podMac     the pod interface's MAC: destination of delivered packets
 * @param hostMac    the host-side veth's MAC, the pod's gateway: their source
 */
public record EndpointEntry(int ifindex, int endpointId, int flags, MacAddress podMac, MacAddress hostMac) {

    /** FERRY_ENDPOINT_F_STACK_ONLY: deliver through the kernel stack only. */
    public static final int FLAG_STACK_ONLY = 1;

    public EndpointEntry {
        if (endpointId == 0) {
            throw new IllegalArgumentException("endpoint id 0 is reserved for 'no endpoint'");
        }
        if (ifindex <= 0) {
            throw new IllegalArgumentException("ifindex must be positive, not " + ifindex);
        }
    }

    public boolean stackOnly() {
        return (flags & FLAG_STACK_ONLY) != 0;
    }
}
