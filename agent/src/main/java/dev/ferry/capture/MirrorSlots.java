package dev.ferry.capture;

import dev.ferry.datapath.Datapath;
import dev.ferry.datapath.EndpointEntry;
import dev.ferry.datapath.MapLayouts;
import dev.ferry.datapath.MirrorMap;
import dev.ferry.datapath.MirrorSlot;
import dev.ferry.netns.NetNamespace;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.util.BitSet;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Who holds which ferry_mirrors slot, and the endpoints' mirror words: the one
 * place that sets them, so that a word is always the union of the slots of the
 * captures and mirrors of its pod. The host veth's egress hook (mirror_to_pod)
 * is there exactly while the pod's word is non-zero.
 */
public final class MirrorSlots {
    private static final Logger log = LoggerFactory.getLogger(MirrorSlots.class);

    private final NetNamespace node;
    private final Datapath datapath;
    private final BitSet taken = new BitSet(MapLayouts.MIRROR_SLOTS);

    private MirrorSlots(NetNamespace node, Datapath datapath) {
        this.node = node;
        this.datapath = datapath;
    }

    /**
     * Takes over from whatever an earlier agent left: every mirror word is
     * cleared (and its pod's egress hook removed) and every slot freed. A
     * capture's client went with that agent; persistent mirrors are set again
     * from the configuration after this.
     */
    public static MirrorSlots reset(NetNamespace node, Datapath datapath) {
        Map<InetAddress, Integer> words = datapath.endpoints().mirrors();
        Set<Integer> veths = new LinkedHashSet<>();
        words.forEach((address, word) -> {
            datapath.endpoints().get(address).map(EndpointEntry::ifindex).ifPresent(veths::add);
            datapath.endpoints().setMirror(address, 0);
        });
        for (int ifindex : veths) {
            quietly("unhook_mirror", () -> node.execute(() -> datapath.unhookMirror(ifindex)));
        }
        for (int slot = 0; slot < MapLayouts.MIRROR_SLOTS; slot++) {
            datapath.mirrors().clear(slot);
        }
        if (!words.isEmpty()) {
            log.info("event=mirrors_reset endpoints={} veths={}", words.size(), veths.size());
        }
        return new MirrorSlots(node, datapath);
    }

    /** A free slot, or 503 when every one is in use. */
    synchronized int take() {
        int slot = taken.nextClearBit(0);
        if (slot >= MapLayouts.MIRROR_SLOTS) {
            throw new CaptureException(503, "all " + MapLayouts.MIRROR_SLOTS
                    + " mirror slots are in use (captures and mirrors); end one first");
        }
        taken.set(slot);
        return slot;
    }

    /** Points the slot at its device with its filter; its pods' words come after. */
    synchronized void configure(int slot, MirrorSlot mirror) {
        datapath.mirrors().put(slot, mirror);
    }

    /** Adds the slot to the pod's word on each of its addresses; hooks its veth's egress when it was unmirrored. */
    synchronized void mirror(Collection<InetAddress> addresses, int hostIfindex, int slot) {
        boolean wasMirrored = false;
        for (InetAddress address : addresses) {
            wasMirrored |= datapath.endpoints().mirror(address).orElse(0) != 0;
        }
        if (!wasMirrored) {
            // Before the word: a packet the stack delivers after the word is set is then copied too.
            node.execute(() -> datapath.hookMirror(hostIfindex));
        }
        for (InetAddress address : addresses) {
            int word = datapath.endpoints().mirror(address).orElse(0);
            datapath.endpoints().setMirror(address, word | (1 << slot));
        }
    }

    /**
     * Takes the slot out of the pod's words, unhooks its veth when none is left,
     * clears and frees the slot. Each step is done even when one before it failed
     * (a pod deleted meanwhile has no entry and no veth).
     */
    synchronized void release(Collection<InetAddress> addresses, int hostIfindex, int slot) {
        unmirror(addresses, hostIfindex, slot);
        free(slot);
    }

    /** Takes the slot out of the pod's words, and unhooks its veth when none is left; the slot stays taken. */
    synchronized void unmirror(Collection<InetAddress> addresses, int hostIfindex, int slot) {
        boolean stillMirrored = false;
        for (InetAddress address : addresses) {
            Optional<Integer> word = datapath.endpoints().mirror(address);
            if (word.isPresent()) {
                int left = word.get() & ~(1 << slot);
                quietly("unmirror", () -> datapath.endpoints().setMirror(address, left));
                stillMirrored |= left != 0;
            }
        }
        if (!stillMirrored && hostIfindex > 0) {
            quietly("unhook_mirror", () -> node.execute(() -> datapath.unhookMirror(hostIfindex)));
        }
    }

    /** Takes a slot that {@link #free} cleared back, pointing nowhere, for its holder to configure again. */
    synchronized void hold(int slot) {
        taken.set(slot);
    }

    /** The endpoint's mirror word, when it has an entry. */
    Optional<Integer> word(InetAddress address) {
        return datapath.endpoints().mirror(address);
    }

    /** Clears and frees a slot no pod's word names. */
    synchronized void free(int slot) {
        quietly("clear_slot", () -> datapath.mirrors().clear(slot));
        taken.clear(slot);
    }

    /** The copies the slot made (and the kernel refused) since its counters were made: a holder subtracts what it found. */
    MirrorMap.Clones clones(int slot) {
        return datapath.mirrors().clones(slot);
    }

    synchronized int inUse() {
        return taken.cardinality();
    }

    private static void quietly(String step, Runnable action) {
        try {
            action.run();
        } catch (RuntimeException e) {
            log.warn("event=mirror_cleanup_failed step={} error=\"{}\"", step, e.toString());
        }
    }
}
