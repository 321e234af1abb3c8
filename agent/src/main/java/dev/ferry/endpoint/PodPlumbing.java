package dev.ferry.endpoint;

import dev.ferry.linux.Errno;
import dev.ferry.net.IpPrefix;
import dev.ferry.net.IpText;
import dev.ferry.net.MacAddress;
import dev.ferry.netlink.Address;
import dev.ferry.netlink.Family;
import dev.ferry.netlink.Ipv4DevConf;
import dev.ferry.netlink.Ipv6AddrGenMode;
import dev.ferry.netlink.Link;
import dev.ferry.netlink.Neighbour;
import dev.ferry.netlink.NetlinkException;
import dev.ferry.netlink.Route;
import dev.ferry.netlink.RouteFilter;
import dev.ferry.netlink.RtNetlink;
import dev.ferry.netlink.RtNetlinkPool;
import dev.ferry.netlink.Scope;
import dev.ferry.netlink.VethPair;
import dev.ferry.netns.NetNamespace;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The veth pair of one pod and its Calico-style wiring, through rtnetlink only:
 * <ul>
 *   <li>pod side: the pod's /32, {@code 169.254.1.1 dev IF scope link},
 *       {@code default via 169.254.1.1} and a permanent neighbour for the
 *       gateway at the host veth's MAC, so the pod never ARPs;</li>
 *   <li>host side: a /32 route to the pod (protocol 70) and a permanent
 *       neighbour, so host processes and the stack fallback reach it too.</li>
 * </ul>
 * An IPv6 address gets the same: a /128 (no DAD), {@code default via fe80::1}
 * with a permanent neighbour in the pod, a /128 route and a permanent
 * neighbour on the host. IPv6 is forwarded by the node's stack (the BPF
 * programs pass it on), through those routes and neighbours.
 * Node-side calls go through the node's socket, held here; pod-side calls take
 * the pod's socket as an argument. The caller registers every undo.
 */
final class PodPlumbing {
    private static final Logger log = LoggerFactory.getLogger(PodPlumbing.class);
    private static final InetAddress GATEWAY = Endpoint.GATEWAY;
    private static final InetAddress GATEWAY_V6 = Endpoint.GATEWAY_V6;

    private final RtNetlink nodeNl;
    private final RtNetlinkPool nodeDeletes;

    /** @param nodeDeletes sockets of the node for veth deletes, which wait in the kernel (see {@link RtNetlinkPool}) */
    PodPlumbing(RtNetlink nodeNl, RtNetlinkPool nodeDeletes) {
        this.nodeNl = nodeNl;
        this.nodeDeletes = nodeDeletes;
    }

    /**
     * Creates the pair, the peer born inside the pod's namespace so that it never
     * appears on the node, and returns the host end; deleting it takes the peer,
     * its addresses, routes and neighbours with it. EEXIST names either end: the
     * pod's interface name taken in its netns is the runtime's mistake (code
     * 100); a host veth of the same name is a leftover of an earlier ADD of this
     * very container and ifname (the name derives from both), which is deleted
     * and the pair made again. Asking first would cost every ADD netlink round
     * trips for cases that are rare.
     */
    Link createVeth(String hostIfname, String podIfname, NetNamespace pod, RtNetlink podNl, int mtu) {
        VethPair pair = VethPair.of(hostIfname, podIfname).mtu(mtu);
        try {
            return nodeNl.createVeth(pair, pod);
        } catch (NetlinkException e) {
            if (e.errno() != Errno.EEXIST) {
                throw e;
            }
            if (podNl.link(podIfname).isPresent()) {
                throw new EndpointException.AlreadyExists("interface " + podIfname + " already exists in " + pod.path());
            }
            if (!deleteLinkIfPresent(hostIfname)) {
                throw e;
            }
            log.warn("event=stale_veth_removed host_ifname={}", hostIfname);
            return nodeNl.createVeth(pair, pod);
        }
    }

