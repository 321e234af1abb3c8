package dev.ferry.state;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StateLockTest {
    @TempDir
    Path dir;

    @Test
    void aSecondHolderIsRefusedNamingTheFirstsPid() {
        Path state = dir.resolve("state");
        try (StateLock first = StateLock.acquire(state)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> StateLock.acquire(state));
            assertTrue(e.getMessage().startsWith("another agent (pid " + ProcessHandle.current().pid() + ") holds the state directory '"
                    + state + "'"), e.getMessage());
        }
    }

    @Test
    void anotherProcessHoldingTheLockIsRefusedToo() throws Exception {
        Path state = dir.resolve("state");
        Files.createDirectories(state);
        Path file = state.resolve(StateLock.FILE);
        Files.writeString(file, "4242\n");
        // flock(1) takes a BSD lock, which Java's fcntl lock does not see: hold an fcntl lock from a second JVM instead.
        Process holder = new ProcessBuilder(ProcessHandle.current().info().command().orElseThrow(), "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), HoldLock.class.getName(), state.toString()).start();
        try {
            String ready = new String(holder.getInputStream().readNBytes(6));
            assertEquals("locked", ready);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> StateLock.acquire(state));
            assertTrue(e.getMessage().contains("(pid " + holder.pid() + ")"), e.getMessage());
        } finally {
            holder.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        try (StateLock next = StateLock.acquire(state)) {
            assertEquals(ProcessHandle.current().pid() + "\n", Files.readString(file), "a killed holder's lock goes with it");
        }
    }

    @Test
    void closingLetsTheNextAgentIn() {
        Path state = dir.resolve("state");
        StateLock.acquire(state).close();
        StateLock.acquire(state).close();
    }

    @Test
    void theStateDirectoryIsMadeRootOnlyWhoeverCreatedIt() throws Exception {
        Path state = dir.resolve("state");
        Files.createDirectories(state, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        try (StateLock lock = StateLock.acquire(state)) {
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(state)));
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(state.resolve(StateLock.FILE))));
        }
    }

    /** A second process holding the lock until it is killed. */
    public static final class HoldLock {
        public static void main(String[] args) throws Exception {
            StateLock.acquire(Path.of(args[0]));
            System.out.print("locked");
            System.out.flush();
            Thread.sleep(60_000);
        }
    }
}
