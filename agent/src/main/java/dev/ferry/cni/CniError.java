package dev.ferry.cni;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Objects;

/** The spec's error object. Codes 0-99 are the spec's; 100+ would be Ferry's own. */
public record CniError(int code, String msg, String details) implements CniReply {
    public static final int INCOMPATIBLE_CNI_VERSION = 1;
    public static final int UNSUPPORTED_FIELD = 2;
    public static final int UNKNOWN_CONTAINER = 3;
    public static final int INVALID_ENVIRONMENT_VARIABLES = 4;
    public static final int IO_FAILURE = 5;
    public static final int DECODING_FAILURE = 6;
    public static final int INVALID_NETWORK_CONFIG = 7;
    public static final int TRY_AGAIN_LATER = 11;
    /** STATUS: the plugin cannot accept ADDs. */
    public static final int PLUGIN_NOT_AVAILABLE = 50;
    /** STATUS: not available, and existing containers may have limited connectivity. */
    public static final int PLUGIN_NOT_AVAILABLE_LIMITED_CONNECTIVITY = 51;
    /** Ferry: ADD for an attachment that exists in another netns, or an interface name the pod already has. */
    public static final int FERRY_ALREADY_EXISTS = 100;
    /** Ferry: the node's pod CIDR has no free address. */
    public static final int FERRY_ADDRESSES_EXHAUSTED = 101;
    /** Ferry: CHECK found the endpoint not as ADD left it; the details list what. */
    public static final int FERRY_CHECK_FAILED = 102;
    /** Ferry: the kernel refused a step of ADD (netlink, BPF, sysctl, state); everything made was rolled back. */
    public static final int FERRY_ADD_FAILED = 103;
    /** skel's catch-all for a plain error from a plugin function. */
    public static final int INTERNAL = 999;

    public CniError {
        Objects.requireNonNull(msg, "msg");
        details = details == null ? "" : details;
    }

    /** Details are omitted when empty, as types.Error does ({@code omitempty}). */
    @Override
    public String toJson(String cniVersion) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("cniVersion", cniVersion);
        o.put("code", code);
        o.put("msg", msg);
        if (!details.isEmpty()) {
            o.put("details", details);
        }
        return Json.write(o);
    }
}
