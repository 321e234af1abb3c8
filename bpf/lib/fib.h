/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Towards other nodes: the kernel's FIB picks device and next hop, bpf_redirect_neigh
 * resolves the neighbour and fills in the Ethernet header. */
#ifndef FERRY_FIB_H
#define FERRY_FIB_H

#include "common.h"
#include "ipv4.h"
#include "ipv6.h"
#include "forward.h"

static __always_inline struct decision ipv4_redirect_neigh(struct __sk_buff *ctx, const struct ipv4_flow *flow)
{
	/* No tot_len: pod veths hand over GSO packets far above the MTU; left at 0 the
	 * kernel checks the skb itself against the egress MTU, which knows about GSO. */
	struct bpf_fib_lookup params = {
		.family = FERRY_AF_INET,
		.tos = flow->tos,
		.l4_protocol = flow->proto,
		.ipv4_src = flow->saddr,
		.ipv4_dst = flow->daddr,
		.ifindex = ctx->ingress_ifindex,
	};
	struct bpf_redir_neigh nh = { .nh_family = FERRY_AF_INET };
	__u16 reason = ipv4_forwardable(ctx, flow, true);   /* only from_pod sends across */
	long rc;

	if (reason != FERRY_REASON_FORWARDED)
		return pass(reason);
	rc = bpf_fib_lookup(ctx, &params, sizeof(params), 0);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return pass(FERRY_REASON_FRAG_NEEDED);
	/* NO_NEIGH still names device and next hop: resolving the neighbour is redirect_neigh's job. */
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return pass(FERRY_REASON_FIB_MISS);
	if (params.ifindex == ctx->ingress_ifindex)
		return pass(FERRY_REASON_FIB_MISS);

	/* With a gateway on the route the FIB wrote it into ipv4_dst. */
	nh.ipv4_nh = params.ipv4_dst;
	if (ipv4_l2_l3_rewrite(ctx, NULL, NULL) < 0)
		return pass(FERRY_REASON_TRUNCATED);
	if (bpf_redirect_neigh(params.ifindex, &nh, sizeof(nh), 0) != TC_ACT_REDIRECT)
		return drop(FERRY_REASON_REDIRECT_FAILED);
	return redirected(FERRY_VERDICT_REDIRECT_NEIGH);
}

/*
 * The IPv6 twin of ipv4_redirect_neigh. The kernel's IPv6 FIB lookup asks the
 * ingress device's forwarding (net.ipv6.conf.<dev>.forwarding, FWD_DISABLED ->
 * fib_miss); a packet above the egress MTU comes back FRAG_NEEDED, and the stack
 * answers it with ICMPv6 Packet Too Big (IPv6 routers never fragment).
 */
static __always_inline struct decision ipv6_redirect_neigh(struct __sk_buff *ctx, const struct ipv6_flow *flow)
{
	/* No tot_len, as for IPv4: the kernel checks the skb (GSO included) against the egress MTU. */
	struct bpf_fib_lookup params = {
		.family = FERRY_AF_INET6,
		.flowinfo = flow->flowinfo,
		.l4_protocol = flow->proto,
		.ifindex = ctx->ingress_ifindex,
	};
	struct bpf_redir_neigh nh = { .nh_family = FERRY_AF_INET6 };
	__u16 reason = ipv6_forwardable(ctx, flow, true);   /* only from_pod sends across */
	long rc;

	if (reason != FERRY_REASON_FORWARDED)
		return pass(reason);
	__builtin_memcpy(params.ipv6_src, &flow->saddr, sizeof(params.ipv6_src));
	__builtin_memcpy(params.ipv6_dst, &flow->daddr, sizeof(params.ipv6_dst));
	rc = bpf_fib_lookup(ctx, &params, sizeof(params), 0);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return pass(FERRY_REASON_FRAG_NEEDED);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return pass(FERRY_REASON_FIB_MISS);
	if (params.ifindex == ctx->ingress_ifindex)
		return pass(FERRY_REASON_FIB_MISS);

	/* With a gateway on the route the FIB wrote it into ipv6_dst. */
	__builtin_memcpy(nh.ipv6_nh, params.ipv6_dst, sizeof(nh.ipv6_nh));
	if (ipv6_l2_l3_rewrite(ctx, NULL, NULL) < 0)
		return pass(FERRY_REASON_TRUNCATED);
	if (bpf_redirect_neigh(params.ifindex, &nh, sizeof(nh), 0) != TC_ACT_REDIRECT)
		return drop(FERRY_REASON_REDIRECT_FAILED);
	return redirected(FERRY_VERDICT_REDIRECT_NEIGH);
}

#endif /* FERRY_FIB_H */
