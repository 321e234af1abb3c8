package dev.ferry.datapath;

import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A kernel fix that changes what Ferry's datapath does on a node, and whether
 * the running kernel lacks it, judged by its upstream version (the release, or
 * the upstream version a distribution names in /proc/version or
 * /proc/version_signature). A distribution may have backported a fix without
 * saying so in the version: {@link Status#AFFECTED} means "not by its version".
 *
 * @param name   short name, the metric label
 * @param commit the upstream commit that fixed it
 * @param status whether this kernel is affected
 * @param basis  the version the status was judged from, or why it could not be
 * @param effect what a missing fix means to an operator
 */
public record KernelFix(String name, String commit, Status status, String basis, String effect) {

    public enum Status {
        /** The version has the fix, or predates what it fixes. */
        NOT_AFFECTED,
        /** The version lacks the fix. */
        AFFECTED,
        /** The version does not tell (a distribution's 6.1.0-28 hides the stable release it is built from). */
        UNKNOWN
    }

    /**
     * One known issue: present from {@code introduced}, fixed in mainline
     * {@code fixedIn} and in the stable lines of {@code stableFixes}
     * ("major.minor" to the first fixed sublevel).
     */
    record Issue(String name, String commit, Version introduced, Version fixedIn, Map<String, Integer> stableFixes,
                 String effect) {}

    /** The issues Ferry's datapath cares about; {@code effect} is what an operator is told about each. */
    static final List<Issue> ISSUES = List.of(
            new Issue("redirect_peer_scrub", "c4327229948879814229b46aa26a750718888503",
                    new Version(5, 10, OptionalInt.of(0)), new Version(6, 15, OptionalInt.of(0)),
                    Map.of("6.1", 139, "6.6", 91, "6.12", 29, "6.14", 7),
                    "bpf_redirect_peer does not scrub packets (CVE-2025-37959): what Ferry delivers into a pod"
                            + " keeps the node's per-packet state (conntrack entry, IPsec state, skb extensions),"
                            + " which the pod's netfilter and XFRM policy then see; IPsec-decrypted traffic is dropped"),
            new Issue("redirect_peer_rx_stats", "024ee930cb3c9ae49e4266aee89cfde0ebb407e1",
                    new Version(5, 10, OptionalInt.of(0)), new Version(6, 7, OptionalInt.of(0)),
                    Map.of("6.6", 4),
                    "packets Ferry delivers with bpf_redirect_peer are missing from the pod interface's receive"
                            + " statistics (ip -s link, cAdvisor and kubelet network metrics undercount)"));

    /** The known issues as the kernel described by these files has them. */
    static List<KernelFix> judge(String release, String procVersion, String versionSignature) {
        Version version = Version.upstream(release, procVersion, versionSignature);
        return ISSUES.stream().map(issue -> judge(issue, version, release)).toList();
    }

    static KernelFix judge(Issue issue, Version version, String release) {
        if (version == null) {
            return new KernelFix(issue.name(), issue.commit(), Status.UNKNOWN, "release '" + release + "' has no version",
                    issue.effect());
        }
        String basis = "upstream " + version;
        Status status;
        if (version.before(issue.introduced()) || !version.before(issue.fixedIn())) {
            status = Status.NOT_AFFECTED;
        } else {
            Integer stable = issue.stableFixes().get(version.major() + "." + version.minor());
            if (stable == null) {
                status = Status.AFFECTED;
            } else if (version.sublevel().isEmpty()) {
                status = Status.UNKNOWN;
                basis += ", fixed in " + version.major() + "." + version.minor() + "." + stable;
            } else {
                status = version.sublevel().getAsInt() >= stable ? Status.NOT_AFFECTED : Status.AFFECTED;
            }
        }
        return new KernelFix(issue.name(), issue.commit(), status, basis, issue.effect());
    }

    /** An upstream kernel version; the sublevel is empty when the release hides it. */
    record Version(int major, int minor, OptionalInt sublevel) {
        private static final Pattern RELEASE = Pattern.compile("^(\\d+)\\.(\\d+)(?:\\.(\\d+))?(.*)$");
        private static final Pattern DEBIAN = Pattern.compile(" Debian (\\d+)\\.(\\d+)\\.(\\d+)");
        private static final Pattern UBUNTU = Pattern.compile("^Ubuntu \\S+ (\\d+)\\.(\\d+)\\.(\\d+)");

        /**
         * From the first that tells: Ubuntu's version_signature ("Ubuntu 6.8.0-45.45-generic
         * 6.8.12"), Debian's /proc/version ("... Debian 6.1.119-1 ..."), the release. A
         * release like 6.1.0-28-amd64 (sublevel 0 and a suffix) is a distribution's ABI
         * name, not stable 6.1.0: its sublevel is unknown. Null when nothing parses.
         */
        static Version upstream(String release, String procVersion, String versionSignature) {
            Matcher m = UBUNTU.matcher(versionSignature);
            if (m.find()) {
                return of(m);
            }
            m = DEBIAN.matcher(procVersion);
            if (m.find()) {
                return of(m);
            }
            m = RELEASE.matcher(release);
            if (!m.find()) {
                return null;
            }
            int major = Integer.parseInt(m.group(1));
            int minor = Integer.parseInt(m.group(2));
            boolean distributionAbi = m.group(3) == null || (m.group(3).equals("0") && !m.group(4).isEmpty());
            return new Version(major, minor, distributionAbi ? OptionalInt.empty() : OptionalInt.of(Integer.parseInt(m.group(3))));
        }

        private static Version of(Matcher m) {
            return new Version(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
                    OptionalInt.of(Integer.parseInt(m.group(3))));
        }

        /** Strictly older than {@code other} (an unknown sublevel counts as the line's first). */
        boolean before(Version other) {
            if (major != other.major) {
                return major < other.major;
            }
            if (minor != other.minor) {
                return minor < other.minor;
            }
            return sublevel.orElse(0) < other.sublevel.orElse(0);
        }

        @Override
        public String toString() {
            return major + "." + minor + (sublevel.isPresent() ? "." + sublevel.getAsInt() : ".?");
        }
    }
}
