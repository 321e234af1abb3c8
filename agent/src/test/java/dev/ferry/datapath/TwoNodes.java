package dev.ferry.datapath;

import dev.ferry.net.IpPrefix;
import dev.ferry.testing.Cleanup;
import dev.ferry.testing.TestNetns;

import java.util.ArrayList;
import java.util.List;

/**
 * Two nodes, each an {@link AttachedNode} with its own datapath and pins, joined
 * by a veth wire whose ends carry to_pod; each node routes the other's pod CIDRs
 * via the other's address of the same family, as the agent's peer routes do.
 * The cluster CIDRs go into both datapaths. Closing closes both nodes, and with
 * their namespaces the wire, its hooks and routes.
 */
final class TwoNodes implements AutoCloseable {
    /** One family's plumbing: the wire's subnet ends and each node's pod CIDR. */
    record Family(String wireA, String wireB, int wireLength, String podCidrA, String podCidrB) {}

    final AttachedNode a;
    final AttachedNode b;

    private TwoNodes(AttachedNode a, AttachedNode b) {
        this.a = a;
        this.b = b;
    }

    /**
     * @param prefixA  the three letters of node A's links (node B's wire end is prefixB + "-up")
     * @param podsA    node A's pods, as {@link AttachedNode#create} takes them
     * @param families the families the wire carries, each with its own addresses and pod CIDRs
     * @param clusterCidrs the cluster CIDRs of both datapaths
     */
    static TwoNodes create(AttachMode mode, String prefixA, List<String> podsA, String prefixB, List<String> podsB,
                           List<Family> families, List<String> clusterCidrs) throws Exception {
        List<AttachedNode> made = new ArrayList<>();
        try {
            made.add(AttachedNode.create(prefixA, mode, podsA));
            made.add(AttachedNode.create(prefixB, mode, podsB));
            TwoNodes nodes = new TwoNodes(made.get(0), made.get(1));
            nodes.wire(prefixA + "-up", prefixB + "-up", families, clusterCidrs);
            return nodes;
        } catch (Exception | Error e) {
            Cleanup.all(made.stream().<Cleanup.Step>map(n -> n::close).toArray(Cleanup.Step[]::new));
            throw e;
        }
    }

    private void wire(String upA, String upB, List<Family> families, List<String> clusterCidrs) throws Exception {
        TestNetns nsA = a.topology.node;
        TestNetns nsB = b.topology.node;
        nsA.ip("link", "add", upA, "type", "veth", "peer", "name", upB, "netns", nsB.name());
        // No duplicate address detection on the wire's link-local addresses either: until it ends, the
        // kernel sends no neighbour solicitation for forwarded packets (ndisc_send_ns wants a non-tentative
        // link-local source), and the first packets across, queued on an unresolved neighbour, are lost
        // when the node is slow to finish it (a loaded machine).
        nsA.sysctl("net.ipv6.conf." + upA + ".accept_dad", "0");
        nsB.sysctl("net.ipv6.conf." + upB + ".accept_dad", "0");
        for (Family f : families) {
            boolean v6 = f.wireA().contains(":");
            if (v6) {
                // nodad: the wire's IPv6 addresses are usable at once, not after duplicate address detection.
                nsA.ip("-6", "addr", "add", f.wireA() + "/" + f.wireLength(), "dev", upA, "nodad");
                nsB.ip("-6", "addr", "add", f.wireB() + "/" + f.wireLength(), "dev", upB, "nodad");
            } else {
                nsA.ip("-4", "addr", "add", f.wireA() + "/" + f.wireLength(), "dev", upA);
                nsB.ip("-4", "addr", "add", f.wireB() + "/" + f.wireLength(), "dev", upB);
            }
        }
        nsA.ip("link", "set", upA, "up");
        nsB.ip("link", "set", upB, "up");
        for (Family f : families) {
            boolean v6 = f.wireA().contains(":");
            String family = v6 ? "-6" : "-4";
            nsA.ip(family, "route", "add", f.podCidrB(), "via", f.wireB(), "dev", upA);
            nsB.ip(family, "route", "add", f.podCidrA(), "via", f.wireA(), "dev", upB);
        }
        for (AttachedNode node : List.of(a, b)) {
            String uplink = node == a ? upA : upB;
            TestNetns ns = node.topology.node;
            int ifindex = ns.ifindex(uplink);
            for (String cidr : clusterCidrs) {
                node.datapath.clusterCidrs().add(IpPrefix.parse(cidr));
            }
            ns.handle().call(() -> node.datapath.attach(DatapathProgram.TO_POD, uplink, ifindex));
        }
    }

    @Override
    public void close() throws Exception {
        Cleanup.all(b::close, a::close);
    }
}