    /**
     * Forwarding on the host veth, set on the node's socket: bpf_fib_lookup
     * answers "forwarding disabled" for packets entering a device without it,
     * and the stack fallback would drop them too. The veth is new, so what a
     * sysctl write would add (LRO off, a route cache flush) has nothing to do.
     */
    void enableForwarding(Link host) {
        nodeNl.setIpv4DevConf(host.index(), Ipv4DevConf.FORWARDING, 1);
    }

    /**
     * The pod side, on the pod's socket: its address, the link-scope route to
     * the gateway, the default route through it and a permanent neighbour for
     * it at the host veth's MAC. Returns the pod end. Undone by deleting the veth.
     *
     * <p>An IPv6 address ({@code address6}, or {@code address} itself on an
     * IPv6-only node) gets the same scheme: the /128 without DAD (IFA_F_NODAD,
     * so it is usable at once), {@code default via fe80::1} and a permanent
     * neighbour for fe80::1. A link-local gateway needs no route of its own: the
     * kernel takes it on the named device. The pod makes no link-local address of
     * its own (addr_gen_mode none, set before the link goes up): it would only
     * run DAD and send router solicitations, NDP that nothing here needs.
     */
    Link wirePod(RtNetlink podNl, String podIfname, InetAddress address, Optional<InetAddress> address6, MacAddress hostMac) {
        Link podEnd = podNl.link(podIfname).orElseThrow(() -> new IllegalStateException(
                "veth peer '" + podIfname + "' did not appear in the pod's namespace"));
        boolean v4 = address instanceof Inet4Address;
        Optional<InetAddress> six = v4 ? address6 : Optional.of(address);
        if (six.isPresent()) {
            podNl.setIpv6AddrGenMode(podEnd.index(), Ipv6AddrGenMode.NONE);
        }
        if (v4) {
            podNl.addAddress(Address.of(podEnd.index(), IpPrefix.host(address)));
        }
        six.ifPresent(a -> podNl.addAddress(Address.of(podEnd.index(), IpPrefix.host(a))));
        podNl.setLinkUp(podEnd.index());
        if (v4) {
            podNl.addRoute(Route.to(IpPrefix.host(GATEWAY)).dev(podEnd.index()).scope(Scope.LINK).protocol(Route.PROTO_FERRY));
            podNl.addRoute(Route.to(IpPrefix.DEFAULT_V4).via(GATEWAY).dev(podEnd.index()).protocol(Route.PROTO_FERRY));
            podNl.replaceNeighbour(Neighbour.permanent(podEnd.index(), GATEWAY, hostMac));
        }
        if (six.isPresent()) {
            podNl.addRoute(Route.to(IpPrefix.DEFAULT_V6).via(GATEWAY_V6).dev(podEnd.index()).protocol(Route.PROTO_FERRY));
            podNl.replaceNeighbour(Neighbour.permanent(podEnd.index(), GATEWAY_V6, hostMac));
        }
        return podEnd;
    }

    /**
     * The host side, on the node's socket: the host veth up, a /32 (/128) route
     * to each of the pod's addresses through it and a permanent neighbour for
     * each. Undone by deleting the veth.
     */
    void wireHost(Link host, List<InetAddress> addresses, MacAddress podMac) {
        nodeNl.setLinkUp(host.index());
        for (InetAddress address : addresses) {
            nodeNl.replaceRoute(hostRoute(address, host.index()));
            nodeNl.replaceNeighbour(Neighbour.permanent(host.index(), address, podMac));
        }
    }

    /** Deletes the host end (and with it the pod end); false when it was already gone. */
    boolean deleteLinkIfPresent(String hostIfname) {
        return nodeDeletes.apply(nl -> {
            try {
                nl.deleteLink(hostIfname);
                return true;
            } catch (NetlinkException.NotFound gone) {
                return false;
            }
        });
    }

    /**
     * Removes a host route to the pod that outlived its link (a route Ferry made,
     * to an address Ferry still holds). One delete by destination and protocol,
     * whatever its device: a listing would cost every DEL a dump of a table that
     * holds a route per pod.
     */
    void deleteHostRouteIfPresent(InetAddress address) {
        try {
            nodeNl.deleteRoute(Route.to(IpPrefix.host(address)).protocol(Route.PROTO_FERRY));
        } catch (NetlinkException.NotFound gone) {
            // the usual case: it went with its link
        }
    }

