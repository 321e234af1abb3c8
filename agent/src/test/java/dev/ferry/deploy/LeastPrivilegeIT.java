package dev.ferry.deploy;

import dev.ferry.testing.FerryCni;
import dev.ferry.testing.MetricsPort;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.Shell;
import dev.ferry.testing.TestNetns;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The real agent with exactly the DaemonSet's capabilities (read from
 * deploy/daemonset.yaml) runs a node through ADD, traffic, CHECK, /metrics and
 * DEL on a read-only root; without any one of them, a named operation fails
 * with one clear line. The first pod's namespace is a named one
 * (/run/netns/NAME); the second pod's is /proc/PID/ns/net of a process of
 * uid 65535, as a runtime that names the pause process's namespace gives it
 * (the pause image runs as 65535).
 */
@RequiresRoot
class LeastPrivilegeIT {
    private static final List<String> DAEMONSET = AgentCapabilities.ofPlainManifests();
    /** The capabilities each "without" case below removes: every one the DaemonSet adds has one. */
    private static final Set<String> SHOWN_NEEDED = Set.of("NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE", "NET_RAW");

    private TestNetns podA;
    private TestNetns podB;
    private Process pauseB;
    private ConfinedAgent agent;

    @BeforeEach
    void pods() throws Exception {
        podA = TestNetns.create("capa");
        podB = TestNetns.create("capb");
        pauseB = new ProcessBuilder("nsenter", "--net=/run/netns/" + podB.name(),
                "setpriv", "--reuid", "65535", "--regid", "65535", "--clear-groups", "sleep", "600").start();
        awaitUid(pauseB.pid(), 65535);
    }

    @AfterEach
    void cleanUp() throws Exception {
        dev.ferry.testing.Cleanup.all(
                () -> {
                    if (agent != null) {
                        agent.close();
                    }
                },
                () -> pauseB.destroyForcibly().waitFor(10, TimeUnit.SECONDS),
                podA::close,
                podB::close);
    }

    private String netnsA() {
        return "/run/netns/" + podA.name();
    }

    private String netnsB() {
        return "/proc/" + pauseB.pid() + "/ns/net";
    }

    @Test
    void everyCapabilityTheDaemonSetAddsHasACaseShowingWhatFailsWithoutIt() {
        assertEquals(Set.copyOf(DAEMONSET), SHOWN_NEEDED);
    }

    @Test
    void withExactlyTheDaemonSetsCapabilitiesTheAgentRunsAWholePodLifecycle() throws Exception {
        agent = ConfinedAgent.start(DAEMONSET, ConfinedAgent.Limits.DAEMONSET, LeastPrivilegeIT::leftOpenByAnOlderAgent);
        Path state = agent.stateDir();
        assertTrue(agent.awaitReady(), agent::output);
        assertEquals(mask(DAEMONSET), capabilities(agent.pid()), "the agent holds exactly the DaemonSet's set");
        assertStateIsRootOnly(agent.stateDir());

        FerryCni.Result addA = agent.cni("ADD", "capa", netnsA());
        FerryCni.Result addB = agent.cni("ADD", "capb", netnsB());
        assertEquals(0, addA.exitCode(), addA::toString);
        assertEquals(0, addB.exitCode(), addB::toString);
        String a = address(addA);
        String b = address(addB);
        ping(netnsA(), b);
        ping(netnsB(), a);
        assertEquals(0, agent.cni("CHECK", "capa", netnsA()).exitCode());
        assertEquals(0, agent.cni("CHECK", "capb", netnsB()).exitCode());

        String metrics = agent.scrape();
        assertAll(
                () -> assertEquals(2, MetricsPort.value(metrics, "ferry_cni_requests_seconds_count{command=\"ADD\",result=\"ok\"}")),
                () -> assertEquals(2, MetricsPort.value(metrics, "ferry_cni_requests_seconds_count{command=\"CHECK\",result=\"ok\"}")),
                () -> assertTrue(MetricsPort.value(metrics,
                        "ferry_datapath_packets_total{direction=\"egress\",family=\"ipv4\",reason=\"forwarded\",verdict=\"redirect_peer\"}") >= 4, metrics),
                () -> assertEquals(2, MetricsPort.value(metrics, "ferry_endpoints")));

        assertEquals(0, agent.cni("DEL", "capa", netnsA()).exitCode());
        assertEquals(0, agent.cni("DEL", "capb", netnsB()).exitCode());
        assertEquals(0, agent.stop(), agent::output);
        assertEquals(List.of("lo", "up0", "up0p"), links(agent.node()), "no pod veth left on the node");
        assertEquals(List.of("last_reserved"), names(state.resolve("ipam")), "no address left allocated");
        assertEquals(List.of(), names(state.resolve("endpoints")), "no endpoint left");
    }

