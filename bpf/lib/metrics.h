/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-CPU counters of every decision. The agent sums the CPUs at scrape time. */
#ifndef FERRY_METRICS_H
#define FERRY_METRICS_H

#include "common.h"

/* An array, not a hash: the kernel inlines array lookups and every slot exists,
 * so counting is one lookup and two adds. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct metrics_value);
	__uint(max_entries, FERRY_METRICS_SLOTS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_metrics_v3 SEC(".maps");

/* The one mapping from (family, direction, verdict, reason) to a ferry_metrics_v3
 * slot; MapLayouts.metricsIndex mirrors it. Anything out of range maps past the
 * last slot, where the lookup finds nothing instead of counting into a
 * neighbour's slot. */
static __always_inline __u32 metrics_index(__u8 family, __u8 direction, __u8 verdict, __u16 reason)
{
	if (family >= FERRY_METRICS_FAMILY_COUNT || direction >= FERRY_DIR_COUNT || verdict >= FERRY_VERDICT_COUNT ||
	    reason >= FERRY_METRICS_REASON_SLOTS)
		return FERRY_METRICS_SLOTS;
	return (((__u32)family * FERRY_DIR_COUNT + direction) * FERRY_VERDICT_COUNT + verdict) *
	       FERRY_METRICS_REASON_SLOTS + reason;
}

/* Per-CPU values: this CPU owns its slot while the program runs, plain adds suffice. */
static __always_inline void counter_add(struct metrics_value *value, __u32 bytes)
{
	value->packets += 1;
	value->bytes += bytes;
}

/* The endpoint's counters live in its ferry_endpoints_v3 value. The verifier
 * needs verdict bounded to index into the value; direction is a constant. */
static __always_inline void endpoint_count(struct endpoint_value *ep, __u8 direction, __u8 verdict, __u32 bytes)
{
	if (verdict >= FERRY_VERDICT_COUNT)
		return;
	counter_add(&ep->counters[direction][verdict], bytes);
}

/* Counts the decision globally (by family) and for the endpoints it concerns, then hands back its action. */
static __always_inline int account(__u8 family, __u8 direction, const struct decision *d, __u32 bytes)
{
	__u32 index = metrics_index(family, direction, d->verdict, d->reason);
	struct metrics_value *global = bpf_map_lookup_elem(&ferry_metrics_v3, &index);

	if (global)
		counter_add(global, bytes);
	if (d->src)
		endpoint_count(d->src, FERRY_DIR_EGRESS, d->verdict, bytes);
	if (d->dst)
		endpoint_count(d->dst, FERRY_DIR_INGRESS, d->verdict, bytes);
	return d->action;
}

#endif /* FERRY_METRICS_H */
