/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Egress routes: traffic of chosen pods to chosen destinations outside the
 * cluster leaves through a chosen next hop (a firewall, a second ISP, a VPN
 * router) instead of the node's default route. The agent writes the tables
 * (dev.ferry.egress): which pods (the endpoint's egress_route word), which
 * destinations (ferry_egress_routes), which next hops are live and which flow
 * takes which (ferry_egress_nexthops); the kernel resolves the neighbour
 * (bpf_redirect_neigh with the next hop given).
 */
#ifndef FERRY_EGRESS_H
#define FERRY_EGRESS_H

#include "common.h"
#include "ipv4.h"
#include "forward.h"

/* The family word and the table word are part of every prefix. */
#define EGRESS_KEY_BITS 64

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct egress_dest_key);
	__type(value, struct egress_dest_value);
	__uint(max_entries, FERRY_EGRESS_DESTS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);   /* LPM tries require it */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_egress_routes SEC(".maps");

/* An array: the lookup is inlined and every route id has its slot. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct egress_route_value);
	__uint(max_entries, FERRY_EGRESS_ROUTES_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_egress_nexthops SEC(".maps");

/* Per CPU, by route * (FERRY_EGRESS_NEXTHOPS + 1) + next hop index; the last
 * slot of a route counts its fallbacks. Summed by the agent at scrape time. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct metrics_value);
	__uint(max_entries, FERRY_EGRESS_COUNTERS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_egress_counters SEC(".maps");

static __always_inline void egress_count(__u32 route, __u32 slot, __u32 bytes)
{
	__u32 index = route * (FERRY_EGRESS_NEXTHOPS + 1) + slot;
	struct metrics_value *v = bpf_map_lookup_elem(&ferry_egress_counters, &index);

	if (v) {
		v->packets += 1;
		v->bytes += bytes;
	}
}

/*
 * The flow's hash, from its addresses, ports and protocol only. Not
 * bpf_get_hash_recalc(): a pod's packets arrive with skb->hash already set from
 * its socket's sk_txhash, which is random per socket (a new connection from a
 * reused source port, or a retransmission timeout, which draws it again:
 * sk_rethink_txhash) and so moves a 4-tuple to another next hop (EgressRoutingTest
 * saw 12 of 1000 source ports in the conntrack tables of both routers).
 * The mixing is murmur3's finalizer: every input bit moves every output bit.
 */
static __always_inline __u32 egress_flow_hash(const struct ipv4_flow *flow)
{
	__u32 h = flow->saddr;

	h = h * 0xcc9e2d51 ^ flow->daddr;
	h = h * 0x1b873593 ^ (((__u32)flow->sport << 16) | flow->dport);
	h = h * 0xcc9e2d51 ^ flow->proto;
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

static __always_inline struct decision egress_fallback(const struct egress_route_value *r, __u32 route, __u32 bytes)
{
	egress_count(route, FERRY_EGRESS_FALLBACK_SLOT, bytes);
	return r->flags & FERRY_EGRESS_F_FALLBACK_DROP ? drop(FERRY_REASON_EGRESS_FALLBACK)
						       : pass(FERRY_REASON_EGRESS_FALLBACK);
}

/*
 * A packet of a local pod to outside the cluster CIDRs: its egress route's next
 * hop, or pass(FERRY_REASON_OUTSIDE_CLUSTER) as without egress routes when the
 * pod has none for this destination.
 */
static __always_inline struct decision ipv4_egress(struct __sk_buff *ctx, const struct ipv4_flow *flow,
						   const struct endpoint_value *src)
{
	struct egress_dest_key key = {
		.prefixlen = EGRESS_KEY_BITS + 32,
		.table = src->info.egress_route,
		.family = FERRY_FAMILY_IPV4,
		.addr = { flow->daddr },
	};
	struct bpf_redir_neigh nh = { .nh_family = FERRY_AF_INET };
	struct egress_dest_value *dest;
	struct egress_route_value *r;
	__u32 bytes = ctx->len;
	__u32 route, index;
	__u16 reason;

	if (!key.table)
		return pass(FERRY_REASON_OUTSIDE_CLUSTER);
	dest = bpf_map_lookup_elem(&ferry_egress_routes, &key);
	if (!dest)
		return pass(FERRY_REASON_OUTSIDE_CLUSTER);
	route = dest->route;
	r = bpf_map_lookup_elem(&ferry_egress_nexthops, &route);
	if (!r || route >= FERRY_EGRESS_ROUTES_MAX)
		return pass(FERRY_REASON_OUTSIDE_CLUSTER);
	if (r->live == 0)
		return egress_fallback(r, route, bytes);
	/* One flow, one hash, one slot: every packet of a flow takes the same next hop. */
	index = r->slots[egress_flow_hash(flow) & (FERRY_EGRESS_SLOTS - 1)];
	if (index >= FERRY_EGRESS_NEXTHOPS)
		return egress_fallback(r, route, bytes);
	/* Every packet of the flow, NATed or not: the mark is what routes it, by Ferry's
	 * rule for this route and next hop, to the same next hop as without masquerade. */
	if (r->flags & FERRY_EGRESS_F_MASQUERADE) {
		ctx->mark = r->mark | index;
		egress_count(route, index, bytes);
		return pass(FERRY_REASON_EGRESS_MASQUERADE);
	}
	/* Not entered into conntrack (ct_track()): the flow may fall back to the stack
	 * (its next hops down, its route gone), which must masquerade it, and conntrack
	 * never NATs a 4-tuple it already holds an entry for. */
	reason = ipv4_forwardable(ctx, flow, false);
	if (reason != FERRY_REASON_FORWARDED)
		return pass(reason);

	nh.ipv4_nh = r->nexthops[index].addr[0];
	if (ipv4_l2_l3_rewrite(ctx, NULL, NULL) < 0)
		return pass(FERRY_REASON_TRUNCATED);
	if (bpf_redirect_neigh(r->nexthops[index].ifindex, &nh, sizeof(nh), 0) != TC_ACT_REDIRECT)
		return drop(FERRY_REASON_REDIRECT_FAILED);
	egress_count(route, index, bytes);
	return (struct decision){ .action = TC_ACT_REDIRECT, .verdict = FERRY_VERDICT_REDIRECT_NEIGH,
				  .reason = FERRY_REASON_EGRESS_ROUTE };
}

#endif /* FERRY_EGRESS_H */
