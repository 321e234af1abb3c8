package dev.ferry.k8s;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.core.IntervalFunction;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;

import java.time.Duration;
import java.util.function.Supplier;

/**
 * Direct API calls (not the informers' list and watch, which fabric8 retries
 * itself): a retry with exponential backoff and jitter, so that a restarting API
 * server is not hit by every node at the same instant, inside a circuit breaker,
 * so that a down API server costs one fast failure instead of a retry storm.
 */
final class ApiCalls {
    private final Retry retry;
    private final CircuitBreaker breaker;

    ApiCalls(int attempts, Duration firstBackoff, Duration maxBackoff) {
        retry = Retry.of("kubernetes-api", RetryConfig.custom()
                .maxAttempts(attempts)
                .intervalFunction(IntervalFunction.ofExponentialRandomBackoff(firstBackoff, 2.0, 0.5, maxBackoff))
                .build());
        breaker = CircuitBreaker.of("kubernetes-api", CircuitBreakerConfig.custom()
                .slidingWindowSize(10)
                .minimumNumberOfCalls(5)
                .failureRateThreshold(50)
                .waitDurationInOpenState(Duration.ofSeconds(10))
                .build());
    }

    static ApiCalls defaults() {
        return new ApiCalls(5, Duration.ofMillis(200), Duration.ofSeconds(5));
    }

    <T> T call(Supplier<T> call) {
        return Retry.decorateSupplier(retry, CircuitBreaker.decorateSupplier(breaker, call)).get();
    }
}
