package dev.ferry.api;

import dev.ferry.cni.CniError;
import dev.ferry.cni.CniException;
import dev.ferry.cni.CniHandler;
import dev.ferry.cni.CniReply;
import dev.ferry.cni.CniRequest;
import dev.ferry.cni.CniResult;
import dev.ferry.cni.CniVersions;
import dev.ferry.cni.NetworkConfig;
import dev.ferry.cni.VersionReply;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * {@code POST /v1/cni}, where ferry-cni forwards every command but VERSION: the
 * CNI environment (headers) and the network configuration (body) become a
 * {@link CniRequest}, the {@link CniHandler} answers, and the reply goes back as
 * the JSON ferry-cni prints, with an HTTP status that tells ferry-cni success
 * (2xx) from failure. Here and only here CNI meets HTTP.
 */
public final class CniRoute implements Routes.Handler {
    public static final String PATH = "/v1/cni";

    private static final Logger log = LoggerFactory.getLogger(CniRoute.class);

    private final CniHandler cni;

    public CniRoute(CniHandler cni) {
        this.cni = cni;
    }

    @Override
    public ApiResponse handle(ApiRequest request, Map<String, String> vars) {
        CniRequest cniRequest;
        try {
            cniRequest = CniRequest.fromHeaders(request.headers(), request.body());
        } catch (CniException e) {
            log.info("event=cni_rejected code={} msg=\"{}\" details=\"{}\"", e.error().code(), e.error().msg(), e.error().details());
            return response(e.error(), versionOf(request.body()));
        }
        return response(cni.handle(cniRequest), cniRequest.cniVersion());
    }

    /** 2xx only for success: ferry-cni exits non-zero on anything else, and prints the body either way. */
    static ApiResponse response(CniReply reply, String cniVersion) {
        int status = switch (reply) {
            case CniError e -> switch (e.code()) {
                case CniError.INCOMPATIBLE_CNI_VERSION, CniError.UNSUPPORTED_FIELD, CniError.INVALID_ENVIRONMENT_VARIABLES,
                     CniError.DECODING_FAILURE, CniError.INVALID_NETWORK_CONFIG -> 400;
                case CniError.UNKNOWN_CONTAINER -> 404;
                case CniError.FERRY_ALREADY_EXISTS, CniError.FERRY_CHECK_FAILED -> 409;
                case CniError.TRY_AGAIN_LATER, CniError.PLUGIN_NOT_AVAILABLE,
                     CniError.PLUGIN_NOT_AVAILABLE_LIMITED_CONNECTIVITY, CniError.FERRY_ADDRESSES_EXHAUSTED -> 503;
                default -> 500;
            };
            case CniResult r -> 200;
            case VersionReply v -> 200;
            case CniReply.Done d -> 200;
        };
        return new ApiResponse(status, ApiResponse.JSON, reply.toJson(cniVersion).getBytes(StandardCharsets.UTF_8));
    }

    /** The version an error is rendered in when the configuration itself could not be read. */
    private static String versionOf(byte[] body) {
        try {
            return NetworkConfig.parse(body).cniVersion();
        } catch (CniException e) {
            return CniVersions.LATEST;
        }
    }
}
