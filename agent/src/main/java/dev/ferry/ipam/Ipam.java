package dev.ferry.ipam;

import dev.ferry.net.IpPrefix;
import dev.ferry.state.Quarantine;

import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Hands out the node's pod addresses, one per (container id, interface name),
 * the way containernetworking's host-local IPAM does, and keeps them on disk so
 * that they survive restarts and crashes (see {@link AddressFiles}).
 *
 * <p>Every call reads the state directory afresh instead of trusting a cache:
 * a node has a few hundred pods at most, and a second process over the same
 * directory (an upgrade overlapping the old agent) stays visible. Within this
 * process one lock orders the calls; across processes link(2) alone guarantees
 * that no address is handed out twice.
 *
 * <p>Addresses are found, released and listed in whatever pod CIDR they were
 * handed out from, so that DEL and GC still free the addresses of a CIDR the
 * node had before; only allocation and the usage figures are about the current
 * one. An address whose file was quarantined counts as held by nobody known:
 * it is never handed out again until an operator removes the quarantined file.
 */
public final class Ipam {
    private final AddressRange range;
    private final AddressFiles files;
    // Not synchronized: a virtual thread waiting here should not pin its carrier on older JDKs' monitors.
    private final ReentrantLock lock = new ReentrantLock();

    /** A family the node has no pod CIDR of any more: nothing is handed out (see {@link #ofRetiredFamily}). */
    private final boolean retired;

    private Ipam(AddressRange range, AddressFiles files, boolean retired) {
        this.range = range;
        this.files = files;
        this.retired = retired;
    }

    /**
     * The prefix lengths an IPv6 pool may have: a /64 to a /124. Kubernetes
     * gives nodes a /64 by default (node-cidr-mask-size-ipv6) and host-local
     * takes nothing larger; a shorter prefix is almost always the cluster's CIDR
     * given as the node's. From a /125 on a node would have 7 pods or fewer, and
     * a /127 or /128 is a point-to-point link, not a pool. (The walk itself
     * would take any size: it never enumerates the range.)
     */
    public static final int MIN_IPV6_POOL = 64;
    public static final int MAX_IPV6_POOL = 124;

    /** Why {@code cidr} cannot be a node's pool, in words; empty when it can. IPv4 pools are not bounded here. */
    public static Optional<String> unusableAsPool(IpPrefix cidr) {
        if (cidr.isIpv4() || (cidr.length() >= MIN_IPV6_POOL && cidr.length() <= MAX_IPV6_POOL)) {
            return Optional.empty();
        }
        return Optional.of(cidr + " is a /" + cidr.length() + "; an IPv6 pod CIDR must be a /" + MIN_IPV6_POOL
                + " to a /" + MAX_IPV6_POOL);
    }

    /**
     * Opens (creating if needed) the state under {@code stateDir/ipam/}, removing
     * temporaries a crash left and quarantining every ill-formed address file
     * ({@code stateDir/quarantine/ipam/}), so the log names them at start.
     */
    public static Ipam open(Path stateDir, IpPrefix podCidr) {
        Ipam ipam = new Ipam(AddressRange.of(podCidr),
                AddressFiles.open(stateDir.resolve(AddressFiles.AREA), Quarantine.of(stateDir)), false);
        ipam.files.scan();
        return ipam;
    }

    /**
     * The addresses of a family the node has no pod CIDR of any more (it restarted
     * without its IPv6 CIDR, or its Node lost one): they are found, listed and
     * released as a pool's are, so that the DEL or GC of the pods that still hold
     * one frees its file, and {@link #allocate} refuses. Without this the files
     * of that family would stay forever, and a pool of the family that came back
     * would see its addresses held by pods long gone.
     *
     * @param ipv6 the family: true for IPv6
     */
    public static Ipam ofRetiredFamily(Path stateDir, boolean ipv6) {
        return new Ipam(AddressRange.of(ipv6 ? IpPrefix.DEFAULT_V6 : IpPrefix.DEFAULT_V4),
                AddressFiles.open(stateDir.resolve(AddressFiles.AREA), Quarantine.of(stateDir)), true);
    }

    /** True for {@link #ofRetiredFamily}: a family whose addresses are only freed. */
    public boolean retired() {
        return retired;
    }

