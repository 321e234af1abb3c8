package dev.ferry.agent;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BootScopedStateTest {
    @TempDir
    Path stateDir;

    @Test
    void stateOfAnEarlierBootIsDiscardedAndTheNewBootRecorded() throws IOException {
        Path endpoint = write("endpoints/c1@eth0.json", "{}");
        Path address = write("ipam/10.244.1.2", "c1\neth0\n");
        Path podCidr = write("pod-cidr", "10.244.1.0/24\n");
        write(BootScopedState.BOOT_ID_FILE, "boot-1\n");

        assertEquals(2, BootScopedState.claim(stateDir, "boot-2"));

        assertFalse(Files.exists(endpoint));
        assertFalse(Files.exists(address));
        assertTrue(Files.exists(podCidr), "only the endpoint and IPAM state is scoped to a boot");
        assertEquals("boot-2\n", Files.readString(stateDir.resolve(BootScopedState.BOOT_ID_FILE)));
    }

    @Test
    void theBootRecordIsReadableByRootOnly() throws IOException {
        BootScopedState.claim(stateDir, "boot-1");

        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(stateDir.resolve(BootScopedState.BOOT_ID_FILE))));
    }

    @Test
    void stateOfThisBootIsKept() throws IOException {
        Path endpoint = write("endpoints/c1@eth0.json", "{}");
        write(BootScopedState.BOOT_ID_FILE, "boot-1\n");

        assertEquals(0, BootScopedState.claim(stateDir, "boot-1"));

        assertTrue(Files.exists(endpoint));
    }

    @Test
    void stateWithoutARecordedBootIsKeptAndClaimed() throws IOException {
        Path address = write("ipam/10.244.1.2", "c1\neth0\n");

        assertEquals(0, BootScopedState.claim(stateDir, "boot-1"));

        assertTrue(Files.exists(address), "an agent upgraded in place keeps its pods");
        assertEquals("boot-1\n", Files.readString(stateDir.resolve(BootScopedState.BOOT_ID_FILE)));
    }

    @Test
    void theKernelsBootIdIsReadable() {
        assertTrue(BootScopedState.readBootId(BootScopedState.KERNEL_BOOT_ID).matches("[0-9a-f-]{36}"));
    }

    private Path write(String relative, String content) throws IOException {
        Path file = stateDir.resolve(relative);
        Files.createDirectories(file.getParent());
        return Files.writeString(file, content);
    }
}
