package dev.ferry.agent;

import dev.ferry.agent.AgentConfig.Mode;
import dev.ferry.cni.CniVersions;
import dev.ferry.datapath.AttachMode;
import dev.ferry.net.IpPrefix;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Pattern;

/**
 * The configuration's values, one kind each: parsed and checked, or a
 * {@link ConfigException} naming the key and saying what would be right.
 */
final class ConfigValues {
    /** A Kubernetes node name: an RFC 1123 subdomain. */
    private static final Pattern NODE_NAME = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");

    private ConfigValues() {}

    /** One of the versions ferry-cni advertises: a runtime refuses a conflist whose version its plugin does not. */
    static String cniVersion(String key, String version) {
        if (!CniVersions.isSupported(version)) {
            throw new ConfigException("key '" + key + "' must be one of " + String.join(", ", CniVersions.SUPPORTED)
                    + " (the versions ferry-cni supports), not '" + version + "'");
        }
        return version;
    }

    /** {@code 60s}, {@code 1500ms} or an ISO-8601 duration ({@code PT1M}). */
    static Duration duration(String key, String text) {
        try {
            if (text.endsWith("ms")) {
                return Duration.ofMillis(Long.parseLong(text.substring(0, text.length() - 2)));
            }
            if (text.endsWith("s") && !text.startsWith("P")) {
                return Duration.ofSeconds(Long.parseLong(text.substring(0, text.length() - 1)));
            }
            return Duration.parse(text);
        } catch (RuntimeException e) {
            throw new ConfigException("key '" + key + "' must be a duration like 60s, 1500ms or PT1M, not '" + text + "'");
        }
    }

    static Mode mode(String key, String text) {
        return switch (text) {
            case "standalone" -> Mode.STANDALONE;
            case "kubernetes" -> Mode.KUBERNETES;
            default -> throw new ConfigException("key '" + key + "' must be standalone or kubernetes, not '" + text + "'");
        };
    }

    static AttachMode attachMode(String key, String text) {
        try {
            return AttachMode.parse(text);
        } catch (IllegalArgumentException e) {
            throw new ConfigException("key '" + key + "' must be tcx or tc, not '" + text + "'");
        }
    }

    static String nodeName(String key, String name) {
        if (name.length() > 253 || !NODE_NAME.matcher(name).matches()) {
            throw new ConfigException("key '" + key + "': '" + name
                    + "' is not a valid node name (lowercase letters, digits, '-' and '.', at most 253)");
        }
        return name;
    }

    /** A CIDR with its network address: 10.244.1.0/24, not 10.244.1.7/24 and not a bare address. */
    static IpPrefix cidr(String key, String text) {
        try {
            return IpPrefix.parseNetwork(text);
        } catch (IllegalArgumentException e) {
            throw new ConfigException("key '" + key + "': " + e.getMessage());
        }
    }

    static InetAddress address(String key, String text) {
        try {
            return IpPrefix.literal(text);
        } catch (IllegalArgumentException e) {
            throw new ConfigException("key '" + key + "': '" + text + "' is not an IP address");
        }
    }

    /** The kernel's rule for interface names (dev_valid_name), so that a bad one is a config error, not a netlink one. */
    static String ifname(String key, String name) {
        if (name.isEmpty() || name.getBytes(StandardCharsets.UTF_8).length > 15 || name.equals(".") || name.equals("..")
                || name.chars().anyMatch(c -> c == '/' || c == ':' || Character.isWhitespace(c))) {
            throw new ConfigException("key '" + key + "': '" + name
                    + "' is not an interface name (1-15 bytes, no '/', ':' or whitespace)");
        }
        return name;
    }

    static Path absolutePath(String key, String text) {
        Path path = Path.of(text);
        if (!path.isAbsolute()) {
            throw new ConfigException("key '" + key + "': '" + text + "' must be an absolute path");
        }
        return path.normalize();
    }

    /** {@code 0.0.0.0:9962} or {@code [::]:9962}: an IP literal, never a name to resolve. */
    static InetSocketAddress hostPort(String key, String text) {
        int colon = text.lastIndexOf(':');
        String host = colon < 0 ? "" : text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        } else if (host.contains(":")) {
            host = ""; // an IPv6 literal needs brackets, or the port is ambiguous
        }
        try {
            int port = Integer.parseInt(text.substring(colon + 1));
            if (host.isEmpty() || port < 1 || port > 65535) {
                throw new IllegalArgumentException();
            }
            return new InetSocketAddress(IpPrefix.literal(host), port);
        } catch (IllegalArgumentException e) {
            throw new ConfigException("key '" + key + "': '" + text
                    + "' is not an IP address and port (e.g. 0.0.0.0:9962 or [::]:9962)");
        }
    }
}
