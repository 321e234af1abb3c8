package dev.ferry.cni;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The network configuration the runtime streams to the plugin, as far as Ferry
 * reads it. Unknown top-level fields are allowed: a conflist adds its own
 * ({@code runtimeConfig}, {@code capabilities}, {@code args}, ...).
 *
 * @param prevResult the previous result as compact JSON, kept raw so that ADD can
 *                   pass it on and CHECK can compare against it
 * @param validAttachments GC's {@code cni.dev/valid-attachments}; empty otherwise
 */
public record NetworkConfig(
        String cniVersion,
        String name,
        String type,
        OptionalInt mtu,
        Dns dns,
        Optional<String> agentSocket,
        Optional<String> spoolDir,
        Optional<String> prevResult,
        List<Attachment> validAttachments) {

    public static final String TYPE = "ferry-cni";
    public static final String VALID_ATTACHMENTS = "cni.dev/valid-attachments";
    /** Spec: network names and container ids start alphanumeric, then alnum, '_', '.', '-'. */
    static final Pattern NAME = Pattern.compile("[a-zA-Z0-9][a-zA-Z0-9_.\\-]*");
    static final int MIN_MTU = 68; // the IPv4 minimum (RFC 791); the kernel refuses less
    static final int MAX_MTU = 65535;

    /** One attachment GC must keep. */
    public record Attachment(String containerId, String ifname) {
    }

    public NetworkConfig {
        validAttachments = List.copyOf(validAttachments);
    }

    /**
     * Parses and validates the raw configuration. Errors: undecodable JSON or a
     * field of the wrong JSON type is 6; a missing or unsupported cniVersion is 1;
     * a bad name, type or mtu is 7.
     */
    public static NetworkConfig parse(byte[] body) {
        JsonNode root = readTree(body);
        String version = Json.string(root, "cniVersion", "");
        if (version == null || !CniVersions.isSupported(version)) {
            throw incompatible(version);
        }
        String name = Json.string(root, "name", "");
        if (name == null || name.isEmpty()) {
            throw new CniException(CniError.INVALID_NETWORK_CONFIG, "missing network name", "");
        }
        if (!NAME.matcher(name).matches()) {
            throw new CniException(CniError.INVALID_NETWORK_CONFIG, "invalid characters found in network name", name);
        }
        String type = Json.string(root, "type", "");
        if (!TYPE.equals(type)) {
            throw new CniException(CniError.INVALID_NETWORK_CONFIG, "unexpected network type",
                    "type is " + (type == null ? "missing" : "'" + type + "'") + ", this plugin is '" + TYPE + "'");
        }
        Integer mtu = Json.integer(root, "mtu", "");
        if (mtu != null && (mtu < MIN_MTU || mtu > MAX_MTU)) {
            throw new CniException(CniError.INVALID_NETWORK_CONFIG, "invalid mtu",
                    "mtu " + mtu + " is outside " + MIN_MTU + ".." + MAX_MTU);
        }
        JsonNode prev = Json.object(root, "prevResult", "");
        return new NetworkConfig(version, name, type,
                mtu == null ? OptionalInt.empty() : OptionalInt.of(mtu),
                Dns.fromJson(Json.object(root, "dns", ""), "dns."),
                Optional.ofNullable(Json.string(root, "agentSocket", "")),
                Optional.ofNullable(Json.string(root, "spoolDir", "")),
                Optional.ofNullable(prev).map(Json::write),
                attachments(root));
    }

    /** The previous result parsed, whatever version it was written in. */
    public Optional<CniResult> previousResult() {
        return prevResult.map(CniResult::fromJson);
    }

    /**
     * Refuses a command the configuration's version does not have, with skel's
     * code and message: 1, "config version does not allow CHECK".
     */
    public void requireCommand(CniCommand command) {
        if (!CniVersions.hasCommand(cniVersion, command)) {
            throw new CniException(CniError.INCOMPATIBLE_CNI_VERSION, "config version does not allow " + command,
                    "config is \"" + cniVersion + "\", " + command + " needs " + CniVersions.introducedIn(command) + " or later");
        }
    }

    private static JsonNode readTree(byte[] body) {
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(body);
        } catch (JacksonException e) {
            throw new CniException(CniError.DECODING_FAILURE, "failed to decode network configuration", e.getOriginalMessage());
        } catch (IOException e) {
            throw new AssertionError(e); // reading a byte array does no I/O
        }
        if (root == null || root.isMissingNode()) {
            throw new CniException(CniError.DECODING_FAILURE, "failed to decode network configuration", "the configuration is empty");
        }
        if (!root.isObject()) {
            throw new CniException(CniError.DECODING_FAILURE, "failed to decode network configuration", "the configuration is not a JSON object");
        }
        return root;
    }

    /** skel's wording, with the details of version.Reconciler. */
    private static CniException incompatible(String version) {
        String supported = CniVersions.SUPPORTED.stream().map(v -> "\"" + v + "\"").collect(Collectors.joining(" ", "[", "]"));
        String config = version == null ? "missing (taken as \"0.1.0\")" : "\"" + version + "\"";
        return new CniException(CniError.INCOMPATIBLE_CNI_VERSION, "incompatible CNI versions",
                "config is " + config + ", plugin supports " + supported);
    }

    private static List<Attachment> attachments(JsonNode root) {
        List<Attachment> out = new ArrayList<>();
        List<JsonNode> items = Json.array(root, VALID_ATTACHMENTS, "");
        for (int i = 0; i < items.size(); i++) {
            String path = VALID_ATTACHMENTS + "[" + i + "]";
            JsonNode item = items.get(i);
            if (!item.isObject()) {
                throw Json.wrongType(path, "an object", item);
            }
            String id = Json.string(item, "containerID", path + ".");
            String ifname = Json.string(item, "ifname", path + ".");
            if (id == null || ifname == null) {
                throw new CniException(CniError.INVALID_NETWORK_CONFIG, "invalid " + VALID_ATTACHMENTS,
                        path + " needs both containerID and ifname");
            }
            out.add(new Attachment(id, ifname));
        }
        return out;
    }
}
