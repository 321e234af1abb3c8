package dev.ferry.cni;

import dev.ferry.net.IpText;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.net.IpPrefix;
import dev.ferry.net.MacAddress;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The result of ADD, independent of version; {@link #toJson} renders the shape
 * of the version the configuration asked for. Field order and omitted empties
 * follow the reference types (types100, types040), so output diffs cleanly
 * against reference plugins.
 */
public record CniResult(List<Interface> interfaces, List<IpConfig> ips, List<Route> routes, Dns dns) implements CniReply {

    /** @param sandbox the netns path; empty for host-side interfaces */
    public record Interface(String name, Optional<MacAddress> mac, Optional<String> sandbox) {
    }

    /** @param interfaceIndex index into {@code interfaces}; empty when the IP is on no reported interface */
    public record IpConfig(IpPrefix address, Optional<InetAddress> gateway, Optional<Integer> interfaceIndex) {
    }

    public record Route(IpPrefix dst, Optional<InetAddress> gw) {
    }

    public CniResult {
        interfaces = List.copyOf(interfaces);
        ips = List.copyOf(ips);
        routes = List.copyOf(routes);
        dns = dns == null ? Dns.EMPTY : dns;
    }

    @Override
    public String toJson(String cniVersion) {
        if (!CniVersions.isSupported(cniVersion)) {
            throw new IllegalArgumentException("no result shape for CNI version " + cniVersion);
        }
        boolean ipVersion = CniVersions.ipsCarryVersion(cniVersion);
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("cniVersion", cniVersion);
        if (!interfaces.isEmpty()) {
            ArrayNode a = o.putArray("interfaces");
            for (Interface i : interfaces) {
                ObjectNode n = a.addObject().put("name", i.name());
                i.mac().ifPresent(m -> n.put("mac", m.toString()));
                i.sandbox().filter(s -> !s.isEmpty()).ifPresent(s -> n.put("sandbox", s));
            }
        }
        if (!ips.isEmpty()) {
            ArrayNode a = o.putArray("ips");
            for (IpConfig ip : ips) {
                ObjectNode n = a.addObject();
                if (ipVersion) {
                    n.put("version", ip.address().isIpv4() ? "4" : "6");
                }
                ip.interfaceIndex().ifPresent(x -> n.put("interface", x));
                n.put("address", IpText.format(ip.address()));
                ip.gateway().ifPresent(g -> n.put("gateway", IpText.format(g)));
            }
        }
        if (!routes.isEmpty()) {
            ArrayNode a = o.putArray("routes");
            for (Route r : routes) {
                ObjectNode n = a.addObject().put("dst", IpText.format(r.dst()));
                r.gw().ifPresent(g -> n.put("gw", IpText.format(g)));
            }
        }
        // The reference Result's DNS is a struct, so "dns" is always printed, {} when empty.
        dns.writeTo(o.putObject("dns"));
        return Json.write(o);
    }

    /**
     * Reads a result of any version: 0.3.x/0.4.0 (ips with "version"), 1.x, and the
     * 0.1/0.2 "ip4"/"ip6" shape, so CHECK can read whatever prevResult the runtime
     * cached. A result that cannot be read is code 6, naming the field.
     */
    public static CniResult fromJson(String json) {
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(json);
        } catch (JacksonException e) {
            throw new CniException(CniError.DECODING_FAILURE, "failed to decode result", e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw new CniException(CniError.DECODING_FAILURE, "failed to decode result", "a result is a JSON object");
        }
        List<Interface> interfaces = new ArrayList<>();
        for (JsonNode n : Json.array(root, "interfaces", "")) {
            interfaces.add(new Interface(parse(x -> x, Json.string(n, "name", "interfaces."), "interfaces.name"),
                    Optional.ofNullable(Json.string(n, "mac", "interfaces.")).filter(s -> !s.isEmpty()).map(s -> parse(MacAddress::parse, s, "mac")),
                    Optional.ofNullable(Json.string(n, "sandbox", "interfaces."))));
        }
        List<IpConfig> ips = new ArrayList<>();
        for (JsonNode n : Json.array(root, "ips", "")) {
            ips.add(new IpConfig(parse(IpPrefix::parse, Json.string(n, "address", "ips."), "ips.address"),
                    gateway(Json.string(n, "gateway", "ips.")),
                    Optional.ofNullable(Json.integer(n, "interface", "ips."))));
        }
        List<Route> routes = new ArrayList<>(routes(Json.array(root, "routes", "")));
        for (String legacy : List.of("ip4", "ip6")) {
            JsonNode n = Json.object(root, legacy, "");
            if (n != null) {
                ips.add(new IpConfig(parse(IpPrefix::parse, Json.string(n, "ip", legacy + "."), legacy + ".ip"),
                        gateway(Json.string(n, "gateway", legacy + ".")), Optional.empty()));
                routes.addAll(routes(Json.array(n, "routes", legacy + ".")));
            }
        }
        return new CniResult(interfaces, ips, routes, Dns.fromJson(Json.object(root, "dns", ""), "dns."));
    }

    private static List<Route> routes(List<JsonNode> nodes) {
        List<Route> out = new ArrayList<>();
        for (JsonNode n : nodes) {
            out.add(new Route(parse(IpPrefix::parse, Json.string(n, "dst", "routes."), "routes.dst"), gateway(Json.string(n, "gw", "routes."))));
        }
        return out;
    }

    private static Optional<InetAddress> gateway(String text) {
        return Optional.ofNullable(text).filter(s -> !s.isEmpty()).map(s -> parse(IpPrefix::literal, s, "gateway"));
    }

    private static <T> T parse(java.util.function.Function<String, T> parser, String text, String field) {
        if (text == null) {
            throw new CniException(CniError.DECODING_FAILURE, "failed to decode result", "field '" + field + "' is missing");
        }
        try {
            return parser.apply(text);
        } catch (IllegalArgumentException e) {
            throw new CniException(CniError.DECODING_FAILURE, "failed to decode result", "field '" + field + "': " + e.getMessage());
        }
    }
}
