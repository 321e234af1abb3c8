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
 * and neighbour; for IPv6 the /128, fe80::1 and the host-side /128 alike). Made
 * with ip(8): test set-up only; the agent plumbs through netlink. Forwarding
 * stays off in the node, so only the datapath can carry pod-to-pod traffic.
 */
final class NodeWithPods implements AutoCloseable {
    static final String GATEWAY = "169.254.1.1";
    static final String GATEWAY6 = "fe80::1";

    /**
     * @param address  the pod's first address: its IPv4 one, or its IPv6 one on an IPv6-only pod
     * @param address6 its IPv6 address on a dual-stack pod, else null
     */
    record Pod(TestNetns ns, String address, String address6, String hostIfname, int hostIfindex, MacAddress podMac,
               MacAddress hostMac, int endpointId) {

        InetAddress inet() {
            return inet(address);
        }

        /** Every address of the pod, the first one first. */
        List<InetAddress> inets() {
            return address6 == null ? List.of(inet()) : List.of(inet(), inet(address6));
        }

        Traffic.End end() {
            return new Traffic.End(ns, inet());
        }

        /** The pod over IPv6: its second address on a dual-stack pod, its only one on an IPv6-only pod. */
        Traffic.End end6() {
            return new Traffic.End(ns, inet(address6 != null ? address6 : address));
        }

        private static InetAddress inet(String literal) {
            try {
                return InetAddress.getByName(literal);
            } catch (java.net.UnknownHostException e) {
                throw new IllegalArgumentException(e);
            }
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

    /** {@code addresses}: one address, or "IPv4,IPv6" for a dual-stack pod. */
    Pod addPod(String addresses) {
        String[] given = addresses.split(",");
        String address = given[0];
        String address6 = given.length > 1 ? given[1] : null;
        int n = pods.size() + 1;
        TestNetns ns = TestNetns.create(linkPrefix + "p" + n);
        String host = linkPrefix + "-h" + n;
        node.ip("link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", ns.name());
        MacAddress hostMac = new MacAddress(node.mac(host));
        MacAddress podMac = new MacAddress(ns.mac("eth0"));

        ns.ip("link", "set", "eth0", "up");
        node.ip("link", "set", host, "up");
        for (String a : given) {
            if (a.contains(":")) {
                plumbIpv6(ns, host, a, podMac, hostMac);
            } else {
                ns.ip("addr", "add", a + "/32", "dev", "eth0");
                ns.ip("route", "add", GATEWAY, "dev", "eth0", "scope", "link");
                ns.ip("route", "add", "default", "via", GATEWAY, "dev", "eth0");
                ns.ip("neigh", "add", GATEWAY, "lladdr", hostMac.toString(), "dev", "eth0", "nud", "permanent");
                node.ip("route", "add", a + "/32", "dev", host, "scope", "link");
                node.ip("neigh", "add", a, "lladdr", podMac.toString(), "dev", host, "nud", "permanent");
            }
        }

        Pod pod = new Pod(ns, address, address6, host, node.ifindex(host), podMac, hostMac, 100 + n);
        pods.add(pod);
        return pod;
    }

    /**
     * The pod's /128 (no duplicate address detection: usable at once), its default
     * route via fe80::1 with a permanent neighbour, and the host side's /128 route
     * and neighbour. The host veth alone forwards IPv6 (net.ipv6.conf.HOST.forwarding):
     * bpf_fib_lookup refuses to route what comes in on a device that does not
     * (FWD_DISABLED), while the stack's ip6_forward reads only
     * net.ipv6.conf.all.forwarding, which stays 0, so the stack still cannot
     * carry pod traffic. The other devices keep forwarding off, which for IPv6
     * also makes them hosts that would take router advertisements; nobody sends
     * any on these links.
     */
    private void plumbIpv6(TestNetns ns, String host, String address6, MacAddress podMac, MacAddress hostMac) {
        ns.ip("-6", "addr", "add", address6 + "/128", "dev", "eth0", "nodad");
        ns.ip("-6", "neigh", "add", GATEWAY6, "lladdr", hostMac.toString(), "dev", "eth0", "nud", "permanent");
        ns.ip("-6", "route", "add", "default", "via", GATEWAY6, "dev", "eth0");
        node.ip("-6", "route", "add", address6 + "/128", "dev", host);
        node.ip("-6", "neigh", "add", address6, "lladdr", podMac.toString(), "dev", host, "nud", "permanent");
        node.sysctl("net.ipv6.conf." + host + ".forwarding", "1");
    }

    @Override
    public void close() {
        for (Pod pod : pods) {
            pod.ns().close();
        }
        node.close();
    }
}
