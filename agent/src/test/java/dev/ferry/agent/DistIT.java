package dev.ferry.agent;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The built distribution (dist/) as an operator or the demo runs it: launchers and their jars. */
class DistIT {
    private static final Path DIST = Path.of(System.getProperty("ferry.dist", "../dist")).toAbsolutePath().normalize();
    private static final String JAVA_HOME = System.getProperty("java.home");

    record Run(int status, String stdout, String stderr) {}

    private static Run run(Map<String, String> env, String stdin, String... command) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().clear();
        pb.environment().putAll(env);
        Process p = pb.start();
        try (var in = p.getOutputStream()) {
            in.write(stdin.getBytes(StandardCharsets.UTF_8));
        }
        var out = p.getInputStream().readAllBytes();
        var err = p.getErrorStream().readAllBytes();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "exits");
        return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8), new String(err, StandardCharsets.UTF_8));
    }

    private static Run agent(String... args) throws Exception {
        String[] command = Stream.concat(Stream.of(DIST.resolve("bin/ferry-agent").toString()), Stream.of(args))
                .toArray(String[]::new);
        return run(Map.of("JAVA_HOME", JAVA_HOME, "PATH", "/usr/bin:/bin"), "", command);
    }

    @Test
    void agentHelpExitsZeroWithTheUsage() throws Exception {
        Run r = agent("--help");

        assertEquals(0, r.status(), r::toString);
        assertTrue(r.stdout().startsWith("usage: ferry-agent --config FILE"), r::toString);
    }

    @Test
    void aBadInvocationIsOneLineAndStatusTwo() throws Exception {
        Run r = agent("--config", "/nonexistent/ferry.yaml");

        assertEquals(2, r.status(), r::toString);
        assertEquals("ferry-agent: config file '/nonexistent/ferry.yaml' does not exist\n", r.stderr());
    }

    @Test
    void anAgentWithoutLibbpfSaysWhatToInstallInOneLine(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path config = dir.resolve("agent.yaml");
        Files.writeString(config, "mode: standalone\nnodeName: nolibbpf\npodCIDRs: [10.251.0.0/24]\nuplinks: [lo]\n"
                + "socket: " + dir.resolve("ferry.sock") + "\nstateDir: " + dir.resolve("state") + "\n"
                + "bpffsRoot: /sys/fs/bpf/ferry-test-nolibbpf\ncniConfDir: " + dir.resolve("cni") + "\n"
                + "metricsAddress: 127.0.0.1:19977\n");
        // A mount namespace of its own in which libbpf.so.1 is an empty file: what a node without libbpf1 has.
        String script = "mount --bind /dev/null \"$(readlink -f /usr/lib/x86_64-linux-gnu/libbpf.so.1)\" && exec \"$0\" --config \"$1\"";
        Run r = run(Map.of("JAVA_HOME", JAVA_HOME, "PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "",
                "unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                DIST.resolve("bin/ferry-agent").toString(), config.toString());

        assertEquals(1, r.status(), r::toString);
        List<String> lines = r.stderr().lines().toList();
        assertTrue(lines.getLast().startsWith("ferry-agent: failed to start: failed to load libbpf.so.1 (install libbpf >= 1.1"), r::toString);
        assertTrue(lines.stream().noneMatch(l -> l.startsWith("\tat ") || l.contains("Exception")), "no stack trace: " + r.stderr());
    }

    @Test
    void theLauncherFindsJavaOnThePathWhenJavaHomeIsUseless() throws Exception {
        Run r = run(Map.of("JAVA_HOME", "/nonexistent", "PATH", JAVA_HOME + "/bin:/usr/bin:/bin"), "",
                DIST.resolve("bin/ferry-agent").toString(), "--help");

        assertEquals(0, r.status(), r::toString);
    }

    @Test
    void theCniPluginIsThereAndAnswersVersion() throws Exception {
        Run r = run(Map.of("CNI_COMMAND", "VERSION"), "{\"cniVersion\":\"1.1.0\"}", DIST.resolve("bin/ferry-cni").toString());

        assertEquals(0, r.status(), r::toString);
        assertTrue(r.stdout().contains("\"supportedVersions\""), r::toString);
    }

    @Test
    void libHoldsTheAgentJarWithItsBpfObjectAndTheRuntimeDependencies() throws IOException {
        List<String> jars;
        try (Stream<Path> files = Files.list(DIST.resolve("lib"))) {
            jars = files.map(p -> p.getFileName().toString()).sorted().toList();
        }
        String agentJar = jars.stream().filter(j -> j.startsWith("ferry-agent-")).findFirst().orElseThrow(
                () -> new AssertionError("no agent jar in " + jars));
        try (JarFile jar = new JarFile(DIST.resolve("lib").resolve(agentJar).toFile())) {
            assertTrue(jar.getEntry("bpf/ferry.bpf.o") != null, "the BPF object ships inside the jar");
            assertEquals("dev.ferry.agent.Main", jar.getManifest().getMainAttributes().getValue("Main-Class"));
        }
        for (String dependency : List.of("jackson-dataformat-yaml-", "netty-transport-native-epoll-", "logback-classic-")) {
            assertTrue(jars.stream().anyMatch(j -> j.startsWith(dependency)), dependency + " in " + jars);
        }
        assertTrue(jars.stream().noneMatch(j -> j.startsWith("junit-")), "no test dependencies: " + jars);
    }
}
