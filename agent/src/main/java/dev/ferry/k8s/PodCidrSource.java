package dev.ferry.k8s;

import dev.ferry.k8s.KubernetesObserver.Operation;
import dev.ferry.net.IpPrefix;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.client.KubernetesClient;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * This node's IPv4 pod CIDR, the IPAM pool: the one persisted under the state
 * directory at once (so a restart during an API outage serves DEL), else the
 * Node's first IPv4 pod CIDR as soon as it has one. Once known it stays until the
 * agent restarts: IPAM has handed out addresses from it.
 */
final class PodCidrSource implements NodeInformer.Listener {
    private static final Logger log = LoggerFactory.getLogger(PodCidrSource.class);

    private final KubernetesClient client;
    private final ApiCalls api;
    private final String nodeName;
    private final PodCidrFile file;
    private final CompletableFuture<IpPrefix> podCidr = new CompletableFuture<>();
    /** What the Node's spec.podCIDRs held instead of an IPv4 CIDR, for the reason; empty when nothing. */
    private volatile List<String> unusable = List.of();

    PodCidrSource(KubernetesClient client, ApiCalls api, String nodeName, Path stateDir) {
        this.client = client;
        this.api = api;
        this.nodeName = nodeName;
        this.file = PodCidrFile.in(stateDir);
        file.read().ifPresent(cidr -> {
            log.info("event=pod_cidr_restored node={} pod_cidr={} file={}", nodeName, cidr, file.file());
            podCidr.complete(cidr);
        });
    }

    /** The pod CIDR if known now (persisted, or the Node's already seen). */
    Optional<IpPrefix> now() {
        return Optional.ofNullable(podCidr.getNow(null));
    }

    /** The pod CIDR: the known one at once, else the Node's (a GET with retry, then the informer), waiting while it has none. */
    IpPrefix await() {
        if (!podCidr.isDone()) {
            try {
                Node node = api.call(Operation.GET_NODE, () -> client.nodes().withName(nodeName).get());
                if (node != null) {
                    assigned(node);
                }
            } catch (RuntimeException e) {
                log.warn("event=node_get_failed node={} error=\"{}\" action=wait_for_the_informer", nodeName, e.toString());
            }
        }
        if (!podCidr.isDone()) {
            log.info("event=waiting_for_pod_cidr node={} why=\"{}\"", nodeName, notKnown());
        }
        return podCidr.join();
    }

    Optional<String> notReadyReason() {
        return podCidr.isDone() ? Optional.empty() : Optional.of(notKnown());
    }

    private String notKnown() {
        List<String> junk = unusable;
        return "node " + nodeName + " has no podCIDR yet"
                + (junk.isEmpty() ? "" : " (its spec.podCIDRs " + junk + " holds no IPv4 CIDR)");
    }

    @Override
    public void synced(List<Node> nodes) {
        nodes.forEach(this::changed);
    }

    @Override
    public void changed(Node node) {
        if (Nodes.name(node).equals(nodeName)) {
            assigned(node);
        }
    }

    @Override
    public void removed(String name) {
        // A Node deleted under a running agent keeps its pods' addresses: the pool stays until restart.
    }

    private void assigned(Node node) {
        Optional<IpPrefix> first = Nodes.podCidrs(node).stream().findFirst();
        if (first.isEmpty()) {
            unusable = Nodes.podCidrTexts(node);
            return;
        }
        IpPrefix cidr = first.get();
        if (podCidr.isDone()) {
            IpPrefix known = podCidr.join();
            if (!known.equals(cidr)) {
                log.warn("event=pod_cidr_changed node={} pod_cidr={} in_use={} action=keep_until_restart", nodeName, cidr, known);
            }
            return;
        }
        file.write(cidr);
        log.info("event=pod_cidr_assigned node={} pod_cidr={} persisted={}", nodeName, cidr, file.file());
        podCidr.complete(cidr);
    }
}
