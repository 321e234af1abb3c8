/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Decision events for `ferry monitor`: every drop, every pass but the expected
 * high-volume ones, and one redirect in N when the agent asks, written into a
 * ring buffer the agent reads while a monitor client is attached.
 *
 * The hot path stays as it was: a quiet pass returns before any lookup, and
 * anything else costs one array lookup to find the monitor off. The event is
 * built only once it is known to be emitted, from the packet itself (the
 * decision's parse is gone by then and differs per family), and a per-CPU
 * token bucket caps what a flood can cost the node; what it holds back is
 * counted, as is what the ring had no room for.
 */
#ifndef FERRY_MONITOR_H
#define FERRY_MONITOR_H

#include <linux/ipv6.h>
#include "common.h"
#include "ipv6_ext.h"

/* 512 KiB: about 6500 events (72 bytes and the ring's 8-byte header each),
 * several seconds of every CPU at the default rate when the reader stalls. */
#define FERRY_EVENTS_BYTES (512 * 1024)

/*
 * Passes that are the datapath working as designed, at the rate of ordinary
 * traffic; an event for each would bury the ones worth seeing:
 *   not_ip               ARP and other ethertypes, every neighbour resolution
 *   not_local_endpoint   to_pod: everything the uplink receives for the node itself
 *   outside_cluster      every packet a pod sends to the internet (masqueraded by the stack)
 *   nat_flow             every packet of every Service flow through kube-proxy
 *   ipv6_ndp, ipv6_mld   IPv6's ARP: neighbour discovery and multicast listeners
 *   ipv6_link_scope      link-local IPv6 (the uplink's NDP, MLD and router adverts)
 *   stack_only           every packet of a pod an operator put on the stack on purpose
 * The other passes (truncated, malformed, ip_options, fragment, ttl_expired,
 * fib_miss, frag_needed, nat_clash, the IPv6 extension headers) are rare and each says something about a
 * connection that misbehaves.
 */
#define FERRY_MONITOR_QUIET_PASSES \
	((1ULL << FERRY_REASON_NOT_IP) | (1ULL << FERRY_REASON_NOT_LOCAL_ENDPOINT) | \
	 (1ULL << FERRY_REASON_OUTSIDE_CLUSTER) | (1ULL << FERRY_REASON_NAT_FLOW) | \
	 (1ULL << FERRY_REASON_IPV6_NDP) | (1ULL << FERRY_REASON_IPV6_MLD) | \
	 (1ULL << FERRY_REASON_IPV6_LINK_SCOPE) | (1ULL << FERRY_REASON_STACK_ONLY))

_Static_assert(FERRY_REASON_MAX <= 64, "FERRY_MONITOR_QUIET_PASSES is a 64-bit mask of reasons");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FERRY_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct monitor_config);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_monitor_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct monitor_state);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_monitor_state SEC(".maps");

/* Whether the decision is one the monitor reports, before the rate limit. */
static __always_inline bool monitor_wanted(const struct decision *d, const struct monitor_config *cfg,
					   struct monitor_state *st)
{
	__u32 sample = cfg->sample_redirects;

	switch (d->verdict) {
	case FERRY_VERDICT_DROP:
	case FERRY_VERDICT_PASS: /* the quiet ones never get here (monitor()) */
		return true;
	default:
		if (!sample)
			return false;
		st->redirects_seen++;
		return st->redirects_seen % sample == 0;
	}
}

/* This CPU's token bucket, in nanoseconds of credit: one event costs
 * event_cost_ns, credit accrues with time up to burst_ns. Per CPU, so plain
 * arithmetic suffices; a CPU that was idle starts with a full bucket. */
static __always_inline bool monitor_take_token(struct monitor_state *st, const struct monitor_config *cfg)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 tokens = st->tokens_ns + (now - st->last_ns);

	st->last_ns = now;
	if (tokens > cfg->burst_ns)
		tokens = cfg->burst_ns;
	if (tokens < cfg->event_cost_ns) {
		st->tokens_ns = tokens;
		st->suppressed++;
		return false;
	}
	st->tokens_ns = tokens - cfg->event_cost_ns;
	return true;
}

