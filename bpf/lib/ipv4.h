/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* IPv4 parsing into a flow, and the TTL decrement every forwarding hop owes. */
#ifndef FERRY_IPV4_H
#define FERRY_IPV4_H

#include "common.h"

/* What the decisions need from the headers, read once; packet pointers do not outlive a pull. */
struct ipv4_flow {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;     /* TCP/UDP only, else 0 */
	__be16 dport;
	__u8   proto;
	__u8   ttl;
	__u8   tos;
	__u8   has_addrs; /* saddr and daddr were read: the header is there and is IPv4 */
};

/*
 * Fills flow from the IPv4 header after the Ethernet header. Returns
 * FERRY_REASON_FORWARDED when nothing in the headers stops a redirect, else the
 * reason to leave the packet to the stack.
 */
static __always_inline __u16 ipv4_parse(struct __sk_buff *ctx, struct ipv4_flow *flow)
{
	struct iphdr *ip;
	__be16 *ports;
	void *head;

	if (!ctx_pull(ctx, ETH_HLEN, sizeof(*ip), &head))
		return FERRY_REASON_TRUNCATED;
	ip = head + ETH_HLEN;
	if (ip->version != 4 || ip->ihl < 5)
		return FERRY_REASON_MALFORMED;
	flow->saddr = ip->saddr;
	flow->daddr = ip->daddr;
	flow->proto = ip->protocol;
	flow->ttl = ip->ttl;
	flow->tos = ip->tos;
	flow->has_addrs = 1;
	if (ip->ihl != 5)
		return FERRY_REASON_IP_OPTIONS;
	if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return FERRY_REASON_FRAGMENT;
	if (flow->proto != IPPROTO_TCP && flow->proto != IPPROTO_UDP)
		return FERRY_REASON_FORWARDED;

	/* Options were refused above, so the L4 header sits at a constant offset. */
	if (!ctx_pull(ctx, ETH_HLEN + sizeof(struct iphdr), 2 * sizeof(__be16), &head))
		return FERRY_REASON_TRUNCATED;
	ports = head + ETH_HLEN + sizeof(struct iphdr);
	flow->sport = ports[0];
	flow->dport = ports[1];
	return FERRY_REASON_FORWARDED;
}

/* RFC 1624 incremental update, as the kernel's ip_decrease_ttl: TTL is the high
 * byte of its 16-bit word, so the checksum moves by 0x0100 in network order. */
static __always_inline void ipv4_dec_ttl(struct iphdr *ip)
{
	__u32 check = (__u32)ip->check;

	check += (__u32)bpf_htons(0x0100);
	ip->check = (__sum16)(check + (check >= 0xFFFF));
	ip->ttl--;
}

/* Rewrites the Ethernet addresses (when given) and decrements the TTL. */
static __always_inline int ipv4_l2_l3_rewrite(struct __sk_buff *ctx, const __u8 *dmac, const __u8 *smac)
{
	struct ethhdr *eth;
	void *head;

	if (!ctx_pull(ctx, 0, ETH_HLEN + sizeof(struct iphdr), &head))
		return -1;
	eth = head;
	if (dmac && smac) {
		__builtin_memcpy(eth->h_dest, dmac, ETH_ALEN);
		__builtin_memcpy(eth->h_source, smac, ETH_ALEN);
	}
	ipv4_dec_ttl(head + ETH_HLEN);
	return 0;
}

#endif /* FERRY_IPV4_H */
