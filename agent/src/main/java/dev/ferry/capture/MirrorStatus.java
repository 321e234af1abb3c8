package dev.ferry.capture;

import java.util.ArrayList;
import java.util.List;

/**
 * What {@code GET /v1/mirrors} answers ({@code ferry mirror list}): every
 * persistent mirror of this node, the ones not in force with why, and the
 * captures running, each with the slot it holds.
 */
public record MirrorStatus(List<Mirror> mirrors, List<Refused> refused, List<Running> captures) {

    /**
     * A mirror in force.
     *
     * @param kind          {@link PersistentMirrors#CONFIG} or {@link PersistentMirrors#TRAFFIC_MIRROR}
     * @param deviceIfindex the device's ifindex now; 0 when it is missing (the slot then points nowhere until it is back)
     * @param filter        the capture words ({@code proto icmp port 80}), "all" for every packet
     * @param selector      the pod CIDRs, or the namespace and pod label selectors
     * @param pods          the pods of this node its slot is set on now
     * @param copies        copies its slot made since the mirror took it
     * @param failedCopies  copies the kernel refused in that time
     */
    public record Mirror(String name, String kind, String device, int deviceIfindex, boolean devicePresent, int slot,
                         String filter, String selector, List<Pod> pods, long copies, long failedCopies) {}

    /** A mirrored pod: namespace/name (its container id when the runtime gave no name) and its addresses. */
    public record Pod(String name, List<String> addresses) {}

    /** A mirror not in force: an object the agent refused, or a mirror that found every slot taken. */
    public record Refused(String name, String kind, String reason) {}

    /** A {@code ferry capture} running now. */
    public record Running(int id, int slot, String pod, List<String> addresses, String filter) {}

    /** The mirrors of each source, in the order given, and the captures running. */
    public static MirrorStatus of(List<PersistentMirrors> sources, Captures captures) {
        List<Mirror> mirrors = new ArrayList<>();
        List<Refused> refused = new ArrayList<>();
        for (PersistentMirrors source : sources) {
            mirrors.addAll(source.status());
            refused.addAll(source.refusedStatus());
        }
        return new MirrorStatus(List.copyOf(mirrors), List.copyOf(refused), captures.running());
    }
}
