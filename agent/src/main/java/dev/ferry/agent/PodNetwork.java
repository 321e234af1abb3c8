package dev.ferry.agent;

import dev.ferry.api.ApiRequest;
import dev.ferry.api.ApiResponse;
import dev.ferry.cni.CniObserver;
import dev.ferry.cni.CniReply;
import dev.ferry.cni.CniRequest;
import dev.ferry.cni.CniService;
import dev.ferry.cni.Readiness;
import dev.ferry.datapath.Datapath;
import dev.ferry.endpoint.Endpoint;
import dev.ferry.endpoint.EndpointKey;
import dev.ferry.endpoint.EndpointManager;
import dev.ferry.ipam.Ipam;
import dev.ferry.netns.NetNamespace;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The pod side of the agent as the agent's wiring sees it: the endpoint manager
 * and the CNI service over it. The agent depends on this much only, so that its
 * start, socket API and shutdown can be tested without plumbing pods.
 */
interface PodNetwork extends AutoCloseable {
    /** One CNI command: how the DEL spool is replayed. */
    CniReply handle(CniRequest request);

    /** {@code POST /v1/cni}. */
    ApiResponse handle(ApiRequest request);

    /** Every endpoint, sorted by container id then interface name. */
    List<Endpoint> endpoints();

    /** Removes one endpoint exactly as a DEL would (endpoint GC); the error in words, if any. */
    Optional<String> deleteEndpoint(EndpointKey key);

    @Override
    void close();

    @FunctionalInterface
    interface Factory {
        PodNetwork open(NetNamespace node, Datapath datapath, Ipam ipam, Path stateDir, int podMtu, Readiness readiness,
                        CniObserver observer);
    }

    /** The real one: {@link EndpointManager} and {@link CniService}. */
    static PodNetwork open(NetNamespace node, Datapath datapath, Ipam ipam, Path stateDir, int podMtu, Readiness readiness,
                           CniObserver observer) {
        EndpointManager endpoints = new EndpointManager(node, datapath, ipam, stateDir, podMtu);
        try {
            return new Managed(endpoints, new CniService(endpoints, readiness, observer));
        } catch (RuntimeException e) {
            endpoints.close();
            throw e;
        }
    }

    record Managed(EndpointManager endpointManager, CniService cni) implements PodNetwork {
        @Override
        public CniReply handle(CniRequest request) {
            return cni.handle(request);
        }

        @Override
        public ApiResponse handle(ApiRequest request) {
            return cni.handle(request);
        }

        @Override
        public List<Endpoint> endpoints() {
            return endpointManager.list();
        }

        @Override
        public Optional<String> deleteEndpoint(EndpointKey key) {
            return cni.deleteEndpoint(key).map(e -> e.msg() + ": " + e.details());
        }

        @Override
        public void close() {
            endpointManager.close();
        }
    }
}
