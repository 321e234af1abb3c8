/**
 * rtnetlink for Ferry's CNI: veth pairs, addresses, routes, neighbours and
 * per-device settings (the {@code net.ipv4.conf.DEV.*} sysctls, without
 * /proc) of a network namespace, through {@link dev.ferry.netlink.RtNetlink},
 * whose socket is opened in the namespace it acts in. Requests are built by
 * the {@code *Messages} classes with {@code MessageBuilder} and exchanged by
 * {@code NetlinkSocket}; nothing here execs ip.
 */
package dev.ferry.netlink;
