package dev.ferry.endpoint;

import dev.ferry.netns.NetNamespace;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * The node's IPv6 forwarding ({@code net.ipv6.conf.all.forwarding}), which pod
 * IPv6 needs: the BPF programs pass IPv6 to the stack, and the kernel's
 * ip6_forward drops everything while it is 0. IPv4 forwarding is set per
 * device through rtnetlink (the uplink, each host veth); IPv6 has no such
 * netlink setting (the kernel takes IFLA_INET6_CONF read-only) and its forward
 * path reads the "all" value, so the sysctl is written once, in the node's
 * namespace, through procfs.
 *
 * <p>Turning it on makes every interface of the node a router: one that got its
 * IPv6 address or default route from router advertisements stops accepting
 * them unless its accept_ra is 2. Nodes that use SLAAC on the uplink must set
 * that (docs/configuration.md says so); the agent leaves accept_ra alone.
 */
final class NodeIpv6Forwarding {
    private static final Logger log = LoggerFactory.getLogger(NodeIpv6Forwarding.class);
    static final Path SYSCTL = Path.of("/proc/sys/net/ipv6/conf/all/forwarding");

    private NodeIpv6Forwarding() {}

    /** Sets it to 1 in {@code node} unless it is; fails with a one-line reason when IPv6 is off in the kernel. */
    static void enable(NetNamespace node) {
        // /proc/sys/net is the namespace of the thread that opens it: run on one inside the node's.
        node.run(() -> {
            try {
                String was = Files.readString(SYSCTL).strip();
                if (!was.equals("1")) {
                    Files.writeString(SYSCTL, "1\n");
                    log.info("event=ipv6_forwarding_enabled sysctl=net.ipv6.conf.all.forwarding was={}", was);
                }
                return null;
            } catch (NoSuchFileException e) {
                throw new IllegalStateException("the node has an IPv6 pod CIDR but IPv6 is disabled in the kernel ("
                        + SYSCTL + " does not exist)", e);
            } catch (IOException e) {
                throw new UncheckedIOException("failed to set net.ipv6.conf.all.forwarding to 1: " + e, e);
            }
        });
    }
}
