package dev.ferry.capture;

import dev.ferry.endpoint.Endpoint;
import dev.ferry.net.IpPrefix;
import dev.ferry.netlink.Link;
import dev.ferry.netlink.RtNetlink;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The configuration's persistent mirrors: each holds a slot for as long as the
 * agent runs, pointed at its device, and its bit is set in the word of every
 * endpoint its CIDRs select. Endpoints come and go, and a device may appear (or
 * be made again) after the agent started, so this is a reconcile, every
 * {@link #INTERVAL}: a new pod is mirrored within that interval of its ADD.
 * Turned off when the agent stops; the next agent's reset clears what a killed
 * one left, and this sets it again.
 */
public final class PersistentMirrors implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PersistentMirrors.class);
    static final Duration INTERVAL = Duration.ofSeconds(1);

    private final RtNetlink netlink;
    private final MirrorSlots slots;
    private final Supplier<List<Endpoint>> endpoints;
    private final List<Held> held = new ArrayList<>();
    private final ScheduledExecutorService reconciler;

    /** A mirror's slot and the device ifindex it points at now (0: the device is missing). */
    private static final class Held {
        final MirrorConfig config;
        final int slot;
        int ifindex;
        /** Endpoints whose word has the bit, by host veth ifindex, with the addresses it was set on. */
        final Map<Integer, List<InetAddress>> mirrored = new HashMap<>();

        Held(MirrorConfig config, int slot) {
            this.config = config;
            this.slot = slot;
        }
    }

    public PersistentMirrors(RtNetlink netlink, MirrorSlots slots, Supplier<List<Endpoint>> endpoints, List<MirrorConfig> mirrors) {
        this.netlink = netlink;
        this.slots = slots;
        this.endpoints = endpoints;
        for (MirrorConfig config : mirrors) {
            held.add(new Held(config, slots.take()));
        }
        reconcile();
        this.reconciler = mirrors.isEmpty() ? null : Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().daemon().name("ferry-mirrors").factory());
        if (reconciler != null) {
            reconciler.scheduleWithFixedDelay(this::reconcileQuietly, INTERVAL.toMillis(), INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    private void reconcileQuietly() {
        try {
            reconcile();
        } catch (RuntimeException e) {
            log.warn("event=mirrors_reconcile_failed error=\"{}\"", e.toString());
        }
    }

    /** Points each slot at its device as it is now, and sets the bit of every endpoint selected and not yet mirrored. */
    synchronized void reconcile() {
        List<Endpoint> all = endpoints.get();
        for (Held h : held) {
            int ifindex = netlink.link(h.config.device()).map(Link::index).orElse(0);
            if (ifindex != h.ifindex) {
                if (ifindex == 0) {
                    slots.free(h.slot);
                    slots.hold(h.slot);
                    log.warn("event=mirror_device_missing mirror={} device={}", h.config.name(), h.config.device());
                } else {
                    slots.configure(h.slot, h.config.filter().toward(ifindex));
                    log.info("event=mirror_on mirror={} device={} ifindex={} slot={} filter={}", h.config.name(),
                            h.config.device(), ifindex, h.slot, h.config.filter());
                }
                h.ifindex = ifindex;
            }
            Map<Integer, Endpoint> current = new HashMap<>();
            for (Endpoint e : all) {
                if (h.config.selects(e.addresses())) {
                    current.put(e.hostIfindex(), e);
                }
            }
            h.mirrored.keySet().retainAll(current.keySet()); // gone with their DEL: entry and veth deleted
            for (Endpoint e : current.values()) {
                List<InetAddress> addresses = e.addresses().stream().map(IpPrefix::address).toList();
                boolean set = addresses.stream().allMatch(a ->
                        slots.word(a).map(w -> (w & (1 << h.slot)) != 0).orElse(true));
                if (!set) {
                    slots.mirror(addresses, e.hostIfindex(), h.slot);
                }
                h.mirrored.put(e.hostIfindex(), addresses);
            }
        }
    }

    /** The slot of the named mirror, while it holds one. */
    public Optional<Integer> slotOf(String name) {
        return held.stream().filter(h -> h.config.name().equals(name)).map(h -> h.slot).findFirst();
    }

    @Override
    public synchronized void close() {
        if (reconciler != null) {
            reconciler.shutdownNow();
        }
        for (Held h : held) {
            h.mirrored.forEach((ifindex, addresses) -> slots.unmirror(addresses, ifindex, h.slot));
            slots.free(h.slot);
        }
        held.clear();
    }
}
