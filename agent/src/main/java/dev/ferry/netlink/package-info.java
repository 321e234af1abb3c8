/**
 * rtnetlink for Ferry's CNI: veth pairs, addresses, routes and neighbours of a
 * network namespace, through {@link dev.ferry.netlink.RtNetlink}, and that
 * namespace's {@code net.*} sysctls through {@link dev.ferry.netlink.Sysctl}.
 * Requests are built by the {@code *Messages} classes with
 * {@code MessageBuilder} and exchanged by {@code NetlinkSocket}; nothing here
 * execs ip.
 */
package dev.ferry.netlink;
