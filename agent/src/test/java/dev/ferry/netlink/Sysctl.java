package dev.ferry.netlink;

import dev.ferry.netns.NetNamespace;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads a namespace's {@code net.*} sysctls the way an operator would, for
 * tests to check what the agent set through rtnetlink. /proc/sys/net follows
 * the network namespace of the calling thread, so the file is read from a
 * thread inside {@code namespace}.
 */
public final class Sysctl {
    private Sysctl() {}

    /** {@code key} as sysctl(8) names it; slashes name a device with a dot ({@code net/ipv4/conf/eth0.100/forwarding}). */
    public static String get(NetNamespace namespace, String key) {
        Path file = Path.of("/proc/sys").resolve(key.indexOf('/') >= 0 ? key : key.replace('.', '/'));
        return namespace.run(() -> {
            try {
                return Files.readString(file).strip();
            } catch (IOException e) {
                throw new UncheckedIOException("failed to read sysctl '" + key + "': " + e, e);
            }
        });
    }
}
