package dev.ferry.netns;

import dev.ferry.linux.Errno;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@RequiresRoot
class NetNamespaceTest {

    @Test
    void taskSeesTheInterfacesOfTheNamespaceItRunsIn() throws Exception {
        try (TestNetns ns = TestNetns.create("fns")) {
            ns.ip("link", "add", "fns-a", "type", "veth", "peer", "name", "fns-b");
            // /proc/thread-self/net follows the calling thread's namespace (/proc/net follows the process's).
            List<String> names = ns.handle().call(() -> Files.readAllLines(Path.of("/proc/thread-self/net/dev"))
                    .stream().skip(2).map(l -> l.substring(0, l.indexOf(':')).trim()).sorted().toList());
            assertEquals(List.of("fns-a", "fns-b", "lo"), names);
        }
    }

    @Test
    void callerThreadStaysInItsOwnNamespace() throws Exception {
        String before = java.nio.file.Files.readSymbolicLink(Path.of("/proc/thread-self/ns/net")).toString();
        try (TestNetns ns = TestNetns.create("fns")) {
            String inside = ns.handle().call(() ->
                    java.nio.file.Files.readSymbolicLink(Path.of("/proc/thread-self/ns/net")).toString());
            assertTrue(!inside.equals(before), "task ran in " + inside + ", same as the caller");
        }
        assertEquals(before, java.nio.file.Files.readSymbolicLink(Path.of("/proc/thread-self/ns/net")).toString());
    }

    @Test
    void theThreadThatRanATaskIsBackInTheAgentsNamespaceWhenTheCallerHearsOfIt() throws Exception {
        String agents = Files.readSymbolicLink(Path.of("/proc/self/ns/net")).toString();
        try (TestNetns ns = TestNetns.create("fns")) {
            // "PID/task/TID": the thread that runs the task, which stays alive for the next one.
            Path thread = ns.handle().call(() -> Files.readSymbolicLink(Path.of("/proc/thread-self")));

            Path itsNamespace = Path.of("/proc").resolve(thread).resolve("ns/net");
            assertEquals(agents, Files.readSymbolicLink(itsNamespace).toString());
        }
    }

    @Test
    void missingNamespaceIsAnErrorNamingThePath() {
        Errno e = assertThrows(Errno.class, () -> NetNamespace.named("ferry-no-such-ns"));
        assertEquals(Errno.ENOENT, e.errno());
        assertTrue(e.getMessage().contains("/run/netns/ferry-no-such-ns"), e.getMessage());
    }

    @Test
    void taskExceptionsReachTheCaller() {
        try (TestNetns ns = TestNetns.create("fns")) {
            var e = assertThrows(IllegalArgumentException.class,
                    () -> ns.handle().call(() -> { throw new IllegalArgumentException("boom"); }));
            assertEquals("boom", e.getMessage());
        }
    }
}
