package dev.ferry.cni;

/**
 * What the agent answers on {@code POST /v1/cni}. Sealed so the socket handler's
 * switch covers every case: a result (exit 0), the VERSION answer (exit 0) or an
 * error object (the plugin exits non-zero).
 */
public sealed interface CniReply permits CniResult, CniError, VersionReply, CniReply.Done {
    /** The JSON the plugin prints, in the shape of {@code cniVersion}. */
    String toJson(String cniVersion);

    /** Success without output: DEL, CHECK, STATUS and GC print nothing when they succeed. */
    record Done() implements CniReply {
        public static final Done INSTANCE = new Done();

        @Override
        public String toJson(String cniVersion) {
            return "";
        }
    }
}
