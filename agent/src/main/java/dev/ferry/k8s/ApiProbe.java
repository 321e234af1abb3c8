package dev.ferry.k8s;

import dev.ferry.k8s.KubernetesObserver.Operation;
import io.fabric8.kubernetes.client.KubernetesClient;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The outage signal. fabric8's informers reconnect their watch on their own,
 * forever, and say {@code isWatching()} all the while, so they cannot tell an
 * outage; a cheap GET /version (served from memory by the API server, no etcd
 * read) every two seconds can. When the server answers again after an outage,
 * {@code whenBack} runs: the cluster watch makes its informers anew, so whatever
 * changed meanwhile (or a server that came back with other state) is listed and
 * applied, and readiness waits for it.
 */
final class ApiProbe implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ApiProbe.class);
    static final Duration INTERVAL = Duration.ofSeconds(2);

    private final KubernetesClient client;
    private final KubernetesObserver observer;
    private final Runnable whenBack;
    private final Runnable afterEach;
    private final ScheduledExecutorService prober =
            Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("ferry-api-probe").daemon().factory());
    private volatile boolean reachable = true;

    /**
     * @param whenBack  runs on the probe's thread when the server answers after it did not
     * @param afterEach runs after every probe, answered or not
     */
    ApiProbe(KubernetesClient client, KubernetesObserver observer, Runnable whenBack, Runnable afterEach) {
        this.client = client;
        this.observer = observer;
        this.whenBack = whenBack;
        this.afterEach = afterEach;
    }

    /** Probes every {@link #INTERVAL} from now on; until the first answer the server counts as reachable. */
    void start() {
        prober.scheduleWithFixedDelay(this::probe, INTERVAL.toMillis(), INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** False from a failed probe until the next one that is answered. */
    boolean reachable() {
        return reachable;
    }

    private void probe() {
        boolean up;
        try {
            // The raw body, unparsed: reachability is the question (and the mock server, restarted, answers
            // /version with a body fabric8 cannot parse).
            client.raw("/version");
            up = true;
        } catch (RuntimeException e) {
            up = false;
            observer.apiError(Operation.PROBE_VERSION);
            if (reachable) {
                log.warn("event=kubernetes_api_unreachable error=\"{}\" cause=\"{}\" action=keep_the_datapath", e.getMessage(),
                        String.valueOf(e.getCause()));
            }
        }
        try {
            if (up && !reachable) {
                log.info("event=kubernetes_api_back action=relist");
                whenBack.run();
            }
            reachable = up;
            afterEach.run();
        } catch (RuntimeException e) {
            log.error("event=api_probe_failed error=\"{}\"", e.getMessage(), e); // and probe again: the next tick retries
        }
    }

    @Override
    public void close() {
        prober.shutdownNow();
    }
}