    Optional<Link> hostLink(String hostIfname) {
        return nodeNl.link(hostIfname);
    }

    /** Every device of the node's namespace (the reconcile at start looks for host veths of Ferry's naming). */
    List<Link> hostLinks() {
        return nodeNl.links();
    }

    /** What is not as ADD left it, in words; empty when all is well. */
    List<String> problems(Endpoint e, RtNetlink podNl) {
        List<String> problems = new ArrayList<>();
        Optional<Link> host = nodeNl.link(e.hostIfname());
        if (host.isEmpty()) {
            problems.add("host veth " + e.hostIfname() + " is missing");
        } else {
            Link h = host.get();
            if (h.index() != e.hostIfindex()) {
                problems.add("host veth " + e.hostIfname() + " has ifindex " + h.index() + ", ADD made " + e.hostIfindex());
            }
            if (!h.up()) {
                problems.add("host veth " + e.hostIfname() + " is down");
            }
            List<Route> hostRoutes = nodeNl.routes(RouteFilter.main().dev(h.index()));
            for (IpPrefix address : e.addresses()) {
                String ip = IpText.format(address.address());
                if (hostRoutes.stream().noneMatch(r -> r.destination().equals(address))) {
                    problems.add("host route " + ip + "/" + address.length() + " dev " + e.hostIfname() + " is missing");
                }
                if (!hasNeighbour(nodeNl, h.index(), address.address(), e.podMac())) {
                    problems.add("host neighbour " + ip + " lladdr " + e.podMac() + " is missing");
                }
            }
        }
        Optional<Link> pod = podNl.link(e.ifname());
        if (pod.isEmpty()) {
            problems.add("interface " + e.ifname() + " is missing in " + e.netns());
            return problems;
        }
        Link p = pod.get();
        if (!p.up()) {
            problems.add("interface " + e.ifname() + " is down");
        }
        if (!p.mac().equals(e.podMac())) {
            problems.add("interface " + e.ifname() + " has MAC " + p.mac() + ", ADD made " + e.podMac());
        }
        List<Address> addresses = podNl.addresses(p.index());
        List<Route> routes = podNl.routes(RouteFilter.main().dev(p.index()));
        for (IpPrefix address : e.addresses()) {
            if (addresses.stream().noneMatch(a -> a.prefix().equals(address))) {
                problems.add("address " + IpText.format(address.address()) + "/" + address.length() + " is missing on "
                        + e.ifname());
            }
            InetAddress gateway = Endpoint.gatewayFor(address);
            if (address.isIpv4() && routes.stream().noneMatch(r -> r.destination().equals(IpPrefix.host(GATEWAY))
                    && Scope.LINK.equals(r.scope()))) {
                problems.add("route " + IpText.format(GATEWAY) + " dev " + e.ifname() + " scope link is missing in the pod");
            }
            if (routes.stream().noneMatch(r -> r.isDefault() && r.family() == Family.of(address.address())
                    && gateway.equals(r.gateway()))) {
                problems.add("default route via " + IpText.format(gateway) + " is missing in the pod");
            }
            if (!hasNeighbour(podNl, p.index(), gateway, e.hostMac())) {
                problems.add("pod neighbour " + IpText.format(gateway) + " lladdr " + e.hostMac() + " is missing");
            }
        }
        return problems;
    }

    private static boolean hasNeighbour(RtNetlink nl, int index, InetAddress address, MacAddress mac) {
        return nl.neighbours(index).stream()
                .anyMatch(n -> n.address().equals(address) && mac.equals(n.mac()) && n.isPermanent());
    }

    static Route hostRoute(InetAddress address, int hostIfindex) {
        return Route.to(IpPrefix.host(address)).dev(hostIfindex).scope(Scope.LINK).protocol(Route.PROTO_FERRY);
    }
}
