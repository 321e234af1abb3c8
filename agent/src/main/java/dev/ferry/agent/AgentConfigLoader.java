package dev.ferry.agent;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.ferry.agent.AgentConfig.Mode;
import dev.ferry.datapath.AttachMode;
import dev.ferry.datapath.AttachModes;
import dev.ferry.ipam.Ipam;
import dev.ferry.masquerade.MasqueradeFamilies;
import dev.ferry.egress.EgressRoute;
import dev.ferry.net.IpPrefix;
import dev.ferry.routes.Peer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the agent's YAML configuration (the keys are in docs/configuration.md),
 * fills in the defaults and refuses anything it cannot run with, naming the file
 * and the key: a mistake is found at start, in one line, not at the first pod.
 */
public final class AgentConfigLoader {
    static final Set<String> KEYS = Set.of("nodeName", "mode", "podCIDRs", "clusterCIDRs", "uplinks", "peers", "mirrors",
            "socket", "stateDir", "bpffsRoot", "cniConfDir", "metricsAddress", "attach", "podAttach",
            "kubeconfig", "endpointGcGracePeriod", "masquerade", "logLevel", "logLevels", "cniVersion", "metricsPerPod",
            "egressRoutes");

    /** {@code ${NAME}:port}: metricsAddress with its host from the environment. */
    private static final Pattern HOST_FROM_ENV = Pattern.compile("^\\$\\{([A-Za-z_][A-Za-z0-9_]*)}(:.*)$");
    /** sockaddr_un.sun_path less the NUL: a longer path cannot be bound. */
    static final int MAX_SOCKET_PATH_BYTES = 107;
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
            // SnakeYAML's message spans lines (it draws the spot); the agent reports a config error as one line.
            String message = e.getOriginalMessage().strip().replaceAll("\\s*\\R\\s*", "; ");
            throw new ConfigException("not valid YAML: " + message
                    + (e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ")"));
        }
        if (root == null || root instanceof MissingNode) {
            root = YAML.createObjectNode(); // an empty file: every default
        }
        YamlFields f = YamlFields.of(root, "", KEYS);

        String nodeName = f.string("nodeName").map(n -> ConfigValues.nodeName(f.key("nodeName"), n)).orElseGet(this::defaultNodeName);
        Mode mode = f.string("mode").map(m -> ConfigValues.mode(f.key("mode"), m)).orElseGet(this::defaultMode);
        List<IpPrefix> podCidrs;
        List<Peer> peers;
        List<IpPrefix> clusterCidrs;
        if (mode == Mode.KUBERNETES) {
            // The Node gives the pod CIDRs and the other nodes; an explicit clusterCIDRs still wins over them.
            for (String standaloneOnly : List.of("podCIDRs", "peers", "egressRoutes")) {
                if (root.has(standaloneOnly)) {
                    throw new ConfigException("key '" + standaloneOnly + "' is for standalone mode; kubernetes mode reads the Nodes"
                            + (f.string("mode").isPresent() ? "" : " (the mode defaulted to kubernetes because "
                            + kubeconfigEvidence() + "; set mode: standalone)"));
                }
            }
            podCidrs = List.of();
            peers = List.of();
            clusterCidrs = f.list("clusterCIDRs", ConfigValues::cidr).orElse(List.of());
        } else {
            podCidrs = f.list("podCIDRs", ConfigValues::cidr)
                    .orElseThrow(() -> new ConfigException("key 'podCIDRs' is required in standalone mode (the node's pod CIDR, e.g. [10.244.1.0/24])"));
            checkPodCidrs(podCidrs);
            List<IpPrefix> own = podCidrs;
            peers = ConfiguredPeers.parse(f, nodeName, podCidrs);
            List<Peer> known = peers;
            Optional<List<IpPrefix>> given = f.list("clusterCIDRs", ConfigValues::cidr);
            given.ifPresent(c -> checkClusterCidrFamilies(c, own));
            clusterCidrs = given.orElseGet(() -> defaultClusterCidrs(own, known));
        }

        Path socket = f.string("socket").map(s -> ConfigValues.absolutePath(f.key("socket"), s)).orElse(Path.of("/run/ferry/ferry.sock"));
        if (socket.toString().getBytes(StandardCharsets.UTF_8).length > MAX_SOCKET_PATH_BYTES) {
            throw new ConfigException("key 'socket': '" + socket + "' is longer than a unix socket path may be ("
                    + MAX_SOCKET_PATH_BYTES + " bytes)");
        }
        List<String> uplinks = f.list("uplinks", ConfigValues::ifname).orElse(List.of());
        MasqueradeFamilies masquerade = masquerade(f);
        // A route that masquerades needs the node's masquerade table of each family it routes.
        List<EgressRoute> egressRoutes = mode == Mode.KUBERNETES ? List.of()
                : ConfiguredEgressRoutes.parse(f, clusterCidrs, uplinks, masquerade);
        return new AgentConfig(
                nodeName,
                mode,
                podCidrs,
                clusterCidrs,
                uplinks,
                peers,
                socket,
                f.string("stateDir").map(s -> ConfigValues.absolutePath(f.key("stateDir"), s)).orElse(Path.of("/var/lib/ferry")),
                f.string("bpffsRoot").map(s -> ConfigValues.absolutePath(f.key("bpffsRoot"), s)).orElse(Path.of("/sys/fs/bpf/ferry")),
                f.string("cniConfDir").map(s -> ConfigValues.absolutePath(f.key("cniConfDir"), s)).orElse(Path.of("/etc/cni/net.d")),
                ConfigValues.hostPort(f.key("metricsAddress"), metricsAddress(f.key("metricsAddress"),
                        f.string("metricsAddress").orElse("0.0.0.0:9962"))),
                new AttachModes(
                        f.string("attach").map(a -> ConfigValues.attachMode(f.key("attach"), a)).orElse(AttachMode.TCX),
                        f.string("podAttach").map(a -> ConfigValues.attachMode(f.key("podAttach"), a)).orElse(AttachModes.DEFAULT_PODS)),
                new AgentConfig.Kubernetes(
                        f.string("kubeconfig").map(s -> ConfigValues.absolutePath(f.key("kubeconfig"), s)).orElse(null),
                        f.string("endpointGcGracePeriod").map(d -> ConfigValues.duration(f.key("endpointGcGracePeriod"), d))
                                .orElse(AgentConfig.Kubernetes.DEFAULTS.endpointGcGracePeriod())),
                masquerade,
                LogLevels.of(f.string("logLevel").orElse("info"), f.stringMap("logLevels").orElse(Map.of()),
                        f.key("logLevel"), f.key("logLevels")),
                f.string("cniVersion").map(v -> ConfigValues.cniVersion(f.key("cniVersion"), v)).orElse(AgentConfig.DEFAULT_CNI_VERSION),
                f.bool("metricsPerPod").orElse(true),
                egressRoutes,
                ConfiguredMirrors.parse(f));
    }

    /**
     * metricsAddress, its host taken from the environment when written {@code ${NAME}:port}: one
     * ConfigMap serves every node, and the DaemonSet gives each agent its node's address in
     * {@code HOST_IP} (the downward API's status.hostIP) to bind only that.
     */
    private String metricsAddress(String key, String text) {
        Matcher m = HOST_FROM_ENV.matcher(text);
        if (!m.matches()) {
            return text;
        }
        String host = env.getOrDefault(m.group(1), "");
        if (host.isEmpty()) {
            throw new ConfigException("key '" + key + "': '" + text + "' names the environment variable " + m.group(1)
                    + ", which is not set");
        }
        return (host.contains(":") ? "[" + host + "]" : host) + m.group(2);
    }

    /**
     * {@code masquerade: true|false} for both families, or {@code masquerade: {ipv4: true, ipv6: false}}
     * (a family left out is masqueraded): global IPv6 pod addresses often need no NAT while IPv4 does.
     */
    private static MasqueradeFamilies masquerade(YamlFields f) {
        if (f.isMapping("masquerade")) {
            YamlFields families = f.mapping("masquerade", Set.of("ipv4", "ipv6")).orElseThrow();
            return new MasqueradeFamilies(families.bool("ipv4").orElse(true), families.bool("ipv6").orElse(true));
        }
        try {
            return f.bool("masquerade").map(on -> on ? MasqueradeFamilies.ALL : MasqueradeFamilies.NONE)
                    .orElse(MasqueradeFamilies.ALL);
        } catch (ConfigException e) {
            throw new ConfigException(e.getMessage() + " (or a mapping per family: {ipv4: true, ipv6: false})");
        }
    }

    /**
     * One pod CIDR, or two of different families (dual stack, either order: the
     * IPv4 address comes first in what ADD makes). An IPv6 pool's size is
     * bounded by {@link Ipam#unusableAsPool}.
     */
    static void checkPodCidrs(List<IpPrefix> podCidrs) {
        if (podCidrs.isEmpty() || podCidrs.size() > 2) {
            throw new ConfigException("key 'podCIDRs' must hold one CIDR, or two of different families (dual stack), not "
                    + podCidrs.size());
        }
        if (podCidrs.size() == 2 && podCidrs.get(0).isIpv4() == podCidrs.get(1).isIpv4()) {
            throw new ConfigException("key 'podCIDRs': " + podCidrs.get(0) + " and " + podCidrs.get(1) + " are both "
                    + (podCidrs.get(0).isIpv4() ? "IPv4" : "IPv6") + "; a node has one pod CIDR per family");
        }
        for (int i = 0; i < podCidrs.size(); i++) {
            int index = i;
            Ipam.unusableAsPool(podCidrs.get(i)).ifPresent(why -> {
                throw new ConfigException("key 'podCIDRs[" + index + "]': " + why);
            });
        }
    }

    /** A cluster CIDR of a family this node has no pod CIDR of cannot hold its pods: the key is wrong. */
    private static void checkClusterCidrFamilies(List<IpPrefix> clusterCidrs, List<IpPrefix> podCidrs) {
        for (int i = 0; i < clusterCidrs.size(); i++) {
            IpPrefix c = clusterCidrs.get(i);
            if (podCidrs.stream().noneMatch(p -> p.isIpv4() == c.isIpv4())) {
                throw new ConfigException("key 'clusterCIDRs[" + i + "]': " + c + " is " + (c.isIpv4() ? "IPv4" : "IPv6")
                        + " but podCIDRs has no " + (c.isIpv4() ? "IPv4" : "IPv6") + " CIDR");
            }
        }
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
        return ConfigValues.nodeName(fromEnv.isEmpty() ? "nodeName (from the host name)" : "nodeName (from NODE_NAME)", name);
    }

    /** Kubernetes when a kubeconfig or in-cluster config exists, else standalone. */
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

    private static String kernelHostname() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/hostname"));
        } catch (IOException e) {
            throw new ConfigException("no nodeName, no NODE_NAME and the host name is unreadable: " + e.getMessage());
        }
    }
}
