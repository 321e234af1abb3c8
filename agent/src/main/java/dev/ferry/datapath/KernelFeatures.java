package dev.ferry.datapath;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the running kernel offers the datapath, as an operator asks when traffic
 * misbehaves: its release, whether TCX links exist (6.6+; older kernels need {@code attach: tc}),
 * whether it has BTF (CO-RE relocations such as the conntrack kfuncs' struct
 * reads need it) and whether the BPF JIT is on (off means every packet is
 * interpreted, an order of magnitude slower), and which known kernel issues
 * that change the datapath's behaviour it has ({@link KernelFix}).
 *
 * @param release the kernel release ({@code uname -r})
 * @param tcx     TCX hooks exist (Linux 6.6 or later)
 * @param btf     /sys/kernel/btf/vmlinux is there
 * @param jit     net.core.bpf_jit_enable: "on", "off" or "on (debug)"; "unknown" when unreadable
 * @param fixes   every issue of {@link KernelFix#ISSUES}, judged for this kernel
 */
public record KernelFeatures(String release, boolean tcx, boolean btf, String jit, List<KernelFix> fixes) {

    public KernelFeatures {
        fixes = List.copyOf(fixes);
    }

    /** The known issues this kernel has (by its version), or may have (the version does not tell). */
    public List<KernelFix> suspectedIssues() {
        return fixes.stream().filter(f -> f.status() != KernelFix.Status.NOT_AFFECTED).toList();
    }

    private static final Pattern VERSION = Pattern.compile("^(\\d+)\\.(\\d+)");

    /** Reads the running kernel's. */
    public static KernelFeatures probe() {
        return probe(Path.of("/"));
    }

    static KernelFeatures probe(Path root) {
        String release = read(root.resolve("proc/sys/kernel/osrelease"), "unknown");
        String jit = switch (read(root.resolve("proc/sys/net/core/bpf_jit_enable"), "")) {
            case "0" -> "off";
            case "1" -> "on";
            case "2" -> "on (debug)";
            default -> "unknown";
        };
        List<KernelFix> fixes = KernelFix.judge(release, read(root.resolve("proc/version"), ""),
                read(root.resolve("proc/version_signature"), ""));
        return new KernelFeatures(release, atLeast(release, 6, 6), Files.exists(root.resolve("sys/kernel/btf/vmlinux")), jit,
                fixes);
    }

    static boolean atLeast(String release, int major, int minor) {
        Matcher m = VERSION.matcher(release);
        if (!m.find()) {
            return false;
        }
        int ma = Integer.parseInt(m.group(1));
        int mi = Integer.parseInt(m.group(2));
        return ma > major || (ma == major && mi >= minor);
    }

    private static String read(Path file, String otherwise) {
        try {
            return Files.readString(file).strip();
        } catch (IOException e) {
            return otherwise;
        }
    }
}
