package dev.ferry.egress;

import dev.ferry.net.IpPrefix;
import dev.ferry.netlink.Family;
import dev.ferry.netlink.Route;
import dev.ferry.netlink.RtNetlink;
import dev.ferry.netlink.Rule;
import dev.ferry.netlink.Scope;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The policy routing of masquerading egress routes: one rule and one table per
 * next hop, both numbered by the mark from_pod gives the next hop's packets
 * ({@link EgressRoutes#MARK_BASE}), the table's one route the next hop. The node's
 * masquerade table of the family ({@code table ip ferry}, {@code table ip6 ferry})
 * SNATs what leaves this way. An IPv6 next hop's rule and route are IPv6 ones
 * (ip -6 rule) under the same mark: marks are per next hop, never per family.
 */
final class EgressPolicyRules {
    private static final Logger log = LoggerFactory.getLogger(EgressPolicyRules.class);
    private static final int MARK_MASK = 0xffff0000;
    private static final List<Family> FAMILIES = List.of(Family.V4, Family.V6);

    /** One next hop of a masquerading route: its packets' mark, its address and uplink. */
    record Hop(int mark, InetAddress via, int ifindex) {}

    private EgressPolicyRules() {}

    /** Makes the rules and routes of {@code hops}, and deletes Ferry's rules of marks no longer wanted (an earlier agent's). */
    static void write(RtNetlink netlink, List<Hop> hops) {
        Map<Family, Set<Integer>> wanted = new HashMap<>();
        FAMILIES.forEach(f -> wanted.put(f, new HashSet<>()));
        for (Hop h : hops) {
            Family family = Family.of(h.via());
            wanted.get(family).add(h.mark());
            netlink.replaceRoute(new Route(anywhere(family), h.via(), h.ifindex(), Scope.UNIVERSE, Route.PROTO_FERRY,
                    h.mark(), 0, false));
            netlink.addRule(new Rule(family, h.mark(), -1, h.mark(), EgressRoutes.RULE_PRIORITY, Route.PROTO_FERRY));
        }
        for (Family family : FAMILIES) {
            for (Rule rule : netlink.rules(family)) {
                if (rule.protocol() == Route.PROTO_FERRY && (rule.fwmark() & MARK_MASK) == EgressRoutes.MARK_BASE
                        && !wanted.get(family).contains(rule.fwmark())) {
                    netlink.deleteRule(rule);
                    netlink.deleteRoute(new Route(anywhere(family), null, 0, Scope.UNIVERSE, Route.PROTO_FERRY, rule.table(), 0,
                            false));
                    log.info("event=egress_rule_deleted mark=0x{} family={} why=route_gone", Integer.toHexString(rule.fwmark()),
                            family == Family.V4 ? "ipv4" : "ipv6");
                }
            }
        }
    }

    private static IpPrefix anywhere(Family family) {
        return family == Family.V4 ? IpPrefix.DEFAULT_V4 : IpPrefix.DEFAULT_V6;
    }
}
