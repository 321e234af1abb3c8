package dev.ferry.agent;

import dev.ferry.cni.CniError;
import dev.ferry.cni.CniReply;
import dev.ferry.cni.CniRequest;
import dev.ferry.cni.PodNetwork;
import dev.ferry.cni.Readiness;
import dev.ferry.endpoint.Endpoint;
import dev.ferry.endpoint.EndpointKey;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Stands in for the CNI service and its endpoint manager: the agent's own start,
 * API and shutdown are tested without plumbing pods. It records every command the
 * agent handed it, and whether the socket existed at the time.
 */
final class FakePodNetwork implements PodNetwork {
    record Replay(CniRequest request, boolean socketExisted) {}

    final List<Replay> replays = new CopyOnWriteArrayList<>();
    final List<Endpoint> endpoints = new CopyOnWriteArrayList<>();
    final Path socket;
    volatile Readiness readiness;
    volatile int podMtu;
    volatile boolean closed;

    FakePodNetwork(Path socket) {
        this.socket = socket;
    }

    Agent.PodNetworkFactory factory() {
        return (node, datapath, ipam, stateDir, mtu, ready, observer) -> {
            this.readiness = ready;
            this.podMtu = mtu;
            return this;
        };
    }

    /** Every command: DELs replayed from the spool before the socket exists, the rest from the socket. */
    @Override
    public CniReply handle(CniRequest request) {
        replays.add(new Replay(request, Files.exists(socket)));
        return DelSpoolTest.DELETED;
    }

    @Override
    public List<Endpoint> endpoints() {
        return List.copyOf(endpoints);
    }

    @Override
    public Optional<CniError> deleteEndpoint(EndpointKey key) {
        endpoints.removeIf(e -> e.containerId().equals(key.containerId()) && e.ifname().equals(key.ifname()));
        return Optional.empty();
    }

    @Override
    public void close() {
        closed = true;
    }
}
