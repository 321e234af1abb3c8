package dev.ferry.netlink;

import dev.ferry.netns.NetNamespace;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

/**
 * Per-namespace network sysctls ({@code net.ipv4.ip_forward},
 * {@code net.ipv4.conf.<dev>.rp_filter}, ...), read and written through
 * /proc/sys.
 *
 * <p>The kernel resolves /proc/sys/net against the network namespace of the
 * calling thread (net_ctl_header_lookup reads current->nsproxy), not of the
 * process and not of whoever mounted /proc, and binds an open file to that
 * namespace. So a plain file write from a thread inside the namespace is
 * enough: no mount namespace, no remounted /sys as {@code ip netns exec} does.
 * Only {@code net.*} keys are accepted: every other sysctl would silently
 * change the whole host.
 *
 * <p>A container that is not privileged gets /proc/sys read-only from its
 * runtime; the DaemonSet mounts the host's procfs at /host/proc and names it in
 * {@code FERRY_PROCFS}. Which procfs mount is written does not matter for
 * {@code net.*}: the calling thread's namespace decides, as above.
 */
public final class Sysctl {
    /** The procfs whose sys/ is written: {@code $FERRY_PROCFS}, else /proc. */
    static final String PROCFS_ENV = "FERRY_PROCFS";
    private static final Path ROOT = root(System.getenv(PROCFS_ENV));

    private Sysctl() {}

    static Path root(String procfs) {
        return (procfs == null || procfs.isBlank() ? Path.of("/proc") : Path.of(procfs)).resolve("sys");
    }

    /** Sets {@code key} in the calling thread's network namespace. */
    public static void set(String key, String value) {
        try {
            Files.writeString(path(key), value, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new UncheckedIOException("failed to set sysctl '" + key + "' to '" + value + "': " + e, e);
        }
    }

    /** Reads {@code key} in the calling thread's network namespace, without the trailing newline. */
    public static String get(String key) {
        try {
            return Files.readString(path(key)).strip();
        } catch (IOException e) {
            throw new UncheckedIOException("failed to read sysctl '" + key + "': " + e, e);
        }
    }

    public static void set(NetNamespace namespace, String key, String value) {
        namespace.execute(() -> set(key, value));
    }

    /** Sets several keys, in the map's order, on one thread inside {@code namespace} (one thread start, not one per key). */
    public static void setAll(NetNamespace namespace, Map<String, String> values) {
        namespace.execute(() -> values.forEach(Sysctl::set));
    }

    public static String get(NetNamespace namespace, String key) {
        return namespace.run(() -> get(key));
    }

    /**
     * {@code net.ipv4.conf.eth0.rp_filter} to its file. As with sysctl(8), a key
     * written with slashes is taken as a path: the way to name a device whose
     * name has a dot ({@code net/ipv4/conf/eth0.100/rp_filter}).
     */
    static Path path(String key) {
        return path(ROOT, key);
    }

    static Path path(Path root, String key) {
        String relative = key.indexOf('/') >= 0 ? key : key.replace('.', '/');
        Path path = root.resolve(relative).normalize();
        if (!path.startsWith(root.resolve("net")) || path.getNameCount() <= root.getNameCount() + 1) {
            throw new IllegalArgumentException("'" + key + "' is not a net.* sysctl; only those follow the network namespace");
        }
        return path;
    }
}
