package dev.ferry.netlink;

import dev.ferry.net.MacAddress;

import dev.ferry.linux.Errno;
import dev.ferry.netns.NetNamespace;

import java.net.InetAddress;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Links, addresses, routes, neighbours and per-device settings of one network
 * namespace, through one rtnetlink socket that a whole CNI ADD or DEL can reuse.
 *
 * <p>The namespace is named when the socket is opened ({@link #open(NetNamespace)})
 * and stays the socket's for its whole life: every call acts there, whichever
 * thread makes it and wherever that thread is. Calls are serialised. Every failure is a
 * {@link NetlinkException} naming the operation and the object; deletes (and
 * changes) of something that does not exist throw its subclass
 * {@link NetlinkException.NotFound}, which CNI DEL treats as success.
 */
public final class RtNetlink implements AutoCloseable {
    private final NetlinkSocket socket;
    /** Not owned: only for sockets of the same namespace opened later ({@link #watchNeighbours}). */
    private final NetNamespace namespace;

    private RtNetlink(NetlinkSocket socket, NetNamespace namespace) {
        this.socket = socket;
        this.namespace = namespace;
    }

    /** Opens a socket in {@code namespace}; the caller's thread stays where it is. */
    public static RtNetlink open(NetNamespace namespace) {
        return namespace.run(() -> new RtNetlink(NetlinkSocket.open(), namespace));
    }

    // Links

    /**
     * Creates a veth pair whose peer is born inside {@code peerNamespace}, so
     * that it never appears here (no rename or move races with udev or another
     * ADD). Returns this end.
     */
    public Link createVeth(VethPair veth, NetNamespace peerNamespace) {
        Objects.requireNonNull(peerNamespace, "peerNamespace");
        return createVeth(veth, peerNamespace.fd(), " in " + peerNamespace.path());
    }

    /** Creates a veth pair whose peer is born inside the namespace that {@code peerNetnsFd} refers to. */
    public Link createVeth(VethPair veth, int peerNetnsFd) {
        return createVeth(veth, peerNetnsFd, " in netns fd " + peerNetnsFd);
    }

    /** Creates a veth pair with both ends in this namespace. */
    public Link createVeth(VethPair veth) {
        return createVeth(veth, -1, "");
    }

    private Link createVeth(VethPair veth, int peerNetnsFd, String where) {
        socket.request(LinkMessages.newVeth(veth, peerNetnsFd),
                () -> "failed to create veth '" + veth.name() + "' with peer '" + veth.peerName() + "'" + where, 0);
        return link(veth.name()).orElseThrow(() -> new IllegalStateException(
                "veth '" + veth.name() + "' was created but is gone already"));
    }

    public Optional<Link> link(String name) {
        return linkMessage(LinkMessages.get(Link.checkName(name)), () -> "failed to look up link '" + name + "'")
                .map(LinkMessages::parse);
    }

    public Optional<Link> link(int index) {
        return linkMessage(index).map(LinkMessages::parse);
    }

    public List<Link> links() {
        return dump(LinkMessages.dump(), () -> "failed to list links", LinkMessages::parse);
    }

    public void setLinkUp(int index) {
        changeLink(index, LinkMessages.setUp(index, true), "set link %s up");
    }

    public void setLinkDown(int index) {
        changeLink(index, LinkMessages.setUp(index, false), "set link %s down");
    }

    public void setMtu(int index, int mtu) {
        changeLink(index, LinkMessages.setMtu(index, mtu), "set MTU " + mtu + " on link %s");
    }

    public void setMac(int index, MacAddress mac) {
        changeLink(index, LinkMessages.setMac(index, mac), "set MAC " + mac + " on link %s");
    }

    /** Renames a link; the kernel refuses (EBUSY) while it is up. */
    public void renameLink(int index, String name) {
        changeLink(index, LinkMessages.rename(index, Link.checkName(name)), "rename link %s to '" + name + "'");
    }

    /** Deletes a link; a veth takes its peer with it, wherever that lives. */
    public void deleteLink(int index) {
        changeLink(index, LinkMessages.delete(index), "delete link %s");
    }

    public void deleteLink(String name) {
        socket.request(LinkMessages.delete(Link.checkName(name)), () -> "failed to delete link '" + name + "'", Errno.ENODEV);
    }

    private void changeLink(int index, byte[] request, String what) {
        socket.request(request, () -> "failed to " + what.formatted("'" + linkName(index) + "'"), Errno.ENODEV);
    }

    // Per-device settings: the net.ipv4.conf.DEV.* sysctls without /proc

    /**
     * Sets one of the link's IPv4 settings, as writing
     * {@code net.ipv4.conf.DEV.NAME} would store it, through RTM_NEWLINK's
     * IFLA_AF_SPEC, so no procfs of this namespace needs to be mounted or
     * writable. Unlike the sysctl write, the kernel runs no side effect of the
     * setting: turning forwarding on neither disables LRO on the device nor
     * flushes the route cache (devinet_sysctl_forward does both).
     */
    public void setIpv4DevConf(int index, Ipv4DevConf key, int value) {
        changeLink(index, LinkMessages.setIpv4DevConf(index, key, value),
                "set " + key.sysctlName() + " to " + value + " on link %s");
    }

    /** One of the link's IPv4 settings; empty when there is no such link or it has no IPv4 settings. */
    public OptionalInt ipv4DevConf(int index, Ipv4DevConf key) {
        return linkMessage(index).map(m -> LinkMessages.ipv4DevConf(m, key)).orElse(OptionalInt.empty());
    }

    /**
     * Sets how the link makes its IPv6 link-local address. IPv6's other
     * per-device settings (forwarding among them) cannot be set through
     * rtnetlink: see {@link Ipv6AddrGenMode}.
     */
    public void setIpv6AddrGenMode(int index, Ipv6AddrGenMode mode) {
        changeLink(index, LinkMessages.setIpv6AddrGenMode(index, mode),
                "set IPv6 address generation mode " + mode + " on link %s");
    }

    /** The link's IPv6 address generation mode; empty when there is no such link or it has no IPv6 settings. */
    public Optional<Ipv6AddrGenMode> ipv6AddrGenMode(int index) {
        return linkMessage(index).flatMap(LinkMessages::ipv6AddrGenMode);
    }

    private Optional<Message> linkMessage(int index) {
        return linkMessage(LinkMessages.get(index), () -> "failed to look up link with ifindex " + index);
    }

    private Optional<Message> linkMessage(byte[] request, Supplier<String> operation) {
        try {
            return socket.request(request, operation, Errno.ENODEV).stream()
                    .filter(m -> m.type() == Uapi.RTM_NEWLINK).findFirst();
        } catch (NetlinkException.NotFound e) {
            return Optional.empty();
        }
    }

    // Addresses

    /** Adds an address; one that is already there fails with EEXIST. */
    public void addAddress(Address address) {
        socket.request(AddressMessages.add(address, false), () -> "failed to add " + describe(address), 0);
    }

    /** Adds an address, or updates it when it is there already. */
    public void replaceAddress(Address address) {
        socket.request(AddressMessages.add(address, true), () -> "failed to replace " + describe(address), 0);
    }

    public void deleteAddress(Address address) {
        socket.request(AddressMessages.delete(address), () -> "failed to delete " + describe(address), Uapi.EADDRNOTAVAIL);
    }

    /** The addresses of one link, IPv4 and IPv6. */
    public List<Address> addresses(int index) {
        return dump(AddressMessages.dump(null), () -> "failed to list addresses", AddressMessages::parse).stream()
                .filter(a -> a.index() == index).toList();
    }

    private String describe(Address a) {
        return "address " + a.prefix() + " on link '" + linkName(a.index()) + "'";
    }

    // Routes

    /** Adds a route; an equal one that is already there fails with EEXIST. */
    public void addRoute(Route route) {
        socket.request(RouteMessages.add(route), () -> "failed to add route " + describe(route), 0);
    }

    /** Adds a route or replaces the one to the same destination (same table, metric): idempotent. */
    public void replaceRoute(Route route) {
        socket.request(RouteMessages.replace(route), () -> "failed to replace route " + describe(route), 0);
    }

    /** Deletes the route that matches destination, protocol, table and, when set, gateway, device and metric. */
    public void deleteRoute(Route route) {
        socket.request(RouteMessages.delete(route), () -> "failed to delete route " + describe(route), Uapi.ESRCH);
    }

    public List<Route> routes(RouteFilter filter) {
        return dump(RouteMessages.dump(filter.family()), () -> "failed to list routes", RouteMessages::parse).stream()
                .filter(filter::matches).toList();
    }

    /** The routes of the main table. */
    public List<Route> routes() {
        return routes(RouteFilter.main());
    }

    /**
     * The device of the main table's IPv4 default route (IPv6 when there is no
     * IPv4 one), the lowest metric winning: the uplink when none is configured.
     */
    public Optional<Link> defaultRouteLink() {
        return defaultRouteLink(Family.V4).or(() -> defaultRouteLink(Family.V6));
    }

    public Optional<Link> defaultRouteLink(Family family) {
        return routes(RouteFilter.main().family(family)).stream()
                .filter(r -> r.isDefault() && r.outputIndex() != 0)
                .min(Comparator.comparingInt(Route::metric))
                .flatMap(r -> link(r.outputIndex()));
    }

    private String describe(Route route) {
        return route.describe(this::linkName);
    }

    // Policy rules

    /** Adds an fwmark rule; one already there (the same fields) is fine. */
    public void addRule(Rule rule) {
        try {
            socket.request(RuleMessages.add(rule), () -> "failed to add " + rule, 0);
        } catch (NetlinkException e) {
            if (e.errno() != Errno.EEXIST) {
                throw e;
            }
        }
    }

    /** Deletes a rule; one not there is fine. */
    public void deleteRule(Rule rule) {
        try {
            socket.request(RuleMessages.delete(rule), () -> "failed to delete " + rule, Errno.ENOENT);
        } catch (NetlinkException.NotFound e) {
            // gone already
        }
    }

    /** The fwmark rules of one family. */
    public List<Rule> rules(Family family) {
        return dump(RuleMessages.dump(family), () -> "failed to list rules", RuleMessages::parse);
    }

    // Neighbours

    /** Adds or overwrites a neighbour entry; with {@link Neighbour#permanent} this is idempotent. */
    public void replaceNeighbour(Neighbour neighbour) {
        socket.request(NeighbourMessages.add(neighbour, true), () -> "failed to replace " + describe(neighbour), 0);
    }

    /** Adds a neighbour entry; one for the same address on the same link fails with EEXIST. */
    public void addNeighbour(Neighbour neighbour) {
        socket.request(NeighbourMessages.add(neighbour, false), () -> "failed to add " + describe(neighbour), 0);
    }

    /** Starts resolving the neighbour (an ARP/ND request) unless its entry is valid already; creates it when absent. */
    public void resolveNeighbour(int index, InetAddress address) {
        socket.request(NeighbourMessages.use(index, address),
                () -> "failed to resolve neighbour " + address.getHostAddress() + " dev " + linkName(index), 0);
    }

    /**
     * Sets an existing entry's state; {@link Neighbour#NUD_PROBE} makes the kernel
     * confirm the neighbour now (unicast probes, FAILED when none is answered).
     * Returns false when there is no entry.
     */
    public boolean setNeighbourState(int index, InetAddress address, int state) {
        try {
            socket.request(NeighbourMessages.changeState(index, address, state),
                    () -> "failed to set the state of neighbour " + address.getHostAddress() + " dev " + linkName(index),
                    Errno.ENOENT);
            return true;
        } catch (NetlinkException.NotFound e) {
            return false;
        }
    }

    public void deleteNeighbour(int index, InetAddress address) {
        socket.request(NeighbourMessages.delete(index, address),
                () -> "failed to delete neighbour " + address.getHostAddress() + " dev " + linkName(index), Errno.ENOENT);
    }

    /** The neighbour entries of one link, IPv4 and IPv6, without the kernel's multicast (NOARP) ones. */
    public List<Neighbour> neighbours(int index) {
        return dump(NeighbourMessages.dump(), () -> "failed to list neighbours", NeighbourMessages::parse).stream()
                .filter(n -> n.index() == index).toList();
    }

    /**
     * Starts handing this namespace's neighbour notifications to {@code consumer}
     * on a thread of their own, through a socket of their own
     * ({@link NeighbourEvents}); the namespace this was opened with must still be open.
     */
    public NeighbourEvents watchNeighbours(Consumer<NeighbourEvent> consumer) {
        return NeighbourEvents.open(namespace, consumer);
    }

    private String describe(Neighbour n) {
        return "neighbour " + n.address().getHostAddress() + (n.mac() == null ? "" : " lladdr " + n.mac())
                + " dev " + linkName(n.index());
    }

    // Plumbing

    /** Parses every part of a dump, dropping what the parser returns null for. */
    private <T> List<T> dump(byte[] request, Supplier<String> operation, Function<Message, T> parser) {
        return socket.dump(request, operation).stream().map(parser).filter(Objects::nonNull).toList();
    }

    /**
     * A link's name for an error message, or its ifindex when it has none (any
     * more). Only called once a request has failed, so the lookup costs nothing
     * on the normal path.
     */
    private String linkName(int index) {
        try {
            return link(index).map(Link::name).orElse("ifindex " + index);
        } catch (RuntimeException e) {
            return "ifindex " + index;
        }
    }

    @Override
    public void close() {
        socket.close();
    }
}