    @Test
    void withoutNetAdminTheAgentCannotConfigureTheUplinkAndStops() throws Exception {
        agent = ConfinedAgent.start(without("NET_ADMIN"), ConfinedAgent.Limits.DAEMONSET);

        assertFalse(agent.awaitReady(), "started without NET_ADMIN");
        assertEquals(1, agent.awaitExit());
        assertOneLine("ferry-agent: failed to start: failed to set forwarding to 1 on link 'up0': Operation not permitted (errno 1; needs CAP_NET_ADMIN)",
                agent.stderr());
    }

    /** BPF and PERFMON given instead do not help: setns() is SYS_ADMIN's alone, and the agent enters namespaces first. */
    @Test
    void withoutSysAdminTheAgentCannotEnterANetworkNamespaceAndStops() throws Exception {
        List<String> caps = new ArrayList<>(without("SYS_ADMIN"));
        caps.addAll(List.of("BPF", "PERFMON"));
        agent = ConfinedAgent.start(caps, ConfinedAgent.Limits.DAEMONSET);

        assertFalse(agent.awaitReady(), "started without SYS_ADMIN");
        assertEquals(1, agent.awaitExit());
        assertOneLine("ferry-agent: failed to start: failed to enter network namespace '/proc/self/ns/net': Operation not permitted (errno 1; needs CAP_SYS_ADMIN)",
                agent.stderr());
    }

    @Test
    void withoutSysPtraceAPodWhoseNamespaceIsAnotherUsersProcessCannotBeAdded() throws Exception {
        agent = ConfinedAgent.start(without("SYS_PTRACE"), ConfinedAgent.Limits.DAEMONSET);
        assertTrue(agent.awaitReady(), agent::output);

        FerryCni.Result addA = agent.cni("ADD", "capa", netnsA());
        FerryCni.Result addB = agent.cni("ADD", "capb", netnsB());

        assertEquals(0, addA.exitCode(), "a named namespace needs no ptrace check: " + addA);
        assertEquals(1, addB.exitCode(), addB::toString);
        assertEquals(4, addB.code(), addB::toString);
        assertEquals("cannot enter the pod's network namespace", addB.msg());
        assertEquals("failed to open network namespace '" + netnsB() + "': Permission denied (errno 13; a process of another user: needs CAP_SYS_PTRACE)", addB.details());
        assertEquals(0, agent.cni("DEL", "capa", netnsA()).exitCode());
        assertEquals(0, agent.cni("DEL", "capb", netnsB()).exitCode(), "DEL of what was never added succeeds");
    }

