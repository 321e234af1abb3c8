package dev.ferry.k8s;

import dev.ferry.k8s.KubernetesObserver.Operation;
import dev.ferry.ipam.Ipam;
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
 * This node's pod CIDRs, the IPAM pools (an IPv4 one, an IPv6 one, or both,
 * IPv4 first): the ones persisted under the state directory at once (so a
 * restart during an API outage serves DEL), else the Node's as soon as it has
 * one (see {@link Nodes#ownPodCidrs}). Once known they stay until the agent
 * restarts: IPAM has handed out addresses from them.
 */
final class PodCidrSource implements NodeInformer.Listener {
    private static final Logger log = LoggerFactory.getLogger(PodCidrSource.class);

    private final KubernetesClient client;
    private final ApiCalls api;
    private final String nodeName;
    private final PodCidrFile file;
    private final CompletableFuture<List<IpPrefix>> podCidrs = new CompletableFuture<>();
    /** What the Node's spec.podCIDRs held instead of a usable CIDR, for the reason; empty when nothing. */
    private volatile List<String> unusable = List.of();

    PodCidrSource(KubernetesClient client, ApiCalls api, String nodeName, Path stateDir) {
        this.client = client;
        this.api = api;
        this.nodeName = nodeName;
        this.file = PodCidrFile.in(stateDir);
        file.read().ifPresent(cidrs -> {
            log.info("event=pod_cidr_restored node={} pod_cidrs={} file={}", nodeName, cidrs, file.file());
            podCidrs.complete(cidrs);
        });
    }

    /** The first pod CIDR (the IPv4 one on a dual-stack node) if known now (persisted, or the Node's already seen). */
    Optional<IpPrefix> now() {
        return all().map(List::getFirst);
    }

    /** Every pod CIDR if known now, IPv4 first. */
    Optional<List<IpPrefix>> all() {
        return Optional.ofNullable(podCidrs.getNow(null));
    }

    /** The pod CIDRs: the known ones at once, else the Node's (a GET with retry, then the informer), waiting while it has none. */
    List<IpPrefix> await() {
        if (!podCidrs.isDone()) {
            try {
                Node node = api.call(Operation.GET_NODE, () -> client.nodes().withName(nodeName).get());
                if (node != null) {
                    assigned(node);
                }
            } catch (RuntimeException e) {
                log.warn("event=node_get_failed node={} error=\"{}\" action=wait_for_the_informer", nodeName, e.toString());
            }
        }
        if (!podCidrs.isDone()) {
            log.info("event=waiting_for_pod_cidr node={} why=\"{}\"", nodeName, notKnown());
        }
        return podCidrs.join();
    }

    Optional<String> notReadyReason() {
        return podCidrs.isDone() ? Optional.empty() : Optional.of(notKnown());
    }

    private String notKnown() {
        List<String> junk = unusable;
        return "node " + nodeName + " has no podCIDR yet"
                + (junk.isEmpty() ? "" : " (its spec.podCIDRs " + junk + " holds no usable CIDR: "
                + String.join("; ", junk.stream().map(PodCidrSource::whyUnusable).toList()) + ")");
    }

    /** Why one of the Node's pod CIDRs cannot be a pool, in the words the configuration's errors use. */
    private static String whyUnusable(String text) {
        try {
            IpPrefix cidr = IpPrefix.parse(text);
            return Ipam.unusableAsPool(new IpPrefix(cidr.network(), cidr.length())).orElse(text + " is usable");
        } catch (RuntimeException e) {
            return "'" + text + "' is not a CIDR";
        }
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
        List<IpPrefix> cidrs = Nodes.ownPodCidrs(node);
        if (cidrs.isEmpty()) {
            unusable = Nodes.podCidrTexts(node);
            return;
        }
        if (podCidrs.isDone()) {
            List<IpPrefix> known = podCidrs.join();
            if (!known.equals(cidrs)) {
                log.warn("event=pod_cidr_changed node={} pod_cidrs={} in_use={} action=keep_until_restart", nodeName, cidrs, known);
            }
            return;
        }
        file.write(cidrs);
        log.info("event=pod_cidr_assigned node={} pod_cidrs={} persisted={}", nodeName, cidrs, file.file());
        podCidrs.complete(cidrs);
    }
}
