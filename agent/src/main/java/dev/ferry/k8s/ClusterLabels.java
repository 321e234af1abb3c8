package dev.ferry.k8s;

import dev.ferry.k8s.KubernetesObserver.Operation;
import dev.ferry.k8s.KubernetesObserver.Resource;
import dev.ferry.selection.PodLabels;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;

import java.util.Map;
import java.util.Optional;

/**
 * The labels EgressRoute and TrafficMirror objects select by: this node's pods'
 * (the endpoint GC's Pod cache) and every Namespace's (an informer of its own).
 * Label changes need no event here: the parts that select re-read the labels on
 * their own ticks and act on what differs.
 */
final class ClusterLabels implements PodLabels, AutoCloseable {
    private final SharedIndexInformer<Namespace> namespaces;
    private final EndpointGc pods;

    ClusterLabels(KubernetesClient client, EndpointGc pods, KubernetesObserver observer) {
        this.pods = pods;
        this.namespaces = client.namespaces().runnableInformer(0);
        namespaces.exceptionHandler(Informers.retryAlways(observer, Operation.WATCH_NAMESPACES));
        namespaces.addEventHandler(Informers.counting(observer, Resource.NAMESPACE, () -> { }));
        namespaces.start();
    }

    @Override
    public Optional<Labels> of(String namespace, String name) {
        Namespace ns = namespaces.getStore().getByKey(namespace);
        if (ns == null) {
            return Optional.empty();
        }
        Map<String, String> nsLabels = ns.getMetadata().getLabels() == null ? Map.of() : ns.getMetadata().getLabels();
        return pods.podLabels(namespace, name).map(pod -> new Labels(nsLabels, pod));
    }

    /** Both caches hold everything: a plan made now sees every pod as it is labelled. */
    boolean synced() {
        return namespaces.hasSynced() && pods.synced();
    }

    @Override
    public void close() {
        namespaces.close();
    }
}
