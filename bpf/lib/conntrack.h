/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Asks netfilter's conntrack whether a flow is NATed. Such flows must stay in the
 * stack: a short-circuited reply would skip the reverse translation (the reply
 * of a kube-proxy Service backend would reach the client from the backend's
 * address instead of the Service's).
 */
#ifndef FERRY_CONNTRACK_H
#define FERRY_CONNTRACK_H

#include <linux/netfilter/nf_conntrack_common.h>
#include "common.h"
#include "ipv4.h"

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

static __always_inline bool ct_is_nated(struct __sk_buff *ctx, const struct ipv4_flow *flow)
{
	struct bpf_ct_opts___ferry opts = { .netns_id = BPF_F_CURRENT_NETNS, .l4proto = flow->proto };
	struct bpf_sock_tuple tuple = {};
	struct nf_conn___ferry *ct;
	bool nated;

	/* The kfunc tracks TCP and UDP only; ICMP between pods is never a Service flow. */
	if (flow->proto != IPPROTO_TCP && flow->proto != IPPROTO_UDP)
		return false;
	tuple.ipv4.saddr = flow->saddr;
	tuple.ipv4.daddr = flow->daddr;
	tuple.ipv4.sport = flow->sport;
	tuple.ipv4.dport = flow->dport;
	ct = bpf_skb_ct_lookup(ctx, &tuple, sizeof(tuple.ipv4), &opts, BPF_CT_OPTS_SZ);
	if (!ct)
		return false;
	nated = ct->status & IPS_NAT_MASK;
	bpf_ct_release(ct);
	return nated;
}

#endif /* FERRY_CONNTRACK_H */
