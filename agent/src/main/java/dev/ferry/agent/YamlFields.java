package dev.ferry.agent;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BiFunction;

/**
 * One YAML mapping of the configuration, read key by key. Every error names the
 * key by its full path ({@code peers[1].podCIDRs[0]}); a key the reader does not
 * know is an error, so that a typo never silently becomes a default. A key set to
 * nothing ({@code uplinks:}) counts as absent.
 */
final class YamlFields {
    private final JsonNode node;
    private final String path;

    private YamlFields(JsonNode node, String path) {
        this.node = node;
        this.path = path;
    }

    /** The mapping at {@code path}, refusing keys outside {@code known}. */
    static YamlFields of(JsonNode node, String path, Set<String> known) {
        if (!node.isObject()) {
            throw new ConfigException((path.isEmpty() ? "the file" : "key '" + path + "'")
                    + " must be a mapping of keys to values, not " + describe(node));
        }
        for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!known.contains(name)) {
                throw new ConfigException("unknown key '" + qualified(path, name) + "' (known keys"
                        + (path.isEmpty() ? "" : " of " + path) + ": " + String.join(", ", new TreeSet<>(known)) + ")");
            }
        }
        return new YamlFields(node, path);
    }

    Optional<String> string(String key) {
        return value(key).map(v -> text(v, qualified(path, key)));
    }

    Optional<Boolean> bool(String key) {
        return value(key).map(v -> {
            if (!v.isBoolean()) {
                throw new ConfigException("key '" + qualified(path, key) + "' must be true or false, not " + describe(v));
            }
            return v.asBoolean();
        });
    }

    /** A YAML sequence of strings, each turned into a value by {@code parse(fullKey, text)}. */
    <T> Optional<List<T>> list(String key, BiFunction<String, String, T> parse) {
        return sequence(key).map(items -> {
            List<T> values = new ArrayList<>();
            for (int i = 0; i < items.size(); i++) {
                String itemKey = qualified(path, key) + "[" + i + "]";
                values.add(parse.apply(itemKey, text(items.get(i), itemKey)));
            }
            return values;
        });
    }

    /** True when the key holds a mapping (for a key that takes a scalar or a mapping). */
    boolean isMapping(String key) {
        return value(key).filter(JsonNode::isObject).isPresent();
    }

    /** A YAML mapping with the keys {@code known}. */
    Optional<YamlFields> mapping(String key, Set<String> known) {
        return value(key).map(v -> of(v, qualified(path, key), known));
    }

    /** A YAML sequence of mappings, each with the keys {@code known}. */
    Optional<List<YamlFields>> mappings(String key, Set<String> known) {
        return sequence(key).map(items -> {
            List<YamlFields> mappings = new ArrayList<>();
            for (int i = 0; i < items.size(); i++) {
                mappings.add(of(items.get(i), qualified(path, key) + "[" + i + "]", known));
            }
            return mappings;
        });
    }

    /** A YAML mapping of names to strings, in the file's order. */
    Optional<Map<String, String>> stringMap(String key) {
        return value(key).map(v -> {
            if (!v.isObject()) {
                throw new ConfigException("key '" + qualified(path, key) + "' must be a mapping (name: value lines), not "
                        + describe(v));
            }
            Map<String, String> values = new LinkedHashMap<>();
            v.fields().forEachRemaining(e -> values.put(e.getKey(), text(e.getValue(), qualified(path, key) + "." + e.getKey())));
            return values;
        });
    }

    /** The full name of one of this mapping's keys, for messages. */
    String key(String key) {
        return qualified(path, key);
    }

    private Optional<List<JsonNode>> sequence(String key) {
        return value(key).map(v -> {
            if (!v.isArray()) {
                throw new ConfigException("key '" + qualified(path, key) + "' must be a list ([a, b] or '- a' lines), not "
                        + describe(v));
            }
            List<JsonNode> items = new ArrayList<>();
            v.forEach(items::add);
            return items;
        });
    }

    /** A string or a whole number, as text: a port may be written either way. */
    Optional<String> scalar(String key) {
        return value(key).map(v -> v.isIntegralNumber() ? v.asText() : text(v, qualified(path, key)));
    }

    private Optional<JsonNode> value(String key) {
        JsonNode v = node.get(key);
        return v == null || v.isNull() ? Optional.empty() : Optional.of(v);
    }

    private static String text(JsonNode v, String key) {
        if (!v.isTextual()) {
            throw new ConfigException("key '" + key + "' must be a string, not " + describe(v)
                    + (v.isValueNode() ? " (quote it: \"" + v.asText() + "\")" : ""));
        }
        return v.asText();
    }

    private static String qualified(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    private static String describe(JsonNode v) {
        return switch (v.getNodeType()) {
            case ARRAY -> "a list";
            case OBJECT, POJO -> "a mapping";
            case BOOLEAN -> "a boolean";
            case NUMBER -> "a number";
            case NULL, MISSING -> "empty";
            case STRING -> "a string";
            case BINARY -> "binary data";
        };
    }
}
