package dev.ferry.datapath;

/**
 * How each program is hooked: {@code to_pod} on the uplinks, {@code from_pod} on
 * every pod's host veth.
 *
 * <p>Pods default to tc even where TCX exists: a TCX attach swaps the device's
 * program array and waits out an RCU grace period under RTNL (16 ms on the
 * benchmark machine, docs/benchmarks.md), once per pod start, and stalls every
 * other netlink request of the node meanwhile. A clsact qdisc and a cls_bpf
 * filter on a device nobody has sent on yet cost a tenth of a millisecond. The
 * uplink is attached once per agent start, so it takes TCX, whose pinned link
 * lets a new agent swap programs atomically.
 */
public record AttachModes(AttachMode uplinks, AttachMode pods) {
    public static final AttachMode DEFAULT_PODS = AttachMode.TC;

    /** Uplinks in {@code uplinks} mode, pods in the default (tc). */
    public static AttachModes uplinks(AttachMode uplinks) {
        return new AttachModes(uplinks, DEFAULT_PODS);
    }

    /** Every program in the same mode. */
    public static AttachModes all(AttachMode mode) {
        return new AttachModes(mode, mode);
    }

    public AttachMode of(DatapathProgram program) {
        return switch (program) {
            case TO_POD -> uplinks;
            case FROM_POD -> pods;
        };
    }

    /** {@code tcx uplinks, tc pods}: what status and the logs show. */
    public String label() {
        return uplinks.label() + " uplinks, " + pods.label() + " pods";
    }
}
