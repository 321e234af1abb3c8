package dev.ferry.endpoint;

import dev.ferry.datapath.Datapath;
import dev.ferry.datapath.DatapathProgram;
import dev.ferry.datapath.EndpointEntry;
import dev.ferry.ipam.Allocation;
import dev.ferry.ipam.Ipam;
import dev.ferry.ipam.IpamException;
import dev.ferry.linux.Errno;
import dev.ferry.net.IpPrefix;
import dev.ferry.net.IpText;
import dev.ferry.netlink.Link;
import dev.ferry.netlink.RtNetlink;
import dev.ferry.netns.NetNamespace;

import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * CNI ADD of a new endpoint as one ordered list of steps, read top to bottom
 * the way containernetworking's ptp reads:
 * <ol>
 *   <li>open the pod's network namespace (the netns path is checked here);</li>
 *   <li>take the address (one per pool: IPv4, IPv6 or both), on a thread of
 *       its own while steps 3 and 4 run: undo releases each this ADD took;</li>
 *   <li>take an endpoint id: undo frees it;</li>
 *   <li>create the veth pair: undo deletes the host end, which takes the pod
 *       end, every address, route and neighbour on them, and the host veth's
 *       forwarding setting with it (steps 5 to 7 need no undo of their own);</li>
 *   <li>enable forwarding on the host veth;</li>
 *   <li>wire the pod side;</li>
 *   <li>wire the host side;</li>
 *   <li>attach from_pod: undo detaches it;</li>
 *   <li>write the endpoint map entries, one per address: undo deletes them;</li>
 *   <li>persist the endpoint.</li>
 * </ol>
 * Each helper returns what it made and the undo is registered here, right
 * after its step (the detach just before it, as said there), so the undo
 * order reads in this one method. Every call names the namespace it acts in:
 * the pod's socket, the node's socket (inside {@link PodPlumbing}) or a hop
 * into the node namespace for the BPF attach.
 *
 * <p>Why the address alone is taken beside the other steps: IPAM no longer
 * fsyncs, but finding or taking an address still reads every address file of
 * the node and makes three directory entries, which takes about as long as
 * creating the veth, and the two share nothing. Through ferry-cni the overlap
 * keeps about 1.5 ms of some 15 off the median ADD. The from_pod attach, which
 * used to overlap the wiring too, does not: pod veths are hooked with tc by
 * default, which waits out no RCU grace period as a TCX attach does, and that
 * overlap measured no faster.
 */
final class EndpointAdd {
    private final NetNamespace node;
    private final Datapath datapath;
    /** The node's pools, one per family, the first pool's address first in everything ADD makes. */
    private final List<Ipam> pools;
    private final EndpointStore store;
    private final EndpointIds ids;
    private final PodPlumbing plumbing;
    private final int podMtu;

    EndpointAdd(NetNamespace node, Datapath datapath, List<Ipam> pools, EndpointStore store, EndpointIds ids,
                PodPlumbing plumbing, int podMtu) {
        this.node = node;
        this.datapath = datapath;
        this.pools = List.copyOf(pools);
        this.store = store;
        this.ids = ids;
        this.plumbing = plumbing;
        this.podMtu = podMtu;
    }

