package dev.ferry.endpoint;

import dev.ferry.net.IpPrefix;
import dev.ferry.net.MacAddress;

import java.net.InetAddress;
import java.time.Instant;
import java.util.Optional;

/**
 * One pod interface this node serves: what ADD made, as persisted under the
 * state directory, so DEL, CHECK and a restarted agent know it.
 *
 * @param netns       the pod's netns path as the runtime gave it
 * @param hostIfname  the host-side veth ({@code fer} + 11 hex)
 * @param address     the pod's /32
 * @param endpointId  the id its counters are kept under (never 0)
 */
public record Endpoint(
        String containerId,
        String ifname,
        String netns,
        String hostIfname,
        int hostIfindex,
        IpPrefix address,
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
}
