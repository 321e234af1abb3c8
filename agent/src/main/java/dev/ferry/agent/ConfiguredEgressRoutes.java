package dev.ferry.agent;

import dev.ferry.egress.EgressRoute;
import dev.ferry.egress.EgressRouteRules;
import dev.ferry.egress.Fallback;
import dev.ferry.egress.NextHop;
import dev.ferry.masquerade.MasqueradeFamilies;
import dev.ferry.net.IpPrefix;
import dev.ferry.net.IpText;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Standalone mode's {@code egressRoutes}: which pods (by source CIDR) reach which
 * destinations outside the cluster through which next hops. Listed oldest first:
 * of two routes giving the same destination to a pod, the one listed first wins.
 * A route may mix the families: each family of its destinations and sources
 * needs a next hop of that family (a flow never changes family on the way), and
 * left out, the destinations are everything outside the cluster for each family
 * the route has next hops of. A next hop's device, when named, must be an uplink
 * (replies come back into pods through to_pod, which only the uplinks run).
 */
final class ConfiguredEgressRoutes {
    static final Set<String> KEYS = Set.of("name", "sources", "destinations", "nextHops", "masquerade", "fallback");
    static final Set<String> NEXT_HOP_KEYS = Set.of("via", "device");
    /** Route ids are 1..255 in the datapath (FERRY_EGRESS_ROUTES_MAX). */
    static final int MAX_ROUTES = 255;
    private static final Pattern NAME = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");

    private ConfiguredEgressRoutes() {}

    /**
     * @param uplinks the configured uplinks; empty when the default route's device is the uplink, which only the
     *                start knows (a named device is checked there)
     * @param nodeMasquerade the node's masquerade per family: a route's masquerade is done by the table of the family
     */
    static List<EgressRoute> parse(YamlFields f, List<IpPrefix> clusterCidrs, List<String> uplinks,
                                   MasqueradeFamilies nodeMasquerade) {
        List<YamlFields> entries = f.mappings("egressRoutes", KEYS).orElse(List.of());
        if (entries.size() > MAX_ROUTES) {
            throw new ConfigException("key 'egressRoutes' lists " + entries.size() + " routes; at most " + MAX_ROUTES);
        }
        List<EgressRoute> routes = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (YamlFields r : entries) {
            String name = r.string("name").orElseThrow(() -> new ConfigException("key '" + r.key("name") + "' is required"));
            if (name.length() > 63 || !NAME.matcher(name).matches()) {
                throw new ConfigException("key '" + r.key("name") + "': '" + name
                        + "' is not a valid route name (lowercase letters, digits and '-', at most 63)");
            }
            if (!names.add(name)) {
                throw new ConfigException("key '" + r.key("name") + "': route '" + name + "' is listed twice");
            }
            List<IpPrefix> sources = r.list("sources", ConfigValues::cidr).filter(l -> !l.isEmpty())
                    .orElseThrow(() -> new ConfigException("key '" + r.key("sources")
                            + "' is required (the pod CIDRs whose traffic the route takes, e.g. [10.244.1.0/28])"));
            List<NextHop> nextHops = nextHops(r, clusterCidrs, uplinks);
            for (int i = 0; i < sources.size(); i++) {
                hasNextHopOfFamily(r.key("sources") + "[" + i + "]", sources.get(i), nextHops);
            }
            List<IpPrefix> destinations = r.list("destinations", ConfigValues::cidr).orElseGet(() -> EgressRoute.outsideTheCluster(nextHops));
            if (destinations.isEmpty()) {
                throw new ConfigException("key '" + r.key("destinations") + "' is empty; leave it out for every destination"
                        + " outside the cluster CIDRs");
            }
            for (int i = 0; i < destinations.size(); i++) {
                String key = r.key("destinations") + "[" + i + "]";
                IpPrefix d = destinations.get(i);
                hasNextHopOfFamily(key, d, nextHops);
                if (destinations.subList(0, i).contains(d)) {
                    throw new ConfigException("key '" + key + "': " + d + " is listed twice");
                }
                EgressRouteRules.outsideTheCluster(d, clusterCidrs).ifPresent(why -> bad(key, why));
            }
            boolean masquerade = r.bool("masquerade").orElse(false);
            EgressRouteRules.masquerade(masquerade, nextHops, nodeMasquerade).ifPresent(why -> bad(r.key("masquerade"), why));
            Fallback fallback = r.string("fallback").map(v -> fallback(r.key("fallback"), v)).orElse(Fallback.STACK);
            routes.add(new EgressRoute(name, sources, destinations, nextHops, masquerade, fallback));
        }
        return routes;
    }

    private static List<NextHop> nextHops(YamlFields r, List<IpPrefix> clusterCidrs, List<String> uplinks) {
        List<YamlFields> hops = r.mappings("nextHops", NEXT_HOP_KEYS).filter(l -> !l.isEmpty())
                .orElseThrow(() -> new ConfigException("key '" + r.key("nextHops")
                        + "' is required (the routers to send through, e.g. [{via: 192.168.10.1}])"));
        if (hops.size() > EgressRoute.MAX_NEXT_HOPS) {
            throw new ConfigException("key '" + r.key("nextHops") + "' lists " + hops.size() + " next hops; at most "
                    + EgressRoute.MAX_NEXT_HOPS);
        }
        List<NextHop> nextHops = new ArrayList<>();
        for (YamlFields h : hops) {
            InetAddress via = h.string("via").map(v -> ConfigValues.address(h.key("via"), v))
                    .orElseThrow(() -> new ConfigException("key '" + h.key("via") + "' is required (the router's address)"));
            Optional<String> device = h.string("device").map(d -> ConfigValues.ifname(h.key("device"), d));
            EgressRouteRules.nextHop(via, device, clusterCidrs).ifPresent(why -> bad(h.key("via"), why));
            if (device.isPresent() && !uplinks.isEmpty() && !uplinks.contains(device.get())) {
                throw new ConfigException("key '" + h.key("device") + "': '" + device.get() + "' is not an uplink ("
                        + String.join(", ", uplinks) + "); replies reach pods only through the uplinks");
            }
            NextHop hop = new NextHop(via, device);
            if (nextHops.stream().anyMatch(o -> o.via().equals(via))) {
                throw new ConfigException("key '" + h.key("via") + "': " + IpText.format(via) + " is listed twice");
            }
            nextHops.add(hop);
        }
        return nextHops;
    }

    private static void hasNextHopOfFamily(String key, IpPrefix prefix, List<NextHop> nextHops) {
        EgressRouteRules.family(prefix, nextHops).ifPresent(why -> bad(key, why));
    }

    private static void bad(String key, String why) {
        throw new ConfigException("key '" + key + "': " + why);
    }

    private static Fallback fallback(String key, String text) {
        try {
            return Fallback.valueOf(text.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new ConfigException("key '" + key + "' must be stack or drop, not '" + text + "'");
        }
    }
}
