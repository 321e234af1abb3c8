package dev.ferry.cni;

import dev.ferry.endpoint.Endpoint;
import dev.ferry.endpoint.EndpointException;
import dev.ferry.endpoint.EndpointKey;
import dev.ferry.endpoint.EndpointManager;
import dev.ferry.endpoint.EndpointRequest;
import dev.ferry.net.IpPrefix;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The CNI commands, as the agent runs them for ferry-cni: one lock per
 * container, readiness, the endpoint operations and the spec's result and error
 * objects. A validated {@link CniRequest} comes in, a {@link CniReply} goes out;
 * every failure becomes a CNI error object, and nothing here knows how the
 * request arrived (the socket's HTTP mapping is {@code dev.ferry.api.CniRoute}).
 */
public final class CniService implements PodNetwork {
    private static final Logger log = LoggerFactory.getLogger(CniService.class);
    /**
     * How long a command waits for another on the same container (a DEL queued
     * behind a slow ADD) before answering "try again later"; well under the
     * runtime's own CNI timeout.
     */
    static final Duration LOCK_TIMEOUT = Duration.ofSeconds(30);

    private final EndpointManager endpoints;
    private final Readiness readiness;
    private final CniObserver observer;
    private final ContainerLocks locks = new ContainerLocks();

    /**
     * @param endpoints the service's own from now on: {@link #close} closes it
     * @param readiness ADD and STATUS are refused while it gives a reason
     * @param observer  told of every command's outcome and latency (the metrics)
     */
    public CniService(EndpointManager endpoints, Readiness readiness, CniObserver observer) {
        this.endpoints = endpoints;
        this.readiness = readiness;
        this.observer = observer;
    }

    /** Runs one CNI command; never throws for bad input (the error is the reply). */
    @Override
    public CniReply handle(CniRequest request) {
        long start = System.nanoTime();
        CniReply reply;
        try {
            reply = dispatch(request);
        } catch (CniException e) {
            reply = e.error();
        } catch (EndpointException e) {
            reply = error(e);
        } catch (java.io.UncheckedIOException e) {
            log.error("event=cni_state_io_failed command={} container={} error=\"{}\"", request.command(), request.containerId(), e.getMessage());
            reply = new CniError(CniError.IO_FAILURE, "the ferry agent cannot read or write its state", e.getMessage());
        } catch (RuntimeException e) {
            log.error("event=cni_internal_error command={} container={} ifname={}", request.command(),
                    request.containerId(), request.ifname(), e);
            reply = new CniError(CniError.INTERNAL, "internal error in the ferry agent", String.valueOf(e.getMessage()));
        }
        long nanos = System.nanoTime() - start;
        logOutcome(request, reply, nanos / 1_000_000.0);
        observer.observed(request.command(), reply instanceof CniError e ? Integer.toString(e.code()) : "ok", Duration.ofNanos(nanos));
        return reply;
    }

    /**
     * The reply while the agent cannot run CNI commands at all (kubernetes mode
     * before the Node has a pod CIDR): VERSION its answer, STATUS code 50 with the
     * reason, everything else "try again later".
     */
    public static CniReply notRunning(CniRequest request, String reason) {
        return switch (request.command()) {
            case VERSION -> VersionReply.FERRY;
            case STATUS -> new CniError(CniError.PLUGIN_NOT_AVAILABLE, "the ferry agent is not ready", reason);
            default -> new CniError(CniError.TRY_AGAIN_LATER, "the ferry agent is not ready", reason);
        };
    }

    private CniReply dispatch(CniRequest r) {
        return switch (r.command()) {
            case VERSION -> VersionReply.FERRY;
            case STATUS -> status();
            case GC -> collectGarbage(r.config().validAttachments());
            case ADD -> {
                try (var held = locks.lock(r.containerId(), LOCK_TIMEOUT)) {
                    yield add(r);
                }
            }
            case DEL -> {
                try (var held = locks.lock(r.containerId(), LOCK_TIMEOUT)) {
                    endpoints.remove(key(r));
                    yield CniReply.Done.INSTANCE;
                }
            }
            case CHECK -> {
                try (var held = locks.lock(r.containerId(), LOCK_TIMEOUT)) {
                    yield check(r);
                }
            }
        };
    }

    /**
     * Removes one endpoint exactly as a DEL would, under its container's lock: how
     * the agent collects an endpoint whose pod is gone and never got its DEL.
     */
    @Override
    public Optional<CniError> deleteEndpoint(EndpointKey key) {
        try (var held = locks.lock(key.containerId(), LOCK_TIMEOUT)) {
            endpoints.remove(key);
            return Optional.empty();
        } catch (CniException e) {
            return Optional.of(e.error());
        } catch (EndpointException e) {
            return Optional.of(error(e));
        }
    }

    @Override
    public List<Endpoint> endpoints() {
        return endpoints.list();
    }

    @Override
    public void close() {
        endpoints.close();
    }

    private CniReply add(CniRequest r) {
        Optional<String> notReady = readiness.notReadyReason();
        if (notReady.isPresent()) {
            throw new CniException(CniError.TRY_AGAIN_LATER, "the ferry agent is not ready", notReady.get());
        }
        Endpoint e = endpoints.add(new EndpointRequest(key(r), r.netns(), r.config().mtu(),
                r.args().podNamespace(), r.args().podName(), r.args().podUid()));
        return result(e, r.config());
    }

    /**
     * The result: the host veth, then the pod's interface (with its sandbox),
     * which every address is on; one IP and one default route per family, the
     * first pool's first (IPv4 on a dual-stack node).
     */
    static CniResult result(Endpoint e, NetworkConfig config) {
        return new CniResult(
                List.of(new CniResult.Interface(e.hostIfname(), Optional.of(e.hostMac()), Optional.empty()),
                        new CniResult.Interface(e.ifname(), Optional.of(e.podMac()), Optional.of(e.netns()))),
                e.addresses().stream()
                        .map(a -> new CniResult.IpConfig(a, Optional.of(Endpoint.gatewayFor(a)), Optional.of(1))).toList(),
                e.addresses().stream()
                        .map(a -> new CniResult.Route(a.isIpv4() ? IpPrefix.DEFAULT_V4 : IpPrefix.DEFAULT_V6,
                                Optional.of(Endpoint.gatewayFor(a)))).toList(),
                config.dns());
    }

    private CniReply check(CniRequest r) {
        EndpointKey key = key(r);
        List<String> problems = new java.util.ArrayList<>(endpoints.check(key, r.netns()));
        Optional<CniResult> previous = r.config().previousResult();
        Optional<Endpoint> endpoint = endpoints.get(key);
        if (previous.isPresent() && endpoint.isPresent()) {
            for (IpPrefix address : endpoint.get().addresses()) {
                boolean listed = previous.get().ips().stream().anyMatch(ip -> ip.address().address().equals(address.address()));
                if (!listed) {
                    problems.add("prevResult does not list the endpoint's address " + address);
                }
            }
        }
        if (!problems.isEmpty()) {
            throw new EndpointException.Broken(key, problems);
        }
        return CniReply.Done.INSTANCE;
    }

    private CniReply status() {
        Optional<String> notReady = readiness.notReadyReason();
        if (notReady.isPresent()) {
            return new CniError(CniError.PLUGIN_NOT_AVAILABLE, "the ferry agent is not ready", notReady.get());
        }
        if (endpoints.addressesLeft() <= 0) {
            return new CniError(CniError.PLUGIN_NOT_AVAILABLE, "the node's pod CIDR has no free address",
                    "existing pods are unaffected; new pods need an address released first");
        }
        return CniReply.Done.INSTANCE;
    }

    /**
     * Removes every attachment the runtime did not list. Each removal takes its
     * container's lock, so it never interleaves with an ADD or DEL of that
     * container; one that fails is reported and the others still go.
     */
    private CniReply collectGarbage(List<NetworkConfig.Attachment> valid) {
        Set<EndpointKey> keep = valid.stream()
                .map(a -> new EndpointKey(a.containerId(), a.ifname()))
                .collect(Collectors.toSet());
        List<String> failures = new java.util.ArrayList<>();
        int collected = 0;
        for (EndpointKey key : endpoints.attachments()) {
            if (keep.contains(key)) {
                continue;
            }
            try (var held = locks.lock(key.containerId(), LOCK_TIMEOUT)) {
                endpoints.remove(key);
                collected++;
            } catch (RuntimeException e) {
                failures.add(key + ": " + e.getMessage());
            }
        }
        log.info("event=cni_gc kept={} collected={} failed={}", keep.size(), collected, failures.size());
        if (!failures.isEmpty()) {
            return new CniError(CniError.TRY_AGAIN_LATER, "GC could not remove every stale attachment", String.join("; ", failures));
        }
        return CniReply.Done.INSTANCE;
    }

    static CniError error(EndpointException e) {
        return switch (e) {
            case EndpointException.BadNetns b ->
                    new CniError(CniError.INVALID_ENVIRONMENT_VARIABLES, b.summary(), b.details());
            case EndpointException.AlreadyExists a -> new CniError(CniError.FERRY_ALREADY_EXISTS, a.summary(), a.details());
            case EndpointException.PoolExhausted p -> new CniError(CniError.FERRY_ADDRESSES_EXHAUSTED, p.summary(), p.details());
            case EndpointException.Unknown u -> new CniError(CniError.UNKNOWN_CONTAINER, u.summary(), u.details());
            case EndpointException.Broken b -> new CniError(CniError.FERRY_CHECK_FAILED, b.summary(), b.details());
            // "Try again later" makes the runtime retry the DEL, which finishes the job.
            case EndpointException.Incomplete i -> new CniError(CniError.TRY_AGAIN_LATER, i.summary(), i.details());
            case EndpointException.Failed f -> new CniError(CniError.FERRY_ADD_FAILED, f.summary(), f.details());
        };
    }

    private static EndpointKey key(CniRequest r) {
        return new EndpointKey(r.containerId(), r.ifname());
    }

    private static void logOutcome(CniRequest r, CniReply reply, double ms) {
        String pod = r.args().podNamespace().map(ns -> ns + "/" + r.args().podName().orElse("?")).orElse("-");
        switch (reply) {
            case CniError e -> log.warn("event=cni command={} container={} ifname={} pod={} result=error code={} msg=\"{}\" details=\"{}\" duration_ms={}",
                    r.command(), r.containerId(), r.ifname(), pod, e.code(), e.msg(), e.details(), String.format("%.1f", ms));
            case CniResult res -> log.info("event=cni command={} container={} ifname={} pod={} result=ok address={} duration_ms={}",
                    r.command(), r.containerId(), r.ifname(), pod, res.ips().getFirst().address(), String.format("%.1f", ms));
            default -> log.info("event=cni command={} container={} ifname={} pod={} result=ok duration_ms={}",
                    r.command(), r.containerId(), r.ifname(), pod, String.format("%.1f", ms));
        }
    }
}