    @Test
    void withoutNetRawACaptureIsRefusedInOneLineAndTurnsNothingOn() throws Exception {
        agent = ConfinedAgent.start(without("NET_RAW"), ConfinedAgent.Limits.DAEMONSET);
        assertTrue(agent.awaitReady(), agent::output);
        assertEquals(0, agent.cni("ADD", "capa", netnsA()).exitCode());

        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        int exit = new dev.ferry.cli.Main(new java.io.PrintStream(new java.io.ByteArrayOutputStream()),
                new java.io.PrintStream(err, true)).run(new String[] {"--socket", agent.socket().toString(), "capture", "capa", "--count", "1"});

        assertEquals(1, exit, err::toString);
        assertEquals(List.of("ferry: failed to open a packet socket to read the capture: Operation not permitted (errno 1; needs CAP_NET_RAW)"),
                err.toString().lines().toList());
        assertTrue(agent.node().ip("-o", "link", "show").lines().noneMatch(l -> l.contains(": fcap")), "no capture device left");
        assertEquals(0, agent.cni("DEL", "capa", netnsA()).exitCode());
    }

    /** Maps are charged to the memory cgroup (Linux >= 5.11): libbpf leaves RLIMIT_MEMLOCK alone, which needs SYS_RESOURCE to raise. */
    @Test
    void withoutSysResourceAndNoLockableMemoryAtAllTheDatapathLoads() throws Exception {
        agent = ConfinedAgent.start(DAEMONSET, new ConfinedAgent.Limits(true, true));
        assertTrue(agent.awaitReady(), agent::output);

        assertEquals(0, capabilities(agent.pid()) & (1L << 24), "CAP_SYS_RESOURCE (24) is not held");
        assertTrue(Files.readString(Path.of("/proc/" + agent.pid() + "/limits")).lines()
                .anyMatch(l -> l.matches("Max locked memory\\s+0\\s+0\\s+bytes\\s*")), "RLIMIT_MEMLOCK is 0");
        FerryCni.Result add = agent.cni("ADD", "capa", netnsA());
        assertEquals(0, add.exitCode(), add::toString);
        assertEquals(0, agent.cni("DEL", "capa", netnsA()).exitCode());
    }

    /** What the agent creates itself (ipam/, endpoints/, boot_id, address and endpoint files) is root-only too. */
    @Test
    void aStateTheAgentCreatesIsRootOnlyFromTheStart() throws Exception {
        agent = ConfinedAgent.start(DAEMONSET, ConfinedAgent.Limits.DAEMONSET);
        assertTrue(agent.awaitReady(), agent::output);
        FerryCni.Result add = agent.cni("ADD", "capa", netnsA());
        assertEquals(0, add.exitCode(), add::toString);

        assertStateIsRootOnly(agent.stateDir());
        assertEquals(0, agent.cni("DEL", "capa", netnsA()).exitCode());
    }

    /** Why the DaemonSet mounts an emptyDir on /tmp: Netty unpacks its native library to java.io.tmpdir. */
    @Test
    void onAReadOnlyRootWithoutAWritableTmpTheAgentStopsNamingNettysLibrary() throws Exception {
        agent = ConfinedAgent.start(DAEMONSET, new ConfinedAgent.Limits(false, false));

        assertFalse(agent.awaitReady(), "started without a writable /tmp");
        assertEquals(1, agent.awaitExit());
        List<String> reasons = agent.stderr().lines().filter(l -> l.startsWith("ferry-agent: ")).toList();
        assertEquals(1, reasons.size(), agent::stderr);
        assertTrue(reasons.getFirst().startsWith("ferry-agent: failed to start: ")
                && reasons.getFirst().contains("netty_transport_native_epoll") && reasons.getFirst().endsWith("Read-only file system"), agent::stderr);
        assertTrue(agent.stderr().lines().noneMatch(l -> l.startsWith("\tat ")), "no stack trace: " + agent.stderr());
    }

    private static List<String> without(String capability) {
        assertTrue(DAEMONSET.contains(capability), capability + " in " + DAEMONSET);
        return DAEMONSET.stream().filter(c -> !c.equals(capability)).toList();
    }

