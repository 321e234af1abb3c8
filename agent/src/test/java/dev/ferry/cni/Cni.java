package dev.ferry.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.function.Executable;

/** Test helpers: configurations as text, JSON trees, and asserting CNI errors. */
final class Cni {
    static final ObjectMapper MAPPER = new ObjectMapper();

    private Cni() {
    }

    static byte[] bytes(String json) {
        return json.getBytes(StandardCharsets.UTF_8);
    }

    /** A valid configuration of {@code version} with {@code extra} fields (", "-prefixed JSON members) appended. */
    static byte[] config(String version, String extra) {
        return bytes("{\"cniVersion\":\"" + version + "\",\"name\":\"ferry\",\"type\":\"ferry-cni\"" + extra + "}");
    }

    static JsonNode tree(String json) {
        try {
            return MAPPER.readTree(json);
        } catch (Exception e) {
            throw new AssertionError("not JSON: " + json, e);
        }
    }

    /** Asserts a CniException with {@code code} whose msg or details contain {@code culprit}. */
    static CniError assertCniError(int code, String culprit, Executable call) {
        CniError e = assertThrows(CniException.class, call).error();
        assertEquals(code, e.code(), () -> "code of " + e);
        assertTrue(e.msg().contains(culprit) || e.details().contains(culprit), () -> e + " does not name " + culprit);
        return e;
    }
}
