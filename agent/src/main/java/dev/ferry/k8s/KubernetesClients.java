package dev.ferry.k8s;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The one client the cluster watch makes its informers and calls with. */
public final class KubernetesClients {
    private KubernetesClients() {}

    /** A client from {@code kubeconfig}, or from $KUBECONFIG, ~/.kube/config or the in-cluster config when null. */
    public static KubernetesClient connect(Path kubeconfig) {
        Config config;
        try {
            config = kubeconfig == null ? Config.autoConfigure(null) : Config.fromKubeconfig(Files.readString(kubeconfig));
        } catch (IOException e) {
            throw new UncheckedIOException("failed to read kubeconfig '" + kubeconfig + "': " + e.getMessage(), e);
        }
        // Direct calls retry through ApiCalls (backoff, jitter, circuit breaker), not fabric8's own loop too.
        config.setRequestRetryBackoffLimit(0);
        config.setWatchReconnectInterval(500);
        // Short timeouts: a call to an API server that went away must fail, not hang the probe. HTTP/1.1: the
        // JDK client's HTTP/2 connection to a server that restarted was seen to hang every later request.
        config.setConnectionTimeout(5_000);
        config.setRequestTimeout(5_000);
        config.setHttp2Disable(true);
        return new KubernetesClientBuilder().withConfig(config).build();
    }
}
