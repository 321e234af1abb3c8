package dev.ferry.deploy;

import dev.ferry.testing.BpfPins;
import dev.ferry.testing.Cleanup;
import dev.ferry.testing.FerryCni;
import dev.ferry.testing.TestNetns;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * The built agent (dist/bin/ferry-agent) run as the DaemonSet runs it: uid 0
 * holding only the given capabilities (bounding, inheritable and ambient sets,
 * no new privileges), the root filesystem read-only with a tmpfs on /tmp (the
 * emptyDir), in a node network namespace of its own with an uplink. Its host
 * directories (state, socket, conflist) are on /dev/shm, which the read-only
 * remount of / does not reach, as hostPath mounts are not reached by
 * readOnlyRootFilesystem. ferry-cni (dist/bin/ferry-cni) runs as root with
 * every capability, as the container runtime runs it.
 */
final class ConfinedAgent implements AutoCloseable {
    static final Path DIST = Path.of(System.getProperty("ferry.dist", "../dist")).toAbsolutePath().normalize();
    static final String POD_CIDR = "10.197.7.0/24";
    static final int METRICS_PORT = 19962;
    /** Netty's native library goes here; with / read-only and no tmpfs the agent cannot start. */
    /**
     * The built agent is bound (read-only, as the image's /opt/ferry) beside the host directories first: a
     * checkout under /tmp, as a CI clone may be, would vanish under the tmpfs (exit 127).
     */
    private static final String READ_ONLY_ROOT = "mount --bind %s %s && mount -o remount,bind,ro %s && "
            + "mount -o remount,bind,ro / && %s exec \"$@\"";
    private static final String TMPFS_ON_TMP = "mount -t tmpfs -o mode=1777,size=32m tmpfs /tmp &&";

    private final TestNetns node;
    private final Path dir;
    private final BpfPins pins;
    private final Process process;
    private final Path out;
    private final Path err;

    private ConfinedAgent(TestNetns node, Path dir, BpfPins pins, Process process, Path out, Path err) {
        this.node = node;
        this.dir = dir;
        this.pins = pins;
        this.process = process;
        this.out = out;
        this.err = err;
    }

    /** What the agent runs with besides its capabilities. */
    record Limits(boolean writableTmp, boolean noLockedMemory) {
        static final Limits DAEMONSET = new Limits(true, false);
    }

    /** Something a test leaves in the state directory before the agent starts. */
    @FunctionalInterface
    interface StateBefore {
        void write(Path stateDir) throws IOException;
    }

    /** Starts the agent with {@code capabilities} (Kubernetes spelling: NET_ADMIN, ...); it may stop at once. */
    static ConfinedAgent start(List<String> capabilities, Limits limits) throws IOException {
        return start(capabilities, limits, stateDir -> {});
    }

    static ConfinedAgent start(List<String> capabilities, Limits limits, StateBefore before) throws IOException {
        TestNetns node = TestNetns.create("capn");
        node.ip("link", "add", "up0", "type", "veth", "peer", "name", "up0p");
        node.ip("addr", "add", "10.197.255.1/24", "dev", "up0");
        node.ip("link", "set", "up0", "up");
        node.ip("link", "set", "up0p", "up");
        node.ip("route", "add", "default", "via", "10.197.255.254", "dev", "up0");
        Path dir = Files.createTempDirectory(Path.of("/dev/shm"), "ferry-test-cap-");
        BpfPins pins = BpfPins.create("ferry-test-cap");
        before.write(dir.resolve("state"));
        Path config = dir.resolve("agent.yaml");
        Files.writeString(config, "mode: standalone\nnodeName: cap\npodCIDRs: [" + POD_CIDR + "]\nuplinks: [up0]\n"
                + "socket: " + dir.resolve("run/ferry.sock") + "\nstateDir: " + dir.resolve("state") + "\n"
                + "bpffsRoot: " + pins.root() + "\ncniConfDir: " + dir.resolve("cni") + "\n"
                + "metricsAddress: 127.0.0.1:" + METRICS_PORT + "\n");
        String caps = capabilities.stream().map(c -> "+" + c.toLowerCase(Locale.ROOT)).collect(Collectors.joining(","));
        String set = caps.isEmpty() ? "-all" : "-all," + caps;
        Path dist = Files.createDirectory(dir.resolve("dist"));
        List<String> command = new ArrayList<>(List.of("unshare", "--mount", "--propagation", "slave",
                "sh", "-c", READ_ONLY_ROOT.formatted(DIST, dist, dist, limits.writableTmp() ? TMPFS_ON_TMP : ""), "sh",
                "nsenter", "--net=/run/netns/" + node.name()));
        if (limits.noLockedMemory()) {
            command.addAll(List.of("prlimit", "--memlock=0:0", "--"));
        }
        command.addAll(List.of("setpriv", "--no-new-privs", "--inh-caps=" + set, "--ambient-caps=" + set,
                "--bounding-set=" + set, "--", dist.resolve("bin/ferry-agent").toString(), "--config", config.toString()));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().clear();
        pb.environment().putAll(Map.of("JAVA_HOME", System.getProperty("java.home"), "PATH", "/usr/sbin:/usr/bin:/sbin:/bin"));
        Path out = dir.resolve("agent.out");
        Path err = dir.resolve("agent.err");
        pb.redirectOutput(out.toFile()).redirectError(err.toFile());
        return new ConfinedAgent(node, dir, pins, pb.start(), out, err);
    }

