package dev.ferry.endpoint;

import dev.ferry.netns.NetNamespace;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileSystemException;
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
 *
 * <p>In a container /proc/sys is read-only (containerd and CRI-O mount it so for every
 * unprivileged container, the DaemonSet's agent too), and a netlink devconf write is
 * refused for IPv6, so the agent cannot set it there: it checks, and when the value is
 * 0 fails naming the sysctl and what to do (set it on the node). Where /proc/sys is
 * writable (standalone, on the host) it sets it. Nothing privileged is added to the
 * DaemonSet to write it: on a cluster without IPv6 pods it would turn every interface
 * into an IPv6 router and stop router advertisements from configuring the uplink.
 */
final class NodeIpv6Forwarding {
    private static final Logger log = LoggerFactory.getLogger(NodeIpv6Forwarding.class);
    static final Path SYSCTL = Path.of("/proc/sys/net/ipv6/conf/all/forwarding");

    private NodeIpv6Forwarding() {}

    static final String NAME = "net.ipv6.conf.all.forwarding";

    /**
     * Sets it to 1 in {@code node} unless it is; fails with a one-line reason when IPv6 is off in the
     * kernel or the sysctl is 0 and cannot be written here.
     */
    static void enable(NetNamespace node) {
        enable(node, SYSCTL);
    }

    /** @param sysctl the file (tests point it at one on a read-only mount) */
    static void enable(NetNamespace node, Path sysctl) {
        // /proc/sys/net is the namespace of the thread that opens it: run on one inside the node's.
        node.run(() -> {
            String was;
            try {
                was = Files.readString(sysctl).strip();
            } catch (NoSuchFileException e) {
                throw new IllegalStateException("the node has an IPv6 pod CIDR but IPv6 is disabled in the kernel ("
                        + sysctl + " does not exist)", e);
            } catch (IOException e) {
                throw new UncheckedIOException("failed to read " + NAME + " (" + sysctl + "): " + e, e);
            }
            if (was.equals("1")) {
                return null;
            }
            try {
                Files.writeString(sysctl, "1\n");
                log.info("event=ipv6_forwarding_enabled sysctl={} was={}", NAME, was);
                return null;
            } catch (FileSystemException e) {
                // EROFS (a container's read-only /proc/sys) or EACCES/EPERM: the node's owner has to set it.
                throw new IllegalStateException(NAME + " is " + was + " and the agent cannot set it ("
                        + (e.getReason() == null ? e.getClass().getSimpleName() : e.getReason())
                        + "; in a container /proc/sys is read-only): the node has an IPv6 pod CIDR, whose pods need it; "
                        + "set it on the node (sysctl -w " + NAME + "=1, and a file in /etc/sysctl.d to keep it), "
                        + "see docs/configuration.md", e);
            } catch (IOException e) {
                throw new UncheckedIOException("failed to set " + NAME + " to 1: " + e, e);
            }
        });
    }
}
