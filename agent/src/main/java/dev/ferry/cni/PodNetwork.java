package dev.ferry.cni;

import dev.ferry.endpoint.Endpoint;
import dev.ferry.endpoint.EndpointKey;

import java.util.List;
import java.util.Optional;

/**
 * The pod network as the agent drives it: CNI commands, the endpoints they made,
 * and the one removal that does not come from a runtime (endpoint GC).
 *
 * <p>{@link CniService} is the implementation; the interface is the seam that
 * lets the agent's own wiring (start order, socket API, DEL spool replay,
 * shutdown) be tested with a stand-in that plumbs no pods. It lives here, not in
 * the agent, so that the service implements it itself: nothing forwards.
 */
public interface PodNetwork extends CniHandler, AutoCloseable {
    /** Every endpoint, sorted by container id then interface name. */
    List<Endpoint> endpoints();

    /** Removes one endpoint exactly as a DEL would, under its container's lock; the CNI error, if any. */
    Optional<CniError> deleteEndpoint(EndpointKey key);

    /** Releases the handles behind the endpoints; the endpoints themselves (veths, map entries, state) stay. */
    @Override
    void close();
}
