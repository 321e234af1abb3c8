package dev.ferry.capture;

import dev.ferry.datapath.Datapath;
import dev.ferry.netlink.Ipv4DevConf;
import dev.ferry.netlink.Ipv6AddrGenMode;
import dev.ferry.netlink.Link;
import dev.ferry.netlink.RtNetlink;
import dev.ferry.netlink.VethPair;
import dev.ferry.net.MacAddress;
import dev.ferry.netns.NetNamespace;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A capture's device in the node namespace: a veth pair (this kernel has no
 * dummy driver). The datapath sends copies out of {@code fcapN}; they arrive at
 * {@code fcapNr}, where the agent's packet socket reads them and capture_sink
 * drops them at tc ingress, right after the packet taps: the copies must reach
 * nothing else (the stack would route them, answer them, or count them twice).
 * Both ends keep no IPv6 link-local address (address generation off), so they
 * send no router or neighbour solicitations, and IPv4 forwarding is off on both:
 * even a copy that escaped the sink is not routed. They still send MLD reports
 * for ff02::2 on a node that forwards IPv6 (no netlink setting turns IPv6 off on
 * a device, and /proc/sys is read-only in the agent's container): the packet
 * socket leaves those out ({@link PacketSocket}).
 */
final class CaptureDevice implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CaptureDevice.class);

    /** Every capture device's name starts so; an agent starting deletes those it finds (left by one killed). */
    static final String PREFIX = "fcap";
    /** The largest frame a veth takes: a copy is never refused for its size (GSO frames pass whatever their size). */
    private static final int MTU = 65535;

    private final RtNetlink netlink;
    private final Link writeEnd;
    private final Link readEnd;

    private CaptureDevice(RtNetlink netlink, Link writeEnd, Link readEnd) {
        this.netlink = netlink;
        this.writeEnd = writeEnd;
        this.readEnd = readEnd;
    }

    static CaptureDevice create(NetNamespace node, RtNetlink netlink, Datapath datapath, int slot) {
        String name = PREFIX + slot;
        netlink.link(name).ifPresent(stale -> netlink.deleteLink(stale.index()));
        netlink.createVeth(VethPair.of(name, name + "r").mtu(MTU));
        Link write = netlink.link(name).orElseThrow();
        Link read = netlink.link(name + "r").orElseThrow();
        CaptureDevice device = new CaptureDevice(netlink, write, read);
        try {
            for (Link end : new Link[] {write, read}) {
                netlink.setIpv6AddrGenMode(end.index(), Ipv6AddrGenMode.NONE);
                netlink.setIpv4DevConf(end.index(), Ipv4DevConf.FORWARDING, 0);
            }
            node.execute(() -> datapath.hookCaptureSink(read.index()));
            netlink.setLinkUp(read.index());
            netlink.setLinkUp(write.index());
            return device;
        } catch (RuntimeException e) {
            device.close();
            throw e;
        }
    }

    /** Where the datapath sends the copies. */
    int writeIfindex() {
        return writeEnd.index();
    }

    /** The writing end's MAC: a frame from it carrying it as its source is the device's own, not a copy. */
    MacAddress writeMac() {
        return writeEnd.mac();
    }

    /** Where the packet socket reads them. */
    int readIfindex() {
        return readEnd.index();
    }

    String name() {
        return writeEnd.name();
    }

    /** Deletes both ends (deleting one takes its peer), with the sink's qdisc. */
    @Override
    public void close() {
        try {
            netlink.deleteLink(writeEnd.index());
        } catch (RuntimeException e) {
            log.warn("event=capture_device_delete_failed name={} error=\"{}\"", writeEnd.name(), e.toString());
        }
    }

    /** Deletes every capture device in the namespace: at start, none of them has a reader any more. */
    static int deleteLeftovers(RtNetlink netlink) {
        int deleted = 0;
        for (Link link : netlink.links()) {
            if (link.name().startsWith(PREFIX) && "veth".equals(link.kind())) {
                try {
                    netlink.deleteLink(link.index());
                    deleted++;
                } catch (RuntimeException e) {
                    // Its peer, deleted with the one before it.
                }
            }
        }
        return deleted;
    }
}
