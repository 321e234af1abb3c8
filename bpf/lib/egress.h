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
#include "ipv6.h"
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

/* murmur3's finalizer: every input bit moves every output bit. */
static __always_inline __u32 egress_mix(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

/*
 * The flow's hash, from its addresses, ports and protocol only. Not
 * bpf_get_hash_recalc(): a pod's packets arrive with skb->hash already set from
 * its socket's sk_txhash, which is random per socket (a new connection from a
 * reused source port, or a retransmission timeout, which draws it again:
 * sk_rethink_txhash) and so moves a 4-tuple to another next hop (EgressRoutingTest
 * saw 12 of 1000 source ports in the conntrack tables of both routers).
 */
static __always_inline __u32 egress_flow_hash(const struct ipv4_flow *flow)
{
	__u32 h = flow->saddr;

	h = h * 0xcc9e2d51 ^ flow->daddr;
	h = h * 0x1b873593 ^ (((__u32)flow->sport << 16) | flow->dport);
	h = h * 0xcc9e2d51 ^ flow->proto;
	return egress_mix(h);
}

/* egress_flow_hash() over IPv6's 4-tuple: every word of both addresses, for the
 * same reason (skb->hash is the socket's, not the flow's). Not the flow label
 * either: Linux draws it from the same sk_txhash. */
static __always_inline __u32 egress_flow_hash6(const struct ipv6_flow *flow)
{
	__u32 h = flow->saddr.in6_u.u6_addr32[0];

	h = h * 0xcc9e2d51 ^ flow->saddr.in6_u.u6_addr32[1];
	h = h * 0x1b873593 ^ flow->saddr.in6_u.u6_addr32[2];
	h = h * 0xcc9e2d51 ^ flow->saddr.in6_u.u6_addr32[3];
	h = h * 0x1b873593 ^ flow->daddr.in6_u.u6_addr32[0];
	h = h * 0xcc9e2d51 ^ flow->daddr.in6_u.u6_addr32[1];
	h = h * 0x1b873593 ^ flow->daddr.in6_u.u6_addr32[2];
	h = h * 0xcc9e2d51 ^ flow->daddr.in6_u.u6_addr32[3];
	h = h * 0x1b873593 ^ (((__u32)flow->sport << 16) | flow->dport);
	h = h * 0xcc9e2d51 ^ flow->proto;
	return egress_mix(h);
}

static __always_inline struct decision egress_fallback(const struct egress_route_value *r, __u32 route, __u32 bytes)
{
	egress_count(route, FERRY_EGRESS_FALLBACK_SLOT, bytes);
	return r->flags & FERRY_EGRESS_F_FALLBACK_DROP ? drop(FERRY_REASON_EGRESS_FALLBACK)
						       : pass(FERRY_REASON_EGRESS_FALLBACK);
}

/* The route of the pod's table that serves key's destination (*route its id), or NULL. */
static __always_inline struct egress_route_value *egress_route_of(struct egress_dest_key *key, __u32 *route)
{
	struct egress_dest_value *dest;
	struct egress_route_value *r;

	if (!key->table)
		return NULL;
	dest = bpf_map_lookup_elem(&ferry_egress_routes, key);
	if (!dest)
		return NULL;
	*route = dest->route;
	r = bpf_map_lookup_elem(&ferry_egress_nexthops, route);
	if (!r || *route >= FERRY_EGRESS_ROUTES_MAX)
		return NULL;
	return r;
}

/*
 * The flow's next hop (an index into r->nexthops), or FERRY_EGRESS_NEXTHOPS for
 * none: one flow, one hash, one bucket, so every packet of a flow takes the same
 * next hop. Each family has its half of the buckets (the agent fills a half with
 * that family's live next hops only, FERRY_EGRESS_SLOTS_PER_FAMILY), and a next
 * hop of the other family is never taken, whatever a bucket says.
 */
static __always_inline __u32 egress_next_hop(const struct egress_route_value *r, __u32 hash, __u8 family)
{
	__u32 slot = hash & (FERRY_EGRESS_SLOTS_PER_FAMILY - 1);
	__u32 index;

	if (family == FERRY_FAMILY_IPV6)
		slot += FERRY_EGRESS_SLOTS_PER_FAMILY;
	if (r->live == 0)
		return FERRY_EGRESS_NEXTHOPS;
	index = r->slots[slot];
	if (index >= FERRY_EGRESS_NEXTHOPS || r->nexthops[index].family != family)
		return FERRY_EGRESS_NEXTHOPS;
	return index;
}

/* Every packet of the flow, NATed or not: the mark is what routes it, by Ferry's
 * rule for this route and next hop, to the same next hop as without masquerade. */
static __always_inline struct decision egress_masquerade(struct __sk_buff *ctx, const struct egress_route_value *r,
							 __u32 route, __u32 index, __u32 bytes)
{
	ctx->mark = r->mark | index;
	egress_count(route, index, bytes);
	return pass(FERRY_REASON_EGRESS_MASQUERADE);
}

/* The packet is rewritten as by a router hop; now to the next hop on its uplink. */
static __always_inline struct decision egress_redirect(const struct egress_route_value *r, __u32 route, __u32 index,
						       struct bpf_redir_neigh *nh, __u32 bytes)
{
	if (bpf_redirect_neigh(r->nexthops[index].ifindex, nh, sizeof(*nh), 0) != TC_ACT_REDIRECT)
		return drop(FERRY_REASON_REDIRECT_FAILED);
	egress_count(route, index, bytes);
	return (struct decision){ .action = TC_ACT_REDIRECT, .verdict = FERRY_VERDICT_REDIRECT_NEIGH,
				  .reason = FERRY_REASON_EGRESS_ROUTE };
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
	struct egress_route_value *r;
	__u32 bytes = ctx->len;
	__u32 route = 0, index;
	__u16 reason;

	r = egress_route_of(&key, &route);
	if (!r)
		return pass(FERRY_REASON_OUTSIDE_CLUSTER);
	index = egress_next_hop(r, egress_flow_hash(flow), FERRY_FAMILY_IPV4);
	if (index >= FERRY_EGRESS_NEXTHOPS)
		return egress_fallback(r, route, bytes);
	if (r->flags & FERRY_EGRESS_F_MASQUERADE)
		return egress_masquerade(ctx, r, route, index, bytes);
	/* Not entered into conntrack (ct_track()): the flow may fall back to the stack
	 * (its next hops down, its route gone), which must masquerade it, and conntrack
	 * never NATs a 4-tuple it already holds an entry for. */
	reason = ipv4_forwardable(ctx, flow, false);
	if (reason != FERRY_REASON_FORWARDED)
		return pass(reason);

	nh.ipv4_nh = r->nexthops[index].addr[0];
	if (ipv4_l2_l3_rewrite(ctx, NULL, NULL) < 0)
		return pass(FERRY_REASON_TRUNCATED);
	return egress_redirect(r, route, index, &nh, bytes);
}

/*
 * ipv4_egress() for IPv6: the same tables (the key's family tells the prefixes
 * apart), the same choice of next hop over the route's IPv6 ones, the hop limit
 * for the TTL. What ipv6_parse() leaves to the stack (extension headers,
 * fragments, NDP, MLD) never gets here.
 */
static __always_inline struct decision ipv6_egress(struct __sk_buff *ctx, const struct ipv6_flow *flow,
						   const struct endpoint_value *src)
{
	struct egress_dest_key key = {
		.prefixlen = EGRESS_KEY_BITS + 128,
		.table = src->info.egress_route,
		.family = FERRY_FAMILY_IPV6,
	};
	struct bpf_redir_neigh nh = { .nh_family = FERRY_AF_INET6 };
	struct egress_route_value *r;
	__u32 bytes = ctx->len;
	__u32 route = 0, index;
	__u16 reason;

	__builtin_memcpy(key.addr, &flow->daddr, sizeof(key.addr));
	r = egress_route_of(&key, &route);
	if (!r)
		return pass(FERRY_REASON_OUTSIDE_CLUSTER);
	index = egress_next_hop(r, egress_flow_hash6(flow), FERRY_FAMILY_IPV6);
	if (index >= FERRY_EGRESS_NEXTHOPS)
		return egress_fallback(r, route, bytes);
	if (r->flags & FERRY_EGRESS_F_MASQUERADE)
		return egress_masquerade(ctx, r, route, index, bytes);
	/* Not entered into conntrack, as for IPv4 (above). */
	reason = ipv6_forwardable(ctx, flow, false);
	if (reason != FERRY_REASON_FORWARDED)
		return pass(reason);

	__builtin_memcpy(nh.ipv6_nh, r->nexthops[index].addr, sizeof(nh.ipv6_nh));
	if (ipv6_l2_l3_rewrite(ctx, NULL, NULL) < 0)
		return pass(FERRY_REASON_TRUNCATED);
	return egress_redirect(r, route, index, &nh, bytes);
}

#endif /* FERRY_EGRESS_H */
