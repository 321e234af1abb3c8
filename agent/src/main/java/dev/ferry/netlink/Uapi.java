package dev.ferry.netlink;

/**
 * The kernel constants this package uses, under their C names so that each one
 * can be checked against linux/netlink.h, rtnetlink.h, if_link.h, if_addr.h,
 * neighbour.h, veth.h and ip.h with a grep.
 */
final class Uapi {
    private Uapi() {}

    // linux/netlink.h
    static final int NETLINK_ROUTE = 0;
    static final int SOL_NETLINK = 270;
    static final int NETLINK_ADD_MEMBERSHIP = 1;
    static final int NETLINK_CAP_ACK = 10;
    static final int NETLINK_EXT_ACK = 11;

    static final int NLMSG_HDRLEN = 16;
    static final int NLMSG_NOOP = 1;
    static final int NLMSG_ERROR = 2;
    static final int NLMSG_DONE = 3;
    static final int NLMSG_OVERRUN = 4;

    static final int NLM_F_REQUEST = 0x01;
    static final int NLM_F_MULTI = 0x02;
    static final int NLM_F_ACK = 0x04;
    static final int NLM_F_DUMP_INTR = 0x10;
    static final int NLM_F_DUMP = 0x300;
    static final int NLM_F_REPLACE = 0x100;
    static final int NLM_F_EXCL = 0x200;
    static final int NLM_F_CREATE = 0x400;
    static final int NLM_F_CAPPED = 0x100;
    static final int NLM_F_ACK_TLVS = 0x200;

    static final int NLMSGERR_ATTR_MSG = 1;
    static final int NLA_TYPE_MASK = 0x3fff;
    static final int NLA_F_NESTED = 0x8000;

    // linux/socket.h
    static final int AF_UNSPEC = 0;
    static final int AF_INET = 2;
    static final int AF_INET6 = 10;

    // linux/rtnetlink.h: multicast groups (enum rtnetlink_groups)
    static final int RTNLGRP_NEIGH = 3;

    // linux/rtnetlink.h: message types
    static final int RTM_NEWLINK = 16;
    static final int RTM_DELLINK = 17;
    static final int RTM_GETLINK = 18;
    static final int RTM_NEWADDR = 20;
    static final int RTM_DELADDR = 21;
    static final int RTM_GETADDR = 22;
    static final int RTM_NEWROUTE = 24;
    static final int RTM_DELROUTE = 25;
    static final int RTM_GETROUTE = 26;
    static final int RTM_NEWNEIGH = 28;
    static final int RTM_DELNEIGH = 29;
    static final int RTM_GETNEIGH = 30;
    static final int RTM_NEWRULE = 32;
    static final int RTM_DELRULE = 33;
    static final int RTM_GETRULE = 34;
    /** struct fib_rule_hdr, and what egress routes' rules use of it (linux/fib_rules.h). */
    static final int FIB_RULE_HDR_LEN = 12;
    static final int FR_ACT_TO_TBL = 1;
    static final int FRA_PRIORITY = 6;
    static final int FRA_FWMARK = 10;
    static final int FRA_TABLE = 15;
    static final int FRA_FWMASK = 16;
    static final int FRA_PROTOCOL = 21;

    // linux/if_link.h
    static final int IFLA_ADDRESS = 1;
    static final int IFLA_IFNAME = 3;
    static final int IFLA_MTU = 4;
    static final int IFLA_LINKINFO = 18;
    static final int IFLA_AF_SPEC = 26;
    static final int IFLA_NET_NS_FD = 28;
    static final int IFLA_EXT_MASK = 29;
    static final int IFLA_INFO_KIND = 1;
    static final int IFLA_INFO_DATA = 2;
    static final int RTEXT_FILTER_SKIP_STATS = 1 << 3;
    // linux/if_link.h: inside IFLA_AF_SPEC, one nest per family (AF_INET, AF_INET6)
    static final int IFLA_INET_CONF = 1;
    static final int IFLA_INET6_ADDR_GEN_MODE = 8;
    // linux/veth.h
    static final int VETH_INFO_PEER = 1;
    // linux/if.h
    static final int IFF_UP = 0x1;
    static final int IFINFOMSG_LEN = 16;

    // linux/if_addr.h
    static final int IFA_ADDRESS = 1;
    static final int IFA_LOCAL = 2;
    static final int IFA_FLAGS = 8;
    static final int IFA_F_NODAD = 0x02;
    static final int IFADDRMSG_LEN = 8;

    // linux/rtnetlink.h: routes
    static final int RTA_DST = 1;
    static final int RTA_OIF = 4;
    static final int RTA_GATEWAY = 5;
    static final int RTA_PRIORITY = 6;
    static final int RTA_MULTIPATH = 9;
    static final int RTA_TABLE = 15;
    static final int RTN_UNICAST = 1;
    static final int RTNH_F_ONLINK = 4;
    static final int RTM_F_CLONED = 0x200;
    static final int RTMSG_LEN = 12;
    static final int RTNEXTHOP_LEN = 8;

    // linux/neighbour.h
    static final int NDA_DST = 1;
    static final int NDA_LLADDR = 2;
    static final int NTF_USE = 1;
    static final int NTF_PROXY = 1 << 3;
    static final int NDMSG_LEN = 12;

    // asm-generic/errno.h: the answers that mean "no such object" for a delete.
    static final int ESRCH = 3;
    static final int EADDRNOTAVAIL = 99;
}
