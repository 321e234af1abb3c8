package dev.ferry.agent;

import dev.ferry.datapath.AttachMode;
import dev.ferry.net.IpPrefix;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The agent's configuration, checked and with every default filled in (see
 * {@link AgentConfigLoader} for the file and the defaults).
 *
 * @param podCidrs     the node's pod CIDRs; one IPv4 CIDR for now
 * @param clusterCidrs the pod addresses that may leave through bpf_redirect_neigh
 * @param uplinks      the devices to_pod is attached to; empty for the device of the default route
 * @param metricsAddress where metrics will be served; checked, not served yet
 */
public record AgentConfig(
        String nodeName,
        Mode mode,
        List<IpPrefix> podCidrs,
        List<IpPrefix> clusterCidrs,
        List<String> uplinks,
        List<Peer> peers,
        Path socket,
        Path stateDir,
        Path bpffsRoot,
        Path cniConfDir,
        InetSocketAddress metricsAddress,
        AttachMode attach) {

    /** Where ferry-cni spools DELs while the agent is down: its default, /var/lib/ferry/cni-spool, for the default stateDir. */
    public static final String SPOOL_DIR_NAME = "cni-spool";

    public enum Mode {
        STANDALONE,
        KUBERNETES;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Another node in standalone mode: its pod CIDRs are routed via its address. */
    public record Peer(String name, List<IpPrefix> podCidrs, InetAddress address) {
        public Peer {
            podCidrs = List.copyOf(podCidrs);
        }
    }

    public AgentConfig {
        podCidrs = List.copyOf(podCidrs);
        clusterCidrs = List.copyOf(clusterCidrs);
        uplinks = List.copyOf(uplinks);
        peers = List.copyOf(peers);
    }

    /** {@code tcx} or {@code tc}, as the configuration spells it. */
    public String attachLabel() {
        return attach.name().toLowerCase(Locale.ROOT);
    }

    /** The CIDR this node's IPAM hands out. */
    public IpPrefix podCidr() {
        return podCidrs.getFirst();
    }

    /** The DEL spool the agent drains at start; a conflist's {@code spoolDir} must name the same directory. */
    public Path spoolDir() {
        return stateDir.resolve(SPOOL_DIR_NAME);
    }
}
