package dev.ferry.agent;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.ferry.agent.AgentConfig.Mode;
import dev.ferry.routes.Peer;
import dev.ferry.cni.CniVersions;
import dev.ferry.datapath.AttachMode;
import dev.ferry.datapath.AttachModes;
import dev.ferry.net.IpPrefix;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * Reads the agent's YAML configuration (the keys of DESIGN "Agent configuration"),
 * fills in the defaults and refuses anything it cannot run with, naming the file
 * and the key: a mistake is found at start, in one line, not at the first pod.
 */
public final class AgentConfigLoader {
    static final Set<String> KEYS = Set.of("nodeName", "mode", "podCIDRs", "clusterCIDRs", "uplinks", "peers",
            "socket", "stateDir", "bpffsRoot", "cniConfDir", "metricsAddress", "attach", "podAttach",
            "kubeconfig", "endpointGcGracePeriod", "masquerade", "logLevel", "logLevels", "cniVersion");
    static final Set<String> PEER_KEYS = Set.of("name", "podCIDRs", "address");

    /** sockaddr_un.sun_path less the NUL: a longer path cannot be bound. */
    static final int MAX_SOCKET_PATH_BYTES = 107;
    /** A Kubernetes node name: an RFC 1123 subdomain. */
    private static final Pattern NODE_NAME = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory())
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private final Map<String, String> env;
    private final Supplier<String> hostname;

    /**
     * @param env      the environment (NODE_NAME; KUBECONFIG, HOME and KUBERNETES_SERVICE_HOST for the default mode)
     * @param hostname the host name, the last resort for the node name
     */
    AgentConfigLoader(Map<String, String> env, Supplier<String> hostname) {
        this.env = Map.copyOf(env);
        this.hostname = hostname;
    }

    /** Loads {@code file} with the process's environment and the kernel's host name. */
    public static AgentConfig load(Path file) {
        return new AgentConfigLoader(System.getenv(), AgentConfigLoader::kernelHostname).read(file);
    }

    AgentConfig read(Path file) {
        String yaml;
        try {
            yaml = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new ConfigException("config file '" + file + "' does not exist");
        } catch (IOException e) {
            throw new ConfigException("failed to read config file '" + file + "': " + e.getMessage());
        }
        try {
            return parse(yaml);
        } catch (ConfigException e) {
            throw new ConfigException("config file '" + file + "': " + e.getMessage());
        }
    }

    AgentConfig parse(String yaml) {
        JsonNode root;
        try {
            root = YAML.readTree(yaml);
        } catch (JacksonException e) {
            throw new ConfigException("not valid YAML: " + e.getOriginalMessage()
                    + (e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ")"));
        }
        if (root == null || root instanceof MissingNode) {
            root = YAML.createObjectNode(); // an empty file: every default
        }
        YamlFields f = YamlFields.of(root, "", KEYS);

        String nodeName = f.string("nodeName").map(n -> checkNodeName(f.key("nodeName"), n)).orElseGet(this::defaultNodeName);
        Mode mode = f.string("mode").map(m -> parseMode(f.key("mode"), m)).orElseGet(this::defaultMode);
        List<IpPrefix> podCidrs;
        List<Peer> peers;
        List<IpPrefix> clusterCidrs;
        if (mode == Mode.KUBERNETES) {
            // The Node gives the pod CIDRs and the other nodes; an explicit clusterCIDRs still wins over them.
            for (String standaloneOnly : List.of("podCIDRs", "peers")) {
                if (root.has(standaloneOnly)) {
                    throw new ConfigException("key '" + standaloneOnly + "' is for standalone mode; kubernetes mode reads the Nodes"
                            + (f.string("mode").isPresent() ? "" : " (the mode defaulted to kubernetes because "
                            + kubeconfigEvidence() + "; set mode: standalone)"));
                }
            }
            podCidrs = List.of();
            peers = List.of();
            clusterCidrs = f.list("clusterCIDRs", AgentConfigLoader::cidr).orElse(List.of());
        } else {
            podCidrs = f.list("podCIDRs", AgentConfigLoader::cidr)
                    .orElseThrow(() -> new ConfigException("key 'podCIDRs' is required in standalone mode (the node's pod CIDR, e.g. [10.244.1.0/24])"));
            checkPodCidrs(podCidrs);
            List<IpPrefix> own = podCidrs;
            peers = peers(f, nodeName, podCidrs);
            List<Peer> known = peers;
            clusterCidrs = f.list("clusterCIDRs", AgentConfigLoader::cidr).orElseGet(() -> defaultClusterCidrs(own, known));
        }

        Path socket = f.string("socket").map(s -> absolutePath(f.key("socket"), s)).orElse(Path.of("/run/ferry/ferry.sock"));
        if (socket.toString().getBytes(StandardCharsets.UTF_8).length > MAX_SOCKET_PATH_BYTES) {
            throw new ConfigException("key 'socket': '" + socket + "' is longer than a unix socket path may be ("
                    + MAX_SOCKET_PATH_BYTES + " bytes)");
        }
        return new AgentConfig(
                nodeName,
                mode,
                podCidrs,
                clusterCidrs,
                f.list("uplinks", AgentConfigLoader::ifname).orElse(List.of()),
                peers,
                socket,
                f.string("stateDir").map(s -> absolutePath(f.key("stateDir"), s)).orElse(Path.of("/var/lib/ferry")),
                f.string("bpffsRoot").map(s -> absolutePath(f.key("bpffsRoot"), s)).orElse(Path.of("/sys/fs/bpf/ferry")),
                f.string("cniConfDir").map(s -> absolutePath(f.key("cniConfDir"), s)).orElse(Path.of("/etc/cni/net.d")),
                hostPort(f.key("metricsAddress"), f.string("metricsAddress").orElse("0.0.0.0:9962")),
                new AttachModes(
                        f.string("attach").map(a -> attachMode(f.key("attach"), a)).orElse(AttachMode.TCX),
                        f.string("podAttach").map(a -> attachMode(f.key("podAttach"), a)).orElse(AttachModes.DEFAULT_PODS)),
                new AgentConfig.Kubernetes(
                        f.string("kubeconfig").map(s -> absolutePath(f.key("kubeconfig"), s)).orElse(null),
                        f.string("endpointGcGracePeriod").map(d -> duration(f.key("endpointGcGracePeriod"), d))
                                .orElse(AgentConfig.Kubernetes.DEFAULTS.endpointGcGracePeriod())),
                f.bool("masquerade").orElse(true),
                LogLevels.of(f.string("logLevel").orElse("info"), f.stringMap("logLevels").orElse(Map.of()),
                        f.key("logLevel"), f.key("logLevels")),
                f.string("cniVersion").map(v -> cniVersion(f.key("cniVersion"), v)).orElse(AgentConfig.DEFAULT_CNI_VERSION));
    }

    /** One of the versions ferry-cni advertises: a runtime refuses a conflist whose version its plugin does not. */
    private static String cniVersion(String key, String version) {
        if (!CniVersions.isSupported(version)) {
            throw new ConfigException("key '" + key + "' must be one of " + String.join(", ", CniVersions.SUPPORTED)
                    + " (the versions ferry-cni supports), not '" + version + "'");
        }
        return version;
    }

    /** {@code 60s}, {@code 1500ms} or an ISO-8601 duration ({@code PT1M}). */
    private static Duration duration(String key, String text) {
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

    private static void checkPodCidrs(List<IpPrefix> podCidrs) {
        if (podCidrs.size() != 1) {
            throw new ConfigException("key 'podCIDRs' must hold exactly one CIDR for now (dual-stack comes later), not "
                    + podCidrs.size());
        }
        if (!podCidrs.getFirst().isIpv4()) {
            throw new ConfigException("key 'podCIDRs[0]': " + podCidrs.getFirst()
                    + " is IPv6; the datapath forwards IPv4 pods for now");
        }
    }

    private static List<Peer> peers(YamlFields f, String nodeName, List<IpPrefix> podCidrs) {
        List<Peer> peers = new ArrayList<>();
        List<YamlFields> entries = f.mappings("peers", PEER_KEYS).orElse(List.of());
        for (YamlFields p : entries) {
            String name = p.string("name").map(n -> checkNodeName(p.key("name"), n))
                    .orElseThrow(() -> new ConfigException("key '" + p.key("name") + "' is required"));
            InetAddress address = p.string("address").map(a -> address(p.key("address"), a))
                    .orElseThrow(() -> new ConfigException("key '" + p.key("address") + "' is required (the peer node's address)"));
            List<IpPrefix> cidrs = p.list("podCIDRs", AgentConfigLoader::cidr)
                    .filter(l -> !l.isEmpty())
                    .orElseThrow(() -> new ConfigException("key '" + p.key("podCIDRs") + "' is required (the peer node's pod CIDRs)"));
            if (name.equals(nodeName)) {
                throw new ConfigException("key '" + p.key("name") + "': '" + name + "' is this node's own name");
            }
            if (peers.stream().anyMatch(other -> other.name().equals(name))) {
                throw new ConfigException("key '" + p.key("name") + "': peer '" + name + "' is listed twice");
            }
            for (int i = 0; i < cidrs.size(); i++) {
                IpPrefix cidr = cidrs.get(i);
                String key = p.key("podCIDRs") + "[" + i + "]";
                if (cidr.isIpv4() != (address.getAddress().length == 4)) {
                    throw new ConfigException("key '" + key + "': " + cidr + " and the peer's address "
                            + address.getHostAddress() + " are of different IP families");
                }
                overlapping(cidr, podCidrs).ifPresent(own -> {
                    throw new ConfigException("key '" + key + "': " + cidr + " overlaps this node's pod CIDR " + own);
                });
                for (Peer other : peers) {
                    overlapping(cidr, other.podCidrs()).ifPresent(theirs -> {
                        throw new ConfigException("key '" + key + "': " + cidr + " overlaps " + theirs
                                + " of peer '" + other.name() + "'");
                    });
                }
            }
            peers.add(new Peer(name, cidrs, address));
        }
        return peers;
    }

    private static Optional<IpPrefix> overlapping(IpPrefix cidr, List<IpPrefix> others) {
        return others.stream()
                .filter(o -> o.isIpv4() == cidr.isIpv4() && (o.contains(cidr.network()) || cidr.contains(o.network())))
                .findFirst();
    }

    /** Standalone default: every pod CIDR the config knows, this node's and its peers'. */
    private static List<IpPrefix> defaultClusterCidrs(List<IpPrefix> podCidrs, List<Peer> peers) {
        Set<IpPrefix> all = new LinkedHashSet<>(podCidrs);
        peers.forEach(p -> all.addAll(p.podCidrs()));
        return List.copyOf(all);
    }

    private String defaultNodeName() {
        String fromEnv = env.getOrDefault("NODE_NAME", "");
        // kubelet lowercases the host name for the Node object; do the same so both name the node alike.
        String name = fromEnv.isEmpty() ? hostname.get().strip().toLowerCase(Locale.ROOT) : fromEnv;
        return checkNodeName(fromEnv.isEmpty() ? "nodeName (from the host name)" : "nodeName (from NODE_NAME)", name);
    }

    /** DESIGN: kubernetes when a kubeconfig or in-cluster config exists, else standalone. */
    private Mode defaultMode() {
        return kubeconfigEvidence().isEmpty() ? Mode.STANDALONE : Mode.KUBERNETES;
    }

    private String kubeconfigEvidence() {
        if (!env.getOrDefault("KUBERNETES_SERVICE_HOST", "").isEmpty()) {
            return "KUBERNETES_SERVICE_HOST is set (in-cluster)";
        }
        if (!env.getOrDefault("KUBECONFIG", "").isEmpty()) {
            return "KUBECONFIG is set";
        }
        String home = env.getOrDefault("HOME", "");
        if (!home.isEmpty() && Files.isRegularFile(Path.of(home, ".kube", "config"))) {
            return Path.of(home, ".kube", "config") + " exists";
        }
        return "";
    }

    private static Mode parseMode(String key, String text) {
        return switch (text) {
            case "standalone" -> Mode.STANDALONE;
            case "kubernetes" -> Mode.KUBERNETES;
            default -> throw new ConfigException("key '" + key + "' must be standalone or kubernetes, not '" + text + "'");
        };
    }

    private static AttachMode attachMode(String key, String text) {
        try {
            return AttachMode.parse(text);
        } catch (IllegalArgumentException e) {
            throw new ConfigException("key '" + key + "' must be tcx or tc, not '" + text + "'");
        }
    }

    private static String checkNodeName(String key, String name) {
        if (name.length() > 253 || !NODE_NAME.matcher(name).matches()) {
            throw new ConfigException("key '" + key + "': '" + name
                    + "' is not a valid node name (lowercase letters, digits, '-' and '.', at most 253)");
        }
        return name;
    }

    /** A CIDR with its network address: 10.244.1.0/24, not 10.244.1.7/24 and not a bare address. */
    static IpPrefix cidr(String key, String text) {
        IpPrefix prefix;
        try {
            if (!text.contains("/")) {
                throw new IllegalArgumentException("no prefix length");
            }
            prefix = IpPrefix.parse(text);
        } catch (IllegalArgumentException e) {
            throw new ConfigException("key '" + key + "': '" + text + "' is not a CIDR (" + e.getMessage() + ")");
        }
        if (!prefix.network().equals(prefix.address())) {
            throw new ConfigException("key '" + key + "': '" + text + "' has host bits set; did you mean "
                    + new IpPrefix(prefix.network(), prefix.length()) + "?");
        }
        return prefix;
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

    private static Path absolutePath(String key, String text) {
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

    private static String kernelHostname() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/hostname"));
        } catch (IOException e) {
            throw new ConfigException("no nodeName, no NODE_NAME and the host name is unreadable: " + e.getMessage());
        }
    }
}
