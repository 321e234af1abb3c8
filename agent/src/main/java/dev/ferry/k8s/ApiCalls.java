package dev.ferry.k8s;

import dev.ferry.k8s.KubernetesObserver.Operation;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.core.IntervalFunction;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import io.github.resilience4j.retry.RetryRegistry;

import java.time.Duration;
import java.util.function.Supplier;

/**
 * Direct API calls (not the informers' list and watch, which fabric8 retries
 * itself): a retry with exponential backoff and jitter, so that a restarting API
 * server is not hit by every node at the same instant, inside a circuit breaker,
 * so that a down API server costs one fast failure instead of a retry storm.
 * Both live in registries the metrics bind to ({@code resilience4j_retry_calls},
 * {@code resilience4j_circuitbreaker_state}, …).
 */
final class ApiCalls {
    static final String NAME = "kubernetes-api";

    private final Retry retry;
    private final CircuitBreaker breaker;
    private final KubernetesObserver observer;

    ApiCalls(int attempts, Duration firstBackoff, Duration maxBackoff, KubernetesObserver observer) {
        this.observer = observer;
        RetryRegistry retries = RetryRegistry.of(RetryConfig.custom()
                .maxAttempts(attempts)
                .intervalFunction(IntervalFunction.ofExponentialRandomBackoff(firstBackoff, 2.0, 0.5, maxBackoff))
                .build());
        CircuitBreakerRegistry breakers = CircuitBreakerRegistry.of(CircuitBreakerConfig.custom()
                .slidingWindowSize(10)
                .minimumNumberOfCalls(5)
                .failureRateThreshold(50)
                .waitDurationInOpenState(Duration.ofSeconds(10))
                .build());
        retry = retries.retry(NAME);
        breaker = breakers.circuitBreaker(NAME);
        observer.guards(retries, breakers);
    }

    static ApiCalls defaults(KubernetesObserver observer) {
        return new ApiCalls(5, Duration.ofMillis(200), Duration.ofSeconds(5), observer);
    }

    /** Runs the call through the breaker and the retry; every attempt that reaches the server and fails is counted. */
    <T> T call(Operation operation, Supplier<T> call) {
        Supplier<T> counted = () -> {
            try {
                return call.get();
            } catch (RuntimeException e) {
                observer.apiError(operation);
                throw e;
            }
        };
        return Retry.decorateSupplier(retry, CircuitBreaker.decorateSupplier(breaker, counted)).get();
    }
}
