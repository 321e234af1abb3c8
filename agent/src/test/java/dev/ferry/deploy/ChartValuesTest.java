package dev.ferry.deploy;

import com.marcnuri.helm.LintResult;
import dev.ferry.agent.AgentConfig;
import dev.ferry.datapath.AttachMode;
import dev.ferry.datapath.AttachModes;
import dev.ferry.masquerade.MasqueradeFamilies;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChartValuesTest {
    @Test
    void helmLintStrictIsClean() {
        LintResult lint = Chart.lintStrict();
        assertFalse(lint.isFailed(), lint.getMessages().toString());
        assertTrue(lint.getMessages().stream().noneMatch(m -> m.contains("[WARNING]") || m.contains("[ERROR]")),
                lint.getMessages().toString());
    }

    @Test
    void aPlainMasqueradeFlagSetsBothFamilies(@TempDir Path dir) {
        ConfigMap off = Manifests.only(Chart.render("masquerade: false\n"), ConfigMap.class);
        assertEquals(MasqueradeFamilies.NONE, AgentFiles.load(off, dir).masquerade());
        ConfigMap on = Manifests.only(Chart.render("masquerade: true\n"), ConfigMap.class);
        assertEquals(MasqueradeFamilies.ALL, AgentFiles.load(on, dir).masquerade());
    }

    @Test
    void nonDefaultValuesReachTheAgentConfigTheMountsAndThePorts(@TempDir Path dir) {
        List<HasMetadata> objects = Chart.render("""
                attach: tc
                podAttach: tcx
                uplinks: [eth1, bond0]
                clusterCIDRs: [10.32.0.0/12, "fd00:10::/56"]
                metricsPort: 9100
                masquerade: {ipv6: false}
                cniVersion: 1.1.0
                logLevel: debug
                logLevels: {dev.ferry.cni: trace}
                hostPaths:
                  runDir: /var/run/ferry-x
                  stateDir: /data/ferry
                  cniConfDir: /etc/kubernetes/cni/net.d
                  cniBinDir: /usr/libexec/cni
                  bpffs: /sys/fs/bpf
                image: {repository: registry.example/ferry, tag: 1.2.3, pullPolicy: Always}
                """);

        ConfigMap cm = Manifests.only(objects, ConfigMap.class);
        AgentConfig config = AgentFiles.load(cm, dir);
        assertEquals(new AttachModes(AttachMode.TC, AttachMode.TCX), config.attach());
        assertEquals(List.of("eth1", "bond0"), config.uplinks());
        assertEquals("[10.32.0.0/12, fd00:10::/56]", config.clusterCidrs().toString());
        assertEquals(9100, config.metricsAddress().getPort());
        assertEquals(new MasqueradeFamilies(true, false), config.masquerade(), "ipv4 keeps the chart's default");
        assertEquals("1.1.0", config.cniVersion());
        assertTrue(cm.getData().get(AgentFiles.CONFLIST).contains("\"cniVersion\": \"1.1.0\""), "the reference conflist follows");
        assertEquals(Path.of("/var/run/ferry-x/ferry.sock"), config.socket());
        assertEquals(Path.of("/data/ferry"), config.stateDir());
        assertEquals(Path.of("/etc/kubernetes/cni/net.d"), config.cniConfDir());
        assertTrue(cm.getData().get(AgentFiles.AGENT_YAML).contains("logLevel: debug\n"));
        assertTrue(cm.getData().get(AgentFiles.AGENT_YAML).contains("logLevels: {\"dev.ferry.cni\":\"trace\"}\n"));

        DaemonSet ds = Manifests.only(objects, DaemonSet.class);
        var pod = ds.getSpec().getTemplate().getSpec();
        Container agent = pod.getContainers().getFirst();
        assertEquals("registry.example/ferry:1.2.3", agent.getImage());
        assertEquals(9100, agent.getPorts().getFirst().getContainerPort());
        assertEquals(9100, agent.getReadinessProbe().getHttpGet().getPort().getIntVal());
        assertEquals("9100", ds.getSpec().getTemplate().getMetadata().getAnnotations().get("prometheus.io/port"));
        Map<String, String> hostPaths = new LinkedHashMap<>();
        for (Volume v : pod.getVolumes()) {
            if (v.getHostPath() != null) {
                hostPaths.put(v.getName(), v.getHostPath().getPath());
            }
        }
        assertEquals("/var/run/ferry-x", hostPaths.get("run"));
        assertEquals("/data/ferry", hostPaths.get("state"));
        assertEquals("/etc/kubernetes/cni/net.d", hostPaths.get("cni-conf"));
        assertEquals("/usr/libexec/cni", hostPaths.get("cni-bin"));
        assertTrue(agent.getVolumeMounts().stream().anyMatch(m -> m.getName().equals("run") && m.getMountPath().equals("/var/run/ferry-x")));
    }

    @Test
    void metricsBindNodeBindsTheMetricsPortToTheNodesAddressOnly() {
        List<HasMetadata> objects = Chart.render("metrics: {bind: node}\nmetricsPort: 9100\n");

        String agentYaml = Manifests.only(objects, ConfigMap.class).getData().get(AgentFiles.AGENT_YAML);
        assertTrue(agentYaml.contains("metricsAddress: '${HOST_IP}:9100'\n"), agentYaml);
        Container agent = Manifests.only(objects, DaemonSet.class).getSpec().getTemplate().getSpec().getContainers().getFirst();
        var hostIp = agent.getEnv().stream().filter(e -> e.getName().equals("HOST_IP")).findFirst().orElseThrow();
        assertEquals("status.hostIP", hostIp.getValueFrom().getFieldRef().getFieldPath(), "the downward API's node address");
    }

    @Test
    void metricsBindAllByDefaultAndPerPodCanBeTurnedOff(@TempDir Path dir) {
        List<HasMetadata> objects = Chart.render("metrics: {perPod: false}\n");

        AgentConfig config = AgentFiles.load(Manifests.only(objects, ConfigMap.class), dir);
        assertFalse(config.metricsPerPod());
        assertEquals("0.0.0.0", config.metricsAddress().getAddress().getHostAddress(), "every address of the node");
        Container agent = Manifests.only(objects, DaemonSet.class).getSpec().getTemplate().getSpec().getContainers().getFirst();
        assertTrue(agent.getEnv().stream().noneMatch(e -> e.getName().equals("HOST_IP")));
    }

    @ParameterizedTest(name = "{0} is refused naming {1}")
    @CsvSource(delimiter = '|', value = {
            "podAttach: fast                      | podAttach",
            "attach: foo                          | attach",
            "metricsPort: 70000                   | metricsPort",
            "metricsPort: 0                       | metricsPort",
            "clusterCIDRs: [10.0.0.0/33]          | clusterCIDRs",
            "clusterCIDRs: [10.0.0/8]             | clusterCIDRs",
            "clusterCIDRs: [10.0.0.0]             | clusterCIDRs",
            "logLevel: verbose                    | logLevel",
            "logLevels: {dev.ferry: loud}         | logLevels",
            "image: {pullPolicy: Sometimes}       | pullPolicy",
            "hostPaths: {stateDir: relative/dir}  | stateDir",
            "uplinks: [averyveryverylongname]     | uplinks",
            "atach: tc                            | atach",
            "cniVersion: 0.2.0                    | cniVersion",
            "cniVersion: 1.2.0                    | cniVersion",
            "cniVersion: 1.0                      | cniVersion",
            "metrics: {bind: pods}                | bind",
            "metrics: {perPod: sometimes}         | perPod",
            "masquerade: {ipv6: no-nat}           | masquerade",
            "masquerade: {inet6: false}           | masquerade",
            "masquerade: sometimes                | masquerade",
    })
    void aBadValueIsRefusedByTheSchemaNamingTheField(String valuesYaml, String named) {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Chart.template(valuesYaml));
        assertTrue(e.getMessage().contains("values don't meet the specifications of the schema"), e.getMessage());
        assertTrue(e.getMessage().contains(named), e.getMessage());
    }
}
