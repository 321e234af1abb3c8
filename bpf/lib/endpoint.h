/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Local endpoints (pods on this node), written by the agent at CNI ADD. */
#ifndef FERRY_ENDPOINT_H
#define FERRY_ENDPOINT_H

#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct endpoint_key);
	__type(value, struct endpoint_info);
	__uint(max_entries, FERRY_ENDPOINTS_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_endpoints SEC(".maps");

static __always_inline struct endpoint_info *endpoint_lookup_ipv4(__be32 addr)
{
	struct endpoint_key key = { .family = FERRY_FAMILY_IPV4, .addr = { addr } };

	return bpf_map_lookup_elem(&ferry_endpoints, &key);
}

#endif /* FERRY_ENDPOINT_H */
