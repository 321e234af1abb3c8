package dev.ferry.datapath;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

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

        assertEquals(new KernelFeatures("5.10.0-28-amd64", false, false, "off", KernelFix.judge("5.10.0-28-amd64", "", "")),
                KernelFeatures.probe(root));
    }

    @Test
    void aCurrentKernelWithBtfAndJit() throws Exception {
        file("proc/sys/kernel/osrelease", "6.18.0\n");
        file("proc/sys/net/core/bpf_jit_enable", "1\n");
        file("sys/kernel/btf/vmlinux", "");

        KernelFeatures features = KernelFeatures.probe(root);
        assertEquals(new KernelFeatures("6.18.0", true, true, "on", KernelFix.judge("6.18.0", "", "")), features);
        assertEquals(List.of(), features.suspectedIssues(), "6.18 has every fix Ferry knows of");
    }

    @Test
    void unreadableFilesAreUnknownNotAnError() {
        KernelFeatures features = KernelFeatures.probe(root);
        assertEquals(new KernelFeatures("unknown", false, false, "unknown", KernelFix.judge("unknown", "", "")), features);
        assertTrue(features.fixes().stream().allMatch(f -> f.status() == KernelFix.Status.UNKNOWN), features.toString());
    }

    @Test
    void debiansProcVersionNamesTheStableReleaseItsAbiNameHides() throws Exception {
        file("proc/sys/kernel/osrelease", "6.1.0-28-amd64\n");
        file("proc/version", "Linux version 6.1.0-28-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0,"
                + " GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)\n");

        KernelFix scrub = KernelFeatures.probe(root).fixes().getFirst();
        assertEquals("redirect_peer_scrub", scrub.name());
        assertEquals(KernelFix.Status.AFFECTED, scrub.status(), "fixed in 6.1.139: " + scrub);
        assertEquals("upstream 6.1.119", scrub.basis());
    }
}
