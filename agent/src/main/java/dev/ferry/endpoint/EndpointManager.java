package dev.ferry.endpoint;

import dev.ferry.datapath.Datapath;
import dev.ferry.ipam.Ipam;
import dev.ferry.netns.NetNamespace;

import java.nio.file.Path;
import java.util.List;

/** CONTRACT STUB: being implemented on main; signatures are fixed. */
public final class EndpointManager implements AutoCloseable {
    /**
     * @param node      the node's network namespace (the agent's own in production)
     * @param stateDir  endpoint state lives in stateDir/endpoints
     * @param podMtu    the pod veth MTU unless the CNI config sets one (the uplink's)
     */
    public EndpointManager(NetNamespace node, Datapath datapath, Ipam ipam, Path stateDir, int podMtu) {
        throw new UnsupportedOperationException("stub");
    }

    /** Every endpoint, sorted by container id then ifname. */
    public List<Endpoint> list() {
        throw new UnsupportedOperationException("stub");
    }

    @Override
    public void close() {
    }
}
