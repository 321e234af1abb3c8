package dev.ferry.cni;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/** The VERSION answer: {@code {"cniVersion":..,"supportedVersions":[..]}}. */
public record VersionReply(List<String> supportedVersions) implements CniReply {
    public static final VersionReply FERRY = new VersionReply(CniVersions.SUPPORTED);

    public VersionReply {
        supportedVersions = List.copyOf(supportedVersions);
    }

    @Override
    public String toJson(String cniVersion) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("cniVersion", cniVersion);
        supportedVersions.forEach(o.putArray("supportedVersions")::add);
        return Json.write(o);
    }
}
