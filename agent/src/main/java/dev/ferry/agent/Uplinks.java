package dev.ferry.agent;

import dev.ferry.datapath.Attachment;
import dev.ferry.datapath.Datapath;
import dev.ferry.datapath.DatapathProgram;
import dev.ferry.netlink.Ipv4DevConf;
import dev.ferry.netlink.Link;
import dev.ferry.netlink.RtNetlink;
import dev.ferry.netns.NetNamespace;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The node's uplinks, where packets for this node's pods arrive: the configured
 * devices, else the device of the default route. Nothing to close: their
 * {@code to_pod} links are pinned and outlive the agent, so packets keep moving
 * while no agent runs.
 */
final class Uplinks {
    private static final Logger log = LoggerFactory.getLogger(Uplinks.class);

    private final NetNamespace node;
    private final RtNetlink netlink;
    private final List<Link> links;

    private Uplinks(NetNamespace node, RtNetlink netlink, List<Link> links) {
        this.node = node;
        this.netlink = netlink;
        this.links = List.copyOf(links);
    }

    /** Looks the devices up in the node's namespace; a missing one fails the start before anything is touched. */
    static Uplinks find(List<String> configured, NetNamespace node, RtNetlink netlink) {
        List<Link> links;
        if (configured.isEmpty()) {
            links = List.of(netlink.defaultRouteLink().orElseThrow(() -> new IllegalStateException(
                    "no uplinks configured and the node's network namespace has no default route to take one from:"
                            + " set uplinks in the config")));
        } else {
            links = configured.stream().map(name -> netlink.link(name).orElseThrow(() -> new IllegalStateException(
                    "uplink '" + name + "' does not exist in the node's network namespace (" + node.path() + ")"))).toList();
        }
        log.info("event=node_netns path={} uplinks={} source={}", node.path(), names(links),
                configured.isEmpty() ? "default_route" : "config");
        return new Uplinks(node, netlink, links);
    }

    List<Link> links() {
        return links;
    }

    /** The pods' MTU unless their network configuration sets one: the smallest uplink's, so nothing fragments on the way out. */
    int podMtu() {
        return links.stream().mapToInt(Link::mtu).min().orElseThrow();
    }

    /**
     * {@code to_pod} on every uplink, and forwarding on it: packets the programs
     * leave to the stack (towards a pod whose veth the BPF map does not know yet,
     * replies to kube-proxy's NAT) are routed only when the input device forwards,
     * and bpf_fib_lookup answers FWD_DISABLED without it. A {@code to_pod} link
     * adopted from a device that is no longer an uplink is detached.
     *
     * @param adopted the pinned links the datapath took over from the agent before
     */
    void attach(Datapath datapath, List<Attachment> adopted) {
        Set<String> names = new HashSet<>(names(links));
        for (Attachment stale : adopted) {
            if (stale.program() == DatapathProgram.TO_POD && !names.contains(stale.ifname())) {
                node.execute(() -> datapath.detach(DatapathProgram.TO_POD, stale.ifname(), stale.ifindex()));
                log.info("event=uplink_detached uplink={} ifindex={} why=not_an_uplink_any_more", stale.ifname(), stale.ifindex());
            }
        }
        for (Link uplink : links) {
            Attachment a = node.run(() -> datapath.attach(DatapathProgram.TO_POD, uplink.name(), uplink.index()));
            // Through rtnetlink on the node's socket, not procfs: the DaemonSet mounts no writable /proc.
            int before = netlink.ipv4DevConf(uplink.index(), Ipv4DevConf.FORWARDING).orElse(-1);
            netlink.setIpv4DevConf(uplink.index(), Ipv4DevConf.FORWARDING, 1);
            log.info("event=uplink_attached uplink={} ifindex={} mtu={} program={} prog_id={} forwarding=1 forwarding_was={}",
                    uplink.name(), uplink.index(), uplink.mtu(), a.program().programName(), a.programId(), before);
        }
    }

    private static List<String> names(List<Link> links) {
        return links.stream().map(Link::name).toList();
    }
}
