/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Asks netfilter's conntrack whether a flow is NATed, or would clash with one.
 * Such flows must stay in the stack: a short-circuited reply would skip the
 * reverse translation (the reply of a kube-proxy Service backend would reach
 * the client from the backend's address instead of the Service's), and only
 * the stack can move a clashing flow's source port aside (ct_reason()).
 */
#ifndef FERRY_CONNTRACK_H
#define FERRY_CONNTRACK_H

#include <linux/netfilter/nf_conntrack_common.h>
#include "common.h"
#include "ipv4.h"
#include "ipv6.h"

/* The TCP header's flags byte and its bits (linux/tcp.h has them only as a bitfield). */
#define TCP_FLAGS_OFF    13
#define TCP_FLAG_SYN_BIT 0x02
#define TCP_FLAG_ACK_BIT 0x10

/* The kernel's struct bpf_ct_opts in its 12-byte form, which every kernel since
 * 6.0 accepts (6.10 grew it to 16 bytes and still takes 12). */
struct bpf_ct_opts___ferry {
	__s32 netns_id;
	__s32 error;
	__u8  l4proto;
	__u8  dir;
	__u8  reserved[2];
};
#define BPF_CT_OPTS_SZ 12

/* Only the field Ferry reads; CO-RE relocates it against the running kernel's struct nf_conn. */
struct nf_conn___ferry {
	unsigned long status;
} __attribute__((preserve_access_index));

extern struct nf_conn___ferry *bpf_skb_ct_lookup(struct __sk_buff *skb, struct bpf_sock_tuple *tuple,
						 __u32 tuple_len, struct bpf_ct_opts___ferry *opts,
						 __u32 opts_len) __ksym;
extern void bpf_ct_release(struct nf_conn___ferry *ct) __ksym;

/* Whether conntrack holds tuple in either direction of an entry; *status gets the entry's status bits. */
static __always_inline bool ct_lookup(struct __sk_buff *ctx, struct bpf_sock_tuple *tuple, __u32 tuple_len,
				      __u8 proto, unsigned long *status)
{
	struct bpf_ct_opts___ferry opts = { .netns_id = BPF_F_CURRENT_NETNS, .l4proto = proto };
	struct nf_conn___ferry *ct;

	/* The tuple's length names its family: sizeof(tuple->ipv4) or sizeof(tuple->ipv6). */
	ct = bpf_skb_ct_lookup(ctx, tuple, tuple_len, &opts, BPF_CT_OPTS_SZ);
	if (!ct)
		return false;
	*status = ct->status;
	bpf_ct_release(ct);
	return true;
}

/* A TCP segment that opens a connection: SYN without ACK. Pulls the TCP header,
 * which starts l3_len bytes after the Ethernet header (a constant at each call
 * site; flow holds copies, no packet pointer is live); one that is cut short
 * opens nothing. */
static __always_inline bool tcp_opens(struct __sk_buff *ctx, __u32 l3_len)
{
	__u8 *flags;
	void *head;

	if (!ctx_pull(ctx, ETH_HLEN + l3_len, TCP_FLAGS_OFF + 1, &head))
		return false;
	flags = head + ETH_HLEN + l3_len + TCP_FLAGS_OFF;
	return (*flags & (TCP_FLAG_SYN_BIT | TCP_FLAG_ACK_BIT)) == TCP_FLAG_SYN_BIT;
}

/*
 * What conntrack says about a flow the programs would short-circuit:
 *
 *   FERRY_REASON_NAT_FLOW   the flow is an entry conntrack NATs: the stack
 *                           translates it (a Service reply, or a flow whose
 *                           port the stack moved aside, below)
 *   FERRY_REASON_NAT_CLASH  the flow is unknown to conntrack, but its reverse
 *                           tuple is taken: by the reply direction of a NATed
 *                           entry (client:P -> VIP:V DNATed to backend:B has
 *                           the reply backend:B -> client:P), since an entry
 *                           whose reply mirrors its original would have matched
 *                           the forward lookup. A client reusing source port P
 *                           to reach backend:B directly would have the
 *                           backend's replies "un-DNATed" by the stack (they
 *                           match that reply tuple) into VIP:V, and reset.
 *                           Its opening packet goes to the stack instead:
 *                           conntrack makes the entry, and nf_nat's null
 *                           binding finds the reply tuple taken and moves the
 *                           source port aside (get_unique_tuple); from then on
 *                           the flow is NATed, both directions stay in the
 *                           stack, and the old entry keeps its own replies.
 *   FERRY_REASON_FORWARDED  nothing stops the short-circuit
 *
 * The reverse lookup costs a second hash lookup, so only packets that may open
 * a flow pay it: a TCP SYN without ACK, and every UDP datagram (UDP has no
 * opening packet; a flow Ferry short-circuits is never in conntrack, so its
 * datagrams all miss the forward lookup). A forward hit costs no more than
 * before. Conntrack tracks TCP and UDP only here; ICMP between pods is never a
 * Service flow.
 */
