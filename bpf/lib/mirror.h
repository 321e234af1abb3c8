/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Mirrors (ferry capture, persistent mirrors): copies of a pod's packets sent
 * with bpf_clone_redirect to the device of each capture slot whose filter they
 * match. An endpoint's mirror word (endpoint_info.mirror) names its slots; it is
 * 0 for every pod nobody watches, and then the one test of that word, already
 * loaded with the endpoint, is all a packet pays.
 *
 * Where copies are made, seen from the pod:
 *   out  from_pod, for the sending pod (decision.src), whatever the verdict;
 *   in   every bpf_redirect_peer into the pod (decision.dst), from from_pod
 *        (same node) and to_pod (other nodes): those skip the host veth's egress;
 *   in   mirror_to_pod on the host veth's tc egress, for what the stack delivers
 *        (NATed flows, replies of passed ones, ARP). The agent hooks it there only
 *        while the endpoint is mirrored (dev.ferry.capture.MirrorHooks).
 * The copy is made after the decision: what the pod receives is what a copy
 * shows (its gateway's MAC, one less TTL), and what it sends as it left it but
 * for that same rewrite when it was redirected.
 */
#ifndef FERRY_MIRROR_H
#define FERRY_MIRROR_H

#include <stddef.h>
#include <linux/ipv6.h>
#include "common.h"
#include "endpoint.h"
#include "ipv6_ext.h"

#define FERRY_IPPROTO_TCP 6
#define FERRY_IPPROTO_UDP 17

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct mirror_slot);
	__uint(max_entries, FERRY_MIRROR_SLOTS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_mirrors SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct mirror_counters);
	__uint(max_entries, FERRY_MIRROR_SLOTS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_mirror_counters SEC(".maps");

/* What the filters look at, read once per mirrored packet. */
struct mirror_flow {
	__u8  family;      /* FERRY_FAMILY_*, 0: neither IPv4 nor IPv6 (ARP...) */
	__u8  proto;
	__be16 sport;
	__be16 dport;
	__u32 saddr[4];
	__u32 daddr[4];
};

/* Its own parse, not the datapath's: it runs after the decision, only for
 * mirrored pods, and reads with bpf_skb_load_bytes (a copy: no pull, no packet
 * pointer to prove, options and variable offsets are fine). IPv6 extension
 * headers are walked to the upper layer (ipv6_ext.h), up to a bound: a longer
 * chain matches on addresses only. */
static __always_inline void mirror_parse(struct __sk_buff *ctx, struct mirror_flow *f)
{
	__u32 l4_off = 0;
	__be16 proto;
	__be16 ports[2];

	if (bpf_skb_load_bytes(ctx, offsetof(struct ethhdr, h_proto), &proto, sizeof(proto)) < 0)
		return;
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(ctx, ETH_HLEN, &ip, sizeof(ip)) < 0)
			return;
		f->family = FERRY_FAMILY_IPV4;
		f->proto = ip.protocol;
		f->saddr[0] = ip.saddr;
		f->daddr[0] = ip.daddr;
		/* Only the first fragment carries the ports. */
		if (!(ip.frag_off & bpf_htons(IP_OFFSET)))
			l4_off = ETH_HLEN + ip.ihl * 4;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		int ul;

		/* Straight into the flow, not through a copy of the header on the
		 * stack: from_pod -> mirror_clone -> ipv6_upper_layer must fit the
		 * verifier's 512 bytes of combined stack. */
		if (bpf_skb_load_bytes(ctx, ETH_HLEN + offsetof(struct ipv6hdr, saddr), f->saddr, sizeof(f->saddr)) < 0 ||
		    bpf_skb_load_bytes(ctx, ETH_HLEN + offsetof(struct ipv6hdr, daddr), f->daddr, sizeof(f->daddr)) < 0)
			return;
		f->family = FERRY_FAMILY_IPV6;
		/* Behind any extension headers; 0 for a later fragment (no ports), as for IPv4. */
		ul = ipv6_upper_layer(ctx);
		f->proto = upper_layer_protocol(ul);
		l4_off = upper_layer_offset(ul);
	} else {
		return;
	}
	if (!l4_off || (f->proto != FERRY_IPPROTO_TCP && f->proto != FERRY_IPPROTO_UDP))
		return;
	if (bpf_skb_load_bytes(ctx, l4_off, ports, sizeof(ports)) < 0)
		return;
	f->sport = ports[0];
	f->dport = ports[1];
}