    /** Waits until the agent wrote its conflist (ready) or stopped; true when ready. */
    boolean awaitReady() throws Exception {
        Path conflist = dir.resolve("cni/05-ferry.conflist");
        for (int i = 0; i < 600; i++) {
            if (Files.exists(conflist)) {
                return true;
            }
            if (process.waitFor(100, TimeUnit.MILLISECONDS)) {
                return false;
            }
        }
        throw new AssertionError("the agent neither got ready nor stopped within a minute: " + output());
    }

    /** Waits for the agent to stop by itself; its exit status. */
    int awaitExit() throws Exception {
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            throw new AssertionError("the agent did not stop: " + output());
        }
        return process.exitValue();
    }

    /** SIGTERM, as the kubelet stops it; its exit status. */
    int stop() throws Exception {
        process.destroy();
        return awaitExit();
    }

    String stderr() {
        return read(err);
    }

    /** Everything the agent printed, for failure messages. */
    String output() {
        return read(out) + read(err);
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** The PID of the agent's JVM: each step of the launch chain execs the next. */
    long pid() {
        return process.pid();
    }

    /** The agent socket, for the CLI. */
    Path socket() {
        return dir.resolve("run/ferry.sock");
    }

    TestNetns node() {
        return node;
    }

    Path stateDir() {
        return dir.resolve("state");
    }

    /** Runs dist/bin/ferry-cni as the runtime does, with this agent's network configuration. */
    FerryCni.Result cni(String command, String containerId, String netns) throws Exception {
        String conf = "{\"cniVersion\":\"1.0.0\",\"name\":\"ferry\",\"type\":\"ferry-cni\",\"agentSocket\":"
                + FerryCni.quote(dir.resolve("run/ferry.sock")) + ",\"spoolDir\":" + FerryCni.quote(stateDir().resolve("cni-spool")) + "}";
        ProcessBuilder pb = new ProcessBuilder(DIST.resolve("bin/ferry-cni").toString());
        pb.environment().clear();
        pb.environment().putAll(Map.of("CNI_COMMAND", command, "CNI_CONTAINERID", containerId, "CNI_NETNS", netns,
                "CNI_IFNAME", "eth0", "CNI_PATH", "/opt/cni/bin", "CNI_ARGS", "K8S_POD_NAMESPACE=cap;K8S_POD_NAME=" + containerId));
        long start = System.nanoTime();
        Process p = pb.start();
        try (OutputStream in = p.getOutputStream()) {
            in.write(conf.getBytes(StandardCharsets.UTF_8));
        }
        String stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String stderr = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("ferry-cni " + command + " did not exit");
        }
        return new FerryCni.Result(p.exitValue(), stdout, stderr, java.time.Duration.ofNanos(System.nanoTime() - start));
    }

    /** GET /metrics from inside the node's namespace, as a scraper on the node would. */
    String scrape() throws Exception {
        Socket socket = node.handle().call(() -> {
            Socket s = new Socket();
            s.connect(new InetSocketAddress("127.0.0.1", METRICS_PORT), 5000);
            return s;
        });
        try (socket; OutputStream o = socket.getOutputStream(); InputStream i = socket.getInputStream()) {
            o.write("GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            o.flush();
            return new String(i.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** Stops the agent if it still runs, and removes its pins, directories and node namespace. */
    @Override
    public void close() throws Exception {
        Cleanup.all(
                () -> {
                    if (process.isAlive()) {
                        process.destroy();
                        if (!process.waitFor(30, TimeUnit.SECONDS)) {
                            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                        }
                    }
                },
                pins::close,
                () -> Cleanup.deleteTree(dir),
                node::close);
    }
}
