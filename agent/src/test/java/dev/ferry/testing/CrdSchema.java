package dev.ferry.testing;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ferry.net.IpPrefix;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.fabric8.kubernetes.client.utils.Serialization;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What the API server does with a CRD's {@code openAPIV3Schema} before it stores
 * an object, for the keywords Ferry's CRDs use: type, properties, required,
 * items, additionalProperties, enum, pattern, minimum/maximum, min/max items,
 * length and properties, anyOf, the ipv4/ipv6/cidr formats, set lists; unknown fields are
 * refused, as {@code kubectl}'s default strict field validation does. There is no
 * API server here, so the mock API server runs this where the real one runs its
 * validation. A schema using a keyword this does not implement fails loudly
 * instead of passing what the real server would refuse.
 */
public final class CrdSchema {
    private final CustomResourceDefinition crd;
    private final JSONSchemaProps root;

    private CrdSchema(CustomResourceDefinition crd) {
        this.crd = crd;
        this.root = crd.getSpec().getVersions().getFirst().getSchema().getOpenAPIV3Schema();
        checkKeywords("", root);
    }

    public static CrdSchema load(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            return new CrdSchema(Serialization.unmarshal(in, CustomResourceDefinition.class));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A file of the repository (deploy/crds/...), found upwards from the working directory (agent/ under Maven). */
    public static Path repoFile(String relative) {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.isRegularFile(dir.resolve(relative)) && Files.isDirectory(dir.resolve("deploy"))) {
                return dir.resolve(relative);
            }
        }
        throw new IllegalStateException("no " + relative + " above " + Path.of("").toAbsolutePath());
    }

    public CustomResourceDefinition crd() {
        return crd;
    }

    /** The API server's answers to this object, one per violation, each naming its field; empty when it is stored. */
    public List<String> validate(Map<String, Object> object) {
        List<String> errors = new ArrayList<>();
        check("", object, root, errors);
        return errors;
    }

    /** As {@link #validate(Map)}, for an object as JSON or YAML text. */
    @SuppressWarnings("unchecked")
    public List<String> validate(String text) {
        return validate((Map<String, Object>) Serialization.unmarshal(text, Map.class));
    }

    private static void check(String path, Object value, JSONSchemaProps s, List<String> errors) {
        String at = path.isEmpty() ? "<root>" : path;
        if (value == null) {
            if (!Boolean.TRUE.equals(s.getNullable())) {
                errors.add(at + ": Invalid value: null");
            }
            return;
        }
        String type = s.getType();
        if (type != null && !typeMatches(type, value)) {
            errors.add(at + ": Invalid value: must be of type " + type);
            return;
        }
        if (s.getEnum() != null && !s.getEnum().isEmpty()
                && s.getEnum().stream().map(CrdSchema::plain).noneMatch(e -> Objects.equals(e, value))) {
            errors.add(at + ": Unsupported value: \"" + value + "\"");
        }
        if (value instanceof String text) {
            if (s.getMinLength() != null && text.length() < s.getMinLength()) {
                errors.add(at + ": Invalid value: should be at least " + s.getMinLength() + " chars long");
            }
            if (s.getMaxLength() != null && text.length() > s.getMaxLength()) {
                errors.add(at + ": Too long: may not be longer than " + s.getMaxLength());
            }
            if (s.getPattern() != null && !Pattern.compile(s.getPattern()).matcher(text).find()) {
                errors.add(at + ": Invalid value: should match '" + s.getPattern() + "'");
            }
            if (s.getFormat() != null && !formatMatches(s.getFormat(), text)) {
                errors.add(at + ": Invalid value: must be of format " + s.getFormat());
            }
        }
        if (value instanceof Number n && !(value instanceof Double || value instanceof Float)) {
            if (s.getMinimum() != null && n.longValue() < s.getMinimum()) {
                errors.add(at + ": Invalid value: " + n + ": should be greater than or equal to " + s.getMinimum().longValue());
            }
            if (s.getMaximum() != null && n.longValue() > s.getMaximum()) {
                errors.add(at + ": Invalid value: " + n + ": should be less than or equal to " + s.getMaximum().longValue());
            }
        }
        if (value instanceof List<?> list) {
            if (s.getMinItems() != null && list.size() < s.getMinItems()) {
                errors.add(at + ": Invalid value: should have at least " + s.getMinItems() + " items");
            }
            if (s.getMaxItems() != null && list.size() > s.getMaxItems()) {
                errors.add(at + ": Too many: must have at most " + s.getMaxItems() + " items");
            }
            if ("set".equals(s.getXKubernetesListType()) && new HashSet<>(list).size() != list.size()) {
                errors.add(at + ": Duplicate value");
            }
            if (s.getItems() != null && s.getItems().getSchema() != null) {
                for (int i = 0; i < list.size(); i++) {
                    check(path + "[" + i + "]", list.get(i), s.getItems().getSchema(), errors);
                }
            }
        }
        if (value instanceof Map<?, ?> map) {
            if (s.getMaxProperties() != null && map.size() > s.getMaxProperties()) {
                errors.add(at + ": Too many: must have at most " + s.getMaxProperties() + " properties");
            }
            for (String required : s.getRequired() == null ? List.<String>of() : s.getRequired()) {
                if (!map.containsKey(required)) {
                    errors.add(join(path, required) + ": Required value");
                }
            }
            Map<String, JSONSchemaProps> properties = s.getProperties() == null ? Map.of() : s.getProperties();
            JSONSchemaProps additional = s.getAdditionalProperties() == null ? null : s.getAdditionalProperties().getSchema();
            boolean opaque = properties.isEmpty() && additional == null; // e.g. metadata: the server checks it itself
            for (Map.Entry<?, ?> e : map.entrySet()) {
                String key = String.valueOf(e.getKey());
                if (properties.containsKey(key)) {
                    check(join(path, key), e.getValue(), properties.get(key), errors);
                } else if (additional != null) {
                    check(join(path, key), e.getValue(), additional, errors);
                } else if (!opaque) {
                    errors.add(join(path, key) + ": unknown field \"" + key + "\"");
                }
            }
        }
        if (s.getAnyOf() != null && !s.getAnyOf().isEmpty()
                && s.getAnyOf().stream().noneMatch(alt -> { List<String> e = new ArrayList<>(); check(path, value, alt, e); return e.isEmpty(); })) {
            errors.add(at + ": Invalid value: must match one of " + s.getAnyOf().size() + " alternatives");
        }
    }

    private static String join(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    private static Object plain(JsonNode node) {
        return node.isTextual() ? node.asText() : node.isBoolean() ? node.asBoolean() : node.isNumber() ? node.numberValue() : node.toString();
    }

    private static boolean typeMatches(String type, Object value) {
        return switch (type) {
            case "object" -> value instanceof Map;
            case "array" -> value instanceof List;
            case "string" -> value instanceof String;
            case "boolean" -> value instanceof Boolean;
            case "integer" -> value instanceof Integer || value instanceof Long;
            case "number" -> value instanceof Number;
            default -> throw new IllegalStateException("type " + type + " is not implemented here");
        };
    }

    /** As Kubernetes' strfmt: Go's net.ParseIP (4-dot or IPv6 text) and net.ParseCIDR. */
    private static boolean formatMatches(String format, String text) {
        return switch (format) {
            case "ipv4" -> text.contains(".") && !text.contains(":") && address(text) instanceof Inet4Address;
            case "ipv6" -> text.contains(":") && address(text) instanceof Inet6Address;
            case "cidr" -> {
                int slash = text.indexOf('/');
                if (slash < 0 || address(text.substring(0, slash)) == null) {
                    yield false;
                }
                try {
                    IpPrefix.parse(text);
                    yield text.substring(slash + 1).matches("[0-9]{1,3}");
                } catch (IllegalArgumentException e) {
                    yield false;
                }
            }
            default -> throw new IllegalStateException("format " + format + " is not implemented here");
        };
    }

    private static InetAddress address(String text) {
        try {
            return IpPrefix.literal(text);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** Fails on a keyword {@link #check} would silently skip. */
    private static void checkKeywords(String path, JSONSchemaProps s) {
        Map<String, Object> unsupported = new java.util.LinkedHashMap<>();
        unsupported.put("allOf", s.getAllOf());
        unsupported.put("oneOf", s.getOneOf());
        unsupported.put("not", s.getNot());
        unsupported.put("exclusiveMinimum", s.getExclusiveMinimum());
        unsupported.put("exclusiveMaximum", s.getExclusiveMaximum());
        unsupported.put("multipleOf", s.getMultipleOf());
        unsupported.put("minProperties", s.getMinProperties());
        unsupported.put("uniqueItems", s.getUniqueItems());
        unsupported.put("patternProperties", s.getPatternProperties());
        unsupported.put("dependencies", s.getDependencies());
        unsupported.put("x-kubernetes-validations", s.getXKubernetesValidations());
        unsupported.put("x-kubernetes-int-or-string", s.getXKubernetesIntOrString());
        unsupported.put("x-kubernetes-preserve-unknown-fields", s.getXKubernetesPreserveUnknownFields());
        unsupported.forEach((k, v) -> {
            boolean set = v != null && !(v instanceof java.util.Collection<?> c && c.isEmpty()) && !(v instanceof Map<?, ?> m && m.isEmpty());
            if (set) {
                throw new IllegalStateException((path.isEmpty() ? "<root>" : path) + " uses " + k
                        + ", which CrdSchema does not implement: implement it before relying on it");
            }
        });
        Set<String> known = Set.of("ipv4", "ipv6", "cidr");
        if (s.getFormat() != null && !known.contains(s.getFormat())) {
            throw new IllegalStateException(path + " uses format " + s.getFormat() + ", which CrdSchema does not implement");
        }
        if (s.getProperties() != null) {
            s.getProperties().forEach((k, v) -> checkKeywords(join(path, k), v));
        }
        if (s.getItems() != null && s.getItems().getSchema() != null) {
            checkKeywords(path + "[]", s.getItems().getSchema());
        }
        if (s.getAdditionalProperties() != null && s.getAdditionalProperties().getSchema() != null) {
            checkKeywords(path + ".*", s.getAdditionalProperties().getSchema());
        }
        if (s.getAnyOf() != null) {
            s.getAnyOf().forEach(alt -> checkKeywords(path + "(anyOf)", alt));
        }
    }
}
