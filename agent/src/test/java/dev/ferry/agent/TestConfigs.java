package dev.ferry.agent;

import dev.ferry.agent.AgentConfig.Kubernetes;
import dev.ferry.agent.AgentConfig.Mode;
import dev.ferry.datapath.AttachMode;
import dev.ferry.datapath.AttachModes;
import dev.ferry.masquerade.MasqueradeFamilies;
import dev.ferry.net.IpPrefix;
import dev.ferry.routes.Peer;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Agent configurations as tests write them: what the test is about, and the
 * loader's defaults for the rest (pods on tc, masquerade on, Ferry's loggers at
 * info, the default conflist version and GC grace).
 */
final class TestConfigs {
    private TestConfigs() {}

    static AgentConfig of(String nodeName, Mode mode, List<IpPrefix> podCidrs, List<IpPrefix> clusterCidrs,
                          List<String> uplinks, List<Peer> peers, Path socket, Path stateDir, Path bpffsRoot,
                          Path cniConfDir, InetSocketAddress metricsAddress, AttachMode attach) {
        return of(nodeName, mode, podCidrs, clusterCidrs, uplinks, peers, socket, stateDir, bpffsRoot, cniConfDir,
                metricsAddress, attach, Kubernetes.DEFAULTS);
    }

    static AgentConfig of(String nodeName, Mode mode, List<IpPrefix> podCidrs, List<IpPrefix> clusterCidrs,
                          List<String> uplinks, List<Peer> peers, Path socket, Path stateDir, Path bpffsRoot,
                          Path cniConfDir, InetSocketAddress metricsAddress, AttachMode attach, Kubernetes kubernetes) {
        return new AgentConfig(nodeName, mode, podCidrs, clusterCidrs, uplinks, peers, socket, stateDir, bpffsRoot,
                cniConfDir, metricsAddress, new AttachModes(attach, AttachModes.DEFAULT_PODS), kubernetes, MasqueradeFamilies.ALL,
                new LogLevels(Map.of(LogLevels.FERRY, "info")), AgentConfig.DEFAULT_CNI_VERSION, true, List.of(), List.of());
    }

    static AgentConfig withMasquerade(AgentConfig c, boolean on) {
        return withMasquerade(c, on ? MasqueradeFamilies.ALL : MasqueradeFamilies.NONE);
    }

    static AgentConfig withMasquerade(AgentConfig c, MasqueradeFamilies families) {
        return new AgentConfig(c.nodeName(), c.mode(), c.podCidrs(), c.clusterCidrs(), c.uplinks(), c.peers(), c.socket(),
                c.stateDir(), c.bpffsRoot(), c.cniConfDir(), c.metricsAddress(), c.attach(), c.kubernetes(), families,
                c.logLevels(), c.cniVersion(), c.metricsPerPod(), c.egressRoutes(), c.mirrors());
    }

    static AgentConfig withEgressRoutes(AgentConfig c, List<dev.ferry.egress.EgressRoute> routes) {
        return new AgentConfig(c.nodeName(), c.mode(), c.podCidrs(), c.clusterCidrs(), c.uplinks(), c.peers(), c.socket(),
                c.stateDir(), c.bpffsRoot(), c.cniConfDir(), c.metricsAddress(), c.attach(), c.kubernetes(), c.masquerade(),
                c.logLevels(), c.cniVersion(), c.metricsPerPod(), routes, c.mirrors());
    }

    static AgentConfig withCniVersion(AgentConfig c, String version) {
        return new AgentConfig(c.nodeName(), c.mode(), c.podCidrs(), c.clusterCidrs(), c.uplinks(), c.peers(), c.socket(),
                c.stateDir(), c.bpffsRoot(), c.cniConfDir(), c.metricsAddress(), c.attach(), c.kubernetes(), c.masquerade(),
                c.logLevels(), version, c.metricsPerPod(), c.egressRoutes(), c.mirrors());
    }
}
