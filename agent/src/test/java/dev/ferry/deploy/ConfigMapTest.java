package dev.ferry.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.agent.AgentConfig;
import dev.ferry.masquerade.MasqueradeFamilies;
import dev.ferry.agent.CniConfList;
import dev.ferry.cni.NetworkConfig;
import dev.ferry.datapath.AttachMode;
import dev.ferry.datapath.AttachModes;
import io.fabric8.kubernetes.api.model.ConfigMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ConfigMapTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ConfigMap CM = PlainManifests.applied().stream()
            .filter(o -> o instanceof ConfigMap && o.getMetadata().getName().equals("ferry-config"))
            .map(ConfigMap.class::cast).findFirst().orElseThrow();

    @Test
    void theAgentConfigLoadsWithTheAgentsLoaderInKubernetesMode(@TempDir Path dir) {
        AgentConfig c = AgentFiles.load(CM, dir);
        assertEquals(AgentConfig.Mode.KUBERNETES, c.mode());
        assertEquals(Path.of("/run/ferry/ferry.sock"), c.socket());
        assertEquals(Path.of("/var/lib/ferry"), c.stateDir());
        assertEquals(Path.of("/sys/fs/bpf/ferry"), c.bpffsRoot());
        assertEquals(Path.of("/etc/cni/net.d"), c.cniConfDir());
        assertEquals(9962, c.metricsAddress().getPort());
        assertEquals(new AttachModes(AttachMode.TCX, AttachMode.TC), c.attach());
        assertEquals(List.of(), c.clusterCidrs());
        assertEquals(MasqueradeFamilies.ALL, c.masquerade());
    }

    @Test
    void theAgentConfigNamesNoNodeSoThatNodeNameComesFromTheEnvironment() {
        String yaml = CM.getData().get(AgentFiles.AGENT_YAML);
        assertTrue(yaml.lines().noneMatch(l -> l.startsWith("nodeName:")), yaml);
        assertTrue(yaml.lines().anyMatch(l -> l.matches("logLevel: (trace|debug|info|warn|error)")), yaml);
    }

    @Test
    void theConflistIsAFerryCniNetworkConfigurationTheAgentAccepts() throws Exception {
        JsonNode list = JSON.readTree(CM.getData().get(AgentFiles.CONFLIST));
        assertEquals(1, list.path("plugins").size());
        // What a runtime hands the plugin: the plugin's object with the list's cniVersion and name (libcni).
        ObjectNode plugin = ((ObjectNode) list.path("plugins").get(0)).deepCopy();
        plugin.set("cniVersion", list.path("cniVersion"));
        plugin.set("name", list.path("name"));
        NetworkConfig config = NetworkConfig.parse(JSON.writeValueAsBytes(plugin));
        assertEquals(NetworkConfig.TYPE, config.type());
        assertEquals("ferry-cni", config.type());
        assertEquals("ferry", config.name());
    }

    @Test
    void theShippedConflistIsCniVersion100WhichEverySupportedRuntimeReads(@TempDir Path dir) throws Exception {
        assertEquals("1.0.0", AgentFiles.load(CM, dir).cniVersion());
        assertEquals("1.0.0", JSON.readTree(CM.getData().get(AgentFiles.CONFLIST)).path("cniVersion").asText());
    }

    @Test
    void theConflistIsWhatTheAgentWritesForTheConfiguredSocketAndSpool(@TempDir Path dir) throws Exception {
        AgentConfig c = AgentFiles.load(CM, dir);
        JsonNode written = JSON.readTree(CniConfList.render(c.cniVersion(), c.socket(), c.spoolDir()).getBytes(StandardCharsets.UTF_8));
        assertEquals(written, JSON.readTree(CM.getData().get(AgentFiles.CONFLIST)));
    }
}
