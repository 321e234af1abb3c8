package dev.ferry.endpoint;

import java.util.Optional;
import java.util.OptionalInt;

/**
 * What ADD asks for.
 *
 * @param netns the pod's network namespace path
 * @param mtu   the configuration's MTU; empty means the node's pod MTU (the uplink's)
 */
public record EndpointRequest(
        EndpointKey key,
        String netns,
        OptionalInt mtu,
        Optional<String> podNamespace,
        Optional<String> podName,
        Optional<String> podUid) {
}
