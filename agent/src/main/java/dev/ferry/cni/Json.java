package dev.ferry.cni;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;

/**
 * Typed reads from a Jackson tree. The protocol is read from trees, not bound to
 * classes, because unknown fields must pass (conflists add them) and each wrong
 * type must become a CNI error naming the field, not a Jackson message.
 */
final class Json {
    static final ObjectMapper MAPPER = new ObjectMapper();

    private Json() {
    }

    static String write(JsonNode node) {
        try {
            return MAPPER.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new AssertionError(e); // a tree of plain nodes always serialises
        }
    }

    /** A wrong JSON type is a decoding failure (code 6), as Go's json.Unmarshal reports it. */
    static CniException wrongType(String field, String expected, JsonNode got) {
        return new CniException(CniError.DECODING_FAILURE, "failed to decode network configuration",
                "field '" + field + "' must be " + expected + ", not " + got.getNodeType().name().toLowerCase());
    }

    /** Absent or null gives null. */
    static String string(JsonNode parent, String name, String path) {
        JsonNode n = parent.get(name);
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isTextual()) {
            throw wrongType(path + name, "a string", n);
        }
        return n.asText();
    }

    static Integer integer(JsonNode parent, String name, String path) {
        JsonNode n = parent.get(name);
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isIntegralNumber() || !n.canConvertToInt()) {
            throw wrongType(path + name, "an integer", n);
        }
        return n.intValue();
    }

    static JsonNode object(JsonNode parent, String name, String path) {
        JsonNode n = parent.get(name);
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isObject()) {
            throw wrongType(path + name, "an object", n);
        }
        return n;
    }

    static List<JsonNode> array(JsonNode parent, String name, String path) {
        JsonNode n = parent.get(name);
        if (n == null || n.isNull()) {
            return List.of();
        }
        if (!n.isArray()) {
            throw wrongType(path + name, "a list", n);
        }
        List<JsonNode> out = new ArrayList<>();
        n.forEach(out::add);
        return out;
    }

    static List<String> strings(JsonNode parent, String name, String path) {
        List<String> out = new ArrayList<>();
        List<JsonNode> items = array(parent, name, path);
        for (int i = 0; i < items.size(); i++) {
            if (!items.get(i).isTextual()) {
                throw wrongType(path + name + "[" + i + "]", "a string", items.get(i));
            }
            out.add(items.get(i).asText());
        }
        return List.copyOf(out);
    }
}
