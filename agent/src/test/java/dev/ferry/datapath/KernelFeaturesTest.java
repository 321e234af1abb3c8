package dev.ferry.datapath;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KernelFeaturesTest {
    @TempDir
    Path root;

    private void file(String path, String content) throws Exception {
        Path f = root.resolve(path);
        Files.createDirectories(f.getParent());
        Files.writeString(f, content);
    }

    @Test
    void tcxArrivedInLinux66() {
        assertFalse(KernelFeatures.atLeast("6.5.13-generic", 6, 6));
        assertTrue(KernelFeatures.atLeast("6.6.0", 6, 6));
        assertTrue(KernelFeatures.atLeast("6.18.0-1-amd64", 6, 6));
        assertTrue(KernelFeatures.atLeast("7.0", 6, 6));
        assertFalse(KernelFeatures.atLeast("5.15.0-91", 6, 6));
        assertFalse(KernelFeatures.atLeast("weird", 6, 6));
    }

    @Test
    void anOldKernelWithoutBtfAndJitOffIsDescribedSo() throws Exception {
        file("proc/sys/kernel/osrelease", "5.10.0-28-amd64\n");
        file("proc/sys/net/core/bpf_jit_enable", "0\n");

        assertEquals(new KernelFeatures("5.10.0-28-amd64", false, false, "off"), KernelFeatures.probe(root));
    }

    @Test
    void aCurrentKernelWithBtfAndJit() throws Exception {
        file("proc/sys/kernel/osrelease", "6.18.0\n");
        file("proc/sys/net/core/bpf_jit_enable", "1\n");
        file("sys/kernel/btf/vmlinux", "");

        assertEquals(new KernelFeatures("6.18.0", true, true, "on"), KernelFeatures.probe(root));
    }

    @Test
    void unreadableFilesAreUnknownNotAnError() {
        assertEquals(new KernelFeatures("unknown", false, false, "unknown"), KernelFeatures.probe(root));
    }
}
