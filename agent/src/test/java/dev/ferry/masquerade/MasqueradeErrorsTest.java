package dev.ferry.masquerade;

import dev.ferry.net.IpPrefix;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@RequiresRoot
class MasqueradeErrorsTest {
    static final MasqueradeRules RULES = MasqueradeRules.enabled(
            List.of(IpPrefix.parse("10.251.0.0/24")), List.of(IpPrefix.parse("10.251.0.0/16")));

    @Test
    void nullCidrIsRejected() {
        var e = assertThrows(IllegalArgumentException.class, () -> MasqueradeRules.enabled(
                List.of(IpPrefix.parse("10.251.0.0/24")), null));
        assertTrue(e.getMessage().contains("cluster CIDRs are missing"), e.getMessage());
    }

    @Test
    void hostBitsAreClearedAndDuplicatesDropped() {
        var rules = MasqueradeRules.enabled(
                List.of(IpPrefix.parse("10.251.0.9/24"), IpPrefix.parse("10.251.0.0/24")), List.of());
        assertEquals(List.of(IpPrefix.parse("10.251.0.0/24")), rules.podCidrs());
    }

    @Test
    void missingNftNamesThePackageToInstall() {
        try (TestNetns ns = TestNetns.create("msqe")) {
            var e = assertThrows(MasqueradeException.class,
                    () -> new Masquerade(ns.handle(), "nft-that-is-not-installed").apply(RULES));
            assertTrue(e.getMessage().contains("install the nftables package"), e.getMessage());
        }
    }

    @Test
    void nftRejectionCarriesNftsStderr(@TempDir Path dir) throws Exception {
        Path fake = dir.resolve("nft");
        Files.writeString(fake, """
                #!/bin/sh
                cat >/dev/null
                echo "Error: Could not process rule: Operation not supported" >&2
                exit 1
                """);
        Files.setPosixFilePermissions(fake, PosixFilePermissions.fromString("rwx------"));
        try (TestNetns ns = TestNetns.create("msqe")) {
            var e = assertThrows(MasqueradeException.class, () -> new Masquerade(ns.handle(), fake.toString()).apply(RULES));
            assertTrue(e.getMessage().startsWith("nft rejected the ruleset for tables ip and ip6 ferry (exit 1): "
                    + "Error: Could not process rule: Operation not supported"), e.getMessage());
        }
    }
}
