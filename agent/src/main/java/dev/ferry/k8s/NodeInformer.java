package dev.ferry.k8s;

import dev.ferry.k8s.KubernetesObserver.Action;
import dev.ferry.k8s.KubernetesObserver.Operation;
import dev.ferry.k8s.KubernetesObserver.Resource;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The informer on all Nodes, and the one thread that applies what it says. The
 * informer's handlers only enqueue; the worker tells the listeners, in order,
 * first the whole list once the cache holds every Node (at start and after each
 * {@link #restart}), then one Node's change per event. An event before that list
 * is dropped: the list has it too. A listener that fails is logged, and the next
 * event or list tries again; a list that fails leaves the watch not ready.
 */
final class NodeInformer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NodeInformer.class);

    /** What the Nodes say, on the informer's one worker thread. */
    interface Listener {
        /** Every Node, once the cache is synced with the API server. */
        void synced(List<Node> nodes);

        /** A Node added or changed after the sync. */
        void changed(Node node);

        /** A Node deleted after the sync. */
        void removed(String name);
    }

    private final KubernetesClient client;
    private final KubernetesObserver observer;
    private final List<Listener> listeners;
    private final Runnable afterEach;
    private final ExecutorService worker =
            Executors.newSingleThreadExecutor(Thread.ofPlatform().name("ferry-cluster-watch").daemon().factory());
    /** Null until {@link #start}. */
    private volatile SharedIndexInformer<Node> informer;
    /** The listeners have had the whole list of the current informer. Written by the worker, and by restart. */
    private volatile boolean synced;

    /** @param afterEach runs on the worker after every list or event applied, failed or not */
    NodeInformer(KubernetesClient client, KubernetesObserver observer, List<Listener> listeners, Runnable afterEach) {
        this.client = client;
        this.observer = observer;
        this.listeners = List.copyOf(listeners);
        this.afterEach = afterEach;
    }

    /** Starts the informer; returns without waiting for the API server. */
    void start() {
        informer = newInformer();
    }

    private SharedIndexInformer<Node> newInformer() {
        SharedIndexInformer<Node> nodes = client.nodes().runnableInformer(0);
        nodes.addEventHandler(new ResourceEventHandler<>() {
            @Override
            public void onAdd(Node node) {
                observer.watchEvent(Resource.NODE, Action.ADD);
                enqueue("node_applied", () -> changed(node));
            }

            @Override
            public void onUpdate(Node before, Node node) {
                observer.watchEvent(Resource.NODE, Action.UPDATE);
                enqueue("node_applied", () -> changed(node));
            }

            @Override
            public void onDelete(Node node, boolean finalStateUnknown) {
                observer.watchEvent(Resource.NODE, Action.DELETE);
                enqueue("node_removed", () -> removed(node.getMetadata().getName()));
            }
        });
        nodes.exceptionHandler(Informers.retryAlways(observer, Operation.WATCH_NODES));
        nodes.start().thenRun(() -> enqueue("nodes_listed", () -> listed(nodes)));
        return nodes;
    }

    /** A new informer (a full list, which the listeners get whole again); not ready until then. */
    void restart() {
        synced = false;
        enqueue("informer_restarted", () -> {
            synced = false;
            informer.close();
            informer = newInformer();
        });
    }

    /** Empty when the cache is synced, listed to the listeners and watching. */
    Optional<String> notReadyReason() {
        SharedIndexInformer<Node> nodes = informer;
        if (nodes == null || !nodes.hasSynced() || !synced) {
            return Optional.of("the Node cache is not synced with the API server yet");
        }
        if (!nodes.isWatching()) {
            return Optional.of("the watch on Nodes is down (is the API server reachable?); the datapath is unchanged");
        }
        return Optional.empty();
    }

    private void listed(SharedIndexInformer<Node> nodes) {
        if (nodes != informer) {
            return; // a restart replaced it; its successor lists again
        }
        List<Node> all = nodes.getStore().list();
        listeners.forEach(l -> l.synced(all));
        synced = true;
    }

    private void changed(Node node) {
        if (synced) {
            listeners.forEach(l -> l.changed(node));
        }
    }

    private void removed(String name) {
        if (synced) {
            listeners.forEach(l -> l.removed(name));
        }
    }

    private void enqueue(String what, Runnable work) {
        worker.execute(() -> {
            try {
                work.run();
            } catch (RuntimeException e) {
                log.error("event=cluster_watch_failed what={} error=\"{}\"", what, e.getMessage(), e);
            } finally {
                afterEach.run();
            }
        });
    }

    @Override
    public void close() {
        SharedIndexInformer<Node> nodes = informer;
        if (nodes != null) {
            nodes.close();
        }
        worker.shutdownNow();
        try {
            worker.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
