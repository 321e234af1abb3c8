package dev.ferry.agent;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.routes.Peer;
import dev.ferry.state.Quarantine;
import dev.ferry.api.ApiErrors;
import dev.ferry.api.ApiResponse;
import dev.ferry.api.ApiRouter;
import dev.ferry.api.CniRoute;
import dev.ferry.api.Routes;
import dev.ferry.capture.CaptureException;
import dev.ferry.capture.CaptureRequest;
import dev.ferry.capture.Captures;
import dev.ferry.capture.MirrorStatus;
import dev.ferry.cni.PodNetwork;
import dev.ferry.datapath.CounterMaps;
import dev.ferry.datapath.KernelFeatures;
import dev.ferry.datapath.DatapathCounter;
import dev.ferry.egress.EgressStatus;
import dev.ferry.endpoint.Endpoint;
import dev.ferry.ipam.Ipam;
import dev.ferry.monitor.Monitor;
import dev.ferry.net.IpPrefix;
import dev.ferry.netlink.Link;

import java.io.UncheckedIOException;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The agent socket's routes (README, "Run the agent"): {@code POST /v1/cni}
 * goes to the pod network through {@link CniRoute}; the rest are read-only JSON
 * views of the running agent.
 */
final class AgentApi {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What {@code GET /v1/status} answers. */
    record Status(String nodeName, String mode, String attach, String podAttach, boolean ready, String notReadyReason, String podCIDR,
                  IpamUsage ipam, List<UplinkView> uplinks, List<PeerView> peers, List<String> clusterCIDRs,
                  int endpoints, List<String> quarantined, KernelFeatures kernel, String version, List<PoolView> pools) {}

    /** One IPAM pool: {@code podCIDR} and {@code ipam} above are the first one's (the IPv4 one on a dual-stack node). */
    record PoolView(String podCIDR, int used, int capacity) {}

    record IpamUsage(int used, int capacity) {}

    record UplinkView(String name, int ifindex, int mtu) {}

    record PeerView(String name, String address, List<String> podCIDRs) {}

    /** @param address6 a dual-stack pod's IPv6 address; null on single-stack nodes ({@code address} has IPv6-only pods') */
    record EndpointView(String containerId, String ifname, String netns, String hostIfname, int hostIfindex,
                        String address, String address6, String podMac, String hostMac, int endpointId, int mtu,
                        String podNamespace, String podName, String podUid, String created) {}

    record CounterView(String family, String direction, String verdict, String reason, long packets, long bytes) {}

    private final AgentConfig config;
    private final List<Link> uplinks;
    private final Ipam ipam;
    private final List<Ipam> pools;
    private final CounterMaps counters;
    private final PodNetwork pods;
    private final Supplier<Optional<String>> notReadyReason;
    private final KernelFeatures kernel = KernelFeatures.probe();
    private final MonitorRoute monitor;
    private final Supplier<EgressStatus> egress;
    private final Captures captures;
    private final Supplier<MirrorStatus> mirrors;

    /**
     * @param pools  the node's IPAM pools, the first one's figures reported as {@code podCIDR} and {@code ipam}
     * @param egress the egress routes as of their last tick
     * @param mirrors the persistent mirrors and captures, as they are at each request
     */
    AgentApi(AgentConfig config, List<Link> uplinks, List<Ipam> pools, CounterMaps counters, PodNetwork pods,
             Supplier<Optional<String>> notReadyReason, Monitor monitor, Supplier<EgressStatus> egress,
             Supplier<MirrorStatus> mirrors, Captures captures) {
        this.egress = egress;
        this.mirrors = mirrors;
        this.captures = captures;
        this.config = config;
        this.uplinks = List.copyOf(uplinks);
        this.ipam = pools.getFirst();
        this.pools = List.copyOf(pools);
        this.counters = counters;
        this.pods = pods;
        this.notReadyReason = notReadyReason;
        this.monitor = new MonitorRoute(monitor);
    }

