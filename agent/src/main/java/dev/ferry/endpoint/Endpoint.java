package dev.ferry.endpoint;

import dev.ferry.net.IpPrefix;
import dev.ferry.net.MacAddress;

import java.net.InetAddress;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * One pod interface this node serves: what ADD made, as persisted under the
 * state directory, so DEL, CHECK and a restarted agent know it.
 *
 * @param netns       the pod's netns path as the runtime gave it
 * @param hostIfname  the host-side veth ({@code fer} + 11 hex)
 * @param address     the pod's address from the node's first pool: its /32, or its /128 on an IPv6-only node
 * @param address6    the pod's /128 on a dual-stack node (the second pool's); empty on a single-stack node
 * @param endpointId  the id its counters are kept under (never 0)
 */
public record Endpoint(
        String containerId,
        String ifname,
        String netns,
        String hostIfname,
        int hostIfindex,
        IpPrefix address,
        Optional<IpPrefix> address6,
        MacAddress podMac,
        MacAddress hostMac,
        int endpointId,
        int mtu,
        Optional<String> podNamespace,
        Optional<String> podName,
        Optional<String> podUid,
        Instant created) {

    /**
     * Every pod's default gateway: link-local, never on the wire, answered by the
     * permanent neighbour ADD installs at the host veth's MAC (Calico's scheme).
     */
    public static final InetAddress GATEWAY = IpPrefix.literal("169.254.1.1");

    /**
     * The IPv6 default gateway of every pod, the same scheme: a link-local
     * address no interface holds, answered by a permanent neighbour at the host
     * veth's MAC, so the pod never sends a neighbour solicitation for it.
     */
    public static final InetAddress GATEWAY_V6 = IpPrefix.literal("fe80::1");

    /** A single-stack endpoint, as every endpoint was before dual stack. */
    public Endpoint(String containerId, String ifname, String netns, String hostIfname, int hostIfindex, IpPrefix address,
                    MacAddress podMac, MacAddress hostMac, int endpointId, int mtu, Optional<String> podNamespace,
                    Optional<String> podName, Optional<String> podUid, Instant created) {
        this(containerId, ifname, netns, hostIfname, hostIfindex, address, Optional.empty(), podMac, hostMac, endpointId,
                mtu, podNamespace, podName, podUid, created);
    }

    /** Every address of the pod, the first pool's first. */
    public List<IpPrefix> addresses() {
        return address6.map(six -> List.of(address, six)).orElse(List.of(address));
    }

    /** The pod's default gateway for {@code address}'s family. */
    public static InetAddress gatewayFor(IpPrefix address) {
        return address.isIpv4() ? GATEWAY : GATEWAY_V6;
    }
}
