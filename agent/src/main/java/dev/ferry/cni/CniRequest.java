package dev.ferry.cni;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One forwarded CNI invocation: the environment (sent as headers) and the
 * network configuration (the body), validated in skel's order so that a runtime
 * sees the same error a reference plugin would give it.
 *
 * @param netns      empty when the command has none (DEL may omit it; STATUS, GC)
 * @param containerId empty for STATUS, GC and VERSION
 * @param ifname     empty for STATUS, GC and VERSION
 * @param path       CNI_PATH as given (':'-separated)
 * @param config     the parsed configuration; null only for VERSION, which has none
 */
public record CniRequest(
        CniCommand command,
        String containerId,
        String netns,
        String ifname,
        CniArgs args,
        String path,
        NetworkConfig config) {

    public static final String COMMAND = "CNI-Command";
    public static final String CONTAINER_ID = "CNI-ContainerID";
    public static final String NETNS = "CNI-Netns";
    public static final String IFNAME = "CNI-IfName";
    public static final String ARGS = "CNI-Args";
    public static final String PATH = "CNI-Path";

    /** IFNAMSIZ is 16 with the terminating NUL. */
    static final int MAX_IFNAME_BYTES = 15;

    /** Header and the environment variable it carries, in skel's order (the order errors list them). */
    private enum Variable {
        CONTAINERID("CNI_CONTAINERID", CONTAINER_ID),
        NETNS_("CNI_NETNS", NETNS),
        IFNAME_("CNI_IFNAME", IFNAME),
        PATH_("CNI_PATH", PATH);

        final String envName;
        final String header;

        Variable(String envName, String header) {
            this.envName = envName;
            this.header = header;
        }

        /** pkg/skel's table: DEL may come without a netns (it may be gone); STATUS and GC need none of these. */
        boolean requiredFor(CniCommand c) {
            return switch (c) {
                case ADD, CHECK -> true;
                case DEL -> this != NETNS_;
                case STATUS, GC, VERSION -> false;
            };
        }
    }

    /**
     * Builds and validates a request. Header names are matched case-insensitively
     * (HTTP); an empty header counts as missing, as an empty variable does in skel.
     *
     * @throws CniException code 4 for missing or invalid environment, 6/1/7 from
     *                      {@link NetworkConfig#parse}, 1 for a command the
     *                      configuration's version does not have
     */
    public static CniRequest fromHeaders(Map<String, String> headers, byte[] body) {
        Map<String, String> h = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        headers.forEach((k, v) -> h.put(k, v == null ? "" : v));
        String commandText = h.getOrDefault(COMMAND, "");
        if (commandText.isEmpty()) {
            throw missing(List.of("CNI_COMMAND"), List.of(COMMAND));
        }
        CniCommand command = CniCommand.parse(commandText);
        List<String> missingEnv = new ArrayList<>();
        List<String> missingHeaders = new ArrayList<>();
        for (Variable v : Variable.values()) {
            if (v.requiredFor(command) && h.getOrDefault(v.header, "").isEmpty()) {
                missingEnv.add(v.envName);
                missingHeaders.add(v.header);
            }
        }
        if (!missingEnv.isEmpty()) {
            throw missing(missingEnv, missingHeaders);
        }
        String containerId = h.getOrDefault(CONTAINER_ID, "");
        String ifname = h.getOrDefault(IFNAME, "");
        if (command == CniCommand.VERSION) {
            // VERSION reads no configuration (skel empties stdin for it).
            return new CniRequest(command, containerId, h.getOrDefault(NETNS, ""), ifname, CniArgs.NONE, h.getOrDefault(PATH, ""), null);
        }
        NetworkConfig config = NetworkConfig.parse(body);
        if (command.isPerContainer()) {
            validateContainerId(containerId);
            validateIfname(ifname);
        }
        config.requireCommand(command);
        CniArgs args = CniArgs.parse(h.getOrDefault(ARGS, ""));
        return new CniRequest(command, containerId, h.getOrDefault(NETNS, ""), ifname, args, h.getOrDefault(PATH, ""), config);
    }

    /** The version replies to this request are rendered in. */
    public String cniVersion() {
        return config == null ? CniVersions.LATEST : config.cniVersion();
    }

    /** skel (utils.ValidateContainerID): invalid characters are code 4, with the id as details. */
    static void validateContainerId(String id) {
        if (!NetworkConfig.NAME.matcher(id).matches()) {
            throw new CniException(CniError.INVALID_ENVIRONMENT_VARIABLES, "invalid characters in containerID", id);
        }
    }

    /** skel (utils.ValidateInterfaceName), all code 4; the length counts bytes as the kernel does. */
    static void validateIfname(String name) {
        if (name.getBytes(StandardCharsets.UTF_8).length > MAX_IFNAME_BYTES) {
            throw badIfname("interface name is too long", name + ": at most " + MAX_IFNAME_BYTES + " bytes");
        }
        if (name.equals(".") || name.equals("..")) {
            throw badIfname("interface name is . or ..", name);
        }
        if (name.codePoints().anyMatch(c -> c == '/' || c == ':' || Character.isWhitespace(c) || Character.isSpaceChar(c))) {
            throw badIfname("interface name contains / or : or whitespace characters", "'" + name + "'");
        }
    }

    private static CniException badIfname(String msg, String details) {
        return new CniException(CniError.INVALID_ENVIRONMENT_VARIABLES, msg, details);
    }

    /** skel's message names the variables; the details name the headers the plugin sends them as. */
    private static CniException missing(List<String> env, List<String> headers) {
        return new CniException(CniError.INVALID_ENVIRONMENT_VARIABLES,
                "required env variables [" + String.join(",", env) + "] missing",
                "missing headers: " + String.join(", ", headers));
    }
}
