package dev.ferry.testing;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Everything Ferry's CNI path can leave on a node, as the kernel and the disk
 * show it (read with ip, tc and bpftool, not through Ferry's own code). Two
 * footprints are equal when nothing was added or left behind between them.
 *
 * @param hostVeths     links in the node named {@code fer...}
 * @param tcHooks       clsact qdiscs in the node and the tc filters on them, one line each
 * @param bpfLinks      BPF links (TCX or any other) running one of the node's programs, from bpftool
 * @param linkPins      pins under the node's bpffs {@code links/} directory
 * @param hostRoutes    IPv4 routes in the node's main table, routes of protocol 70 in any table, IPv6 routes not the kernel's own
 * @param neighbours    permanent neighbour entries in the node
 * @param ipamFiles     allocation files (bookkeeping such as last_reserved left out)
 * @param endpointFiles endpoint state files
 * @param mapEntries    keys of the endpoint map (pod addresses)
 */
public record Footprint(List<String> hostVeths, List<String> tcHooks, List<String> bpfLinks, List<String> linkPins,
                        List<String> hostRoutes, List<String> neighbours, List<String> ipamFiles,
                        List<String> endpointFiles, List<String> mapEntries) {

    private Map<String, List<?>> parts() {
        Map<String, List<?>> parts = new LinkedHashMap<>();
        parts.put("host veths", hostVeths);
        parts.put("tc qdiscs and filters", tcHooks);
        parts.put("BPF links", bpfLinks);
        parts.put("link pins", linkPins);
        parts.put("host routes", hostRoutes);
        parts.put("permanent neighbours", neighbours);
        parts.put("IPAM files", ipamFiles);
        parts.put("endpoint files", endpointFiles);
        parts.put("endpoint map entries", mapEntries);
        return parts;
    }

    /** What this footprint has that {@code earlier} had not, and what went missing; empty when equal. */
    public String differencesFrom(Footprint earlier) {
        List<String> lines = new ArrayList<>();
        Map<String, List<?>> then = earlier.parts();
        parts().forEach((part, now) -> {
            List<?> before = then.get(part);
            List<?> added = now.stream().filter(x -> !before.contains(x)).toList();
            List<?> gone = before.stream().filter(x -> !now.contains(x)).toList();
            if (!added.isEmpty()) {
                lines.add(part + " left behind: " + added);
            }
            if (!gone.isEmpty()) {
                lines.add(part + " gone: " + gone);
            }
            if (added.isEmpty() && gone.isEmpty() && !Objects.equals(before, now)) {
                lines.add(part + " changed: " + before + " -> " + now);
            }
        });
        return String.join("\n", lines);
    }
}
