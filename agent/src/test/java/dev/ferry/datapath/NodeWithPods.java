package dev.ferry.datapath;

import dev.ferry.net.MacAddress;
import dev.ferry.testing.TestNetns;
import dev.ferry.testing.Traffic;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * A node namespace with pod namespaces plumbed as docs/cni.md describes (the pod's
 * /32, a link-local gateway with a permanent neighbour, the host-side /32 route
 * and neighbour). Made with ip(8): test set-up only; the agent plumbs through
 * netlink. Forwarding stays off in the node, so only the datapath can carry
 * pod-to-pod traffic.
 */
final class NodeWithPods implements AutoCloseable {
    static final String GATEWAY = "169.254.1.1";

    record Pod(TestNetns ns, String address, String hostIfname, int hostIfindex, MacAddress podMac,
               MacAddress hostMac, int endpointId) {

        InetAddress inet() {
            try {
                return InetAddress.getByName(address);
            } catch (java.net.UnknownHostException e) {
                throw new IllegalArgumentException(e);
            }
        }

        Traffic.End end() {
            return new Traffic.End(ns, inet());
        }

        EndpointEntry entry() {
            return new EndpointEntry(hostIfindex, endpointId, 0, podMac, hostMac);
        }
    }

    final TestNetns node;
    final List<Pod> pods = new ArrayList<>();
    private final String linkPrefix;

    /** linkPrefix: three or four letters of the test's own, so host-side link names never clash. */
    NodeWithPods(String linkPrefix) {
        this.linkPrefix = linkPrefix;
        this.node = TestNetns.create(linkPrefix + "n");
    }

    Pod addPod(String address) {
        int n = pods.size() + 1;
        TestNetns ns = TestNetns.create(linkPrefix + "p" + n);
        String host = linkPrefix + "-h" + n;
        node.ip("link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", ns.name());
        MacAddress hostMac = new MacAddress(node.mac(host));
        MacAddress podMac = new MacAddress(ns.mac("eth0"));

        ns.ip("addr", "add", address + "/32", "dev", "eth0");
        ns.ip("link", "set", "eth0", "up");
        ns.ip("route", "add", GATEWAY, "dev", "eth0", "scope", "link");
        ns.ip("route", "add", "default", "via", GATEWAY, "dev", "eth0");
        ns.ip("neigh", "add", GATEWAY, "lladdr", hostMac.toString(), "dev", "eth0", "nud", "permanent");

        node.ip("link", "set", host, "up");
        node.ip("route", "add", address + "/32", "dev", host, "scope", "link");
        node.ip("neigh", "add", address, "lladdr", podMac.toString(), "dev", host, "nud", "permanent");

        Pod pod = new Pod(ns, address, host, node.ifindex(host), podMac, hostMac, 100 + n);
        pods.add(pod);
        return pod;
    }

    @Override
    public void close() {
        for (Pod pod : pods) {
            pod.ns().close();
        }
        node.close();
    }
}