/* Addresses, protocol and ports, read again from the packet: bpf_skb_load_bytes
 * copies from linear and paged data alike and leaves the packet as it is. */
static __always_inline void monitor_read_headers(struct __sk_buff *ctx, struct monitor_event *ev)
{
	__be16 proto, ports[2];
	__u32 l4;

	if (bpf_skb_load_bytes(ctx, offsetof(struct ethhdr, h_proto), &proto, sizeof(proto)) < 0)
		return;
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(ctx, ETH_HLEN, &ip, sizeof(ip)) < 0 || ip.version != 4)
			return;
		ev->family = FERRY_FAMILY_IPV4;
		ev->saddr[0] = ip.saddr;
		ev->daddr[0] = ip.daddr;
		ev->protocol = ip.protocol;
		if (ip.frag_off & bpf_htons(IP_OFFSET))
			return; /* a later fragment: no L4 header */
		l4 = ETH_HLEN + ip.ihl * 4;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;
		int ul;

		if (bpf_skb_load_bytes(ctx, ETH_HLEN, &ip6, sizeof(ip6)) < 0)
			return;
		ev->family = FERRY_FAMILY_IPV6;
		__builtin_memcpy(ev->saddr, &ip6.saddr, sizeof(ev->saddr));
		__builtin_memcpy(ev->daddr, &ip6.daddr, sizeof(ev->daddr));
		ul = ipv6_upper_layer(ctx); /* behind any extension headers */
		ev->protocol = upper_layer_protocol(ul);
		l4 = upper_layer_offset(ul);
		if (!l4)
			return; /* a later fragment, or a chain too long to walk: no ports */
	} else {
		return;
	}
	if (ev->protocol != IPPROTO_TCP && ev->protocol != IPPROTO_UDP)
		return;
	if (bpf_skb_load_bytes(ctx, l4, ports, sizeof(ports)) < 0)
		return;
	ev->sport = ports[0];
	ev->dport = ports[1];
}

static __always_inline void monitor_emit(struct __sk_buff *ctx, __u8 direction, const struct decision *d,
					 __u32 len, struct monitor_state *st)
{
	struct monitor_event *ev = bpf_ringbuf_reserve(&ferry_events, sizeof(*ev), 0);

	if (!ev) {
		st->lost++;
		return;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->timestamp = bpf_ktime_get_ns();
	ev->ifindex = ctx->ifindex;
	ev->src_endpoint = d->src ? d->src->info.endpoint_id : 0;
	ev->dst_endpoint = d->dst ? d->dst->info.endpoint_id : 0;
	ev->len = len;
	ev->reason = d->reason;
	ev->direction = direction;
	ev->verdict = d->verdict;
	monitor_read_headers(ctx, ev);
	bpf_ringbuf_submit(ev, 0);
	st->emitted++;
}

/* Reports the decision when the monitor is on and wants it; the decision itself is left as it is. */
static __always_inline void monitor(struct __sk_buff *ctx, __u8 direction, const struct decision *d, __u32 len)
{
	struct monitor_config *cfg;
	struct monitor_state *st;
	__u32 zero = 0;

	if (d->verdict == FERRY_VERDICT_PASS && d->reason < 64 && (FERRY_MONITOR_QUIET_PASSES & (1ULL << d->reason)))
		return;
	cfg = bpf_map_lookup_elem(&ferry_monitor_config, &zero);
	if (!cfg || !cfg->enabled)
		return;
	st = bpf_map_lookup_elem(&ferry_monitor_state, &zero);
	if (!st || !monitor_wanted(d, cfg, st) || !monitor_take_token(st, cfg))
		return;
	monitor_emit(ctx, direction, d, len, st);
}

#endif /* FERRY_MONITOR_H */
