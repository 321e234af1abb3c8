/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The checks every short-circuit owes the stack before it touches a packet. */
#ifndef FERRY_FORWARD_H
#define FERRY_FORWARD_H

#include "common.h"
#include "ipv4.h"
#include "ipv6.h"
#include "conntrack.h"

/* track: the packet left a pod (from_pod), whose flows conntrack is told of (ct_reason()). */
static __always_inline __u16 ipv4_forwardable(struct __sk_buff *ctx, const struct ipv4_flow *flow, bool track)
{
	if (flow->ttl <= 1)
		return FERRY_REASON_TTL_EXPIRED;
	return ct_reason(ctx, flow, track);
}

/* The hop limit is IPv6's TTL: at 1 the stack answers with ICMPv6 time exceeded. */
static __always_inline __u16 ipv6_forwardable(struct __sk_buff *ctx, const struct ipv6_flow *flow, bool track)
{
	if (flow->hop_limit <= 1)
		return FERRY_REASON_TTL_EXPIRED;
	return ct_reason_ipv6(ctx, flow, track);
}

#endif /* FERRY_FORWARD_H */
