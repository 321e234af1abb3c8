package dev.ferry.k8s;

import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.retry.RetryRegistry;

/**
 * What the Kubernetes side tells the agent's metrics: every informer event, every
 * failed API request, and the retry and breaker that guard direct calls. Kept an
 * interface so this package needs no metrics registry, as {@code CniObserver} does
 * for the CNI service.
 */
public interface KubernetesObserver {
    enum Resource { POD, NODE, NAMESPACE, EGRESS_ROUTE, TRAFFIC_MIRROR }

    enum Action { ADD, UPDATE, DELETE }

    /** The API requests the agent makes, as the {@code operation} label names them. */
    enum Operation {
        /** The direct GET of this node, through the retry and the breaker. */
        GET_NODE,
        /** The Node informer's list or watch. */
        WATCH_NODES,
        /** The Pod informer's list or watch. */
        WATCH_PODS,
        /** The Namespace informer's list or watch (egress routes select by namespace labels). */
        WATCH_NAMESPACES,
        /** The EgressRoute informer's list or watch. */
        WATCH_EGRESS_ROUTES,
        /** The TrafficMirror informer's list or watch. */
        WATCH_TRAFFIC_MIRRORS,
        /** The reachability probe (GET /version). */
        PROBE_VERSION
    }

    /** An informer delivered an event. */
    void watchEvent(Resource resource, Action action);

    /** An API request failed (each attempt counts, retried or not). */
    void apiError(Operation operation);

    /** Called once with the registries holding the direct calls' retry and circuit breaker. */
    void guards(RetryRegistry retries, CircuitBreakerRegistry breakers);
}
