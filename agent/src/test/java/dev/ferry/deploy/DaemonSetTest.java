package dev.ferry.deploy;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** deploy/daemonset.yaml (the chart renders the same object: ChartMatchesManifestsTest). */
class DaemonSetTest {
    private static final DaemonSet DS = Manifests.only(PlainManifests.applied(), DaemonSet.class);
    private static final PodSpec POD = DS.getSpec().getTemplate().getSpec();

    private static Container agent() {
        assertEquals(1, POD.getContainers().size());
        return POD.getContainers().getFirst();
    }

    private static Container init(String name) {
        return POD.getInitContainers().stream().filter(c -> c.getName().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void runsInKubeSystemOnTheHostNetworkAsNodeCritical() {
        assertEquals("kube-system", DS.getMetadata().getNamespace());
        assertEquals(Boolean.TRUE, POD.getHostNetwork());
        assertEquals("ClusterFirstWithHostNet", POD.getDnsPolicy());
        assertEquals("system-node-critical", POD.getPriorityClassName());
        assertEquals("ferry", POD.getServiceAccountName());
    }

    /**
     * A runtime may name a pod's namespace /proc/PID/ns/net (cri-dockerd does)
     * and the agent opens the path as given: in a PID namespace of its own the
     * container's /proc would not have that PID, or another process under it.
     */
    @Test
    void sharesTheHostPidNamespaceSoThatProcPidNsNetPathsResolve() {
        assertEquals(Boolean.TRUE, POD.getHostPID());
    }

    @Test
    void toleratesEveryTaint() {
        List<Toleration> t = POD.getTolerations();
        assertEquals(1, t.size());
        assertEquals("Exists", t.getFirst().getOperator());
        assertNull(t.getFirst().getKey());
        assertNull(t.getFirst().getEffect());
    }

    @Test
    void takesTheNodeNameFromTheDownwardApi() {
        var env = agent().getEnv().stream().filter(e -> e.getName().equals("NODE_NAME")).findFirst().orElseThrow();
        assertEquals("spec.nodeName", env.getValueFrom().getFieldRef().getFieldPath());
    }

    /**
     * The agent sets per-device sysctls (forwarding on the uplinks and the pods'
     * host veths) through rtnetlink, so the container's read-only /proc/sys is
     * fine and no procfs of the host is mounted, writable or not.
     */
    @Test
    void mountsNoProcfsOfTheHostBecauseSysctlsGoThroughRtnetlink() {
        for (Volume v : POD.getVolumes()) {
            if (v.getHostPath() != null) {
                String path = v.getHostPath().getPath();
                assertFalse(path.equals("/proc") || path.startsWith("/proc/"), "volume " + v.getName() + " mounts " + path);
            }
        }
        assertTrue(agent().getVolumeMounts().stream().noneMatch(m -> m.getMountPath().startsWith("/host/proc")));
        assertTrue(agent().getEnv().stream().noneMatch(e -> e.getName().equals("FERRY_PROCFS")));
    }

    @Test
    void startsTheAgentLauncherWithTheConfigMapsConfig() {
        assertEquals(List.of("/opt/ferry/bin/ferry-agent", "--config", "/etc/ferry/agent.yaml"), agent().getCommand());
        VolumeMount config = mount(agent(), "config");
        assertEquals("/etc/ferry", config.getMountPath());
        assertEquals("ferry-config", volume("config").getConfigMap().getName());
    }

    /**
     * Every host directory the agent mounts, each at the same path as on the
     * host (ferry-cni, run by the runtime on the host, reads the paths in the
     * conflist), and nothing else of the host's file system.
     */
    @Test
    void mountsExactlyTheHostDirectoriesItNeedsAtTheirOwnPaths() {
        // volume -> host path, mount path, propagation ("-": none)
        Map<String, List<String>> expected = new TreeMap<>(Map.of(
                // the conflist, written once the agent is ready: the runtime on the host reads it
                "cni-conf", List.of("/etc/cni/net.d", "/etc/cni/net.d", "-"),
                // endpoint and IPAM state, which must outlive the container: a new agent adopts the pods
                "state", List.of("/var/lib/ferry", "/var/lib/ferry", "-"),
                // the agent's socket and ferry-cni's DEL spool, at the paths the conflist names
                "run", List.of("/run/ferry", "/run/ferry", "-"),
                // pins that keep the datapath forwarding while the agent restarts; HostToContainer sees
                // a bpffs that the init container mounted on the host after the start
                "bpffs", List.of("/sys/fs/bpf", "/sys/fs/bpf", "HostToContainer"),
                // named pod namespaces (CNI_NETNS=/run/netns/cni-...) the runtime creates after the
                // agent started, under either spelling a runtime uses
                "run-netns", List.of("/run/netns", "/run/netns", "HostToContainer"),
                "var-run-netns", List.of("/var/run/netns", "/var/run/netns", "HostToContainer")));
        Map<String, List<String>> actual = new TreeMap<>();
        for (VolumeMount m : agent().getVolumeMounts()) {
            Volume v = volume(m.getName());
            if (v.getHostPath() != null) {
                actual.put(m.getName(), List.of(v.getHostPath().getPath(), m.getMountPath(),
                        m.getMountPropagation() == null ? "-" : m.getMountPropagation()));
            }
        }
        assertEquals(expected, actual);
    }

    @Test
    void mountsBpffsOnTheHostFromAPrivilegedInitContainerWithBidirectionalPropagation() {
        Container c = init("mount-bpf-fs");
        VolumeMount m = mount(c, "bpffs");
        assertEquals("/sys/fs/bpf", m.getMountPath());
        assertEquals("Bidirectional", m.getMountPropagation());
        // the API server allows Bidirectional only in a privileged container
        assertEquals(Boolean.TRUE, c.getSecurityContext().getPrivileged());
        assertTrue(c.getCommand().getLast().contains("mount -t bpf bpf /sys/fs/bpf"), c.getCommand().toString());
    }

    @Test
    void installsFerryCniIntoTheHostsCniBinDirectoryByRename() {
        Container c = init("install-cni");
        VolumeMount m = mount(c, "cni-bin");
        assertEquals("/opt/cni/bin", volume("cni-bin").getHostPath().getPath());
        String script = c.getCommand().getLast();
        assertTrue(script.contains("cp /opt/ferry/bin/ferry-cni " + m.getMountPath() + "/.ferry-cni.new"), script);
        assertTrue(script.contains("mv -f " + m.getMountPath() + "/.ferry-cni.new " + m.getMountPath() + "/ferry-cni"), script);
        assertEquals(Boolean.FALSE, c.getSecurityContext().getPrivileged());
        assertEquals(List.of("ALL"), c.getSecurityContext().getCapabilities().getDrop());
    }

    /**
     * LeastPrivilegeIT runs the real agent with exactly this set (it reads it from
     * this file) and shows what fails without each one; BPF, PERFMON and
     * SYS_RESOURCE are not needed (docs/security.md says why).
     */
    @Test
    void theAgentIsNotPrivilegedAndHasExactlyTheCapabilitiesItUses() {
        var sc = agent().getSecurityContext();
        assertEquals(Boolean.FALSE, sc.getPrivileged());
        assertEquals(List.of("ALL"), sc.getCapabilities().getDrop());
        assertEquals(List.of("NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE", "NET_RAW"), AgentCapabilities.ofPlainManifests());
    }

    @Test
    void theChartAddsTheSameCapabilitiesAsThePlainManifest() {
        assertEquals(AgentCapabilities.ofPlainManifests(), AgentCapabilities.of(Chart.renderDefaults()));
    }

    @Test
    void theAgentRunsUnderTheRuntimesDefaultSeccompProfileWithoutPrivilegeEscalation() {
        var sc = agent().getSecurityContext();
        assertEquals("RuntimeDefault", sc.getSeccompProfile().getType());
        assertEquals(Boolean.FALSE, sc.getAllowPrivilegeEscalation());
    }

    /** Netty unpacks its native epoll library into java.io.tmpdir at start; without a writable /tmp the agent stops. */
    @Test
    void theAgentsRootFilesystemIsReadOnlyWithAnEmptyDirForTmp() {
        assertEquals(Boolean.TRUE, agent().getSecurityContext().getReadOnlyRootFilesystem());
        assertNotNull(volume(mount(agent(), "tmp").getName()).getEmptyDir(), "/tmp is an emptyDir");
        assertEquals("/tmp", mount(agent(), "tmp").getMountPath());
    }

    @Test
    void theCniInstallerRunsReadOnlyUnderTheDefaultSeccompProfile() {
        var sc = init("install-cni").getSecurityContext();
        assertEquals(Boolean.TRUE, sc.getReadOnlyRootFilesystem());
        assertEquals(Boolean.FALSE, sc.getAllowPrivilegeEscalation());
        assertEquals("RuntimeDefault", sc.getSeccompProfile().getType());
    }

    @Test
    void onlyTheBpffsMountingInitContainerIsPrivileged() {
        Set<String> privileged = POD.getInitContainers().stream()
                .filter(c -> c.getSecurityContext() != null && Boolean.TRUE.equals(c.getSecurityContext().getPrivileged()))
                .map(Container::getName).collect(Collectors.toSet());
        assertEquals(Set.of("mount-bpf-fs"), privileged);
    }

    @Test
    void probesHealthzAndReadyzOnTheMetricsPort() {
        assertEquals("/healthz", agent().getLivenessProbe().getHttpGet().getPath());
        assertEquals(9962, agent().getLivenessProbe().getHttpGet().getPort().getIntVal());
        assertEquals("/readyz", agent().getReadinessProbe().getHttpGet().getPath());
        assertEquals(9962, agent().getReadinessProbe().getHttpGet().getPort().getIntVal());
    }

    @Test
    void exposesTheMetricsPortAndAnnotatesThePodForScraping() {
        var port = agent().getPorts().getFirst();
        assertEquals("metrics", port.getName());
        assertEquals(9962, port.getContainerPort());
        assertEquals(9962, port.getHostPort());
        assertEquals(Map.of("prometheus.io/scrape", "true", "prometheus.io/port", "9962", "prometheus.io/path", "/metrics"),
                DS.getSpec().getTemplate().getMetadata().getAnnotations());
    }

    @Test
    void requestsAndLimitsResources() {
        var r = agent().getResources();
        assertNotNull(r.getRequests().get("cpu"));
        assertNotNull(r.getRequests().get("memory"));
        assertNotNull(r.getLimits().get("memory"));
    }

    @Test
    void updatesOneNodeAtATime() {
        assertEquals("RollingUpdate", DS.getSpec().getUpdateStrategy().getType());
        assertEquals(1, DS.getSpec().getUpdateStrategy().getRollingUpdate().getMaxUnavailable().getIntVal());
    }

    private static VolumeMount mount(Container c, String name) {
        return c.getVolumeMounts().stream().filter(m -> m.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError(c.getName() + " has no mount " + name));
    }

    private static Volume volume(String name) {
        return POD.getVolumes().stream().filter(v -> v.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no volume " + name));
    }
}
