package dev.ferry.datapath;

import dev.ferry.net.IpPrefix;
import dev.ferry.testing.Cleanup;

import java.util.List;

/**
 * Port reuse with the backend on another node: two nodes joined by a veth wire,
 * each with its own datapath (its own pins) and to_pod on its end of the wire,
 * routes to each other's pod range, as the agent makes them. The Service flow's
 * entry is in the client node's conntrack; the backend's replies come back over
 * the wire into to_pod there. Addresses 10.78.12.0/22 and 192.168.78.0/24 are
 * this class's.
 */
class CrossNodePortReuseTest extends PortReuseTest {
    private static final String CLUSTER_CIDR = "10.78.12.0/22";
    private AttachedNode nodeA;
    private AttachedNode nodeB;

    @Override
    void buildNodes() throws Exception {
        nodeA = AttachedNode.create("fpa", AttachMode.TC, List.of("10.78.12.2"));
        nodeB = AttachedNode.create("fpb", AttachMode.TC, List.of("10.78.13.2"));
        clientNode = nodeA.topology.node;
        client = nodeA.pod(0);
        backend = nodeB.pod(0);

        var a = nodeA.topology.node;
        var b = nodeB.topology.node;
        a.ip("link", "add", "fpa-up", "type", "veth", "peer", "name", "fpb-up", "netns", b.name());
        a.ip("addr", "add", "192.168.78.1/24", "dev", "fpa-up");
        b.ip("addr", "add", "192.168.78.2/24", "dev", "fpb-up");
        a.ip("link", "set", "fpa-up", "up");
        b.ip("link", "set", "fpb-up", "up");
        a.ip("route", "add", "10.78.13.0/24", "via", "192.168.78.2");
        b.ip("route", "add", "10.78.12.0/24", "via", "192.168.78.1");
        // bpf_fib_lookup refuses to forward where forwarding is off; the agent turns it on per veth.
        a.sysctl("net.ipv4.conf.all.forwarding", "1");
        b.sysctl("net.ipv4.conf.all.forwarding", "1");
        for (AttachedNode node : List.of(nodeA, nodeB)) {
            var ns = node.topology.node;
            String uplink = node == nodeA ? "fpa-up" : "fpb-up";
            int ifindex = ns.ifindex(uplink);
            node.datapath.clusterCidrs().add(IpPrefix.parse(CLUSTER_CIDR));
            ns.handle().call(() -> node.datapath.attach(DatapathProgram.TO_POD, uplink, ifindex));
        }
    }

    @Override
    void closeNodes() throws Exception {
        // Closing a node's namespace takes its end of the wire and the to_pod hook on it along.
        Cleanup.all(() -> {
            if (nodeB != null) {
                nodeB.close();
            }
        }, () -> {
            if (nodeA != null) {
                nodeA.close();
            }
        });
    }
}
