package dev.ferry.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.cli.Main;
import dev.ferry.net.IpPrefix;
import dev.ferry.testing.FerryCni;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A standalone agent whose podCIDRs hold an IPv4 and an IPv6 CIDR: its API and CLI show both addresses of a pod. */
@RequiresRoot
class CliDualStackTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CONTAINER = "c11d5a1";

    @TempDir
    Path dir;
    private AgentFixture nodes;
    private TestNetns pod;

    @BeforeEach
    void dualStackAgentWithOnePod() throws Exception {
        nodes = AgentFixture.create(dir);
        nodes.start(nodes.config(List.of("upl0"), List.of(IpPrefix.parse("10.244.1.0/24"), IpPrefix.parse("fd00:f17:5::/120"))));
        pod = TestNetns.create("clids");
        String config = "{\"cniVersion\":\"1.1.0\",\"name\":\"ferry\",\"type\":\"ferry-cni\",\"agentSocket\":\"" + nodes.socket() + "\"}";
        FerryCni.Result add = FerryCni.command("ADD").env("CNI_CONTAINERID", CONTAINER)
                .env("CNI_NETNS", "/run/netns/" + pod.name()).env("CNI_IFNAME", "eth0").env("CNI_PATH", "/opt/cni/bin")
                .env("CNI_ARGS", "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=cart-0").stdin(config).run();
        assertEquals(0, add.exitCode(), add.toString());
    }

    @AfterEach
    void cleanUp() throws Exception {
        try {
            nodes.close();
        } finally {
            pod.close();
        }
    }

    @Test
    void endpointListShowsBothAddressesOfTheDualStackPod() {
        String out = cli("endpoint", "list");

        assertTrue(out.matches("(?s).*10\\.244\\.1\\.\\d+/32,fd00:f17:5::[0-9a-f]+/128.*"), out);
    }

    @Test
    void endpointJsonKeepsAddressAndGainsAddress6() throws Exception {
        JsonNode e = JSON.readTree(cli("endpoint", "list", "-o", "json")).path("endpoints").path(0);

        assertTrue(e.path("address").asText().matches("10\\.244\\.1\\.\\d+/32"), e.toString());
        assertTrue(e.path("address6").asText().matches("fd00:f17:5::[0-9a-f]+/128"), e.toString());
    }

    @Test
    void statusShowsBothPoolsAndTheirUse() {
        String out = cli("status");

        assertTrue(out.matches("(?s).*pod CIDR\\s+10\\.244\\.1\\.0/24\\s+addresses\\s+1 of 254 in use"
                + "\\s+pod CIDR\\s+fd00:f17:5::/120\\s+addresses\\s+1 of 255 in use.*"), out);
    }

    private String cli(String... args) {
        String[] all = new String[args.length + 2];
        all[0] = "--socket";
        all[1] = nodes.socket().toString();
        System.arraycopy(args, 0, all, 2, args.length);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = new Main(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8)).run(all);
        assertEquals(0, exit, err.toString(StandardCharsets.UTF_8));
        return out.toString(StandardCharsets.UTF_8);
    }
}
