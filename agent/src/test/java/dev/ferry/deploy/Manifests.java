package dev.ferry.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Kubernetes objects parsed strictly into fabric8's model. fabric8 keeps every
 * field it does not know (and every value of the wrong type) in an
 * {@code additionalProperties} map instead of failing; {@link #parse} walks the
 * parsed objects and fails on any such leftover, naming where it is. Only a
 * {@link GenericKubernetesResource} (a kind without a model, e.g. ServiceMonitor)
 * keeps its body there by design; its metadata is still checked.
 */
final class Manifests {
    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();
    private static final YAMLMapper YAML = new YAMLMapper();

    private Manifests() {}

    /** Every document of a (multi-document) YAML text; empty documents (a template switched off) are skipped. */
    static List<HasMetadata> parse(String yaml) {
        List<HasMetadata> objects = new ArrayList<>();
        try (MappingIterator<JsonNode> docs = YAML.readerFor(JsonNode.class).readValues(yaml)) {
            while (docs.hasNext()) {
                JsonNode doc = docs.next();
                if (doc == null || doc.isNull() || doc.isMissingNode() || doc.isEmpty()) {
                    continue;
                }
                HasMetadata object = SERIALIZATION.unmarshal(doc.toString());
                String name = object.getKind() + "/" + object.getMetadata().getName();
                if (object instanceof GenericKubernetesResource generic) {
                    rejectLeftovers(generic.getMetadata(), name + ".metadata");
                } else {
                    rejectLeftovers(object, name);
                }
                objects.add(object);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return objects;
    }

    static <T extends HasMetadata> T only(List<HasMetadata> objects, Class<T> type) {
        List<T> found = objects.stream().filter(type::isInstance).map(type::cast).toList();
        if (found.size() != 1) {
            throw new AssertionError("expected one " + type.getSimpleName() + ", found " + found.size());
        }
        return found.getFirst();
    }

    static GenericKubernetesResource generic(List<HasMetadata> objects, String kind) {
        return objects.stream().filter(o -> o instanceof GenericKubernetesResource && o.getKind().equals(kind))
                .map(GenericKubernetesResource.class::cast).findFirst()
                .orElseThrow(() -> new AssertionError("no " + kind + " among " + objects.stream().map(HasMetadata::getKind).toList()));
    }

    /** Fails when any object in the tree kept a field its model does not have. */
    private static void rejectLeftovers(Object node, String path) {
        if (node == null || node instanceof String || node instanceof Number || node instanceof Boolean || node instanceof Enum<?>) {
            return;
        }
        if (node instanceof Collection<?> c) {
            int i = 0;
            for (Object element : c) {
                rejectLeftovers(element, path + "[" + i++ + "]");
            }
            return;
        }
        if (node instanceof Map<?, ?> m) {
            m.forEach((k, v) -> rejectLeftovers(v, path + "." + k));
            return;
        }
        if (!node.getClass().getName().startsWith("io.fabric8.")) {
            return;
        }
        for (Class<?> c = node.getClass(); c != null && c != Object.class; c = c.getSuperclass()) {
            for (Field f : c.getDeclaredFields()) {
                if (Modifier.isStatic(f.getModifiers())) {
                    continue;
                }
                f.setAccessible(true);
                Object value;
                try {
                    value = f.get(node);
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException(e);
                }
                if (f.getName().equals("additionalProperties")) {
                    if (value instanceof Map<?, ?> extra && !extra.isEmpty()) {
                        throw new IllegalArgumentException(path + ": unknown field(s) " + extra.keySet()
                                + " for " + node.getClass().getSimpleName());
                    }
                } else {
                    rejectLeftovers(value, path + "." + f.getName());
                }
            }
        }
    }
}
