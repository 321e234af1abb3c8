package dev.ferry.endpoint;

import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.Shell;
import dev.ferry.testing.TestNetns;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The node's IPv6 forwarding, set where /proc/sys is writable and a clear error where it is
 * not: a container's read-only /proc/sys is stood in for by a file on a read-only bind mount
 * of the test's own directory (unmounted after each test).
 */
@RequiresRoot
class NodeIpv6ForwardingTest {
    @TempDir
    Path dir;
    private TestNetns node;
    private Path readOnly;

    @BeforeEach
    void node() {
        node = TestNetns.create("v6fw");
    }

    @AfterEach
    void cleanUp() {
        if (readOnly != null) {
            Shell.run("umount", readOnly.toString());
            assertFalse(Shell.run("cat", "/proc/self/mounts").contains(readOnly.toString()), "the bind mount is gone");
        }
        node.close();
    }

    /** A sysctl file holding {@code value} on a read-only mount, as /proc/sys is in an unprivileged container. */
    private Path readOnlySysctl(String value) throws Exception {
        Path d = Files.createDirectories(dir.resolve("ro"));
        Path file = Files.writeString(d.resolve("forwarding"), value + "\n");
        Shell.run("mount", "--bind", d.toString(), d.toString());
        readOnly = d;
        Shell.run("mount", "-o", "remount,bind,ro", d.toString());
        return file;
    }

    @Test
    void aNodeWithForwardingOffGetsItTurnedOnInItsOwnNamespace() {
        node.sysctl("net.ipv6.conf.all.forwarding", "0");

        NodeIpv6Forwarding.enable(node.handle());

        assertEquals("1", node.exec("sysctl", "-n", "net.ipv6.conf.all.forwarding").stdout().strip());
    }

    @Test
    void aReadOnlySysctlThatIsZeroFailsNamingTheSysctlAndWhatToDo() throws Exception {
        Path sysctl = readOnlySysctl("0");

        var e = assertThrows(IllegalStateException.class, () -> NodeIpv6Forwarding.enable(node.handle(), sysctl));

        assertEquals("net.ipv6.conf.all.forwarding is 0 and the agent cannot set it (Read-only file system; in a "
                + "container /proc/sys is read-only): the node has an IPv6 pod CIDR, whose pods need it; set it on the node "
                + "(sysctl -w net.ipv6.conf.all.forwarding=1, and a file in /etc/sysctl.d to keep it), see "
                + "docs/configuration.md", e.getMessage());
    }

    @Test
    void aReadOnlySysctlThatIsAlreadyOneIsFine() throws Exception {
        Path sysctl = readOnlySysctl("1");

        NodeIpv6Forwarding.enable(node.handle(), sysctl);

        assertEquals("1", Files.readString(sysctl).strip());
    }

    @Test
    void aKernelWithoutIpv6FailsSayingSo() {
        var e = assertThrows(IllegalStateException.class,
                () -> NodeIpv6Forwarding.enable(node.handle(), dir.resolve("no-such-sysctl")));

        assertTrue(e.getMessage().startsWith("the node has an IPv6 pod CIDR but IPv6 is disabled in the kernel"), e.getMessage());
    }
}
