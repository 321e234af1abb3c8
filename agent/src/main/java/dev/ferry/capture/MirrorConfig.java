package dev.ferry.capture;

import dev.ferry.net.IpPrefix;

import java.util.List;

/**
 * A persistent mirror (the configuration's {@code mirrors}): the packets of the
 * pods whose address is in {@code pods}, as the filter selects them, copied to
 * an existing device of the node (an analyzer's interface) for as long as the
 * agent runs.
 */
public record MirrorConfig(String name, List<IpPrefix> pods, String device, CaptureRequest.Filter filter) {
    public MirrorConfig {
        pods = List.copyOf(pods);
    }

    boolean selects(List<IpPrefix> addresses) {
        return addresses.stream().anyMatch(a -> pods.stream().anyMatch(p -> p.isIpv4() == a.isIpv4() && p.contains(a.address())));
    }
}
