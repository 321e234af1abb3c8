package dev.ferry.endpoint;

import dev.ferry.datapath.Attachment;
import dev.ferry.datapath.Datapath;
import dev.ferry.datapath.DatapathProgram;
import dev.ferry.datapath.EndpointEntry;
import dev.ferry.ipam.Allocation;
import dev.ferry.ipam.Ipam;
import dev.ferry.net.IpPrefix;
import dev.ferry.net.IpText;
import dev.ferry.netlink.Link;
import dev.ferry.netlink.RtNetlink;
import dev.ferry.netlink.RtNetlinkPool;
import dev.ferry.netns.NetNamespace;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Every pod endpoint of this node: ADD, DEL, CHECK and GC on the kernel
 * (veth, addresses, routes, neighbours), the BPF maps and links, IPAM and the
 * state on disk, kept consistent with each other.
 *
 * <p>Callers serialise operations on one container (the CNI layer holds a lock
 * per container id); different containers may run in parallel.
 *
 * <p>Nothing here needs the state file to clean up: the host veth's name and
 * the address are derived from the container id and ifname (and IPAM), so a DEL
 * after a crash in the middle of an ADD still finds everything the ADD made.
 */
public final class EndpointManager implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EndpointManager.class);

    private final NetNamespace node;
    private final Datapath datapath;
    /** One pool per family the node has, the first pool's address first (Endpoint.address). */
    private final List<Ipam> pools;
    /**
     * The families the node had a pool of and has no more, while pods still hold their
     * addresses (see {@link Ipam#ofRetiredFamily}): DEL and GC free them; nothing is allocated.
     */
    private final List<Ipam> retired;
    private final EndpointStore store;
    private final EndpointIds ids;
    private final RtNetlink nodeNl;
    private final RtNetlinkPool nodeDeletes;
    private final PodPlumbing plumbing;
    private final EndpointAdd adding;

    /**
     * Opens the state and re-checks every persisted endpoint against the kernel:
     * endpoints whose veth still exists get their map entry and hook back (a
     * fresh bpffs after a reboot, a new program), the others are kept for DEL/GC.
     *
     * @param node      the node's network namespace (the agent's own in production)
     * @param stateDir  endpoint state lives in {@code stateDir/endpoints}
     * @param podMtu    the pod veth MTU unless the CNI config sets one (the uplink's)
     */
    public EndpointManager(NetNamespace node, Datapath datapath, Ipam ipam, Path stateDir, int podMtu) {
        this(node, datapath, List.of(ipam), stateDir, podMtu);
    }

    /**
     * A node with one pool per family: {@code pools} holds one or two pools of
     * different families; the IPv4 one's address is {@link Endpoint#address}.
     * With an IPv6 pool, the node's IPv6 forwarding is turned on (see
     * {@link NodeIpv6Forwarding}).
     */
    public EndpointManager(NetNamespace node, Datapath datapath, List<Ipam> pools, Path stateDir, int podMtu) {
        if (pools.isEmpty() || pools.size() > 2
                || (pools.size() == 2 && pools.get(0).podCidr().isIpv4() == pools.get(1).podCidr().isIpv4())) {
            throw new IllegalArgumentException("one pool per family, one or two pools: not " + pools.stream().map(Ipam::podCidr).toList());
        }
        this.node = node;
        this.datapath = datapath;
        // IPv4 first whatever the caller's order: Endpoint.address is the IPv4 one on a dual-stack node.
        this.pools = pools.stream().sorted(java.util.Comparator.comparing(p -> !p.podCidr().isIpv4())).toList();
        if (pools.stream().anyMatch(p -> !p.podCidr().isIpv4())) {
            NodeIpv6Forwarding.enable(node);
        }
        this.retired = retiredFamilies(stateDir, this.pools);
        this.store = EndpointStore.open(stateDir);
        this.nodeNl = RtNetlink.open(node);
        this.nodeDeletes = new RtNetlinkPool(node);
        this.plumbing = new PodPlumbing(nodeNl, nodeDeletes);
        List<Endpoint> existing = store.all();
        this.ids = new EndpointIds(existing);
        this.adding = new EndpointAdd(node, datapath, this.pools, store, ids, plumbing, podMtu);
        StartupReconcile.Outcome o = new StartupReconcile(store, this.pools, retired, datapath, plumbing).run(this::remove, this::restore);
        log.info("event=endpoints_reconciled restored={} kept_for_del={} half_made_removed={} addresses_adopted={}"
                        + " address_conflicts={} stray_veths_removed={} stray_map_entries_removed={}", o.restored(), o.kept(),
                o.halfMadeRemoved(), o.addressesAdopted(), o.conflicts(), o.strayVeths(), o.strayMapEntries());
    }

    /** A retired pool for each family without a pool whose addresses some attachment still holds. */
    private static List<Ipam> retiredFamilies(Path stateDir, List<Ipam> pools) {
        List<Ipam> retired = new ArrayList<>();
        for (boolean ipv6 : new boolean[] {false, true}) {
            if (pools.stream().anyMatch(p -> p.podCidr().isIpv4() != ipv6)) {
                continue;
            }
            Ipam family = Ipam.ofRetiredFamily(stateDir, ipv6);
            int held = family.allocations().size();
            if (held > 0) {
                log.warn("event=ipam_family_retired family={} held={} action=freed_at_del_or_gc_never_handed_out",
                        ipv6 ? "ipv6" : "ipv4", held);
                retired.add(family);
            }
        }
        return List.copyOf(retired);
    }

    /** The pools DEL, GC and the start's reconcile free addresses from: the node's and the retired families'. */
    private List<Ipam> allPools() {
        List<Ipam> all = new ArrayList<>(pools);
        all.addAll(retired);
        return all;
    }

    /** Every endpoint, sorted by container id then ifname. */
    public List<Endpoint> list() {
        return store.all();
    }

    public Optional<Endpoint> get(EndpointKey key) {
        return store.get(key);
    }

    /** How many addresses the pod CIDR has left (the fullest pool's, on a dual-stack node); ADD fails when it is 0. */
    public int addressesLeft() {
        return pools.stream().mapToInt(p -> p.capacity() - p.used()).min().orElseThrow();
    }

    /**
     * Plumbs a new endpoint ({@link EndpointAdd} has the steps). An ADD for an
     * attachment that exists is an error while its pod interface is there (the
     * spec's rule, code 100); one whose interface or namespace is gone is removed
     * and plumbed again. Any failure undoes every step this call made.
     */
    public Endpoint add(EndpointRequest request) {
        EndpointKey key = request.key();
        Optional<Endpoint> existing = store.get(key);
        if (existing.isPresent()) {
            Endpoint e = existing.get();
            if (!e.netns().equals(request.netns())) {
                throw new EndpointException.AlreadyExists(key + " is attached to " + e.netns()
                        + ", not " + request.netns() + "; DEL it first");
            }
            // The CNI spec: "If an interface of the requested name already exists in the container, the CNI
            // plugin MUST return with an error." Only an endpoint whose pod interface is gone is made again.
            if (podInterfaceExists(e)) {
                throw new EndpointException.AlreadyExists("interface " + e.ifname() + " of " + key + " already exists in "
                        + e.netns() + " (address " + IpText.format(e.address().address()) + "); DEL it first");
            }
            log.warn("event=endpoint_add_repeated endpoint={} action=rebuild why=\"its pod interface is gone\"", key);
            remove(key);
        }

        return adding.add(request);
    }

    /**
     * Removes whatever exists of the endpoint; nothing at all is fine (DEL is
     * idempotent). The netns may be gone: deleting the host veth takes the pod
     * end with it wherever it is. State and address are kept when a step fails,
     * so a retried DEL finishes the job.
     *
     * @return the endpoint as it was persisted, if it was
     */
    public Optional<Endpoint> remove(EndpointKey key) {
        Optional<Endpoint> state = store.get(key);
        Map<Ipam, Allocation> allocations = new LinkedHashMap<>();
        Set<InetAddress> addresses = new LinkedHashSet<>();
        state.ifPresent(e -> e.addresses().forEach(a -> addresses.add(a.address())));
        for (Ipam pool : allPools()) {
            Optional<InetAddress> likely = addresses.stream().filter(a -> pool.podCidr().isIpv4() == (a instanceof Inet4Address)).findFirst();
            pool.find(key.containerId(), key.ifname(), likely).ifPresent(a -> {
                allocations.put(pool, a);
                addresses.add(a.address());
            });
        }
        Optional<InetAddress> address = addresses.stream().findFirst();
        String hostIfname = state.map(Endpoint::hostIfname).orElse(HostIfname.of(key.containerId(), key.ifname()));
        List<String> failures = new ArrayList<>();

        Optional<Link> host = attempt(failures, "look up " + hostIfname, () -> plumbing.hostLink(hostIfname)).flatMap(x -> x);
        int ifindex = host.map(Link::index).orElse(state.map(Endpoint::hostIfindex).orElse(0));
        if (host.isPresent()) {
            // Deleting the veth below takes the hook with it; only a TCX link's pin would stay.
            attempt(failures, "unpin from_pod", () -> {
                datapath.forgetDevice(DatapathProgram.FROM_POD, hostIfname);
                return null;
            });
        } else {
            attempt(failures, "detach from_pod", () -> {
                node.execute(() -> datapath.detach(DatapathProgram.FROM_POD, hostIfname, ifindex));
                return null;
            });
        }
        // The address is ours while IPAM says so or our state names it: its map entry is ours too.
        addresses.forEach(a ->
                attempt(failures, "delete map entry " + IpText.format(a), () -> datapath.endpoints().delete(a)));
        host.ifPresent(h -> attempt(failures, "delete veth " + hostIfname, () -> plumbing.deleteLinkIfPresent(hostIfname)));
        addresses.forEach(a -> attempt(failures, "delete host route", () -> {
            plumbing.deleteHostRouteIfPresent(a);
            return null;
        }));

        if (!failures.isEmpty()) {
            throw new EndpointException.Incomplete(key, failures);
        }
        allocations.forEach(Ipam::release);
        store.delete(key);
        state.ifPresent(e -> ids.free(e.endpointId()));
        if (state.isPresent() || !allocations.isEmpty() || host.isPresent()) {
            log.info("event=endpoint_removed endpoint={} address={} host_ifname={} ifindex={}", key,
                    address.map(IpText::format).orElse("none"), hostIfname, ifindex);
        }
        return state;
    }

    /**
     * What is not as ADD left it: the pod's interface, address, routes and
     * gateway neighbour, the host veth, route and neighbour, the map entry and
     * the hook. Empty when all is well.
     *
     * @throws EndpointException.Unknown when there is no such endpoint
     */
    public List<String> check(EndpointKey key, String netns) {
        Endpoint e = store.get(key).orElseThrow(() -> new EndpointException.Unknown(key));
        List<String> problems = new ArrayList<>();
        if (!e.netns().equals(netns)) {
            problems.add("the endpoint is in " + e.netns() + ", not " + netns);
        }
        problems.addAll(problems(e));
        return problems;
    }

    /**
     * Every attachment this node holds anything for: persisted endpoints and
     * addresses held without one (an ADD that crashed before persisting). GC
     * removes those the runtime no longer lists.
     */
    public Set<EndpointKey> attachments() {
        Set<EndpointKey> known = new LinkedHashSet<>();
        store.all().forEach(e -> known.add(new EndpointKey(e.containerId(), e.ifname())));
        allPools().forEach(p -> p.allocations().forEach(a -> known.add(new EndpointKey(a.containerId(), a.ifname()))));
        return known;
    }

    @Override
    public void close() {
        nodeDeletes.close();
        nodeNl.close();
    }

    private List<String> problems(Endpoint e) {
        List<String> problems = new ArrayList<>();
        if (!Files.exists(Path.of(e.netns()))) {
            problems.add("network namespace " + e.netns() + " is gone");
            if (plumbing.hostLink(e.hostIfname()).isEmpty()) {
                problems.add("host veth " + e.hostIfname() + " is missing");
            }
        } else {
            try (NetNamespace pod = NetNamespace.open(Path.of(e.netns())); RtNetlink podNl = RtNetlink.open(pod)) {
                problems.addAll(plumbing.problems(e, podNl));
            } catch (RuntimeException ex) {
                problems.add("cannot inspect " + e.netns() + ": " + ex.getMessage());
            }
        }
        EndpointEntry expected = new EndpointEntry(e.hostIfindex(), e.endpointId(), 0, e.podMac(), e.hostMac());
        for (IpPrefix prefix : e.addresses()) {
            InetAddress address = prefix.address();
            Optional<EndpointEntry> entry = datapath.endpoints().get(address);
            if (entry.isEmpty()) {
                problems.add("endpoint map entry for " + IpText.format(address) + " is missing");
            } else if (!entry.get().equals(expected)) {
                problems.add("endpoint map entry for " + IpText.format(address) + " is " + entry.get() + ", ADD wrote " + expected);
            }
        }
        Optional<Attachment> hook = node.run(() -> datapath.attached(DatapathProgram.FROM_POD, e.hostIfname(), e.hostIfindex()));
        int wanted = datapath.program(DatapathProgram.FROM_POD).id();
        if (hook.isEmpty()) {
            problems.add("from_pod is not attached to " + e.hostIfname());
        } else if (hook.get().programId() != wanted) {
            problems.add("from_pod on " + e.hostIfname() + " runs program " + hook.get().programId() + ", not " + wanted);
        }
        return problems;
    }

    /** Whether the endpoint's interface is in its pod's namespace (false when the namespace is gone too). */
    private boolean podInterfaceExists(Endpoint e) {
        if (!Files.exists(Path.of(e.netns()))) {
            return false;
        }
        try (NetNamespace pod = NetNamespace.open(Path.of(e.netns())); RtNetlink podNl = RtNetlink.open(pod)) {
            return podNl.link(e.ifname()).isPresent();
        } catch (RuntimeException gone) {
            return false; // deleted between the check and the open
        }
    }

    /** After a restart: put back the map entry and hook of an endpoint whose veth is still there; false when it is not. */
    private boolean restore(Endpoint e) {
        try {
            Optional<Link> host = plumbing.hostLink(e.hostIfname());
            if (host.isEmpty() || host.get().index() != e.hostIfindex()) {
                log.warn("event=endpoint_orphaned endpoint={}/{} host_ifname={} action=kept_until_del_or_gc",
                        e.containerId(), e.ifname(), e.hostIfname());
                return false;
            }
            // IPv6 first, as ADD writes them (the veth's entry names the last).
            for (IpPrefix address : e.addresses().reversed()) {
                datapath.endpoints().put(address.address(),
                        new EndpointEntry(e.hostIfindex(), e.endpointId(), 0, e.podMac(), e.hostMac()));
            }
            node.run(() -> datapath.attach(DatapathProgram.FROM_POD, e.hostIfname(), e.hostIfindex()));
            log.info("event=endpoint_restored endpoint={}/{} address={} ifindex={}", e.containerId(), e.ifname(),
                    e.address(), e.hostIfindex());
            return true;
        } catch (RuntimeException ex) {
            log.error("event=endpoint_restore_failed endpoint={}/{} error=\"{}\"", e.containerId(), e.ifname(), ex.getMessage());
            return false;
        }
    }

    private static <T> Optional<T> attempt(List<String> failures, String what, java.util.function.Supplier<T> action) {
        try {
            return Optional.ofNullable(action.get());
        } catch (RuntimeException e) {
            failures.add(what + ": " + e.getMessage());
            return Optional.empty();
        }
    }
}