static __always_inline __u16 ct_reason(struct __sk_buff *ctx, const struct ipv4_flow *flow)
{
	struct bpf_sock_tuple tuple = {};
	unsigned long status;

	if (flow->proto != IPPROTO_TCP && flow->proto != IPPROTO_UDP)
		return FERRY_REASON_FORWARDED;
	tuple.ipv4.saddr = flow->saddr;
	tuple.ipv4.daddr = flow->daddr;
	tuple.ipv4.sport = flow->sport;
	tuple.ipv4.dport = flow->dport;
	if (ct_lookup(ctx, &tuple, sizeof(tuple.ipv4), flow->proto, &status))
		return status & IPS_NAT_MASK ? FERRY_REASON_NAT_FLOW : FERRY_REASON_FORWARDED;
	if (flow->proto == IPPROTO_TCP && !tcp_opens(ctx, sizeof(struct iphdr)))
		return FERRY_REASON_FORWARDED;
	tuple.ipv4.saddr = flow->daddr;
	tuple.ipv4.daddr = flow->saddr;
	tuple.ipv4.sport = flow->dport;
	tuple.ipv4.dport = flow->sport;
	if (ct_lookup(ctx, &tuple, sizeof(tuple.ipv4), flow->proto, &status))
		return FERRY_REASON_NAT_CLASH;
	return FERRY_REASON_FORWARDED;
}

/* ct_reason() for IPv6: the same two lookups with IPv6 tuples (an ip6 nat DNAT, a
 * kube-proxy IPv6 Service). ICMPv6 is not tracked here, as ICMP is not. */
static __always_inline __u16 ct_reason_ipv6(struct __sk_buff *ctx, const struct ipv6_flow *flow)
{
	struct bpf_sock_tuple tuple = {};
	unsigned long status;

	if (flow->proto != IPPROTO_TCP && flow->proto != IPPROTO_UDP)
		return FERRY_REASON_FORWARDED;
	__builtin_memcpy(tuple.ipv6.saddr, &flow->saddr, sizeof(tuple.ipv6.saddr));
	__builtin_memcpy(tuple.ipv6.daddr, &flow->daddr, sizeof(tuple.ipv6.daddr));
	tuple.ipv6.sport = flow->sport;
	tuple.ipv6.dport = flow->dport;
	if (ct_lookup(ctx, &tuple, sizeof(tuple.ipv6), flow->proto, &status))
		return status & IPS_NAT_MASK ? FERRY_REASON_NAT_FLOW : FERRY_REASON_FORWARDED;
	/* Plain headers only reach here (ipv6_parse): TCP follows the fixed header. */
	if (flow->proto == IPPROTO_TCP && !tcp_opens(ctx, IPV6_HLEN))
		return FERRY_REASON_FORWARDED;
	__builtin_memcpy(tuple.ipv6.saddr, &flow->daddr, sizeof(tuple.ipv6.saddr));
	__builtin_memcpy(tuple.ipv6.daddr, &flow->saddr, sizeof(tuple.ipv6.daddr));
	tuple.ipv6.sport = flow->dport;
	tuple.ipv6.dport = flow->sport;
	if (ct_lookup(ctx, &tuple, sizeof(tuple.ipv6), flow->proto, &status))
		return FERRY_REASON_NAT_CLASH;
	return FERRY_REASON_FORWARDED;
}

#endif /* FERRY_CONNTRACK_H */
