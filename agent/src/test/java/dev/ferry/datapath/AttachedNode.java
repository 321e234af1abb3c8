package dev.ferry.datapath;

import dev.ferry.testing.BpfPins;
import dev.ferry.testing.Cleanup;

import java.util.List;

/**
 * A node with pods whose host-side veths carry from_pod, the datapath loaded
 * under pins of its own. Closing detaches, unpins and removes the namespaces,
 * every step even when one fails.
 */
final class AttachedNode implements AutoCloseable {
    final NodeWithPods topology;
    final BpfPins pins;
    final Datapath datapath;

    private AttachedNode(NodeWithPods topology, BpfPins pins, Datapath datapath) {
        this.topology = topology;
        this.pins = pins;
        this.datapath = datapath;
    }

    /** linkPrefix: the test's own three letters; one pod per entry, an address or "IPv4,IPv6" (dual stack). */
    static AttachedNode create(String linkPrefix, AttachMode mode, List<String> podAddresses) throws Exception {
        NodeWithPods topology = new NodeWithPods(linkPrefix);
        BpfPins pins = BpfPins.create("ferry-test-" + linkPrefix);
        Datapath datapath = null;
        try {
            for (String address : podAddresses) {
                topology.addPod(address);
            }
            datapath = Datapath.load(pins.root(), mode);
            AttachedNode node = new AttachedNode(topology, pins, datapath);
            for (NodeWithPods.Pod pod : topology.pods) {
                for (var address : pod.inets()) {
                    datapath.endpoints().put(address, pod.entry());
                }
                node.attach(pod);
            }
            return node;
        } catch (Exception | Error e) {
            Datapath loaded = datapath;
            Cleanup.all(() -> {
                if (loaded != null) {
                    loaded.close();
                }
            }, pins::close, topology::close);
            throw e;
        }
    }

    NodeWithPods.Pod pod(int index) {
        return topology.pods.get(index);
    }

    void attach(NodeWithPods.Pod pod) throws Exception {
        topology.node.handle().call(() -> datapath.attach(DatapathProgram.FROM_POD, pod.hostIfname(), pod.hostIfindex()));
    }

    void detach(NodeWithPods.Pod pod) {
        topology.node.handle().execute(() -> datapath.detach(DatapathProgram.FROM_POD, pod.hostIfname(), pod.hostIfindex()));
    }

    @Override
    public void close() throws Exception {
        Cleanup.all(
                () -> topology.pods.forEach(this::detach),
                datapath::close,
                pins::close,
                topology::close);
    }
}
