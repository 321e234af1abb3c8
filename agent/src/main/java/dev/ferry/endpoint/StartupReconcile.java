package dev.ferry.endpoint;

import dev.ferry.datapath.Datapath;
import dev.ferry.ipam.Allocation;
import dev.ferry.ipam.Ipam;
import dev.ferry.net.IpText;
import dev.ferry.netlink.Link;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.ferry.net.IpPrefix;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * What the agent does with the node's state before it serves the socket: an
 * agent killed at any instant of an ADD or DEL leaves some of the endpoint's
 * parts (address file, host veth, hook, map entry, state file) and not others,
 * and a later ADD, DEL or GC must not trip over them.
 * <ul>
 *   <li>an address held without an endpoint file is an ADD that never answered
 *       success: everything of it is removed as a DEL would (the runtime retries
 *       the ADD or sends DEL, both of which then find a clean slate), unless its
 *       endpoint file was quarantined: that pod was plumbed whole and keeps its
 *       network, and its DEL or GC removes it;</li>
 *   <li>an endpoint whose address file is gone gets it back, unless another pod
 *       holds that address (logged as a conflict: never two pods with one);</li>
 *   <li>an endpoint whose host veth is there gets its map entry and hook back;
 *       one whose veth is gone is kept for its DEL or GC;</li>
 *   <li>host veths of Ferry's naming that no endpoint or address accounts for,
 *       and map entries of addresses no endpoint holds, are deleted (with a veth
 *       go its routes and neighbours).</li>
 * </ul>
 */
final class StartupReconcile {
    private static final Logger log = LoggerFactory.getLogger(StartupReconcile.class);
    private static final Pattern HOST_VETH = Pattern.compile(HostIfname.PREFIX + "[0-9a-f]{11}");

    /** What one reconcile did, for the log line at start. */
    record Outcome(int restored, int kept, int halfMadeRemoved, int addressesAdopted, int conflicts, int strayVeths,
                   int strayMapEntries) {}

    private final EndpointStore store;
    private final List<Ipam> pools;
    /** Families the node has no pool of any more: their addresses count as held, nothing is adopted into them. */
    private final List<Ipam> retired;
    private final Datapath datapath;
    private final PodPlumbing plumbing;

    StartupReconcile(EndpointStore store, List<Ipam> pools, List<Ipam> retired, Datapath datapath, PodPlumbing plumbing) {
        this.store = store;
        this.pools = pools;
        this.retired = retired;
        this.datapath = datapath;
        this.plumbing = plumbing;
    }

    /**
     * @param remove  removes one attachment as DEL does
     * @param restore puts an endpoint's map entry and hook back; false when its veth is gone
     */
    Outcome run(Consumer<EndpointKey> remove, java.util.function.Predicate<Endpoint> restore) {
        int halfMade = 0, adopted = 0, conflicts = 0, restored = 0, kept = 0;
        Set<EndpointKey> persisted = new HashSet<>();
        store.all().forEach(e -> persisted.add(new EndpointKey(e.containerId(), e.ifname())));
        Set<EndpointKey> seen = new HashSet<>();
        for (Allocation a : allocations()) {
            EndpointKey key = new EndpointKey(a.containerId(), a.ifname());
            if (!seen.add(key)) {
                // its other family's address: one attachment, handled once
            } else if (!persisted.contains(key) && store.quarantined(key)) {
                log.warn("event=endpoint_state_quarantined endpoint={} address={} action=kept_until_del_or_gc", key,
                        IpText.format(a.address()));
                kept++;
            } else if (!persisted.contains(key)) {
                log.warn("event=endpoint_half_made endpoint={} address={} action=removed_as_del_would", key,
                        IpText.format(a.address()));
                try {
                    remove.accept(key);
                    halfMade++;
                } catch (RuntimeException e) {
                    log.error("event=endpoint_half_made_remove_failed endpoint={} error=\"{}\"", key, e.getMessage());
                }
            }
        }
        List<Endpoint> endpoints = store.all();
        for (Endpoint e : endpoints) {
            for (IpPrefix prefix : e.addresses()) {
                InetAddress address = prefix.address();
                Optional<Ipam> pool = poolFor(address);
                if (pool.isEmpty() || pool.get().find(e.containerId(), e.ifname()).isPresent()) {
                    continue; // a family the node has no pool for any more keeps what it has, as a CIDR change does
                }
                if (pool.get().adopt(e.containerId(), e.ifname(), address)) {
                    log.warn("event=endpoint_address_adopted endpoint={}/{} address={}", e.containerId(), e.ifname(),
                            IpText.format(address));
                    adopted++;
                } else {
                    log.error("event=endpoint_address_conflict endpoint={}/{} address={} why=\"another pod holds it\""
                            + " action=kept_for_operator", e.containerId(), e.ifname(), IpText.format(address));
                    conflicts++;
                }
            }
            if (restore.test(e)) {
                restored++;
            } else {
                kept++;
            }
        }
        return new Outcome(restored, kept, halfMade, adopted, conflicts, removeStrayVeths(), removeStrayMapEntries());
    }

    private List<Allocation> allocations() {
        return java.util.stream.Stream.concat(pools.stream(), retired.stream()).flatMap(p -> p.allocations().stream()).toList();
    }

    private Optional<Ipam> poolFor(InetAddress address) {
        return pools.stream().filter(p -> p.podCidr().isIpv4() == (address instanceof Inet4Address)).findFirst();
    }

    private int removeStrayVeths() {
        Set<String> ours = new HashSet<>();
        store.all().forEach(e -> ours.add(e.hostIfname()));
        allocations().forEach(a -> ours.add(HostIfname.of(a.containerId(), a.ifname())));
        int removed = 0;
        for (Link link : plumbing.hostLinks()) {
            if (HOST_VETH.matcher(link.name()).matches() && !ours.contains(link.name())) {
                try {
                    plumbing.deleteLinkIfPresent(link.name());
                    log.warn("event=stray_host_veth_removed host_ifname={} ifindex={}", link.name(), link.index());
                    removed++;
                } catch (RuntimeException e) {
                    log.error("event=stray_host_veth_remove_failed host_ifname={} error=\"{}\"", link.name(), e.getMessage());
                }
            }
        }
        return removed;
    }

    private int removeStrayMapEntries() {
        Set<InetAddress> ours = new HashSet<>();
        store.all().forEach(e -> e.addresses().forEach(a -> ours.add(a.address())));
        allocations().forEach(a -> ours.add(a.address())); // a pod whose record was quarantined still forwards
        int removed = 0;
        for (InetAddress address : datapath.endpoints().entries().keySet()) {
            if (!ours.contains(address)) {
                datapath.endpoints().delete(address);
                log.warn("event=stray_map_entry_removed address={}", IpText.format(address));
                removed++;
            }
        }
        return removed;
    }
}
