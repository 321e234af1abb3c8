package dev.ferry.capture;

import dev.ferry.net.IpPrefix;
import dev.ferry.selection.PodLabels;
import dev.ferry.selection.PodSelection;
import dev.ferry.selection.SelectablePod;

import java.util.List;
import java.util.Optional;

/**
 * A persistent mirror: the packets of the pods it selects (by address in the
 * configuration's {@code mirrors}, by labels in a TrafficMirror object), as the
 * filter selects them, copied to an existing device of the node (an analyzer's
 * interface) for as long as the agent runs.
 */
public record MirrorConfig(String name, PodSelection pods, String device, CaptureRequest.Filter filter) {

    /** The configuration's mirror: the pods whose address is in one of {@code cidrs}. */
    public MirrorConfig(String name, List<IpPrefix> cidrs, String device, CaptureRequest.Filter filter) {
        this(name, new PodSelection.SourceCidrs(cidrs), device, filter);
    }

    /** Whether the pod with these addresses (and these labels, when known) is mirrored. */
    boolean selects(List<IpPrefix> addresses, Optional<PodLabels.Labels> labels) {
        return addresses.stream().anyMatch(a -> pods.selects(new SelectablePod(a.address(), labels)));
    }
}