    /**
     * The address of {@code ifname} in {@code containerId}: the one it already
     * holds, else the next free one after the last reserved, so that an address
     * just released is not given to the next pod at once (its old pod's
     * connections and neighbour entries may still be around).
     *
     * @throws IpamException.Exhausted when every usable address is held
     */
    public Allocation allocate(String containerId, String ifname) {
        if (retired) {
            throw new IllegalStateException("the node has no " + (range.isIpv6() ? "IPv6" : "IPv4")
                    + " pod CIDR: its addresses are only freed");
        }
        Owner owner = new Owner(containerId, ifname);
        lock.lock();
        try {
            List<AddressFiles.Entry> held = held();
            Optional<AddressFiles.Entry> existing = held.stream().filter(e -> e.owner().equals(owner)).findFirst();
            if (existing.isPresent()) {
                return allocation(existing.get());
            }
            Set<BigInteger> taken = Stream.concat(held.stream().map(AddressFiles.Entry::address), quarantined().stream())
                    .map(AddressRange::toNumber).collect(Collectors.toSet());
            if (BigInteger.valueOf(taken.size()).compareTo(range.size()) >= 0) {
                throw exhausted(taken.size());
            }
            BigInteger start = files.lastReserved(range.isIpv6())
                    .filter(range::contains)
                    .map(last -> range.next(AddressRange.toNumber(last)))
                    .orElse(range.first());
            // Another process may take candidates between the scan and the link: the walk then moves on.
            InetAddress address = files.reserveFirstFree(owner, range.walk(start, taken))
                    .orElseThrow(() -> exhausted(used()));
            files.writeLastReserved(address);
            return new Allocation(address, containerId, ifname);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Records that {@code containerId}/{@code ifname} holds {@code address}: how
     * the agent's reconcile at start repairs an endpoint whose address file is
     * missing. False when another owner holds the address (two pods must never
     * share one; the caller reports it) or when the owner holds another one.
     */
    public boolean adopt(String containerId, String ifname, InetAddress address) {
        Owner owner = new Owner(containerId, ifname);
        lock.lock();
        try {
            Optional<Allocation> held = find(owner);
            if (held.isPresent()) {
                return held.get().address().equals(address);
            }
            return files.reserveFirstFree(owner, List.of(address).iterator()).isPresent();
        } finally {
            lock.unlock();
        }
    }

    /** Frees the address of {@code ifname} in {@code containerId}; empty when it held none (CNI DEL is idempotent). */
    public Optional<Allocation> release(String containerId, String ifname) {
        Owner owner = new Owner(containerId, ifname);
        lock.lock();
        try {
            Optional<Allocation> found = find(owner);
            return found.filter(a -> files.release(a.address(), owner));
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@link #find(String, String)}, looking first at the address the caller
     * believes the owner holds (its endpoint's): one file read instead of
     * reading the whole directory, on every DEL.
     */
    public Optional<Allocation> find(String containerId, String ifname, Optional<InetAddress> likely) {
        Owner owner = new Owner(containerId, ifname);
        lock.lock();
        try {
            if (likely.isPresent() && files.owner(likely.get()).filter(owner::equals).isPresent()) {
                return Optional.of(new Allocation(likely.get(), containerId, ifname));
            }
            return find(owner);
        } finally {
            lock.unlock();
        }
    }

    /** Frees an allocation {@link #find} returned; false when its address no longer belongs to its owner. */
    public boolean release(Allocation allocation) {
        Owner owner = new Owner(allocation.containerId(), allocation.ifname());
        lock.lock();
        try {
            return files.release(allocation.address(), owner);
        } finally {
            lock.unlock();
        }
    }

    public Optional<Allocation> find(String containerId, String ifname) {
        Owner owner = new Owner(containerId, ifname);
        lock.lock();
        try {
            return find(owner);
        } finally {
            lock.unlock();
        }
    }

    /** Every allocation of this pool's family, in this pod CIDR or an earlier one, in address order. */
    public List<Allocation> allocations() {
        lock.lock();
        try {
            return ours()
                    .sorted(Comparator.comparing(e -> AddressRange.toNumber(e.address())))
                    .map(Ipam::allocation)
                    .toList();
        } finally {
            lock.unlock();
        }
    }

    /** The pod CIDR, host bits cleared. */
    public IpPrefix podCidr() {
        return range.cidr();
    }

    /** How many addresses can be handed out; {@link Integer#MAX_VALUE} for IPv6 ranges larger than that. */
    public int capacity() {
        BigInteger size = range.size();
        return size.bitLength() < Integer.SIZE ? size.intValue() : Integer.MAX_VALUE;
    }

    /** How many addresses of the pod CIDR are held now, quarantined ones included. */
    public int used() {
        lock.lock();
        try {
            return held().size() + quarantined().size();
        } finally {
            lock.unlock();
        }
    }

    /** Wherever the owner's address came from: DEL of a pod from an earlier pod CIDR must free it too. */
    private Optional<Allocation> find(Owner owner) {
        return ours().filter(e -> e.owner().equals(owner)).findFirst().map(Ipam::allocation);
    }

    /**
     * Address files of this pool's family, whatever CIDR: the IPv4 and the IPv6
     * pool of a dual-stack node share the directory, and each finds, lists and
     * releases only its own family's addresses.
     */
    private Stream<AddressFiles.Entry> ours() {
        return files.scan().stream().filter(e -> range.sameFamily(e.address()));
    }

    /** Address files inside the usable range: the allocations of this CIDR. */
    private List<AddressFiles.Entry> held() {
        return files.scan().stream().filter(e -> range.contains(e.address())).toList();
    }

    /** Quarantined addresses of this CIDR: held by a pod nobody can name. */
    private List<InetAddress> quarantined() {
        return files.quarantined().stream().filter(range::contains).toList();
    }

    private static Allocation allocation(AddressFiles.Entry entry) {
        return new Allocation(entry.address(), entry.owner().containerId(), entry.owner().ifname());
    }

    private IpamException.Exhausted exhausted(int used) {
        return new IpamException.Exhausted((range.isIpv6() ? "IPv6 pod CIDR " : "pod CIDR ") + range.cidr() + " has no free address: "
                + used + " of " + range.size() + " allocated");
    }
}
