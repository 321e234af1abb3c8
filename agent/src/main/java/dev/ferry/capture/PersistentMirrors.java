package dev.ferry.capture;

import dev.ferry.datapath.MirrorMap;
import dev.ferry.endpoint.Endpoint;
import dev.ferry.net.IpPrefix;
import dev.ferry.netlink.Link;
import dev.ferry.netlink.RtNetlink;
import dev.ferry.selection.PodLabels;
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
 * The persistent mirrors (the configuration's, or Kubernetes mode's TrafficMirror
 * objects, which {@link #update} replaces): each holds a slot for as long as it
 * exists, pointed at its device, and its bit is set in the word of every
 * endpoint it selects. Endpoints come and go, pods are relabelled, and a device
 * may appear (or be made again) after the agent started, so this is a
 * reconcile, every {@link #INTERVAL}: a new pod is mirrored within that interval
 * of its ADD, a relabelled one stops or starts being mirrored within it.
 * Turned off when the agent stops; the next agent's reset clears what a killed
 * one left, and this sets it again.
 */
public final class PersistentMirrors implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PersistentMirrors.class);
    static final Duration INTERVAL = Duration.ofSeconds(1);
    /** Where a mirror comes from, as {@code GET /v1/mirrors} names it. */
    public static final String CONFIG = "config";
    public static final String TRAFFIC_MIRROR = "TrafficMirror";

    private final String kind;

    private final RtNetlink netlink;
    private final MirrorSlots slots;
    private final Supplier<List<Endpoint>> endpoints;
    private final PodLabels labels;
    /** Guarded by this. */
    private final List<Held> held = new ArrayList<>();
    /** Mirrors that hold no slot (all taken), with why. Guarded by this. */
    private List<Refused> refused = List.of();
    private final ScheduledExecutorService reconciler;

    /** A mirror that is not in force, and why. */
    public record Refused(String name, String reason) {}

    /** A mirror's slot and the device ifindex it points at now (0: the device is missing). */
    private static final class Held {
        final MirrorConfig config;
        final int slot;
        int ifindex;
        /** Endpoints whose word has the bit, by host veth ifindex, with the addresses it was set on. */
        final Map<Integer, List<InetAddress>> mirrored = new HashMap<>();
        /** The slot's counters when this mirror took it: a slot's counters outlive its earlier holders. */
        final MirrorMap.Clones before;

        Held(MirrorConfig config, int slot, MirrorMap.Clones before) {
            this.config = config;
            this.slot = slot;
            this.before = before;
        }
    }

    /** The configuration's mirrors, selecting by address. */
    public PersistentMirrors(RtNetlink netlink, MirrorSlots slots, Supplier<List<Endpoint>> endpoints, List<MirrorConfig> mirrors) {
        this(CONFIG, netlink, slots, endpoints, PodLabels.NONE, mirrors, !mirrors.isEmpty());
    }

    /** Kubernetes mode's: none until {@link #update}, selecting by the labels {@code labels} gives. */
    public static PersistentMirrors ofObjects(RtNetlink netlink, MirrorSlots slots, Supplier<List<Endpoint>> endpoints,
                                              PodLabels labels) {
        return new PersistentMirrors(TRAFFIC_MIRROR, netlink, slots, endpoints, labels, List.of(), true);
    }

    private PersistentMirrors(String kind, RtNetlink netlink, MirrorSlots slots, Supplier<List<Endpoint>> endpoints,
                              PodLabels labels, List<MirrorConfig> mirrors, boolean reconciling) {
        this.kind = kind;
        this.netlink = netlink;
        this.slots = slots;
        this.endpoints = endpoints;
        this.labels = labels;
        for (MirrorConfig config : mirrors) {
            held.add(hold(config));
        }
        reconcile();
        this.reconciler = !reconciling ? null : Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().daemon().name("ferry-mirrors").factory());
        if (reconciler != null) {
            reconciler.scheduleWithFixedDelay(this::reconcileQuietly, INTERVAL.toMillis(), INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    /**
     * Replaces the mirrors (TrafficMirror objects changed). A mirror whose name
     * and settings stay keeps its slot and what it set; a gone or changed one is
     * turned off first, so a slot freed here can serve a new one at once. A new
     * mirror when every slot is taken (by captures too) is refused, named in
     * {@link #refused}, and tried again on the next update.
     */
    public synchronized void update(List<MirrorConfig> next, List<Refused> refusedObjects) {
        List<Refused> notInForce = new ArrayList<>(refusedObjects);
        for (java.util.Iterator<Held> it = held.iterator(); it.hasNext(); ) {
            Held h = it.next();
            if (!next.contains(h.config)) {
                turnOff(h);
                it.remove();
                log.info("event=mirror_off mirror={} why=object_changed_or_deleted", h.config.name());
            }
        }
        for (MirrorConfig config : next) {
            if (held.stream().anyMatch(h -> h.config.equals(config))) {
                continue;
            }
            try {
                held.add(hold(config));
            } catch (CaptureException e) {
                notInForce.add(new Refused(config.name(), e.getMessage()));
            }
        }
        if (!notInForce.equals(refused)) {
            notInForce.forEach(r -> log.warn("event=mirror_refused mirror={} error=\"{}\"", r.name(), r.reason()));
        }
        refused = List.copyOf(notInForce);
        reconcile();
    }

    /** The mirrors not in force, with why: refused objects, and mirrors that found every slot taken. */
    public synchronized List<Refused> refused() {
        return refused;
    }

    private Held hold(MirrorConfig config) {
        int slot = slots.take();
        try {
            return new Held(config, slot, slots.clones(slot));
        } catch (RuntimeException e) {
            slots.free(slot); // not held: nobody would free it
            throw e;
        }
    }

    /**
     * The mirrors in force, as they are now: each one's device looked up again
     * (present, or missing and waited for), its slot, filter and selector, the
     * pods of this node its slot is set on, and the copies its slot made since
     * it took it. Read-only: what the last reconcile did, not a reconcile.
     */
    public synchronized List<MirrorStatus.Mirror> status() {
        Map<Integer, Endpoint> byVeth = new HashMap<>();
        endpoints.get().forEach(e -> byVeth.put(e.hostIfindex(), e));
        List<MirrorStatus.Mirror> mirrors = new ArrayList<>();
        for (Held h : held) {
            int ifindex = netlink.link(h.config.device()).map(Link::index).orElse(0);
            List<MirrorStatus.Pod> pods = h.mirrored.entrySet().stream()
                    .map(m -> new MirrorStatus.Pod(Optional.ofNullable(byVeth.get(m.getKey())).map(PersistentMirrors::name)
                            .orElse("veth " + m.getKey()), m.getValue().stream().map(InetAddress::getHostAddress).toList()))
                    .sorted(java.util.Comparator.comparing(MirrorStatus.Pod::name))
                    .toList();
            MirrorMap.Clones now = slots.clones(h.slot);
            mirrors.add(new MirrorStatus.Mirror(h.config.name(), kind, h.config.device(), ifindex, ifindex != 0, h.slot,
                    h.config.filter().words(), h.config.pods().toString(), pods,
                    now.cloned() - h.before.cloned(), now.failed() - h.before.failed()));
        }
        return mirrors;
    }

    /** {@link #refused} with where they come from. */
    public synchronized List<MirrorStatus.Refused> refusedStatus() {
        return refused.stream().map(r -> new MirrorStatus.Refused(r.name(), kind, r.reason())).toList();
    }

    private static String name(Endpoint e) {
        return e.podName().map(n -> e.podNamespace().orElse("") + "/" + n).orElse(e.containerId());
    }

    private void turnOff(Held h) {
        h.mirrored.forEach((ifindex, addresses) -> slots.unmirror(addresses, ifindex, h.slot));
        h.mirrored.clear();
        slots.free(h.slot);
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
            Map<Integer, Endpoint> existing = new HashMap<>();
            for (Endpoint e : all) {
                existing.put(e.hostIfindex(), e);
                Optional<PodLabels.Labels> podLabels = e.podNamespace().isPresent() && e.podName().isPresent()
                        ? labels.of(e.podNamespace().get(), e.podName().get()) : Optional.empty();
                if (h.config.selects(e.addresses(), podLabels)) {
                    current.put(e.hostIfindex(), e);
                }
            }
            for (var it = h.mirrored.entrySet().iterator(); it.hasNext(); ) {
                var m = it.next();
                if (current.containsKey(m.getKey())) {
                    continue;
                }
                // Not selected any more (relabelled): its bit goes. Gone with its DEL: entry and veth went with it.
                if (existing.containsKey(m.getKey())) {
                    slots.unmirror(m.getValue(), m.getKey(), h.slot);
                }
                it.remove();
            }
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
    public synchronized Optional<Integer> slotOf(String name) {
        return held.stream().filter(h -> h.config.name().equals(name)).map(h -> h.slot).findFirst();
    }

    @Override
    public synchronized void close() {
        if (reconciler != null) {
            reconciler.shutdownNow();
        }
        held.forEach(this::turnOff);
        held.clear();
    }
}
