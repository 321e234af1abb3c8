// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Ferry's datapath: two tc programs, each hooked by the agent to ingress of its
 * devices in the mode the configuration names (dev.ferry.datapath.AttachModes):
 *
 *   from_pod  every host-side pod veth (packets leaving a pod): a clsact qdisc
 *             and a direct-action tc filter by default (podAttach: tc)
 *   to_pod    the uplink (packets arriving at the node): a TCX link by default
 *             (attach: tcx)
 *
 * The code is the same under either hook: SEC("tc") programs load for both, and
 * the codes they return mean the same to both: TC_ACT_SHOT and TC_ACT_REDIRECT
 * are TCX_DROP and TCX_REDIRECT, FERRY_ACT_NEXT is TCX_NEXT and TC_ACT_UNSPEC.
 *
 * A pod speaks only for itself: from_pod drops what a pod sends from an
 * address that is not its own (lib/source.h). IPv4 and IPv6 take the same
 * paths (lib/ipv4.h, lib/ipv6.h). Local pods are reached with
 * bpf_redirect_peer, pods on other nodes with bpf_fib_lookup +
 * bpf_redirect_neigh, the next hops of a pod's egress route (lib/egress.h) with
 * bpf_redirect_neigh too; everything else is left to the next program and the
 * kernel stack (FERRY_ACT_NEXT), counted with its reason (lib/reasons.h).
 * Mirrored pods' packets are copied to capture devices (lib/mirror.h, which
 * also holds the two small programs of captures).
 */
#include "lib/common.h"
#include "lib/endpoint.h"
#include "lib/cidr.h"
#include "lib/metrics.h"
#include "lib/local.h"
#include "lib/fib.h"
#include "lib/source.h"
#include "lib/monitor.h"
#include "lib/egress.h"
#include "lib/mirror.h"

static __always_inline struct decision ipv4_from_pod(struct __sk_buff *ctx)
{
	struct ipv4_flow flow = {};
	__u16 reason = ipv4_parse(ctx, &flow);
	struct endpoint_value *src, *dst;
	struct decision d;

	/* No IPv4 header to read a source from: the stack discards these (ip_rcv_core). */
	if (!flow.has_addrs)
		return pass(reason);
	src = sender_ipv4(ctx, flow.saddr);
	if (!src)
		return spoofed(ctx);
	if (reason != FERRY_REASON_FORWARDED)
		d = pass(reason);
	else if ((dst = endpoint_lookup_ipv4(flow.daddr)))
		d = ipv4_redirect_peer(ctx, &flow, dst, true);
	else if (!cluster_contains_ipv4(flow.daddr))
		d = ipv4_egress(ctx, &flow, src);
	else
		d = ipv4_redirect_neigh(ctx, &flow);
	d.src = src;
	return d;
}

static __always_inline struct decision ipv4_to_pod(struct __sk_buff *ctx)
{
	struct ipv4_flow flow = {};
	__u16 reason = ipv4_parse(ctx, &flow);
	struct endpoint_value *dst;

	if (reason != FERRY_REASON_FORWARDED)
		return pass(reason);
	dst = endpoint_lookup_ipv4(flow.daddr);
	if (!dst)
		return pass(FERRY_REASON_NOT_LOCAL_ENDPOINT);
	return ipv4_redirect_peer(ctx, &flow, dst, false);
}

/*
 * IPv6 out of a pod, in the order IPv4 takes: the source check first (a
 * link-scoped source needs no owner but is never routed), then the headers, then
 * where to: a local pod, a cluster pod elsewhere, an egress route's next hop, or
 * the stack.
 */