    ApiRouter routes() {
        return Routes.builder()
                .post(CniRoute.PATH, new CniRoute(pods))
                .get("/v1/status", (request, vars) -> json(status()))
                .get("/v1/endpoints", (request, vars) -> json(new Endpoints(endpoints(Optional.empty()))))
                .get("/v1/endpoints/{containerId}", (request, vars) -> endpoint(vars.get("containerId")))
                .get("/v1/datapath/stats", (request, vars) -> json(new Counters(counters())))
                .post(MonitorRoute.PATH, monitor)
                .get("/v1/egress", (request, vars) -> json(egress.get()))
                .post("/v1/capture", (request, vars) -> capture(request.body()))
                .get("/v1/mirrors", (request, vars) -> json(mirrors.get()))
                .build();
    }

    record Endpoints(List<EndpointView> endpoints) {}

    /** {@code POST /v1/capture}: the pod's packets as pcap, streamed until the capture ends (docs/operations.md). */
    private ApiResponse capture(byte[] body) {
        try {
            return ApiResponse.stream(CAPTURE_CONTENT_TYPE, captures.start(CaptureRequest.parse(body)));
        } catch (CaptureException e) {
            return ApiErrors.error(e.status(), e.getMessage());
        }
    }

    static final String CAPTURE_CONTENT_TYPE = "application/vnd.tcpdump.pcap";

    record Counters(List<CounterView> counters) {}

    Status status() {
        Optional<String> notReady = notReadyReason.get();
        return new Status(config.nodeName(), config.mode().label(), config.attach().uplinks().label(),
                config.attach().pods().label(),
                notReady.isEmpty(), notReady.orElse(null), ipam.podCidr().toString(),
                new IpamUsage(ipam.used(), ipam.capacity()),
                uplinks.stream().map(l -> new UplinkView(l.name(), l.index(), l.mtu())).toList(),
                config.peers().stream().map(AgentApi::peer).toList(),
                config.clusterCidrs().stream().map(IpPrefix::toString).toList(),
                pods.endpoints().size(), Quarantine.of(config.stateDir()).all(), kernel, version(),
                pools.stream().map(p -> new PoolView(p.podCidr().toString(), p.used(), p.capacity())).toList());
    }

    private ApiResponse endpoint(String containerId) {
        List<EndpointView> found = endpoints(Optional.of(containerId));
        if (found.isEmpty()) {
            return ApiErrors.error(404, "no endpoint for container '" + containerId + "'");
        }
        return json(new Endpoints(found));
    }

    private List<EndpointView> endpoints(Optional<String> containerId) {
        return pods.endpoints().stream()
                .filter(e -> containerId.isEmpty() || containerId.get().equals(e.containerId()))
                .map(AgentApi::view)
                .toList();
    }

    /** The global counters, summed over CPUs at the moment of the request, in label order. */
    private List<CounterView> counters() {
        return counters.global().stream()
                .map(AgentApi::view)
                .sorted(Comparator.comparing(CounterView::family).thenComparing(CounterView::direction)
                        .thenComparing(CounterView::verdict)
                        .thenComparing(CounterView::reason))
                .toList();
    }

    private static PeerView peer(Peer p) {
        return new PeerView(p.name(), p.address().getHostAddress(), p.podCidrs().stream().map(IpPrefix::toString).toList());
    }

    private static EndpointView view(Endpoint e) {
        return new EndpointView(e.containerId(), e.ifname(), e.netns(), e.hostIfname(), e.hostIfindex(),
                e.address().toString(), e.address6().map(IpPrefix::toString).orElse(null), text(e.podMac()), text(e.hostMac()), e.endpointId(), e.mtu(),
                e.podNamespace().orElse(null), e.podName().orElse(null), e.podUid().orElse(null),
                text(e.created()));
    }

    private static String text(Object value) {
        return value == null ? null : value.toString();
    }

    private static CounterView view(DatapathCounter c) {
        return new CounterView(c.family().label(), c.direction().label(), c.verdict().label(), c.reason().label(), c.packets(), c.bytes());
    }

    /** The jar's version (its manifest); "dev" when run from classes. */
    static String version() {
        String v = AgentApi.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    private static ApiResponse json(Object value) {
        try {
            return ApiResponse.json(200, JSON.writeValueAsString(value));
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }
}
