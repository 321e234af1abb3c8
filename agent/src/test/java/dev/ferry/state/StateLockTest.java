package dev.ferry.state;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StateLockTest {
    /** As the agent names its DEL spool (AgentConfig.spoolDir). */
    private static final String SPOOL = "cni-spool";

    @TempDir
    Path dir;

    @Test
    void aSecondHolderIsRefusedNamingTheFirstsPid() {
        Path state = dir.resolve("state");
        try (StateLock first = StateLock.acquire(state, state.resolve(SPOOL))) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> StateLock.acquire(state, state.resolve(SPOOL)));
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
            assertTrue(awaitLocked(holder), "the holder took the lock");
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> StateLock.acquire(state, state.resolve(SPOOL)));
            assertTrue(e.getMessage().contains("(pid " + holder.pid() + ")"), e.getMessage());
        } finally {
            holder.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        try (StateLock next = StateLock.acquire(state, state.resolve(SPOOL))) {
            assertEquals(ProcessHandle.current().pid() + "\n", Files.readString(file), "a killed holder's lock goes with it");
        }
    }

    @Test
    void closingLetsTheNextAgentIn() {
        Path state = dir.resolve("state");
        StateLock.acquire(state, state.resolve(SPOOL)).close();
        StateLock.acquire(state, state.resolve(SPOOL)).close();
    }

    @Test
    void theStateDirectoryIsMadeRootOnlyWhoeverCreatedIt() throws Exception {
        Path state = dir.resolve("state");
        Files.createDirectories(state, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        try (StateLock lock = StateLock.acquire(state, state.resolve(SPOOL))) {
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(state)));
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(state.resolve(StateLock.FILE))));
        }
    }

    @Test
    void everyDirectoryAndFileInTheStateIsMadeRootOnlyWhoeverCreatedThem() throws Exception {
        Path state = dir.resolve("state");
        // As a DaemonSet's hostPath and an older agent left them.
        Path endpoint = create(state.resolve("endpoints/c1@eth0.json"), "rwxr-xr-x", "rw-r--r--");
        Path address = create(state.resolve("ipam/10.244.1.2"), "rwxr-xr-x", "rw-r--r--");
        Path podCidr = create(state.resolve("pod-cidr"), "rwxr-xr-x", "rw-r--r--");
        Path bootId = create(state.resolve("boot_id"), "rwxr-xr-x", "rw-rw-rw-");
        Path quarantined = create(state.resolve("quarantine/ipam/10.244.1.3"), "rwxrwxr-x", "r--r--r--");

        try (StateLock lock = StateLock.acquire(state, state.resolve(SPOOL))) {
            for (Path d : List.of(state, state.resolve("endpoints"), state.resolve("ipam"), state.resolve("quarantine"),
                    state.resolve("quarantine/ipam"))) {
                assertEquals("rwx------", mode(d), d.toString());
            }
            for (Path f : List.of(endpoint, address, podCidr, bootId, quarantined)) {
                assertEquals("rw-------", mode(f), f.toString());
            }
        }
    }

    /** Their owner and mode decide whether a DEL is replayed (DelSpool); a chmod here would launder a planted one. */
    @Test
    void theSpoolDirectoryIsMadeRootOnlyButItsFilesKeepTheirModes() throws Exception {
        Path state = dir.resolve("state");
        Path spooled = create(state.resolve(SPOOL).resolve("del-c1-eth0.req"), "rwxr-xr-x", "rw-rw-rw-");

        try (StateLock lock = StateLock.acquire(state, state.resolve(SPOOL))) {
            assertEquals("rwx------", mode(state.resolve(SPOOL)));
            assertEquals("rw-rw-rw-", mode(spooled));
        }
    }

    @Test
    void aLinkInTheStateIsNeverFollowed() throws Exception {
        Path state = dir.resolve("state");
        Path elsewhere = create(dir.resolve("elsewhere/passwd"), "rwxr-xr-x", "rw-r--r--");
        Files.createDirectories(state);
        Files.createSymbolicLink(state.resolve("pod-cidr"), elsewhere);

        try (StateLock lock = StateLock.acquire(state, state.resolve(SPOOL))) {
            assertEquals("rw-r--r--", mode(elsewhere));
        }
    }

    @Test
    void anAgentRefusedTheLockChangesNoMode() throws Exception {
        Path state = dir.resolve("state");
        try (StateLock first = StateLock.acquire(state, state.resolve(SPOOL))) {
            Path later = create(state.resolve("ipam/10.244.1.9"), "rwxr-xr-x", "rw-r--r--");

            assertThrows(IllegalStateException.class, () -> StateLock.acquire(state, state.resolve(SPOOL)));

            assertEquals("rw-r--r--", mode(later));
        }
    }

    /** {@code file} with {@code fileMode}, and each directory from its parent up to the test's top one with {@code directoryMode}. */
    private Path create(Path file, String directoryMode, String fileMode) throws Exception {
        Files.createDirectories(file.getParent());
        for (Path d = file.getParent(); !d.equals(dir); d = d.getParent()) {
            Files.setPosixFilePermissions(d, PosixFilePermissions.fromString(directoryMode));
        }
        Files.writeString(file, "x\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(fileMode));
        return file;
    }

    private static String mode(Path path) throws Exception {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(path, java.nio.file.LinkOption.NOFOLLOW_LINKS));
    }

    /** Reads the holder's output (its log lines come first: it fixed the modes) up to its "locked". */
    private static boolean awaitLocked(Process holder) throws Exception {
        StringBuilder out = new StringBuilder();
        var in = holder.getInputStream();
        for (int c; (c = in.read()) >= 0; ) {
            out.append((char) c);
            if (out.toString().endsWith("locked")) {
                return true;
            }
        }
        return false;
    }

    /** A second process holding the lock until it is killed. */
    public static final class HoldLock {
        public static void main(String[] args) throws Exception {
            StateLock.acquire(Path.of(args[0]), Path.of(args[0]).resolve(SPOOL));
            System.out.print("locked");
            System.out.flush();
            Thread.sleep(60_000);
        }
    }
}
