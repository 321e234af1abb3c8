package dev.ferry.egress;

import dev.ferry.netlink.Neighbour;

import java.util.Optional;

/**
 * Whether flows may take one next hop, from its neighbour entry as the kernel
 * has it, checked on every tick of {@link EgressRoutes}. The kernel alone would
 * notice a router that stopped answering only after its entry went stale (tens
 * of seconds); so each tick asks it to confirm a confirmed entry again (state
 * PROBE: unicast ARP, or for an IPv6 next hop a unicast neighbour solicitation;
 * REACHABLE on the answer, FAILED after ucast_solicit unanswered probes, about 3 s),
 * and to resolve a failed or missing one (NTF_USE). Both families' entries have
 * the same states (the kernel's neighbour core serves ARP and NDP alike).
 * Only REACHABLE (or an entry the kernel never probes: PERMANENT, NOARP) makes a
 * next hop live; only FAILED takes it out; the states between keep the last word.
 */
public final class NextHopHealth {
    /** What to ask of the kernel after looking at the entry. */
    public enum Action { NONE, CONFIRM, RESOLVE }

    private boolean live = true;   // until the kernel says otherwise: redirect_neigh resolves a new hop itself
    private String state = "unknown";

    /** Takes in the entry as dumped now; returns what to ask of the kernel. */
    public Action observe(Optional<Neighbour> entry) {
        if (entry.isEmpty()) {
            state = "none";
            return Action.RESOLVE;
        }
        int nud = entry.get().state();
        state = label(nud);
        if ((nud & (Neighbour.NUD_PERMANENT | Neighbour.NUD_NOARP)) != 0) {
            live = true;
            return Action.NONE;
        }
        if ((nud & Neighbour.NUD_REACHABLE) != 0) {
            live = true;
            return Action.CONFIRM;
        }
        if ((nud & Neighbour.NUD_FAILED) != 0) {
            live = false;
            return Action.RESOLVE;
        }
        if ((nud & (Neighbour.NUD_STALE | Neighbour.NUD_DELAY)) != 0) {
            return Action.CONFIRM;
        }
        return Action.NONE; // INCOMPLETE or PROBE: the kernel is asking already
    }

    public boolean live() {
        return live;
    }

    /** The neighbour state last seen, as ip-neighbour(8) names it. */
    public String state() {
        return state;
    }

    static String label(int nud) {
        if ((nud & Neighbour.NUD_PERMANENT) != 0) {
            return "permanent";
        }
        if ((nud & Neighbour.NUD_NOARP) != 0) {
            return "noarp";
        }
        if ((nud & Neighbour.NUD_REACHABLE) != 0) {
            return "reachable";
        }
        if ((nud & Neighbour.NUD_STALE) != 0) {
            return "stale";
        }
        if ((nud & Neighbour.NUD_DELAY) != 0) {
            return "delay";
        }
        if ((nud & Neighbour.NUD_PROBE) != 0) {
            return "probe";
        }
        if ((nud & Neighbour.NUD_FAILED) != 0) {
            return "failed";
        }
        if ((nud & Neighbour.NUD_INCOMPLETE) != 0) {
            return "incomplete";
        }
        return "none";
    }
}
