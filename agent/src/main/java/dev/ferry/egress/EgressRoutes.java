package dev.ferry.egress;

import dev.ferry.selection.PodLabels;
import dev.ferry.selection.SelectablePod;
import dev.ferry.datapath.EgressMaps;
import dev.ferry.datapath.EndpointMap;
import dev.ferry.endpoint.Endpoint;
import dev.ferry.netlink.Link;
import dev.ferry.netlink.Neighbour;
import dev.ferry.netlink.NeighbourEvent;
import dev.ferry.netlink.NeighbourEvents;
import dev.ferry.netlink.RtNetlink;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The entry point of egress routes: keeps the datapath's tables in line with the
 * routes, this node's pods and the next hops' health. One platform thread ticks
 * every {@code tick}: the neighbour entries of the next hops are looked at (and
 * probed, {@link NextHopHealth}); a route whose live set changed is rewritten;
 * when the pods changed, the plan ({@link EgressPlan}) is made again and written
 * in an order that never points a pod at a table before the table is there.
 * Between ticks the kernel's neighbour notifications ({@link NeighbourEvents})
 * move a next hop in or out as soon as its entry turns REACHABLE or FAILED; both
 * write under one lock, so the maps have one writer at a time.
 *
 * <p>Closing stops the thread and the notifications only: the pinned maps keep
 * the routes in force while no agent runs, and the next agent's first tick takes
 * them over. In Kubernetes
 * mode ({@link #awaitRoutes}) the routes come from the API server: until its first
 * full list arrives ({@link #update}) nothing is written or cleared, so an agent
 * that starts while the API server is away leaves the routes in force; route ids
 * are kept in a file of the state directory, so the next agent gives every route
 * the id its tables already name.
 */
public final class EgressRoutes implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EgressRoutes.class);
    /**
     * skb->mark of a masqueraded route's packets: MARK_BASE | route id << 8 | next hop
     * index, set by from_pod. Ferry's rule for that mark looks the packet up in the
     * table of the same number, whose one route is the next hop.
     */
    public static final int MARK_BASE = 0xfe770000;
    /** Before the main table's rule (32766): a marked packet never sees the default route. */
    public static final int RULE_PRIORITY = 1770;

    /** A configured next hop with the uplink it goes out of. */
    record ResolvedHop(NextHop hop, Link device, NextHopHealth health) {}

    /** A route with its datapath id and its next hops resolved. */
    record Resolved(EgressRoute route, int id, List<ResolvedHop> hops) {}

    /** Guarded by lock. */
    private List<Resolved> routes;
    /** False until the routes are known: Kubernetes mode before the first list. Guarded by lock. */
    private boolean known;
    /** Objects the API server holds that the agent cannot use, with why. Guarded by lock. */
    private List<EgressStatus.Refused> refused = List.of();
    private final PodLabels labels;
    private final Optional<RouteIds> ids;
    private final List<Link> uplinks;
    private final RtNetlink netlink;
    private final EgressMaps maps;
    private final EndpointMap endpoints;
    private final Supplier<List<Endpoint>> pods;
    private final Duration tick;
    private final Thread thread;
    /** The uplinks' neighbour notifications, which move next hops in and out between ticks. */
    private NeighbourEvents events;
    private final Object lock = new Object();
    private volatile boolean stopped;
    /** Guarded by lock. */
    private EgressPlan plan = EgressPlan.of(List.of(), List.of(), Map.of());
    /** The pods the plan was made for, by container and address: a new pod on a freed address is a change. */
    private Set<String> plannedPods = null;
    private final NextHops health;

    private EgressRoutes(List<Resolved> routes, boolean known, List<Link> uplinks, RtNetlink netlink, EgressMaps maps,
                         EndpointMap endpoints, Supplier<List<Endpoint>> pods, PodLabels labels, Optional<RouteIds> ids,
                         Duration tick) {
        this.routes = routes;
        this.known = known;
        this.labels = labels;
        this.ids = ids;
        this.uplinks = List.copyOf(uplinks);
        this.netlink = netlink;
        this.maps = maps;
        this.health = new NextHops(netlink, maps);
        this.endpoints = endpoints;
        this.pods = pods;
        this.tick = tick;
        this.thread = Thread.ofPlatform().name("egress-routes").daemon().unstarted(this::run);
    }

    /**
     * Resolves every next hop to its uplink (the named one, or the one whose
     * subnet holds the address), writes the datapath once and starts the ticks.
     * A next hop on no uplink fails the start, naming the key.
     */
    public static EgressRoutes start(List<EgressRoute> routes, List<Link> uplinks, RtNetlink netlink, EgressMaps maps,
                                     EndpointMap endpoints, Supplier<List<Endpoint>> pods, Duration tick) {
        List<Resolved> resolved = new ArrayList<>();
        for (int i = 0; i < routes.size(); i++) {
            EgressRoute r = routes.get(i);
            List<ResolvedHop> hops = new ArrayList<>();
            for (int j = 0; j < r.nextHops().size(); j++) {
                hops.add(new ResolvedHop(r.nextHops().get(j), NextHops.uplinkOf(r.nextHops().get(j),
                        "egressRoutes[" + i + "].nextHops[" + j + "]", uplinks, netlink), new NextHopHealth()));
            }
            resolved.add(new Resolved(r, i + 1, hops));
        }
        EgressRoutes egress = new EgressRoutes(resolved, true, uplinks, netlink, maps, endpoints, pods, PodLabels.NONE,
                Optional.empty(), tick);
        // Before the first read of the table: a change after it is never missed.
        egress.events = netlink.watchNeighbours(egress::onNeighbourEvent);
        try {
            egress.writeMasqueradeRules();
            egress.reconcile();
            egress.clearUnusedIds();
        } catch (RuntimeException e) {
            egress.events.close();
            throw e;
        }
        egress.thread.start();
        log.info("event=egress_routes_started routes={} tick_ms={}", routes.size(), tick.toMillis());
        return egress;
    }

    /**
     * Kubernetes mode: starts with the routes unknown and touches nothing until
     * the first {@link #update}, which takes the ids {@code idsFile} kept for
     * routes of the same name and clears what no route holds any more.
     *
     * @param labels the labels of this node's pods and their namespaces, which the routes select by
     */
    public static EgressRoutes awaitRoutes(List<Link> uplinks, RtNetlink netlink, EgressMaps maps, EndpointMap endpoints,
                                           Supplier<List<Endpoint>> pods, PodLabels labels, java.nio.file.Path idsFile,
                                           Duration tick) {
        EgressRoutes egress = new EgressRoutes(List.of(), false, uplinks, netlink, maps, endpoints, pods, labels,
                Optional.of(new RouteIds(idsFile)), tick);
        egress.events = netlink.watchNeighbours(egress::onNeighbourEvent);
        egress.thread.start();
        log.info("event=egress_routes_awaiting source=kubernetes tick_ms={}", tick.toMillis());
        return egress;
    }


    /**
     * Replaces the routes (Kubernetes mode's EgressRoute objects changed; the
     * configuration's are fixed). A route keeps its id, counters and next hops'
     * health while its name stays; a new one gets an id no route had before this
     * call. The plan is made again at once, and a deleted route's id is cleared
     * only once no table names it. A next hop on no uplink refuses the whole
     * update, naming the route, before anything changes.
     */
    public void update(List<EgressRoute> next) {
        update(next, List.of());
    }

    /**
     * As {@link #update(List)}, with the objects the caller could not use (shown
     * by {@link #status}). A route whose next hop is on no uplink is refused here
     * and joins them; the others are applied.
     */
    public void update(List<EgressRoute> next, List<EgressStatus.Refused> refusedObjects) {
        if (next.size() >= dev.ferry.datapath.MapLayouts.EGRESS_ROUTES_MAX) {
            throw new IllegalArgumentException(next.size() + " egress routes; at most "
                    + (dev.ferry.datapath.MapLayouts.EGRESS_ROUTES_MAX - 1));
        }
        synchronized (lock) {
            if (stopped) {
                return; // the agent is stopping: the next one takes the routes over
            }
            boolean first = !known;
            Map<String, Resolved> old = new HashMap<>();
            routes.forEach(r -> old.put(r.route().name(), r));
            Set<Integer> taken = new HashSet<>();
            routes.forEach(r -> taken.add(r.id()));
            // The first list after a start: each route takes the id the earlier agent gave it, when valid and unique.
            Map<String, Integer> kept = new HashMap<>();
            if (first) {
                ids.map(RouteIds::read).orElse(Map.of()).forEach((name, id) -> {
                    if (id > 0 && id < dev.ferry.datapath.MapLayouts.EGRESS_ROUTES_MAX && !taken.contains(id)
                            && next.stream().anyMatch(r -> r.name().equals(name))) {
                        kept.put(name, id);
                        taken.add(id);
                    }
                });
            }
            List<EgressStatus.Refused> refusedNow = new ArrayList<>(refusedObjects);
            List<Resolved> resolved = new ArrayList<>();
            for (EgressRoute r : next) {
                Resolved before = old.get(r.name());
                int id;
                if (before != null) {
                    id = before.id();
                } else if (kept.containsKey(r.name())) {
                    id = kept.get(r.name());
                } else {
                    id = 1;
                    while (taken.contains(id)) {
                        id++;
                    }
                    taken.add(id);
                }
                List<ResolvedHop> hops = new ArrayList<>();
                try {
                    for (int j = 0; j < r.nextHops().size(); j++) {
                        NextHop hop = r.nextHops().get(j);
                        Optional<ResolvedHop> same = before == null ? Optional.empty()
                                : before.hops().stream().filter(h -> h.hop().equals(hop)).findFirst();
                        hops.add(same.orElseGet(() -> new ResolvedHop(hop, NextHops.uplinkOf(hop,
                                "egress route '" + r.name() + "' nextHops[" + hops.size() + "]", uplinks, netlink),
                                new NextHopHealth())));
                    }
                } catch (IllegalArgumentException e) {
                    refusedNow.add(new EgressStatus.Refused(r.name(), e.getMessage()));
                    continue;
                }
                resolved.add(new Resolved(r, id, hops));
            }
            Set<Integer> inUse = new HashSet<>();
            resolved.forEach(r -> inUse.add(r.id()));
            for (Resolved r : resolved) {
                if (!old.containsKey(r.route().name()) && !(first && kept.containsKey(r.route().name()))) {
                    maps.resetCounters(r.id()); // an id a route before this agent had: its counts are not this route's
                }
            }
            routes = resolved;
            known = true;
            if (!refusedNow.equals(refused)) {
                refusedNow.forEach(x -> log.warn("event=egress_route_refused route={} error=\"{}\"", x.name(), x.reason()));
            }
            refused = List.copyOf(refusedNow);
            ids.ifPresent(f -> f.write(resolved.stream().collect(java.util.stream.Collectors.toMap(
                    r -> r.route().name(), Resolved::id))));
            writeMasqueradeRules();
            plannedPods = null;
            reconcile();
            for (Resolved gone : old.values()) {
                if (!inUse.contains(gone.id())) {
                    maps.clearRoute(gone.id());
                    health.forget(gone.id());
                }
            }
            if (first) {
                clearUnusedIds();
            }
            log.info("event=egress_routes_updated routes={} added={} removed={} refused={}", resolved.size(),
                    resolved.stream().filter(r -> !old.containsKey(r.route().name())).count(),
                    old.values().stream().filter(r -> !inUse.contains(r.id())).count(), refusedNow.size());
        }
    }

    /**
     * An earlier agent's routes that this one does not have: their ids are
     * cleared once the first plan has taken every table off them (their
     * counters stay until another route takes the id).
     */
    private void clearUnusedIds() {
        synchronized (lock) {
            Set<Integer> used = new HashSet<>();
            routes.forEach(r -> used.add(r.id()));
            for (int id = 1; id < dev.ferry.datapath.MapLayouts.EGRESS_ROUTES_MAX; id++) {
                if (!used.contains(id) && !maps.isClear(id)) {
                    maps.clearRoute(id);
                    log.info("event=egress_route_id_cleared id={} why=not_configured", id);
                }
            }
        }
    }

    static int mark(int route, int hop) {
        return MARK_BASE | route << 8 | hop;
    }

    /**
     * A masqueraded route's packets go to the stack marked with their next hop
     * (from_pod chose it, as for the others); Ferry's policy rules send them there
     * ({@link EgressPolicyRules}).
     */
    private void writeMasqueradeRules() {
        List<EgressPolicyRules.Hop> wanted = new ArrayList<>();
        for (Resolved r : routes) {
            if (!r.route().masquerade()) {
                continue;
            }
            for (int j = 0; j < r.hops().size(); j++) {
                ResolvedHop h = r.hops().get(j);
                wanted.add(new EgressPolicyRules.Hop(mark(r.id(), j), h.hop().via(), h.device().index()));
            }
        }
        EgressPolicyRules.write(netlink, wanted);
    }

    private void run() {
        while (!stopped) {
            try {
                Thread.sleep(tick);
            } catch (InterruptedException e) {
                return;
            }
            try {
                reconcile();
            } catch (RuntimeException e) {
                // The next tick tries again; the datapath keeps what it has meanwhile.
                log.warn("event=egress_reconcile_failed cause={}", e.toString());
            }
        }
    }

    /** One tick: next hop health, then the plan if this node's pods changed. Safe to call from any thread. */
    public void reconcile() {
        synchronized (lock) {
            if (!known) {
                return; // the routes in force are the earlier agent's until the API server has listed them
            }
            health.check(routes, "tick");
            List<Endpoint> now = pods.get();
            List<SelectablePod> selectable = new ArrayList<>();
            Set<String> identities = new HashSet<>();
            for (Endpoint e : now) {
                Optional<PodLabels.Labels> podLabels = e.podNamespace().isPresent() && e.podName().isPresent()
                        ? labels.of(e.podNamespace().get(), e.podName().get()) : Optional.empty();
                e.addresses().forEach(a -> {
                    selectable.add(new SelectablePod(a.address(), podLabels));
                    // Labels are part of who a pod is to the plan: relabelling a pod or its namespace re-plans.
                    identities.add(e.containerId() + "/" + e.ifname() + "/" + a.address().getHostAddress() + "/" + podLabels);
                });
            }
            if (!identities.equals(plannedPods)) {
                apply(EgressPlan.of(routes.stream().map(Resolved::route).toList(), selectable, plan.tableIds()));
                plannedPods = identities;
            }
        }
    }

    /**
     * A neighbour notification of the node's namespace: the next hops with that
     * address on that link take the entry's word at once, and their routes' live
     * sets are rewritten; lost notifications make the whole table read again.
     * Probing stays the tick's: answering the notifications with probes would
     * answer each confirmation with another one.
     */
    private void onNeighbourEvent(NeighbourEvent event) {
        synchronized (lock) {
            if (stopped) {
                return;
            }
            switch (event) {
                case NeighbourEvent.Changed(Neighbour n) -> health.heard(routes, n, Optional.of(n));
                case NeighbourEvent.Deleted(Neighbour n) -> health.heard(routes, n, Optional.empty());
                case NeighbourEvent.Resync() -> {
                    log.info("event=egress_neighbours_resync why=notifications_lost");
                    health.check(routes, "resync");
                }
            }
        }
    }

    /**
     * Tables first, then the pods' words, then what no table holds any more: a
     * pod never names a table whose prefixes are not written yet.
     */
    private void apply(EgressPlan next) {
        Map<String, Integer> ids = new HashMap<>();
        routes.forEach(r -> ids.put(r.route().name(), r.id()));
        Map<EgressMaps.Destination, Integer> wanted = new LinkedHashMap<>();
        next.tables().forEach((table, prefixes) -> prefixes.forEach((prefix, route) ->
                wanted.put(new EgressMaps.Destination(table, prefix), ids.get(route))));
        Map<EgressMaps.Destination, Integer> current = maps.destinations();
        wanted.forEach((d, route) -> {
            if (!route.equals(current.get(d))) {
                maps.putDestination(d, route);
            }
        });
        next.tableOfPod().forEach(endpoints::setEgressRoute);
        current.keySet().stream().filter(d -> !wanted.containsKey(d)).forEach(maps::removeDestination);
        if (!next.conflicts().equals(plan.conflicts())) {
            next.conflicts().forEach(c -> log.warn("event=egress_route_conflict destination={} winner={} loser={} rule={}",
                    c.destination(), c.winner(), c.loser(), c.rule()));
        }
        log.info("event=egress_plan_applied pods={} tables={} destinations={} conflicts={}",
                next.tableOfPod().size(), next.tables().size(), wanted.size(), next.conflicts().size());
        plan = next;
    }

    /** Routes, selected pods, next hops with their health and counters, conflicts: as of the last tick or notification. */
    public EgressStatus status() {
        Map<InetAddress, String> names = new HashMap<>();
        pods.get().forEach(e -> e.addresses().forEach(a -> names.put(a.address(),
                e.podNamespace().map(ns -> ns + "/" + e.podName().orElse("")).orElse(e.containerId()))));
        synchronized (lock) {
            return EgressStatusView.of(known, routes, plan, maps, names, refused);
        }
    }

    @Override
    public void close() {
        stopped = true;
        events.close();
        thread.interrupt();
        try {
            thread.join(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
