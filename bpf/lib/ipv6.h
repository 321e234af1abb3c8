/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IPv6 parsing into a flow, and the hop limit decrement every forwarding hop owes.
 *
 * Only the plain cases are short-circuited: the fixed header followed at once by
 * TCP, UDP or ICMPv6 (and any other upper layer, as IPv4 forwards every protocol).
 * An extension header goes to the stack with its reason: hop-by-hop options must
 * be read by every router, a routing header makes the next hop someone else, a
 * fragment has no ports, and the rest are not parsed here. Neighbour discovery
 * and MLD belong to the link and its router: the stack, counted by their reasons.
 */
#ifndef FERRY_IPV6_H
#define FERRY_IPV6_H

#include <linux/in6.h>
#include <linux/ipv6.h>
#include "common.h"

#define FERRY_AF_INET6 10  /* sys/socket.h is not for BPF targets */

#define IPV6_HLEN sizeof(struct ipv6hdr)

/* Next header values of the extension headers (RFC 8200, IANA); include/net/ipv6.h is not uapi. */
#define NEXTHDR_HOP      0
#define NEXTHDR_ROUTING  43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_AUTH     51
#define NEXTHDR_DEST     60
#define NEXTHDR_MOBILITY 135
#define NEXTHDR_HIP      139
#define NEXTHDR_SHIM6    140
#define NEXTHDR_EXP1     253
#define NEXTHDR_EXP2     254

/* ICMPv6 types the link's control plane uses (RFC 4861, RFC 2710, RFC 3810). */
#define ICMPV6_MLD_QUERY     130
#define ICMPV6_MLD_REPORT    131
#define ICMPV6_MLD_DONE      132
#define ICMPV6_NDP_FIRST     133  /* router solicitation */
#define ICMPV6_NDP_LAST      137  /* redirect; 134-136: router advertisement, neighbour solicitation/advertisement */
#define ICMPV6_MLD2_REPORT   143

/* Traffic class and flow label: the first word of the header without its version. */
#define IPV6_FLOWINFO_MASK 0x0fffffff

/* What the decisions need from the headers, read once; packet pointers do not outlive a pull. */
struct ipv6_flow {
	struct in6_addr saddr;
	struct in6_addr daddr;
	__be32 flowinfo;  /* as bpf_fib_lookup takes it */
	__be16 sport;     /* TCP/UDP only, else 0 */
	__be16 dport;
	__u8   proto;     /* the fixed header's next header */
	__u8   hop_limit;
	__u8   has_addrs; /* saddr and daddr were read: the header is there and is IPv6 */
};

static __always_inline bool ipv6_is_unspecified(const struct in6_addr *a)
{
	return !(a->in6_u.u6_addr32[0] | a->in6_u.u6_addr32[1] | a->in6_u.u6_addr32[2] | a->in6_u.u6_addr32[3]);
}

/* fe80::/10 */
static __always_inline bool ipv6_is_link_local(const struct in6_addr *a)
{
	return (a->in6_u.u6_addr32[0] & bpf_htonl(0xffc00000)) == bpf_htonl(0xfe800000);
}

/* ff00::/8 */
static __always_inline bool ipv6_is_multicast(const struct in6_addr *a)
{
	return a->in6_u.u6_addr8[0] == 0xff;
}

/*
 * The reason of an ICMPv6 message whose header starts at off: neighbour discovery
 * and MLD stay with the stack, every other type is forwarded like any payload.
 */
static __always_inline __u16 icmpv6_reason(struct __sk_buff *ctx, __u32 off)
{
	__u8 type;

	if (bpf_skb_load_bytes(ctx, off, &type, sizeof(type)) < 0)
		return FERRY_REASON_TRUNCATED;
	if (type >= ICMPV6_NDP_FIRST && type <= ICMPV6_NDP_LAST)
		return FERRY_REASON_IPV6_NDP;
	if (type == ICMPV6_MLD_QUERY || type == ICMPV6_MLD_REPORT || type == ICMPV6_MLD_DONE ||
	    type == ICMPV6_MLD2_REPORT)
		return FERRY_REASON_IPV6_MLD;
	return FERRY_REASON_FORWARDED;
}

/*
 * A hop-by-hop options header. MLD always comes behind one (its router alert
 * option, RFC 2711), so an ICMPv6 message right after it is looked at to count
 * MLD (and NDP) as what it is; either way the stack gets the packet.
 */
