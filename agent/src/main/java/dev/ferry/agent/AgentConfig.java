package dev.ferry.agent;

import dev.ferry.capture.MirrorConfig;

import dev.ferry.datapath.AttachModes;
import dev.ferry.masquerade.MasqueradeFamilies;
import dev.ferry.egress.EgressRoute;
import dev.ferry.net.IpPrefix;
import dev.ferry.routes.Peer;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * The agent's configuration, checked and with every default filled in (see
 * {@link AgentConfigLoader} for the file and the defaults).
 *
 * @param podCidrs     the node's pod CIDRs (standalone mode): one, or an IPv4 and an IPv6 one (dual stack)
 * @param clusterCidrs the pod addresses that may leave through bpf_redirect_neigh
 * @param uplinks      the devices to_pod is attached to; empty for the device of the default route
 * @param metricsAddress where /metrics, /healthz and /readyz are served (port 0: any free port)
 * @param metricsPerPod  per-pod series (labelled with the pod's namespace and name) on /metrics
 * @param attach       how to_pod is hooked to the uplinks and from_pod to the pod veths
 * @param kubernetes   kubernetes mode's settings; ignored in standalone mode
 * @param masquerade   per family: SNAT pod traffic to outside the cluster CIDRs to the node's address of that family
 *                     (tables ip ferry and ip6 ferry)
 * @param logLevels    the level of each logger (package) to set at start
 * @param egressRoutes standalone mode's egress routes, oldest first
 * @param mirrors      persistent mirrors: pods whose packets are copied to an analyzer's device
 * @param cniVersion   the {@code cniVersion} of the conflist the agent writes: what the node's runtime reads
 *                     (docs/install.md has the runtime matrix)
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
        AttachModes attach,
        Kubernetes kubernetes,
        MasqueradeFamilies masquerade,
        LogLevels logLevels,
        String cniVersion,
        boolean metricsPerPod,
        List<EgressRoute> egressRoutes,
        List<MirrorConfig> mirrors) {

    /** Where ferry-cni spools DELs while the agent is down: its default, /var/lib/ferry/cni-spool, for the default stateDir. */
    public static final String SPOOL_DIR_NAME = "cni-spool";
    /**
     * The conflist's default version: 1.0.0 is the newest that containerd 1.6 and
     * 1.7 and CRI-O before 1.31 read; they tear down a sandbox whose ADD answered
     * a 1.1.0 result ("unsupported CNI result version").
     */
    public static final String DEFAULT_CNI_VERSION = "1.0.0";

    public enum Mode {
        STANDALONE,
        KUBERNETES;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * Kubernetes mode: where the API server is and how long an endpoint whose pod is gone waits for its DEL.
     *
     * @param kubeconfig            a kubeconfig file; null for $KUBECONFIG, ~/.kube/config or the in-cluster config
     * @param endpointGcGracePeriod how long an endpoint without a pod waits for the runtime's DEL before it is collected
     */
    public record Kubernetes(Path kubeconfig, Duration endpointGcGracePeriod) {
        public static final Kubernetes DEFAULTS = new Kubernetes(null, Duration.ofSeconds(60));
    }

    /** The same agent with these persistent mirrors. */
    public AgentConfig withMirrors(List<MirrorConfig> mirrors) {
        return new AgentConfig(nodeName, mode, podCidrs, clusterCidrs, uplinks, peers, socket, stateDir, bpffsRoot, cniConfDir,
                metricsAddress, attach, kubernetes, masquerade, logLevels, cniVersion, metricsPerPod, egressRoutes, mirrors);
    }

    public AgentConfig {
        mirrors = List.copyOf(mirrors);
        podCidrs = List.copyOf(podCidrs);
        clusterCidrs = List.copyOf(clusterCidrs);
        uplinks = List.copyOf(uplinks);
        peers = List.copyOf(peers);
        egressRoutes = List.copyOf(egressRoutes);
    }

    /** The CIDR this node's IPAM hands out, in standalone mode (kubernetes mode reads the Node). */
    public IpPrefix podCidr() {
        return podCidrs.getFirst();
    }

    /** The DEL spool the agent drains at start; a conflist's {@code spoolDir} must name the same directory. */
    public Path spoolDir() {
        return stateDir.resolve(SPOOL_DIR_NAME);
    }
}
