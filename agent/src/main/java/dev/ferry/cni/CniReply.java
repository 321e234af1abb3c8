package dev.ferry.cni;

/**
 * What the agent answers on {@code POST /v1/cni}. Sealed so the socket handler's
 * switch covers every case: a result (exit 0), the VERSION answer (exit 0) or an
 * error object (the plugin exits non-zero).
 */
public sealed interface CniReply permits CniResult, CniError, VersionReply {
    /** The JSON the plugin prints, in the shape of {@code cniVersion}. */
    String toJson(String cniVersion);
}
