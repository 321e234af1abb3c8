package dev.ferry.cli;

import dev.ferry.api.AgentSocketOptions;
import dev.ferry.api.AgentSocketServer;
import dev.ferry.api.ApiResponse;
import dev.ferry.api.Routes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code ferry status} names the known kernel issues the node's kernel has or may have, and only those. */
class StatusKernelIssuesTest {
    @TempDir
    Path dir;

    private static String status(String fixes) {
        return "{\"nodeName\":\"n\",\"mode\":\"standalone\",\"attach\":\"tcx\",\"podAttach\":\"tc\",\"ready\":true,"
                + "\"podCIDR\":\"10.1.0.0/24\",\"ipam\":{\"used\":0,\"capacity\":253},\"endpoints\":0,"
                + "\"kernel\":{\"release\":\"6.6.80\",\"tcx\":true,\"btf\":true,\"jit\":\"on\",\"fixes\":" + fixes + "},"
                + "\"uplinks\":[],\"clusterCIDRs\":[],\"peers\":[],\"version\":\"dev\"}";
    }

    private String run(String statusJson) throws Exception {
        Routes routes = Routes.builder().get("/v1/status", (request, vars) -> ApiResponse.json(200, statusJson)).build();
        try (AgentSocketServer server = AgentSocketServer.start(dir.resolve("ferry.sock"), routes, AgentSocketOptions.defaults())) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            int exit = new Main(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(new ByteArrayOutputStream()))
                    .run(new String[] {"--socket", server.socket().toString(), "status"});
            assertEquals(0, exit);
            return out.toString(StandardCharsets.UTF_8);
        }
    }

    @Test
    void anAffectedKernelGetsARowSayingWhatTheMissingFixMeans() throws Exception {
        String out = run(status("[{\"name\":\"redirect_peer_scrub\",\"commit\":\"c432\",\"status\":\"AFFECTED\","
                + "\"basis\":\"6.6.80\",\"effect\":\"bpf_redirect_peer does not scrub packets\"},"
                + "{\"name\":\"redirect_peer_rx_stats\",\"commit\":\"024e\",\"status\":\"NOT_AFFECTED\",\"basis\":\"6.6.80\",\"effect\":\"x\"}]"));

        assertTrue(out.replaceAll(" +", " ").contains("kernel issue redirect_peer_scrub: affected (6.6.80): bpf_redirect_peer does not scrub packets"), out);
        assertFalse(out.contains("redirect_peer_rx_stats"), out);
    }

    @Test
    void aKernelWithEveryFixGetsNoRow() throws Exception {
        String out = run(status("[{\"name\":\"redirect_peer_scrub\",\"commit\":\"c432\",\"status\":\"NOT_AFFECTED\","
                + "\"basis\":\"6.18.0\",\"effect\":\"x\"}]"));

        assertFalse(out.contains("kernel issue"), out);
    }
}
