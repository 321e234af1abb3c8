package dev.ferry.egress;

import dev.ferry.datapath.EgressCounter;
import dev.ferry.datapath.EgressMaps;
import dev.ferry.net.IpPrefix;
import dev.ferry.net.IpText;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** {@link EgressStatus} as of now: the routes, their selected pods, next hops with health and counters. */
final class EgressStatusView {
    private EgressStatusView() {}

    /** @param names each pod address's namespace/name (or container id) */
    static EgressStatus of(boolean known, List<EgressRoutes.Resolved> routes, EgressPlan plan, EgressMaps maps,
                           Map<InetAddress, String> names, List<EgressStatus.Refused> refused) {
        List<EgressStatus.Route> out = new ArrayList<>();
        for (EgressRoutes.Resolved r : routes) {
            Map<Integer, EgressCounter> counted = new HashMap<>();
            maps.counters(r.id()).forEach(c -> counted.put(c.nextHop(), c));
            List<EgressStatus.Hop> hops = new ArrayList<>();
            for (int j = 0; j < r.hops().size(); j++) {
                EgressRoutes.ResolvedHop h = r.hops().get(j);
                EgressCounter c = counted.get(j);
                hops.add(new EgressStatus.Hop(IpText.format(h.hop().via()), h.device().name(), h.health().live(),
                        h.health().state(), c == null ? 0 : c.packets(), c == null ? 0 : c.bytes()));
            }
            EgressCounter fallback = counted.get(EgressCounter.FALLBACK);
            List<EgressStatus.Pod> selected = plan.selected().getOrDefault(r.route().name(), List.of()).stream()
                    .map(a -> new EgressStatus.Pod(IpText.format(a), names.getOrDefault(a, ""))).toList();
            out.add(new EgressStatus.Route(r.route().name(), r.id(), r.route().pods().toString(),
                    r.route().destinations().stream().map(IpPrefix::toString).toList(),
                    r.route().masquerade(), r.route().fallback().label(), selected, hops,
                    fallback == null ? 0 : fallback.packets(), fallback == null ? 0 : fallback.bytes()));
        }
        return new EgressStatus(known, out, plan.conflicts().stream().map(EgressStatus.ConflictView::of).toList(), refused);
    }
}
