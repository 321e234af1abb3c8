package dev.ferry.agent;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs the real ferry-cni for a DEL while no agent listens, so that it writes the
 * spool file exactly as it does on a node whose agent is restarting.
 */
final class SpoolingPlugin {
    static final Path BINARY = Path.of(System.getProperty("ferry.cni.binary", "../cni-plugin/target/ferry-cni"));

    private SpoolingPlugin() {}

    /** The network configuration a conflist would hand the plugin. */
    static String networkConfig(Path socket, Path spoolDir) {
        return "{\"cniVersion\":\"1.1.0\",\"name\":\"ferry\",\"type\":\"ferry-cni\",\"agentSocket\":\"" + socket
                + "\",\"spoolDir\":\"" + spoolDir + "\"}";
    }

    /** Runs DEL for {@code containerId}'s eth0 against a socket nobody listens on; returns the spooled file. */
    static Path spoolDel(Path socket, Path spoolDir, String containerId) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(BINARY.toAbsolutePath().toString()).redirectErrorStream(true);
        pb.environment().clear();
        pb.environment().putAll(Map.of(
                "CNI_COMMAND", "DEL",
                "CNI_CONTAINERID", containerId,
                "CNI_NETNS", "/var/run/netns/cni-" + containerId,
                "CNI_IFNAME", "eth0",
                "CNI_ARGS", "K8S_POD_NAMESPACE=demo;K8S_POD_NAME=pod-" + containerId,
                "CNI_PATH", "/opt/cni/bin"));
        Process p = pb.start();
        try (OutputStream in = p.getOutputStream()) {
            in.write(networkConfig(socket, spoolDir).getBytes(StandardCharsets.UTF_8));
        }
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IllegalStateException("ferry-cni DEL did not spool: " + output);
        }
        Path spooled = spoolDir.resolve("del-" + containerId + "-eth0.req");
        if (!Files.isRegularFile(spooled)) {
            throw new IllegalStateException("ferry-cni spooled no " + spooled + ": " + output);
        }
        return spooled;
    }
}
