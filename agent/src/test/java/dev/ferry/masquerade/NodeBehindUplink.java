package dev.ferry.masquerade;

import dev.ferry.net.IpText;
import dev.ferry.testing.TestNetns;
import dev.ferry.testing.Traffic;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A node namespace with pods plumbed Calico-style (pod /32, link-local gateway with a
 * permanent neighbour, host /32 route) and an uplink to an "outside" namespace, made
 * with ip(8) for the test. The node forwards with the kernel (no BPF here: masquerade
 * is about what the stack carries). The outside has no route back to this node's
 * pod CIDR, so it can answer a pod only when the pod's address was translated. It also
 * plays another node: {@link #OTHER_NODE_POD} (on its loopback, inside the cluster CIDR)
 * is routed from this node, and answers this node's pods by their own addresses.
 */
public final class NodeBehindUplink implements AutoCloseable {
    static final String POD_CIDR = "10.251.0.0/24";
    static final String CLUSTER_CIDR = "10.251.0.0/16";
    static final String NODE_UPLINK = "198.51.100.1";
    static final String OUTSIDE = "198.51.100.2";
    static final String OTHER_NODE_POD = "10.251.1.1";
    static final String POD_CIDR6 = "fd00:f17:a0::/64";
    static final String CLUSTER_CIDR6 = "fd00:f17:a0::/48";
    static final String NODE_UPLINK6 = "2001:db8:f17:a::1";
    static final String OUTSIDE6 = "2001:db8:f17:a::2";
    static final String OTHER_NODE_POD6 = "fd00:f17:a0:1::1";
    private static final String GATEWAY = "169.254.1.1";
    private static final String GATEWAY6 = "fe80::1";

    final TestNetns node;
    final TestNetns outside;
    final List<TestNetns> pods = new ArrayList<>();

    private NodeBehindUplink(TestNetns node, TestNetns outside) {
        this.node = node;
        this.outside = outside;
    }

    static NodeBehindUplink create() {
        TestNetns node = TestNetns.create("msqn");
        TestNetns outside;
        try {
            outside = TestNetns.create("msqo");
        } catch (RuntimeException e) {
            node.close();
            throw e;
        }
        NodeBehindUplink n = new NodeBehindUplink(node, outside);
        try {
            node.sysctl("net.ipv4.ip_forward", "1");
            node.ip("link", "add", "uplink0", "type", "veth", "peer", "name", "eth0", "netns", outside.name());
            node.ip("addr", "add", NODE_UPLINK + "/24", "dev", "uplink0");
            node.ip("link", "set", "uplink0", "up");
            outside.ip("addr", "add", OUTSIDE + "/24", "dev", "eth0");
            outside.ip("link", "set", "eth0", "up");
            outside.ip("addr", "add", OTHER_NODE_POD + "/32", "dev", "lo");
            node.ip("route", "add", "10.251.1.0/24", "via", OUTSIDE);
            // Only the other node's pod routes back to this node's pods (a policy route from its
            // address); the outside address itself has no route to the pod CIDR.
            outside.ip("route", "add", POD_CIDR, "via", NODE_UPLINK, "table", "100");
            outside.ip("rule", "add", "from", OTHER_NODE_POD, "lookup", "100");
            // The same for IPv6 (nodad: a tentative address cannot be a source yet).
            node.sysctl("net.ipv6.conf.all.forwarding", "1");
            node.ip("-6", "addr", "add", NODE_UPLINK6 + "/64", "dev", "uplink0", "nodad");
            outside.ip("-6", "addr", "add", OUTSIDE6 + "/64", "dev", "eth0", "nodad");
            outside.ip("-6", "addr", "add", OTHER_NODE_POD6 + "/128", "dev", "lo");
            node.ip("-6", "route", "add", "fd00:f17:a0:1::/64", "via", OUTSIDE6);
            outside.ip("-6", "route", "add", POD_CIDR6, "via", NODE_UPLINK6, "table", "100");
            outside.ip("-6", "rule", "add", "from", OTHER_NODE_POD6, "lookup", "100");
            return n;
        } catch (RuntimeException e) {
            n.close();
            throw e;
        }
    }

    /**
     * A pod at {@code address} (inside {@link #POD_CIDR}, or {@link #POD_CIDR6}: then its /128,
     * a default route via fe80::1 with a permanent neighbour, as Ferry plumbs IPv6); its host side
     * is named like Ferry's (fer...).
     */
    Traffic.End addPod(String address) {
        int n = pods.size() + 1;
        TestNetns ns = TestNetns.create("msqp" + n);
        pods.add(ns);
        String host = "fermsq" + n;
        node.ip("link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", ns.name());
        String hostMac = macOf(node, host);
        String podMac = macOf(ns, "eth0");
        if (address.contains(":")) {
            ns.ip("-6", "addr", "add", address + "/128", "dev", "eth0", "nodad");
            ns.ip("link", "set", "eth0", "up");
            ns.ip("-6", "route", "add", "default", "via", GATEWAY6, "dev", "eth0");
            ns.ip("-6", "neigh", "add", GATEWAY6, "lladdr", hostMac, "dev", "eth0", "nud", "permanent");
            node.ip("link", "set", host, "up");
            node.ip("-6", "route", "add", address + "/128", "dev", host);
            node.ip("-6", "neigh", "add", address, "lladdr", podMac, "dev", host, "nud", "permanent");
            return new Traffic.End(ns, InetAddress.ofLiteral(address));
        }
        ns.ip("addr", "add", address + "/32", "dev", "eth0");
        ns.ip("link", "set", "eth0", "up");
        ns.ip("route", "add", GATEWAY, "dev", "eth0", "scope", "link");
        ns.ip("route", "add", "default", "via", GATEWAY, "dev", "eth0");
        ns.ip("neigh", "add", GATEWAY, "lladdr", hostMac, "dev", "eth0", "nud", "permanent");
        node.ip("link", "set", host, "up");
        node.ip("route", "add", address + "/32", "dev", host, "scope", "link");
        node.ip("neigh", "add", address, "lladdr", podMac, "dev", host, "nud", "permanent");
        return new Traffic.End(ns, InetAddress.ofLiteral(address));
    }

    static Traffic.End end(TestNetns ns, String address) {
        return new Traffic.End(ns, InetAddress.ofLiteral(address));
    }

    private static String macOf(TestNetns ns, String link) {
        return ns.ip("-o", "link", "show", "dev", link).replaceAll("(?s).*link/ether ([0-9a-f:]{17}).*", "$1").trim();
    }

    /**
     * One UDP datagram from {@code from} to {@code to}, echoed back: returns the source
     * address the receiver saw, or fails when no echo came back (the receiver could not
     * route its answer to the source it saw).
     */
    public static String sourceSeenBy(Traffic.End from, Traffic.End to, int port) throws Exception {
        DatagramSocket server = to.ns().handle().call(() -> new DatagramSocket(new InetSocketAddress(to.inet(), port)));
        DatagramSocket client = from.ns().handle().call(() -> new DatagramSocket(new InetSocketAddress(from.inet(), 0)));
        try (server; client) {
            server.setSoTimeout(Traffic.TIMEOUT_MS);
            client.setSoTimeout(2000);
            CompletableFuture<String> seen = CompletableFuture.supplyAsync(() -> {
                try {
                    DatagramPacket p = new DatagramPacket(new byte[64], 64);
                    server.receive(p);
                    try {
                        server.send(new DatagramPacket(p.getData(), p.getLength(), p.getSocketAddress()));
                    } catch (IOException noRouteBack) {
                        // the sender then times out, with the source this side saw in its message
                    }
                    return IpText.format(p.getAddress());
                } catch (IOException e) {
                    throw new IllegalStateException("the receiver got nothing: " + e, e);
                }
            });
            byte[] msg = "masquerade?".getBytes(StandardCharsets.UTF_8);
            client.send(new DatagramPacket(msg, msg.length, new InetSocketAddress(to.inet(), port)));
            String source = seen.get(Traffic.TIMEOUT_MS, TimeUnit.MILLISECONDS);
            try {
                client.receive(new DatagramPacket(new byte[64], 64));
            } catch (SocketTimeoutException e) {
                throw new AssertionError("the receiver saw source " + source + " but its answer never came back to "
                        + from.address(), e);
            }
            return source;
        }
    }

    @Override
    public void close() {
        for (TestNetns pod : pods) {
            pod.close();
        }
        outside.close();
        node.close();
    }
}
