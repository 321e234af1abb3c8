/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Asks netfilter's conntrack whether a flow is NATed, or would clash with one.
 * Such flows must stay in the stack: a short-circuited reply would skip the
 * reverse translation (the reply of a kube-proxy Service backend would reach
 * the client from the backend's address instead of the Service's), and only
 * the stack can move a clashing flow's source port aside (ct_reason()).
 *
 * And tells conntrack of the flows Ferry short-circuits out of pods, which it
 * would otherwise never see (ct_track()): nf_nat moves a new flow's source port
 * aside only when it finds the tuple taken, so a Service flow opened from the
 * source port of a live direct flow to the same backend would be DNATed onto
 * that flow's very tuple, and the backend would take its SYN for the open
 * connection's.
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

/* The kernel's own name, and shape, for an entry allocated and not yet inserted.
 * Defined, not only declared: libbpf matches a kfunc's struct arguments by kind. */
struct nf_conn___init {
	struct nf_conn___ferry ct;
};

extern struct nf_conn___ferry *bpf_skb_ct_lookup(struct __sk_buff *skb, struct bpf_sock_tuple *tuple,
						 __u32 tuple_len, struct bpf_ct_opts___ferry *opts,
						 __u32 opts_len) __ksym;
extern struct nf_conn___init *bpf_skb_ct_alloc(struct __sk_buff *skb, struct bpf_sock_tuple *tuple,
					       __u32 tuple_len, struct bpf_ct_opts___ferry *opts,
					       __u32 opts_len) __ksym;
extern struct nf_conn___ferry *bpf_ct_insert_entry(struct nf_conn___init *ct) __ksym;
extern void bpf_ct_set_timeout(struct nf_conn___init *ct, __u32 timeout_ms) __ksym;
extern void bpf_ct_release(struct nf_conn___ferry *ct) __ksym;

/*
 * How long an entry of a short-circuited flow lives: as long as conntrack keeps
 * a closed TCP connection (TIME_WAIT) and a UDP stream. Conntrack never sees
 * these flows' packets, so it can neither follow their state nor extend the
 * entry; the entry only has to hold the tuple while the flow may still send.
 * Once it expires, the flow's next packet misses and enters a new one, so a
 * live flow goes without an entry for the gap between two of its packets, once
 * every two minutes. Not renewed on every packet: that would write to the entry
 * shared by both directions' CPUs on every packet, and reading the expiry needs
 * the kernel's HZ, which a container often cannot learn (no /proc/config.gz).
 */
#define FERRY_CT_TIMEOUT_MS 120000

/* Enters a short-circuited flow into conntrack, as its first packet would have
 * been by the stack. Fails quietly where either direction's tuple is taken (a
 * racing insert, or a NATed entry: then the flow is the stack's anyway) or the
 * table is full (then conntrack would have refused the stack's entry too). */
static __always_inline void ct_track(struct __sk_buff *ctx, struct bpf_sock_tuple *tuple, __u32 tuple_len,
				     __u8 proto)
{
	struct bpf_ct_opts___ferry opts = { .netns_id = BPF_F_CURRENT_NETNS, .l4proto = proto };
	struct nf_conn___init *init;
	struct nf_conn___ferry *ct;

	init = bpf_skb_ct_alloc(ctx, tuple, tuple_len, &opts, BPF_CT_OPTS_SZ);
	if (!init)
		return;
	bpf_ct_set_timeout(init, FERRY_CT_TIMEOUT_MS);
	ct = bpf_ct_insert_entry(init);
	if (ct)
		bpf_ct_release(ct);
}

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
 * With track (a flow out of a pod), a flow conntrack does not know and that
 * clashes with nothing is entered (ct_track()). Only from_pod tracks: a
 * Service's DNAT happens on the client's node, whose conntrack must know the
 * client's flows.
 *
 * The reverse lookup costs a second hash lookup, so only packets that may open
 * a flow pay it: a TCP SYN without ACK, and a UDP datagram conntrack does not
 * know (UDP has no opening packet). Once a flow has its entry, its packets pay
 * the forward lookup only. Conntrack tracks TCP and UDP only here; ICMP between
 * pods is never a Service flow.
 *
 * fwd is the packet's tuple and rev its reverse, of either family (tuple_len
 * names it); l3_len is where the TCP header starts after the Ethernet header.
 */
static __always_inline __u16 ct_decide(struct __sk_buff *ctx, struct bpf_sock_tuple *fwd,
				       struct bpf_sock_tuple *rev, __u32 tuple_len, __u8 proto,
				       __u32 l3_len, bool track)
{
	unsigned long status;

	if (ct_lookup(ctx, fwd, tuple_len, proto, &status))
		return status & IPS_NAT_MASK ? FERRY_REASON_NAT_FLOW : FERRY_REASON_FORWARDED;
	/* Mid-flow TCP (its entry expired, or the flow predates the agent): no port to
	 * move aside any more; the insert itself refuses a tuple a NATed entry holds. */
	if (proto == IPPROTO_TCP && !tcp_opens(ctx, l3_len)) {
		if (track)
			ct_track(ctx, fwd, tuple_len, proto);
		return FERRY_REASON_FORWARDED;
	}
	if (ct_lookup(ctx, rev, tuple_len, proto, &status))
		return FERRY_REASON_NAT_CLASH;
	if (track)
		ct_track(ctx, fwd, tuple_len, proto);
	return FERRY_REASON_FORWARDED;
}

static __always_inline __u16 ct_reason(struct __sk_buff *ctx, const struct ipv4_flow *flow, bool track)
{
	struct bpf_sock_tuple fwd = {}, rev = {};

	if (flow->proto != IPPROTO_TCP && flow->proto != IPPROTO_UDP)
		return FERRY_REASON_FORWARDED;
	fwd.ipv4.saddr = rev.ipv4.daddr = flow->saddr;
	fwd.ipv4.daddr = rev.ipv4.saddr = flow->daddr;
	fwd.ipv4.sport = rev.ipv4.dport = flow->sport;
	fwd.ipv4.dport = rev.ipv4.sport = flow->dport;
	return ct_decide(ctx, &fwd, &rev, sizeof(fwd.ipv4), flow->proto, sizeof(struct iphdr), track);
}

/* ct_reason() for IPv6 tuples (an ip6 nat DNAT, a kube-proxy IPv6 Service).
 * Plain headers only reach here (ipv6_parse): TCP follows the fixed header. */
static __always_inline __u16 ct_reason_ipv6(struct __sk_buff *ctx, const struct ipv6_flow *flow, bool track)
{
	struct bpf_sock_tuple fwd = {}, rev = {};

	if (flow->proto != IPPROTO_TCP && flow->proto != IPPROTO_UDP)
		return FERRY_REASON_FORWARDED;
	__builtin_memcpy(fwd.ipv6.saddr, &flow->saddr, sizeof(fwd.ipv6.saddr));
	__builtin_memcpy(fwd.ipv6.daddr, &flow->daddr, sizeof(fwd.ipv6.daddr));
	__builtin_memcpy(rev.ipv6.saddr, &flow->daddr, sizeof(rev.ipv6.saddr));
	__builtin_memcpy(rev.ipv6.daddr, &flow->saddr, sizeof(rev.ipv6.daddr));
	fwd.ipv6.sport = rev.ipv6.dport = flow->sport;
	fwd.ipv6.dport = rev.ipv6.sport = flow->dport;
	return ct_decide(ctx, &fwd, &rev, sizeof(fwd.ipv6), flow->proto, IPV6_HLEN, track);
}

#endif /* FERRY_CONNTRACK_H */
