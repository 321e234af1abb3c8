/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The checks every short-circuit owes the stack before it touches a packet. */
#ifndef FERRY_FORWARD_H
#define FERRY_FORWARD_H

#include "common.h"
#include "ipv4.h"
#include "ipv6.h"
#include "conntrack.h"

static __always_inline __u16 ipv4_forwardable(struct __sk_buff *ctx, const struct ipv4_flow *flow)
{
	if (flow->ttl <= 1)
		return FERRY_REASON_TTL_EXPIRED;
	return ct_reason(ctx, flow);
}

/* The hop limit is IPv6's TTL: at 1 the stack answers with ICMPv6 time exceeded. */
static __always_inline __u16 ipv6_forwardable(struct __sk_buff *ctx, const struct ipv6_flow *flow)
{
	if (flow->hop_limit <= 1)
		return FERRY_REASON_TTL_EXPIRED;
	return ct_reason_ipv6(ctx, flow);
}

#endif /* FERRY_FORWARD_H */
