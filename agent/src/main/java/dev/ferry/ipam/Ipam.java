package dev.ferry.ipam;

import dev.ferry.net.IpText;

import dev.ferry.net.IpPrefix;

import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Collectors;

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
 */
public final class Ipam {
    private final AddressRange range;
    private final AddressFiles files;
    // Not synchronized: a virtual thread waiting here should not pin its carrier on older JDKs' monitors.
    private final ReentrantLock lock = new ReentrantLock();

    private Ipam(AddressRange range, AddressFiles files) {
        this.range = range;
        this.files = files;
    }

    /**
     * Opens (creating if needed) the state under {@code stateDir/ipam/}, removing
     * temporaries a crash left and checking that every address file is readable.
     *
     * @throws IpamException.StateCorrupt naming the first ill-formed file
     */
    public static Ipam open(Path stateDir, IpPrefix podCidr) {
        Ipam ipam = new Ipam(AddressRange.of(podCidr), AddressFiles.open(stateDir.resolve("ipam")));
        ipam.files.scan(); // fail at start, naming the file, rather than at the first pod
        return ipam;
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
        Owner owner = new Owner(containerId, ifname);
        lock.lock();
        try {
            List<AddressFiles.Entry> held = held();
            Optional<AddressFiles.Entry> existing = held.stream().filter(e -> e.owner().equals(owner)).findFirst();
            if (existing.isPresent()) {
                return allocation(existing.get());
            }
            if (BigInteger.valueOf(held.size()).compareTo(range.size()) >= 0) {
                throw exhausted(held.size());
            }
            Set<BigInteger> taken = held.stream().map(e -> AddressRange.toNumber(e.address())).collect(Collectors.toSet());
            BigInteger start = files.lastReserved()
                    .filter(range::contains)
                    .map(last -> range.next(AddressRange.toNumber(last)))
                    .orElse(range.first());
            // Another process may take candidates between the scan and the link: the walk then moves on.
            InetAddress address = files.reserveFirstFree(owner, range.walk(start, taken))
                    .orElseThrow(() -> exhausted(held().size()));
            files.writeLastReserved(address);
            return new Allocation(address, range.cidr(), containerId, ifname);
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

    public Optional<Allocation> find(String containerId, String ifname) {
        Owner owner = new Owner(containerId, ifname);
        lock.lock();
        try {
            return find(owner);
        } finally {
            lock.unlock();
        }
    }

    /** Every allocation in the pod CIDR, in address order. */
    public List<Allocation> allocations() {
        lock.lock();
        try {
            return held().stream()
                    .sorted(Comparator.comparing(e -> AddressRange.toNumber(e.address())))
                    .map(this::allocation)
                    .toList();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Address files this CIDR cannot have handed out: left by an earlier pod CIDR
     * of this node (or naming an address the CIDR does not hand out). Never
     * deleted here: their pods may still run; the agent decides.
     */
    public List<Stray> strays() {
        lock.lock();
        try {
            return files.scan().stream()
                    .filter(e -> !range.contains(e.address()))
                    .map(e -> new Stray(e.address(), e.owner().containerId(), e.owner().ifname(), e.file()))
                    .toList();
        } finally {
            lock.unlock();
        }
    }

    /** Deletes a stray's address file, once the agent knows its pod is gone. */
    public void removeStray(Stray stray) {
        if (range.contains(stray.address())) {
            throw new IllegalArgumentException(IpText.format(stray.address()) + " is in pod CIDR " + range.cidr()
                    + ", not a stray: release it instead");
        }
        lock.lock();
        try {
            files.delete(files.fileOf(stray.address()));
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

    /** How many addresses of the pod CIDR are held now. */
    public int used() {
        lock.lock();
        try {
            return held().size();
        } finally {
            lock.unlock();
        }
    }

    private Optional<Allocation> find(Owner owner) {
        return held().stream().filter(e -> e.owner().equals(owner)).findFirst().map(this::allocation);
    }

    /** Address files inside the usable range: the allocations of this CIDR. */
    private List<AddressFiles.Entry> held() {
        return files.scan().stream().filter(e -> range.contains(e.address())).toList();
    }

    private Allocation allocation(AddressFiles.Entry entry) {
        return new Allocation(entry.address(), range.cidr(), entry.owner().containerId(), entry.owner().ifname());
    }

    private IpamException.Exhausted exhausted(int used) {
        return new IpamException.Exhausted("pod CIDR " + range.cidr() + " has no free address: "
                + used + " of " + range.size() + " allocated");
    }
}
