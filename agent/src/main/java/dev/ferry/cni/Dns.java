package dev.ferry.cni;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * The spec's DNS structure, the same in configuration and result. Nameservers
 * stay strings: the spec passes them through, and the runtime, not the agent,
 * interprets them.
 */
public record Dns(List<String> nameservers, String domain, List<String> search, List<String> options) {
    public static final Dns EMPTY = new Dns(List.of(), null, List.of(), List.of());

    public Dns {
        nameservers = nameservers == null ? List.of() : List.copyOf(nameservers);
        search = search == null ? List.of() : List.copyOf(search);
        options = options == null ? List.of() : List.copyOf(options);
    }

    public boolean isEmpty() {
        return nameservers.isEmpty() && domain == null && search.isEmpty() && options.isEmpty();
    }

    static Dns fromJson(JsonNode dns, String path) {
        if (dns == null) {
            return EMPTY;
        }
        return new Dns(Json.strings(dns, "nameservers", path), Json.string(dns, "domain", path),
                Json.strings(dns, "search", path), Json.strings(dns, "options", path));
    }

    /** Every field is omitempty in the reference types. */
    void writeTo(ObjectNode o) {
        if (!nameservers.isEmpty()) {
            nameservers.forEach(o.putArray("nameservers")::add);
        }
        if (domain != null && !domain.isEmpty()) {
            o.put("domain", domain);
        }
        if (!search.isEmpty()) {
            search.forEach(o.putArray("search")::add);
        }
        if (!options.isEmpty()) {
            options.forEach(o.putArray("options")::add);
        }
    }
}
