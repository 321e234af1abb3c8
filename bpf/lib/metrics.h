/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-CPU counters of every decision. The agent sums the CPUs at scrape time. */
#ifndef FERRY_METRICS_H
#define FERRY_METRICS_H

#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__type(key, struct metrics_key);
	__type(value, struct metrics_value);
	__uint(max_entries, FERRY_METRICS_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_metrics SEC(".maps");

/* LRU: a node with more endpoints than fit loses the oldest counters, not new ones. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__type(key, struct endpoint_metrics_key);
	__type(value, struct metrics_value);
	__uint(max_entries, FERRY_ENDPOINT_METRICS_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_endpoint_metrics SEC(".maps");

/* Per-CPU values: this CPU owns its slot while the program runs, plain adds suffice. */
static __always_inline void counter_add(void *map, const void *key, __u32 bytes)
{
	struct metrics_value *value = bpf_map_lookup_elem(map, key);

	if (!value) {
		struct metrics_value zero = {};

		bpf_map_update_elem(map, key, &zero, BPF_NOEXIST);
		value = bpf_map_lookup_elem(map, key);
		if (!value)
			return;
	}
	value->packets += 1;
	value->bytes += bytes;
}

static __always_inline void endpoint_count(__u32 endpoint_id, __u8 direction, __u8 verdict, __u32 bytes)
{
	struct endpoint_metrics_key key = {
		.endpoint_id = endpoint_id,
		.direction = direction,
		.verdict = verdict,
	};

	counter_add(&ferry_endpoint_metrics, &key, bytes);
}

/* Counts the decision globally and for the endpoints it concerns, then hands back its action. */
static __always_inline int account(__u8 direction, const struct decision *d, __u32 bytes)
{
	struct metrics_key key = { .direction = direction, .verdict = d->verdict, .reason = d->reason };

	counter_add(&ferry_metrics, &key, bytes);
	if (d->src_endpoint)
		endpoint_count(d->src_endpoint, FERRY_DIR_EGRESS, d->verdict, bytes);
	if (d->dst_endpoint)
		endpoint_count(d->dst_endpoint, FERRY_DIR_INGRESS, d->verdict, bytes);
	return d->action;
}

#endif /* FERRY_METRICS_H */
