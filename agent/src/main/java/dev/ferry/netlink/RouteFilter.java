package dev.ferry.netlink;

/**
 * Which routes a listing returns. The kernel dumps whole tables; the filter
 * applies on this side, which works the same on every kernel version.
 *
 * @param family      null for both
 * @param table       0 for every table
 * @param protocol    -1 for every protocol
 * @param outputIndex 0 for every device
 */
public record RouteFilter(Family family, int table, int protocol, int outputIndex) {

    /** Every route of the main table, both families. */
    public static RouteFilter main() {
        return new RouteFilter(null, Route.TABLE_MAIN, -1, 0);
    }

    public RouteFilter family(Family family) {
        return new RouteFilter(family, table, protocol, outputIndex);
    }

    public RouteFilter protocol(int protocol) {
        return new RouteFilter(family, table, protocol, outputIndex);
    }

    public RouteFilter dev(int outputIndex) {
        return new RouteFilter(family, table, protocol, outputIndex);
    }

    boolean matches(Route route) {
        return (family == null || route.family() == family)
                && (table == 0 || route.table() == table)
                && (protocol < 0 || route.protocol() == protocol)
                && (outputIndex == 0 || route.outputIndex() == outputIndex);
    }
}
