package dev.ferry.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.cni.CniResult;
import dev.ferry.cni.CniVersions;
import dev.ferry.net.IpPrefix;
import dev.ferry.testing.FerryCni;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a container runtime sees: the conflist the agent writes, handed to the
 * real {@code ferry-cni} for ADD the way libcni does, and the result read as the
 * runtime's CNI library reads a result of the conflist's version. containerd 1.6
 * and 1.7 read results up to 1.0.0 only, so the default conflist must ask for
 * 1.0.0 (docs/install.md, "Which CNI version your runtime reads").
 */
@RequiresRoot
class ConflistCniVersionTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private AgentFixture nodes;
    private TestNetns pod;

    @BeforeEach
    void aNodeAndAPodNamespace() throws Exception {
        nodes = AgentFixture.create(dir);
        pod = TestNetns.create("cniver");
    }

    @AfterEach
    void cleanUp() throws Exception {
        try {
            pod.close();
        } finally {
            nodes.close();
        }
    }

    @Test
    void theDefaultConflistIs100AndAddThroughThePluginAnswersA100Result() throws Exception {
        nodes.start(nodes.config(List.of("upl0")));

        JsonNode conflist = writtenConflist();
        assertEquals("1.0.0", conflist.path("cniVersion").asText(), conflist::toString);

        addReadAndDelete(conflist, "1.0.0");
    }

    @ParameterizedTest(name = "cniVersion {0}")
    @ValueSource(strings = {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"})
    void aConfiguredVersionIsTheConflistsAndTheResultsOfAdd(String version) throws Exception {
        nodes.start(TestConfigs.withCniVersion(nodes.config(List.of("upl0")), version));

        JsonNode conflist = writtenConflist();
        assertEquals(version, conflist.path("cniVersion").asText(), conflist::toString);

        addReadAndDelete(conflist, version);
    }

    private JsonNode writtenConflist() throws Exception {
        return JSON.readTree(dir.resolve("cni").resolve(CniConfList.FILE_NAME).toFile());
    }

    /** ADD as the runtime runs it, the result checked against its version's schema, then DEL (with prevResult from 0.4.0). */
    private void addReadAndDelete(JsonNode conflist, String version) throws Exception {
        FerryCni.Result add = invocation("ADD").stdin(pluginConfig(conflist, null)).run();
        assertEquals(0, add.exitCode(), add::toString);

        JsonNode result = JSON.readTree(add.stdout());
        List<String> wrong = shapeProblems(result, version);
        assertTrue(wrong.isEmpty(), () -> "not a " + version + " result: " + wrong + " in " + add.stdout());
        CniResult parsed = CniResult.fromJson(add.stdout());
        assertTrue(IpPrefix.parse("10.244.1.0/24").contains(parsed.ips().getFirst().address().address()),
                "the address is from the node's pod CIDR: " + parsed);

        JsonNode previous = CniVersions.compare(version, "0.4.0") >= 0 ? result : null;
        FerryCni.Result del = invocation("DEL").stdin(pluginConfig(conflist, previous)).run();
        assertEquals(0, del.exitCode(), del::toString);
        assertEquals(0, nodes.get("/v1/status").path("ipam").path("used").asInt(), "DEL released the address");
    }

    /** libcni's buildOneConfig: the plugin's object with the list's name and cniVersion (and a prevResult). */
    private static String pluginConfig(JsonNode conflist, JsonNode prevResult) throws Exception {
        ObjectNode plugin = ((ObjectNode) conflist.path("plugins").get(0)).deepCopy();
        plugin.set("name", conflist.path("name"));
        plugin.set("cniVersion", conflist.path("cniVersion"));
        if (prevResult != null) {
            plugin.set("prevResult", prevResult);
        }
        return JSON.writeValueAsString(plugin);
    }

    private FerryCni invocation(String command) {
        return FerryCni.command(command)
                .env("CNI_CONTAINERID", "c1a0ed0c0ffee")
                .env("CNI_NETNS", netns())
                .env("CNI_IFNAME", "eth0")
                .env("CNI_PATH", "/opt/cni/bin");
    }

    private String netns() {
        return "/run/netns/" + pod.name();
    }

    /**
     * Where the result departs from its version's types: the version it claims,
     * the members the spec defines for it (types100 for 1.x, types040 for 0.3.x
     * and 0.4.0, whose ips carry "version"), and the references between them.
     */
    private List<String> shapeProblems(JsonNode result, String version) {
        boolean v1 = CniVersions.compare(version, "1.0.0") >= 0;
        List<String> problems = new ArrayList<>();
        if (!version.equals(result.path("cniVersion").asText())) {
            problems.add("cniVersion is " + result.path("cniVersion"));
        }
        unknownMembers(result, Set.of("cniVersion", "interfaces", "ips", "routes", "dns"), "", problems);
        JsonNode interfaces = result.path("interfaces");
        for (JsonNode i : interfaces) {
            unknownMembers(i, Set.of("name", "mac", "mtu", "sandbox", "socketPath", "pciID"), "interfaces.", problems);
        }
        JsonNode ips = result.path("ips");
        if (ips.size() != 1) {
            problems.add("ips holds " + ips.size() + " entries, the pod has one address");
        }
        for (JsonNode ip : ips) {
            Set<String> members = v1 ? Set.of("interface", "address", "gateway") : Set.of("version", "interface", "address", "gateway");
            unknownMembers(ip, members, "ips.", problems);
            if (!v1 && !"4".equals(ip.path("version").asText())) {
                problems.add(version + " needs ips.version \"4\", got " + ip.path("version"));
            }
            int index = ip.path("interface").asInt(-1);
            if (index < 0 || index >= interfaces.size()) {
                problems.add("ips.interface " + ip.path("interface") + " names no interface");
            } else if (!netns().equals(interfaces.get(index).path("sandbox").asText())) {
                problems.add("ips.interface names " + interfaces.get(index) + ", not the pod's interface in " + netns());
            }
        }
        for (JsonNode route : result.path("routes")) {
            unknownMembers(route, v1 && version.equals("1.1.0")
                    ? Set.of("dst", "gw", "mtu", "advmss", "priority", "table", "scope")
                    : Set.of("dst", "gw"), "routes.", problems);
        }
        return problems;
    }

    private static void unknownMembers(JsonNode node, Set<String> allowed, String prefix, List<String> problems) {
        for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!allowed.contains(name)) {
                problems.add("unexpected member " + prefix + name);
            }
        }
    }
}