    /** Plumbs the endpoint {@code request} names; any failure undoes every step this call made. */
    Endpoint add(EndpointRequest request) {
        EndpointKey key = request.key();
        String hostIfname = HostIfname.of(key.containerId(), key.ifname());
        int mtu = request.mtu().orElse(podMtu);

        try (NetNamespace pod = openNetns(request.netns());
             RtNetlink podNl = openNetlink(pod);
             Rollback rollback = new Rollback(key)) {

            Background<List<TakenAddress>> taking = Background.start("ferry-ipam", () -> takeAddresses(key));
            // Waits for the thread: a release that overtook the allocation would leave the address taken.
            rollback.add("release the addresses this ADD took", () -> taking.settled().ifPresent(t -> releaseNew(key, t)));

            int endpointId = ids.allocate();
            rollback.add("free endpoint id " + endpointId, () -> ids.free(endpointId));

            Link hostEnd = step("create veth '" + hostIfname + "'",
                    () -> plumbing.createVeth(hostIfname, key.ifname(), pod, podNl, mtu));
            rollback.add("delete veth " + hostIfname, () -> plumbing.deleteLinkIfPresent(hostIfname));

            List<TakenAddress> taken = taking.join();
            InetAddress address = taken.getFirst().address();
            Optional<InetAddress> address6 = taken.size() > 1 ? Optional.of(taken.get(1).address()) : Optional.empty();
            List<InetAddress> addresses = taken.stream().map(TakenAddress::address).toList();

            step("enable forwarding on '" + hostIfname + "'", () -> plumbing.enableForwarding(hostEnd));

            Link podEnd = step("wire interface '" + key.ifname() + "' in " + request.netns(),
                    () -> plumbing.wirePod(podNl, key.ifname(), address, address6, hostEnd.mac()));

            step("wire host veth '" + hostIfname + "'", () -> plumbing.wireHost(hostEnd, addresses, podEnd.mac()));

            // Armed before the attach: one that fails half way (a TCX link pinned, then refused) leaves a
            // pin that deleting the veth does not remove; detaching what is not there is fine.
            rollback.add("detach from_pod", () ->
                    node.execute(() -> datapath.detach(DatapathProgram.FROM_POD, hostIfname, hostEnd.index())));
            step("attach from_pod to '" + hostIfname + "'",
                    () -> node.run(() -> datapath.attach(DatapathProgram.FROM_POD, hostIfname, hostEnd.index())));

            // IPv6 first: ferry_veth_endpoints names the last address written for the veth, which stays the IPv4
            // one on a dual-stack pod as on an IPv4 one. from_pod checks IPv6 sources against these entries; the
            // packets themselves go on to the stack.
            EndpointEntry entry = new EndpointEntry(hostEnd.index(), endpointId, 0, podEnd.mac(), hostEnd.mac());
            for (InetAddress a : addresses.reversed()) {
                step("write endpoint map entry '" + IpText.format(a) + "'", () -> datapath.endpoints().put(a, entry));
                rollback.add("delete map entry " + IpText.format(a), () -> datapath.endpoints().delete(a));
            }

            Endpoint endpoint = new Endpoint(key.containerId(), key.ifname(), request.netns(), hostIfname,
                    hostEnd.index(), IpPrefix.host(address), address6.map(IpPrefix::host), podEnd.mac(), hostEnd.mac(), endpointId, mtu,
                    request.podNamespace(), request.podName(), request.podUid(), Instant.now());
            step("persist endpoint '" + key + "'", () -> store.write(endpoint));

            rollback.commit();
            return endpoint;
        }
    }

    /** An address for the endpoint, its pool, and whether this ADD took it (else an earlier ADD of the same attachment did). */
    private record TakenAddress(Ipam pool, InetAddress address, boolean isNew) {
    }

    /**
     * One address of each pool, in pool order. When a pool fails (the IPv6 one
     * exhausted, say), the addresses this call took from the pools before it
     * are released here: the undo only sees what the thread returned, and
     * nothing may stay half allocated.
     */
    private List<TakenAddress> takeAddresses(EndpointKey key) {
        List<TakenAddress> taken = new ArrayList<>(pools.size());
        try {
            for (Ipam pool : pools) {
                taken.add(takeAddress(pool, key));
            }
            return taken;
        } catch (RuntimeException e) {
            try {
                releaseNew(key, taken);
            } catch (RuntimeException release) {
                e.addSuppressed(release);
            }
            throw e;
        }
    }

    private static void releaseNew(EndpointKey key, List<TakenAddress> taken) {
        for (TakenAddress a : taken) {
            if (a.isNew()) {
                a.pool().release(new Allocation(a.address(), key.containerId(), key.ifname()));
            }
        }
    }

    /**
     * The address the attachment holds already in {@code pool}, else a new one.
     * One it holds is an earlier ADD's, which may have got as far as the pod's
     * interface: a failure of this ADD must not hand it to the next pod while
     * that one uses it.
     */
    private static TakenAddress takeAddress(Ipam pool, EndpointKey key) {
        try {
            return pool.find(key.containerId(), key.ifname())
                    .map(held -> new TakenAddress(pool, held.address(), false))
                    .orElseGet(() -> new TakenAddress(pool, pool.allocate(key.containerId(), key.ifname()).address(), true));
        } catch (IpamException.Exhausted ex) {
            throw new EndpointException.PoolExhausted(ex.getMessage(), ex);
        } catch (RuntimeException ex) {
            throw new EndpointException.Failed("failed to allocate an address for '" + key + "'", ex.getMessage(), ex);
        }
    }

    private static NetNamespace openNetns(String netns) {
        if (!Path.of(netns).isAbsolute()) {
            throw new EndpointException.BadNetns("netns '" + netns + "' is not an absolute path", null);
        }
        try {
            return NetNamespace.open(Path.of(netns));
        } catch (Errno ex) {
            throw new EndpointException.BadNetns(ex.getMessage(), ex);
        }
    }

    private static RtNetlink openNetlink(NetNamespace pod) {
        try {
            return RtNetlink.open(pod);
        } catch (RuntimeException ex) {
            // setns refuses a path that is not a network namespace (EINVAL).
            throw new EndpointException.BadNetns(pod.path() + " is not a network namespace: " + ex.getMessage(), ex);
        }
    }

    /** Runs one step; a kernel refusal becomes {@link EndpointException.Failed} naming the step. */
    private static <T> T step(String what, Supplier<T> action) {
        try {
            return action.get();
        } catch (EndpointException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new EndpointException.Failed("failed to " + what, e.getMessage(), e);
        }
    }

    private static void step(String what, Runnable action) {
        step(what, () -> {
            action.run();
            return null;
        });
    }
}
