package dev.ferry.egress;

import dev.ferry.datapath.EgressMaps;
import dev.ferry.datapath.EgressNextHop;
import dev.ferry.datapath.EgressRouteEntry;
import dev.ferry.net.IpPrefix;
import dev.ferry.net.IpText;
import dev.ferry.netlink.Address;
import dev.ferry.netlink.Link;
import dev.ferry.netlink.Neighbour;
import dev.ferry.netlink.RtNetlink;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The next hops' health and its one way into the datapath: each route's entry
 * (its next hops, which are live, its flow buckets) written when it differs
 * from what was written last. Learned from the tick's reads and probes
 * ({@link #check}) and from the kernel's neighbour notifications ({@link #heard});
 * {@link EgressRoutes} calls both under its lock, so the maps have one writer.
 */
final class NextHops {
    private static final Logger log = LoggerFactory.getLogger(EgressRoutes.class);

    private final RtNetlink netlink;
    private final EgressMaps maps;
    /** What each route id's entry holds now, as this agent wrote it. */
    private final Map<Integer, EgressRouteEntry> written = new HashMap<>();

    NextHops(RtNetlink netlink, EgressMaps maps) {
        this.netlink = netlink;
        this.maps = maps;
    }

    /**
     * Reads every next hop's entry, asks the kernel to confirm or resolve it as
     * {@link NextHopHealth} says, and writes each route whose live set changed.
     *
     * @param learned what made the agent look, for the log
     */
    void check(List<EgressRoutes.Resolved> routes, String learned) {
        Map<Integer, List<Neighbour>> byDevice = new HashMap<>();
        for (EgressRoutes.Resolved r : routes) {
            for (EgressRoutes.ResolvedHop h : r.hops()) {
                List<Neighbour> entries = byDevice.computeIfAbsent(h.device().index(), netlink::neighbours);
                Optional<Neighbour> entry = entries.stream().filter(n -> n.address().equals(h.hop().via())).findFirst();
                boolean before = h.health().live();
                switch (h.health().observe(entry)) {
                    case CONFIRM -> netlink.setNeighbourState(h.device().index(), h.hop().via(), Neighbour.NUD_PROBE);
                    case RESOLVE -> netlink.resolveNeighbour(h.device().index(), h.hop().via());
                    case NONE -> { }
                }
                reportChange(r, h, before, learned);
            }
            writeRoute(r);
        }
    }

    /**
     * A notification's word on one neighbour: the next hops with that address on
     * that link take it at once. Probing stays {@link #check}'s: answering the
     * notifications with probes would answer each confirmation with another one.
     */
    void heard(List<EgressRoutes.Resolved> routes, Neighbour neighbour, Optional<Neighbour> entry) {
        for (EgressRoutes.Resolved r : routes) {
            boolean changed = false;
            for (EgressRoutes.ResolvedHop h : r.hops()) {
                if (h.device().index() == neighbour.index() && h.hop().via().equals(neighbour.address())) {
                    boolean before = h.health().live();
                    h.health().observe(entry); // what to ask of the kernel is the tick's to decide
                    reportChange(r, h, before, "notification");
                    changed = true;
                }
            }
            if (changed) {
                writeRoute(r);
            }
        }
    }

    private static void reportChange(EgressRoutes.Resolved r, EgressRoutes.ResolvedHop h, boolean before, String learned) {
        if (before != h.health().live()) {
            log.info("event=egress_next_hop_{} route={} via={} dev={} neighbour={} learned={}",
                    h.health().live() ? "up" : "down", r.route().name(), IpText.format(h.hop().via()),
                    h.device().name(), h.health().state(), learned);
        }
    }

    /** The route's next hops and their health into the datapath, unless that is what it holds already. */
    void writeRoute(EgressRoutes.Resolved r) {
        EgressRouteEntry entry = entry(r);
        if (!entry.equals(written.get(r.id()))) {
            maps.putRoute(r.id(), entry);
            written.put(r.id(), entry);
        }
    }

    private static EgressRouteEntry entry(EgressRoutes.Resolved r) {
        List<EgressNextHop> hops = r.hops().stream()
                .map(h -> new EgressNextHop(h.device().index(), h.hop().via(), h.health().live())).toList();
        return new EgressRouteEntry(r.route().masquerade(), r.route().fallback() == Fallback.DROP, EgressRoutes.mark(r.id(), 0), hops);
    }

    /**
     * The uplink a configured next hop goes out of: the named one, or the one
     * whose subnet holds the address. Refused with the key when none does.
     */
    static Link uplinkOf(NextHop hop, String key, List<Link> uplinks, RtNetlink netlink) {
        String names = String.join(", ", uplinks.stream().map(Link::name).toList());
        if (hop.device().isPresent()) {
            return uplinks.stream().filter(l -> l.name().equals(hop.device().get())).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("key '" + key + ".device': '" + hop.device().get()
                            + "' is not an uplink (" + names + "); replies reach pods only through the uplinks"));
        }
        if (hop.via().isLinkLocalAddress()) {
            // Every uplink has a subnet of fe80::/64: the address alone names no uplink.
            throw new IllegalArgumentException("key '" + key + ".via': " + IpText.format(hop.via())
                    + " is link-local, on every uplink's link; name the device");
        }
        for (Link uplink : uplinks) {
            for (Address a : netlink.addresses(uplink.index())) {
                if (a.prefix().isIpv4() == (hop.via() instanceof java.net.Inet4Address)
                        && new IpPrefix(a.prefix().network(), a.prefix().length()).contains(hop.via())) {
                    return uplink;
                }
            }
        }
        throw new IllegalArgumentException("key '" + key + ".via': " + IpText.format(hop.via())
                + " is in the subnet of no uplink (" + names + "); name the device");
    }

    /** A route id that was cleared: whatever takes it next is written afresh. */
    void forget(int id) {
        written.remove(id);
    }
}