    /** The state as a DaemonSet's hostPath (0755) and an older agent (0644 files, 0755 directories) left it. */
    private static void leftOpenByAnOlderAgent(Path state) throws java.io.IOException {
        var open = PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x"));
        for (String d : List.of("", "endpoints", "ipam", "quarantine", "quarantine/ipam")) {
            Files.createDirectory(state.resolve(d), open);
        }
        Files.writeString(state.resolve("boot_id"), Files.readString(Path.of("/proc/sys/kernel/random/boot_id")));
        Files.writeString(state.resolve("quarantine/ipam/10.197.7.200"), "gone\neth0\n");
        for (String f : List.of("boot_id", "quarantine/ipam/10.197.7.200")) {
            Files.setPosixFilePermissions(state.resolve(f), PosixFilePermissions.fromString("rw-r--r--"));
        }
    }

    private static void assertStateIsRootOnly(Path state) throws Exception {
        Map<String, String> wrong = new TreeMap<>();
        try (Stream<Path> all = Files.walk(state)) {
            for (Path p : all.toList()) {
                if (p.getParent() != null && p.getParent().getFileName().toString().equals("cni-spool")) {
                    continue;
                }
                String mode = PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
                if (!mode.equals(Files.isDirectory(p) ? "rwx------" : "rw-------")) {
                    wrong.put(state.relativize(p).toString(), mode);
                }
            }
        }
        assertEquals(Map.of(), wrong, "state not root-only");
    }

    /** The launcher's one line says why; log lines may surround it (WARN and above go to stderr), a stack trace may not. */
    private static void assertOneLine(String expected, String stderr) {
        List<String> lines = stderr.lines().toList();
        assertEquals(List.of(expected), lines.stream().filter(l -> l.startsWith("ferry-agent: ")).toList(), stderr);
        assertTrue(lines.stream().noneMatch(l -> l.startsWith("\tat ") || l.contains("Exception")), "no stack trace: " + stderr);
    }

    private static void ping(String fromNetns, String to) {
        Shell.Result r = Shell.exec("nsenter", "--net=" + fromNetns, "ping", "-c", "2", "-i", "0.1", "-W", "2", to);
        assertEquals(0, r.exitCode(), "ping " + to + " from " + fromNetns + ":\n" + r.stdout() + r.stderr());
    }

    private static String address(FerryCni.Result add) {
        String stdout = add.stdout();
        int at = stdout.indexOf("\"address\":\"") + "\"address\":\"".length();
        return stdout.substring(at, stdout.indexOf('/', at));
    }

    /** CapEff of a process. */
    private static long capabilities(long pid) throws Exception {
        String line = Files.readString(Path.of("/proc/" + pid + "/status")).lines()
                .filter(l -> l.startsWith("CapEff:")).findFirst().orElseThrow();
        return Long.parseUnsignedLong(line.substring("CapEff:".length()).strip(), 16);
    }

    private static long mask(List<String> capabilities) {
        Map<String, Integer> numbers = Map.of("NET_ADMIN", 12, "NET_RAW", 13, "SYS_PTRACE", 19, "SYS_ADMIN", 21, "SYS_RESOURCE", 24,
                "PERFMON", 38, "BPF", 39);
        long mask = 0;
        for (String c : capabilities) {
            mask |= 1L << numbers.get(c);
        }
        return mask;
    }

    private static void awaitUid(long pid, int uid) throws Exception {
        Path status = Path.of("/proc/" + pid + "/status");
        for (int i = 0; i < 100; i++) {
            if (Files.exists(status) && Files.readString(status).lines().anyMatch(l -> l.startsWith("Uid:\t" + uid + "\t"))) {
                return;
            }
            TimeUnit.MILLISECONDS.sleep(50);
        }
        throw new AssertionError("process " + pid + " never ran as uid " + uid);
    }

    private static List<String> links(TestNetns ns) {
        return ns.ip("-o", "link", "show").lines().map(l -> l.split(": ")[1].split("@")[0]).sorted().toList();
    }

    private static List<String> names(Path dir) throws Exception {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
