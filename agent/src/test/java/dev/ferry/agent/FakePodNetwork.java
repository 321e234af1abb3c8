package dev.ferry.agent;

import dev.ferry.api.ApiRequest;
import dev.ferry.api.ApiResponse;
import dev.ferry.cni.CniReply;
import dev.ferry.cni.CniRequest;
import dev.ferry.cni.Readiness;
import dev.ferry.endpoint.Endpoint;
import dev.ferry.endpoint.EndpointKey;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Stands in for the endpoint manager and CNI service: the agent's own start, API
 * and shutdown are tested without plumbing pods. It records what the agent asked
 * of it, and whether the socket existed at the time.
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

    PodNetwork.Factory factory() {
        return (node, datapath, ipam, stateDir, mtu, ready, observer) -> {
            this.readiness = ready;
            this.podMtu = mtu;
            return this;
        };
    }

    @Override
    public CniReply handle(CniRequest request) {
        replays.add(new Replay(request, Files.exists(socket)));
        return DelSpoolTest.DELETED;
    }

    @Override
    public ApiResponse handle(ApiRequest request) {
        return ApiResponse.json(200, "{\"fake\":true}");
    }

    @Override
    public List<Endpoint> endpoints() {
        return List.copyOf(endpoints);
    }

    @Override
    public Optional<String> deleteEndpoint(EndpointKey key) {
        endpoints.removeIf(e -> e.containerId().equals(key.containerId()) && e.ifname().equals(key.ifname()));
        return Optional.empty();
    }

    @Override
    public void close() {
        closed = true;
    }
}
