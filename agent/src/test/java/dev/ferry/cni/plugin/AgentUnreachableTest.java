package dev.ferry.cni.plugin;

import dev.ferry.testing.FerryCni;

import dev.ferry.cni.plugin.FakeAgent.Reply;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;

import static dev.ferry.testing.FerryCni.quote;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ferry-cni when the agent is down: everything but DEL is "try again later"; DEL
 * is spooled so that the runtime can tear pods down during an agent restart.
 */
class AgentUnreachableTest {
    @TempDir
    Path dir;

    private Path socket() {
        return dir.resolve("agent.sock");
    }

    private Path spool() {
        return dir.resolve("state/cni-spool");
    }

    private String config() {
        return "{\"cniVersion\":\"1.0.0\",\"name\":\"ferry\",\"type\":\"ferry-cni\",\"agentSocket\":"
                + quote(socket()) + ",\"spoolDir\":" + quote(spool()) + "}";
    }

    @ParameterizedTest
    @ValueSource(strings = {"ADD", "CHECK", "STATUS", "GC"})
    void missingSocketIsError11NamingTheSocketAndTheCause(String command) {
        FerryCni.Result r = FerryCni.attachment(command).stdin(config()).run();

        assertAll(
                () -> assertEquals(1, r.exitCode(), r::toString),
                () -> assertEquals(11, r.code()),
                () -> assertEquals("1.0.0", r.cniVersion()),
                () -> assertEquals("ferry agent is not reachable", r.msg()),
                () -> assertEquals("failed to connect to '" + socket() + "': No such file or directory", r.details()));
    }

    @Test
    void socketWithoutListenerIsError11ConnectionRefused() throws IOException {
        try (ServerSocketChannel stale = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            stale.bind(UnixDomainSocketAddress.of(socket()));
        } // closed: the socket file stays behind, as after an agent crash
        FerryCni.Result r = FerryCni.attachment("ADD").stdin(config()).run();

        assertEquals(11, r.code(), r::toString);
        assertEquals("failed to connect to '" + socket() + "': Connection refused", r.details());
    }

    @Test
    void delIsSpooledAsTheExactRequestItWouldHaveSent() throws Exception {
        byte[] sent;
        try (FakeAgent agent = FakeAgent.listen(socket(), Reply.raw("HTTP/1.1 204 No Content\r\n\r\n"))) {
            assertEquals(0, FerryCni.attachment("DEL").stdin(config()).run().exitCode());
            sent = agent.awaitRequest();
        } // the agent is gone now, its socket with it

        FerryCni.Result r = FerryCni.attachment("DEL").stdin(config()).run();

        Path spooled = spool().resolve("del-3f6940ab5ab43bc522569d15b23f8c1b-eth0.req");
        assertAll(
                () -> assertEquals(0, r.exitCode(), r::toString),
                () -> assertEquals("", r.stdout()),
                () -> assertEquals(List.of(spooled), listing(spool()), "the spooled file and no temporary file"),
                () -> assertArrayEquals(sent, Files.readAllBytes(spooled)),
                () -> assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(spooled))),
                () -> assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(spool()))));
    }

    @Test
    void repeatedDelLeavesOneSpooledRequest() {
        FerryCni.attachment("DEL").stdin(config()).run();
        FerryCni.Result r = FerryCni.attachment("DEL").stdin(config()).run();

        assertEquals(0, r.exitCode(), r::toString);
        assertEquals(List.of(spool().resolve("del-3f6940ab5ab43bc522569d15b23f8c1b-eth0.req")), listing(spool()));
    }

    @Test
    void spooledFileNameKeepsOnlySafeCharacters() {
        FerryCni.Result r = FerryCni.attachment("DEL")
                .env("CNI_CONTAINERID", "../../etc/passwd x")
                .env("CNI_IFNAME", "eth0:1")
                .stdin(config()).run();

        assertEquals(0, r.exitCode(), r::toString);
        assertEquals(List.of(spool().resolve("del-.._.._etc_passwd_x-eth0_1.req")), listing(spool()));
    }

    @Test
    void delThatCannotBeSpooledIsError11NamingBothFailures() throws IOException {
        Files.writeString(dir.resolve("state"), "a file where the spool's parent directory should be");
        FerryCni.Result r = FerryCni.attachment("DEL").stdin(config()).run();

        assertAll(
                () -> assertEquals(1, r.exitCode(), r::toString),
                () -> assertEquals(11, r.code()),
                () -> assertTrue(r.details().startsWith("failed to connect to '" + socket() + "'"), r::toString),
                () -> assertTrue(r.details().contains("failed to create spool directory '" + spool() + "': Not a directory"),
                        r::toString),
                () -> assertEquals(List.of(dir.resolve("state")), listing(dir), "nothing left behind"));
    }

    private static List<Path> listing(Path directory) {
        try (Stream<Path> files = Files.list(directory)) {
            return files.sorted().toList();
        } catch (IOException e) {
            throw new AssertionError("cannot list " + directory, e);
        }
    }
}
