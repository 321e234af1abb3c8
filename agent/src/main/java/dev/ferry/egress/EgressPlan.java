package dev.ferry.egress;

import dev.ferry.selection.SelectablePod;
import dev.ferry.net.IpPrefix;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * What the datapath should hold for a set of routes and the pods of this node.
 * Pods selected by the same routes share an egress table; a table maps each
 * destination prefix to the one route that serves it: the older route when two
 * give the same prefix. Between different prefixes the datapath's longest-prefix
 * match picks the more specific one. Both cases are reported as conflicts.
 *
 * @param tableOfPod     every pod's table, 0 for a pod no route selects
 * @param tables         table id to prefix to the route (by name) that serves it
 * @param tableIds       the routes of each table (by name, oldest first) to its id: the next plan keeps these ids
 * @param selected       each route's pods on this node
 * @param conflicts      overlapping destinations of routes that select the same pods
 */
public record EgressPlan(Map<InetAddress, Integer> tableOfPod, Map<Integer, Map<IpPrefix, String>> tables,
                         Map<List<String>, Integer> tableIds, Map<String, List<InetAddress>> selected,
                         List<Conflict> conflicts) {

    /**
     * @param routes   oldest first: the order conflicts of equal prefixes are settled in
     * @param pods     this node's pods, one per address, of either family (a dual-stack pod's two addresses are
     *                 selected each: by the sources of its family, or both by labels)
     * @param previous the table ids of the plan before: a set of routes keeps its table
     */
    public static EgressPlan of(List<EgressRoute> routes, Collection<SelectablePod> pods, Map<List<String>, Integer> previous) {
        Map<InetAddress, List<String>> routesOfPod = new LinkedHashMap<>();
        Map<String, List<InetAddress>> selected = new LinkedHashMap<>();
        routes.forEach(r -> selected.put(r.name(), new ArrayList<>()));
        for (SelectablePod pod : pods) {
            List<String> names = new ArrayList<>();
            for (EgressRoute r : routes) {
                if (r.selects(pod)) {
                    names.add(r.name());
                    selected.get(r.name()).add(pod.address());
                }
            }
            routesOfPod.put(pod.address(), names);
        }

        Set<List<String>> wanted = new LinkedHashSet<>();
        routesOfPod.values().stream().filter(n -> !n.isEmpty()).forEach(wanted::add);
        Map<List<String>, Integer> ids = new LinkedHashMap<>();
        Set<Integer> used = new TreeSet<>();
        for (List<String> set : wanted) {
            Integer id = previous.get(set);
            if (id != null) {
                ids.put(set, id);
                used.add(id);
            }
        }
        int next = 1;
        for (List<String> set : wanted) {
            if (!ids.containsKey(set)) {
                while (used.contains(next)) {
                    next++;
                }
                ids.put(set, next);
                used.add(next);
            }
        }

        Map<String, EgressRoute> byName = new HashMap<>();
        routes.forEach(r -> byName.put(r.name(), r));
        Map<Integer, Map<IpPrefix, String>> tables = new LinkedHashMap<>();
        Set<Conflict> conflicts = new LinkedHashSet<>();
        ids.forEach((set, id) -> tables.put(id, table(set.stream().map(byName::get).toList(), conflicts)));

        Map<InetAddress, Integer> tableOfPod = new LinkedHashMap<>();
        routesOfPod.forEach((pod, names) -> tableOfPod.put(pod, names.isEmpty() ? 0 : ids.get(names)));
        Map<String, List<InetAddress>> frozen = new LinkedHashMap<>();
        selected.forEach((k, v) -> frozen.put(k, List.copyOf(v)));
        return new EgressPlan(tableOfPod, tables, ids, frozen, List.copyOf(conflicts));
    }

    /** One table: each prefix to its route, the older one's when two give it. */
    private static Map<IpPrefix, String> table(List<EgressRoute> routes, Set<Conflict> conflicts) {
        Map<IpPrefix, String> table = new LinkedHashMap<>();
        for (EgressRoute r : routes) {
            for (IpPrefix d : r.destinations()) {
                IpPrefix prefix = new IpPrefix(d.network(), d.length());
                String holder = table.putIfAbsent(prefix, r.name());
                if (holder != null && !holder.equals(r.name())) {
                    conflicts.add(new Conflict(prefix, holder, r.name(), Conflict.OLDER));
                }
            }
        }
        List<Map.Entry<IpPrefix, String>> entries = List.copyOf(table.entrySet());
        for (var a : entries) {
            for (var b : entries) {
                if (!a.getValue().equals(b.getValue()) && a.getKey().length() > b.getKey().length()
                        && b.getKey().contains(a.getKey().network())) {
                    conflicts.add(new Conflict(a.getKey(), a.getValue(), b.getValue(), Conflict.MORE_SPECIFIC));
                }
            }
        }
        return table;
    }
}