static __always_inline struct decision ipv6_from_pod(struct __sk_buff *ctx)
{
	struct ipv6_flow flow = {};
	__u16 reason = ipv6_parse(ctx, &flow);
	struct endpoint_value *src, *dst;
	struct decision d;

	/* No IPv6 header to read a source from: the stack discards these (ipv6_rcv). */
	if (!flow.has_addrs)
		return pass(reason);
	if (ipv6_link_scoped(&flow.saddr)) {
		d = pass(reason != FERRY_REASON_FORWARDED ? reason : FERRY_REASON_IPV6_LINK_SCOPE);
		d.src = endpoint_of_veth(ctx->ifindex);
		return d;
	}
	src = sender_ipv6(ctx, &flow.saddr);
	if (!src)
		return spoofed(ctx);
	if (reason != FERRY_REASON_FORWARDED)
		d = pass(reason);
	else if (ipv6_is_link_local(&flow.daddr) || ipv6_is_multicast(&flow.daddr))
		d = pass(FERRY_REASON_IPV6_LINK_SCOPE);
	else if ((dst = endpoint_lookup_ipv6(&flow.daddr)))
		d = ipv6_redirect_peer(ctx, &flow, dst, true);
	else if (!cluster_contains_ipv6(&flow.daddr))
		d = ipv6_egress(ctx, &flow, src);
	else
		d = ipv6_redirect_neigh(ctx, &flow);
	d.src = src;
	return d;
}

static __always_inline struct decision ipv6_to_pod(struct __sk_buff *ctx)
{
	struct ipv6_flow flow = {};
	__u16 reason = ipv6_parse(ctx, &flow);
	struct endpoint_value *dst;

	if (reason != FERRY_REASON_FORWARDED)
		return pass(reason);
	/* A link-local source is the uplink's neighbour talking to this node, never to a pod behind it. */
	if (ipv6_link_scoped(&flow.saddr))
		return pass(FERRY_REASON_IPV6_LINK_SCOPE);
	dst = endpoint_lookup_ipv6(&flow.daddr);
	if (!dst)
		return pass(FERRY_REASON_NOT_LOCAL_ENDPOINT);
	return ipv6_redirect_peer(ctx, &flow, dst, false);
}

static __always_inline __be16 eth_proto(struct __sk_buff *ctx)
{
	void *head;

	if (!ctx_pull(ctx, 0, ETH_HLEN, &head))
		return 0;
	return ((struct ethhdr *)head)->h_proto;
}

/* Both programs: classify by ethertype, decide, report (lib/monitor.h), count (by
 * family), hand the action back. direction is a constant at each call site, so each
 * program keeps one branch. */
static __always_inline int handle(struct __sk_buff *ctx, __u8 direction)
{
	__u8 family = FERRY_METRICS_FAMILY_OTHER;
	__u32 len = ctx->len;
	struct decision d;

	switch (eth_proto(ctx)) {
	case bpf_htons(ETH_P_IP):
		family = FERRY_METRICS_FAMILY_IPV4;
		d = direction == FERRY_DIR_EGRESS ? ipv4_from_pod(ctx) : ipv4_to_pod(ctx);
		break;
	case bpf_htons(ETH_P_IPV6):
		family = FERRY_METRICS_FAMILY_IPV6;
		d = direction == FERRY_DIR_EGRESS ? ipv6_from_pod(ctx) : ipv6_to_pod(ctx);
		break;
	case bpf_htons(ETH_P_ARP):
		d = direction == FERRY_DIR_EGRESS ? arp_from_pod(ctx) : pass(FERRY_REASON_NOT_IP);
		break;
	default:
		d = pass(FERRY_REASON_NOT_IP);
	}
	mirror_decision(ctx, &d);
	monitor(ctx, direction, &d, len);
	return account(family, direction, &d, len);
}

SEC("tc")
int from_pod(struct __sk_buff *ctx)
{
	return handle(ctx, FERRY_DIR_EGRESS);
}

SEC("tc")
int to_pod(struct __sk_buff *ctx)
{
	return handle(ctx, FERRY_DIR_INGRESS);
}

char _license[] SEC("license") = "Dual BSD/GPL";
