package dev.ferry.cni;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * CNI_ARGS: {@code K=V;K=V}. Unknown keys are kept and never an error (the
 * runtime adds keys for other plugins; Kubernetes adds IgnoreUnknown=1 for that
 * reason). Empty segments are skipped; a segment without exactly one '=' or with
 * an empty key is refused.
 */
public record CniArgs(Map<String, String> values) {
    public static final CniArgs NONE = new CniArgs(Map.of());
    public static final String K8S_POD_NAMESPACE = "K8S_POD_NAMESPACE";
    public static final String K8S_POD_NAME = "K8S_POD_NAME";
    public static final String K8S_POD_UID = "K8S_POD_UID";

    public CniArgs {
        values = Map.copyOf(values);
    }

    /**
     * A malformed pair is code 4, "invalid necessary environment variables": it is
     * the CNI_ARGS variable that is wrong. (The reference types.LoadArgs returns a
     * plain error, which skel would wrap as 999; 4 tells the runtime more.)
     */
    public static CniArgs parse(String text) {
        if (text == null || text.isEmpty()) {
            return NONE;
        }
        Map<String, String> values = new LinkedHashMap<>();
        for (String pair : text.split(";")) {
            if (pair.isEmpty()) {
                continue;
            }
            String[] kv = pair.split("=", -1);
            if (kv.length != 2 || kv[0].isEmpty()) {
                throw new CniException(CniError.INVALID_ENVIRONMENT_VARIABLES, "invalid CNI_ARGS",
                        "invalid pair '" + pair + "': want KEY=VALUE");
            }
            values.put(kv[0], kv[1]);
        }
        return new CniArgs(values);
    }

    public Optional<String> get(String key) {
        return Optional.ofNullable(values.get(key)).filter(v -> !v.isEmpty());
    }

    public Optional<String> podNamespace() {
        return get(K8S_POD_NAMESPACE);
    }

    public Optional<String> podName() {
        return get(K8S_POD_NAME);
    }

    public Optional<String> podUid() {
        return get(K8S_POD_UID);
    }
}