static __always_inline __u16 hop_by_hop_reason(struct __sk_buff *ctx)
{
	__u8 opt[2]; /* next header, length in 8-octet units not counting the first */
	__u16 reason;

	if (bpf_skb_load_bytes(ctx, ETH_HLEN + IPV6_HLEN, opt, sizeof(opt)) < 0 || opt[0] != IPPROTO_ICMPV6)
		return FERRY_REASON_IPV6_HOP_BY_HOP;
	reason = icmpv6_reason(ctx, ETH_HLEN + IPV6_HLEN + ((__u32)opt[1] + 1) * 8);
	return reason == FERRY_REASON_IPV6_NDP || reason == FERRY_REASON_IPV6_MLD ? reason
										    : FERRY_REASON_IPV6_HOP_BY_HOP;
}

/* The reason an extension header (or ICMPv6 type) leaves the packet to the stack; FORWARDED when none does. */
static __always_inline __u16 next_header_reason(struct __sk_buff *ctx, __u8 nexthdr)
{
	switch (nexthdr) {
	case IPPROTO_ICMPV6:
		return icmpv6_reason(ctx, ETH_HLEN + IPV6_HLEN);
	case NEXTHDR_HOP:
		return hop_by_hop_reason(ctx);
	case NEXTHDR_ROUTING:
		return FERRY_REASON_IPV6_ROUTING;
	case NEXTHDR_FRAGMENT:
		return FERRY_REASON_FRAGMENT;
	case NEXTHDR_AUTH:
	case NEXTHDR_DEST:
	case NEXTHDR_MOBILITY:
	case NEXTHDR_HIP:
	case NEXTHDR_SHIM6:
	case NEXTHDR_EXP1:
	case NEXTHDR_EXP2:
		return FERRY_REASON_IPV6_EXT_HEADER;
	default:
		return FERRY_REASON_FORWARDED;
	}
}

/*
 * Fills flow from the IPv6 header after the Ethernet header. Returns
 * FERRY_REASON_FORWARDED when nothing in the headers stops a redirect, else the
 * reason to leave the packet to the stack.
 */
static __always_inline __u16 ipv6_parse(struct __sk_buff *ctx, struct ipv6_flow *flow)
{
	struct ipv6hdr *ip6;
	__be16 *ports;
	__u16 reason;
	void *head;

	if (!ctx_pull(ctx, ETH_HLEN, IPV6_HLEN, &head))
		return FERRY_REASON_TRUNCATED;
	ip6 = head + ETH_HLEN;
	if (ip6->version != 6)
		return FERRY_REASON_MALFORMED;
	__builtin_memcpy(&flow->saddr, &ip6->saddr, sizeof(flow->saddr));
	__builtin_memcpy(&flow->daddr, &ip6->daddr, sizeof(flow->daddr));
	flow->flowinfo = *(__be32 *)ip6 & bpf_htonl(IPV6_FLOWINFO_MASK);
	flow->proto = ip6->nexthdr;
	flow->hop_limit = ip6->hop_limit;
	flow->has_addrs = 1;
	reason = next_header_reason(ctx, flow->proto);
	if (reason != FERRY_REASON_FORWARDED || (flow->proto != IPPROTO_TCP && flow->proto != IPPROTO_UDP))
		return reason;

	/* Extension headers were refused above, so the L4 header sits at a constant offset. */
	if (!ctx_pull(ctx, ETH_HLEN + IPV6_HLEN, 2 * sizeof(__be16), &head))
		return FERRY_REASON_TRUNCATED;
	ports = head + ETH_HLEN + IPV6_HLEN;
	flow->sport = ports[0];
	flow->dport = ports[1];
	return FERRY_REASON_FORWARDED;
}

/* Rewrites the Ethernet addresses (when given) and decrements the hop limit (IPv6 has no header checksum). */
static __always_inline int ipv6_l2_l3_rewrite(struct __sk_buff *ctx, const __u8 *dmac, const __u8 *smac)
{
	struct ipv6hdr *ip6;
	struct ethhdr *eth;
	void *head;

	if (!ctx_pull(ctx, 0, ETH_HLEN + IPV6_HLEN, &head))
		return -1;
	eth = head;
	if (dmac && smac) {
		__builtin_memcpy(eth->h_dest, dmac, ETH_ALEN);
		__builtin_memcpy(eth->h_source, smac, ETH_ALEN);
	}
	ip6 = head + ETH_HLEN;
	ip6->hop_limit--;
	return 0;
}

#endif /* FERRY_IPV6_H */
