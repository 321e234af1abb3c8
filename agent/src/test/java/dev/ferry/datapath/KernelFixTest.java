package dev.ferry.datapath;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Which kernels lack the fixes that change the datapath, by version: the
 * bpf_redirect_peer scrub (c4327229, CVE-2025-37959: affected from 5.10, fixed
 * in 6.15 and stable 6.1.139, 6.6.91, 6.12.29, 6.14.7) and the veth receive
 * statistics of redirect_peer traffic (024ee930cb3c: fixed in 6.7 and 6.6.4).
 */
class KernelFixTest {

    @ParameterizedTest(name = "{0}: scrub {1}, rx stats {2}")
    @CsvSource({
            // releases that carry the upstream version
            "6.18.44-fc-v1272, NOT_AFFECTED, NOT_AFFECTED",
            "6.15.0,           NOT_AFFECTED, NOT_AFFECTED",
            "6.14.6,           AFFECTED,     NOT_AFFECTED",
            "6.14.7,           NOT_AFFECTED, NOT_AFFECTED",
            "6.13.12,          AFFECTED,     NOT_AFFECTED",
            "6.12.28,          AFFECTED,     NOT_AFFECTED",
            "6.12.29-cloud,    NOT_AFFECTED, NOT_AFFECTED",
            "6.8.12,           AFFECTED,     NOT_AFFECTED",
            "6.7.0,            AFFECTED,     NOT_AFFECTED",
            "6.6.90,           AFFECTED,     NOT_AFFECTED",
            "6.6.91,           NOT_AFFECTED, NOT_AFFECTED",
            "6.6.3,            AFFECTED,     AFFECTED",
            "6.6.0,            AFFECTED,     AFFECTED",
            "6.1.138,          AFFECTED,     AFFECTED",
            "6.1.139,          NOT_AFFECTED, AFFECTED",
            "5.15.180,         AFFECTED,     AFFECTED",
            "5.4.290,          NOT_AFFECTED, NOT_AFFECTED", // no bpf_redirect_peer at all
            // a distribution's ABI name hides the stable sublevel: only what the line tells
            "6.6.0-1-amd64,    UNKNOWN,      UNKNOWN",
            "6.1.0-28-amd64,   UNKNOWN,      AFFECTED",
            "6.8.0-45-generic, AFFECTED,     NOT_AFFECTED",
            "5.14.0-427.el9,   AFFECTED,     AFFECTED",
            "6.16,             NOT_AFFECTED, NOT_AFFECTED",
            "weird,            UNKNOWN,      UNKNOWN",
    })
    void judgedByTheUpstreamVersion(String release, KernelFix.Status scrub, KernelFix.Status rxStats) {
        assertEquals(List.of(scrub, rxStats), statuses(release, "", ""));
    }

    @ParameterizedTest(name = "{0} / {1}")
    @CsvSource(delimiter = '|', value = {
            "6.8.0-45-generic | Ubuntu 6.8.0-45.45-generic 6.8.12 | AFFECTED",
            "6.14.0-15-generic | Ubuntu 6.14.0-15.15-generic 6.14.7 | NOT_AFFECTED",
    })
    void ubuntusVersionSignatureNamesTheUpstreamVersion(String release, String signature, KernelFix.Status scrub) {
        assertEquals(scrub, statuses(release, "", signature).getFirst());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "6.1.0-28-amd64 | #1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22) | AFFECTED",
            "6.1.0-37-amd64 | #1 SMP PREEMPT_DYNAMIC Debian 6.1.140-1 (2025-05-22) | NOT_AFFECTED",
    })
    void debiansProcVersionNamesTheUpstreamVersion(String release, String procVersion, KernelFix.Status scrub) {
        assertEquals(scrub, statuses(release, "Linux version " + release + " (debian-kernel@lists.debian.org) " + procVersion, "")
                .getFirst());
    }

    private static List<KernelFix.Status> statuses(String release, String procVersion, String signature) {
        return KernelFix.judge(release, procVersion, signature).stream().map(KernelFix::status).toList();
    }
}
