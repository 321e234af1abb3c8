/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Into a pod of this node: straight to the pod's side of its veth with bpf_redirect_peer. */
#ifndef FERRY_LOCAL_H
#define FERRY_LOCAL_H

#include "common.h"
#include "ipv4.h"
#include "ipv6.h"
#include "forward.h"

/* Either family's last step, once the packet may go and is rewritten for the pod. */
static __always_inline struct decision into_peer(struct endpoint_value *ep)
{
	struct decision d;

	if (bpf_redirect_peer(ep->info.ifindex, 0) != TC_ACT_REDIRECT)
		return drop(FERRY_REASON_REDIRECT_FAILED);
	d = redirected(FERRY_VERDICT_REDIRECT_PEER);
	d.dst = ep;
	return d;
}

static __always_inline struct decision ipv4_redirect_peer(struct __sk_buff *ctx, const struct ipv4_flow *flow,
							  struct endpoint_value *ep, bool from_pod)
{
	const struct endpoint_info *info = &ep->info;
	__u16 reason;

	if (info->flags & FERRY_ENDPOINT_F_STACK_ONLY)
		return pass(FERRY_REASON_STACK_ONLY);
	reason = ipv4_forwardable(ctx, flow, from_pod);
	if (reason != FERRY_REASON_FORWARDED)
		return pass(reason);
	/* The pod sees a router hop: its gateway's MAC as source, one less TTL. */
	if (ipv4_l2_l3_rewrite(ctx, info->pod_mac, info->host_mac) < 0)
		return pass(FERRY_REASON_TRUNCATED);
	return into_peer(ep);
}

static __always_inline struct decision ipv6_redirect_peer(struct __sk_buff *ctx, const struct ipv6_flow *flow,
							  struct endpoint_value *ep, bool from_pod)
{
	const struct endpoint_info *info = &ep->info;
	__u16 reason;

	if (info->flags & FERRY_ENDPOINT_F_STACK_ONLY)
		return pass(FERRY_REASON_STACK_ONLY);
	reason = ipv6_forwardable(ctx, flow, from_pod);
	if (reason != FERRY_REASON_FORWARDED)
		return pass(reason);
	/* As for IPv4: the gateway's MAC (the pod's permanent neighbour for fe80::1) as source, one less hop. */
	if (ipv6_l2_l3_rewrite(ctx, info->pod_mac, info->host_mac) < 0)
		return pass(FERRY_REASON_TRUNCATED);
	return into_peer(ep);
}

#endif /* FERRY_LOCAL_H */
