package dev.ferry.k8s;

import dev.ferry.capture.CaptureException;
import dev.ferry.capture.CaptureRequest;
import dev.ferry.capture.MirrorConfig;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;

import java.util.Map;
import java.util.Set;

import static dev.ferry.k8s.SpecFields.bad;
import static dev.ferry.k8s.SpecFields.ifname;
import static dev.ferry.k8s.SpecFields.map;
import static dev.ferry.k8s.SpecFields.pods;
import static dev.ferry.k8s.SpecFields.string;

/**
 * TrafficMirror objects ({@code trafficmirrors.ferry.dev}, cluster-scoped) read
 * into persistent mirrors: the selected pods' packets, as the filter (the words
 * of {@code ferry capture}) selects them, copied to a device of the node. The
 * schema refuses malformed objects; this checks them again and refuses, naming
 * the field, what it cannot use (a port with a protocol that has none).
 */
public final class TrafficMirrorObjects {
    public static final ResourceDefinitionContext CONTEXT = new ResourceDefinitionContext.Builder()
            .withGroup("ferry.dev").withVersion("v1alpha1").withKind("TrafficMirror").withPlural("trafficmirrors")
            .withNamespaced(false).build();
    private static final Set<String> SPEC_KEYS = Set.of("namespaceSelector", "podSelector", "device", "direction", "proto",
            "peer", "port");

    private TrafficMirrorObjects() {}

    /** The mirror one object gives; an IllegalArgumentException naming the field when it gives none. */
    public static MirrorConfig read(GenericKubernetesResource object) {
        Map<String, Object> spec = map("spec", object.getAdditionalProperties().get("spec"));
        for (String key : spec.keySet()) {
            if (!SPEC_KEYS.contains(key)) {
                throw bad("spec." + key, "is not a field of TrafficMirror (" + String.join(", ", SPEC_KEYS.stream().sorted().toList()) + ")");
            }
        }
        String device = ifname("spec.device", string("spec.device", spec.get("device")));
        Object port = spec.get("port");
        if (port != null && !(port instanceof Integer || port instanceof Long)) {
            throw bad("spec.port", "must be a whole number");
        }
        CaptureRequest.Filter filter;
        try {
            filter = CaptureRequest.Filter.parse(optional("spec.direction", spec), optional("spec.proto", spec),
                    optional("spec.peer", spec), port == null ? null : port.toString());
        } catch (CaptureException e) {
            // The filter's message starts with its word (direction, proto, peer, port): the field is spec.<word>.
            String word = e.getMessage().substring(0, e.getMessage().indexOf(' '));
            throw bad("spec." + word, e.getMessage().substring(word.length() + 1));
        }
        return new MirrorConfig(object.getMetadata().getName(), pods(spec), device, filter);
    }

    private static String optional(String key, Map<String, Object> spec) {
        Object value = spec.get(key.substring("spec.".length()));
        return value == null ? null : string(key, value);
    }
}