static __always_inline bool mirror_matches(const struct mirror_slot *slot, const struct mirror_flow *f, __u8 dir)
{
	const __u32 *peer;

	if (!(slot->directions & dir))
		return false;
	if (slot->protocol && (!f->family || slot->protocol != f->proto))
		return false;
	if (slot->port && slot->port != f->sport && slot->port != f->dport)
		return false;
	if (!slot->peer_family)
		return true;
	if (slot->peer_family != f->family)
		return false;
	/* The peer is the other end: the destination of what the pod sends. */
	peer = dir == FERRY_MIRROR_DIR_OUT ? f->daddr : f->saddr;
	return peer[0] == slot->peer[0] && peer[1] == slot->peer[1] &&
	       peer[2] == slot->peer[2] && peer[3] == slot->peer[3];
}

/* Sends a copy to every slot of out_mask (the sender's word) and in_mask (the
 * receiver's) whose filter matches; a slot in both (a pod talking to itself, or
 * one capture of two pods) gets one copy. Counts into ferry_mirror_counters.
 * A global function: the verifier checks it once, on its own, rather than its
 * 32-slot loop again on every path of handle() that reaches it (from_pod then
 * exceeded the verifier's million instructions). */
__noinline int mirror_clone(struct __sk_buff *ctx, __u32 out_mask, __u32 in_mask)
{
	struct mirror_flow f = {};
	__u32 mask = out_mask | in_mask;
	__u32 i;

	mirror_parse(ctx, &f);
	for (i = 0; i < FERRY_MIRROR_SLOTS; i++) {
		struct mirror_counters *counters;
		struct mirror_slot *slot;
		__u32 key = i;
		__u8 dir;

		if (!(mask & (1U << i)))
			continue;
		dir = ((out_mask >> i) & 1 ? FERRY_MIRROR_DIR_OUT : 0) | ((in_mask >> i) & 1 ? FERRY_MIRROR_DIR_IN : 0);
		slot = bpf_map_lookup_elem(&ferry_mirrors, &key);
		if (!slot || !slot->ifindex)
			continue;
		if (!mirror_matches(slot, &f, dir & FERRY_MIRROR_DIR_OUT) && !mirror_matches(slot, &f, dir & FERRY_MIRROR_DIR_IN))
			continue;
		counters = bpf_map_lookup_elem(&ferry_mirror_counters, &key);
		if (bpf_clone_redirect(ctx, slot->ifindex, 0) == 0) {
			if (counters)
				counters->cloned += 1;
		} else if (counters) {
			counters->failed += 1;
		}
	}
	return 0;
}

/* The hook in handle(): zero cost when neither endpoint is mirrored. Only
 * redirect_peer decisions name dst, so ingress copies are made there only. */
static __always_inline void mirror_decision(struct __sk_buff *ctx, const struct decision *d)
{
	__u32 out_mask = d->src ? d->src->info.mirror : 0;
	__u32 in_mask = d->dst ? d->dst->info.mirror : 0;

	if (out_mask | in_mask)
		mirror_clone(ctx, out_mask, in_mask);
}

/*
 * tc egress of a mirrored pod's host veth: what the stack delivers into the pod
 * (bpf_redirect_peer deliveries never pass here). Leaves every packet to the
 * next program and the device.
 */
SEC("tc")
int mirror_to_pod(struct __sk_buff *ctx)
{
	struct endpoint_value *ep = endpoint_of_veth(ctx->ifindex);

	if (ep && ep->info.mirror)
		mirror_clone(ctx, 0, ep->info.mirror);
	return FERRY_ACT_NEXT;
}

/*
 * tc ingress of the reading end of a capture device: the agent's packet socket
 * has seen the copy (packet taps run before tc ingress in
 * __netif_receive_skb_core), and nothing else may: a copy that reached the
 * stack would be routed, answered or counted as if the pod had sent it twice.
 */
SEC("tc")
int capture_sink(struct __sk_buff *ctx)
{
	return TC_ACT_SHOT;
}

#endif /* FERRY_MIRROR_H */
