package dev.ferry.agent;

import dev.ferry.testing.RequiresRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The agent wired to the real EndpointManager and CniService, on a node without
 * pods: what needs no ADD. Tagged {@value #TAG}: the build leaves it out while
 * those two are contract stubs (agent/pom.xml, ferry.test.excludedGroups); run it
 * with {@code -Dferry.test.excludedGroups=none}.
 */
@RequiresRoot
@Tag(AgentWithPodNetworkTest.TAG)
class AgentWithPodNetworkTest {
    static final String TAG = "real-pod-network";

    @TempDir
    Path dir;

    private AgentFixture nodes;

    @BeforeEach
    void twoNodesOnOneWire() throws Exception {
        nodes = AgentFixture.create(dir);
    }

    @AfterEach
    void cleanUp() throws Exception {
        if (nodes != null) {
            nodes.close();
        }
    }

    private Agent start() {
        return nodes.start(nodes.config(List.of("upl0")), PodNetwork::open);
    }

    @Test
    void aNodeWithoutPodsIsReadyAndListsNoEndpoints() throws Exception {
        start();

        assertTrue(nodes.get("/v1/status").path("ready").asBoolean());
        assertEquals(0, nodes.get("/v1/status").path("endpoints").asInt());
        assertEquals(0, nodes.get("/v1/endpoints").path("endpoints").size());
        assertEquals(404, SocketHttp.get(nodes.socket(), "/v1/endpoints/c0ffee").status());
    }

    @Test
    void aSpooledDelOfAContainerTheNodeNeverHadIsReplayedAsSuccessAndRemoved() throws Exception {
        Path spooled = SpoolingPlugin.spoolDel(nodes.socket(), dir.resolve("state/cni-spool"), "c0ffee");

        start();

        assertFalse(Files.exists(spooled), "DEL of an unknown container is a success, so the file goes");
    }

    @Test
    void closeStopsServingAndKeepsThePins() throws Exception {
        Agent agent = start();

        agent.close();

        assertFalse(Files.exists(nodes.socket()));
        assertTrue(Files.exists(nodes.pins.resolve("links/to_pod/upl0")));
    }
}
