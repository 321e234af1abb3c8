/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The cluster's pod CIDRs: destinations that may leave through bpf_redirect_neigh. */
#ifndef FERRY_CIDR_H
#define FERRY_CIDR_H

#include <linux/in6.h>
#include "common.h"

/* The family word (family + pad) is part of every prefix. */
#define CIDR_FAMILY_BITS 32

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct cidr_key);
	__type(value, struct cidr_info);
	__uint(max_entries, FERRY_CLUSTER_CIDRS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);   /* LPM tries require it */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_cluster_cidrs SEC(".maps");

static __always_inline bool cluster_contains_ipv4(__be32 addr)
{
	struct cidr_key key = {
		.prefixlen = CIDR_FAMILY_BITS + 32,
		.family = FERRY_FAMILY_IPV4,
		.addr = { addr },
	};

	return bpf_map_lookup_elem(&ferry_cluster_cidrs, &key) != NULL;
}

static __always_inline bool cluster_contains_ipv6(const struct in6_addr *addr)
{
	struct cidr_key key = {
		.prefixlen = CIDR_FAMILY_BITS + 128,
		.family = FERRY_FAMILY_IPV6,
	};

	__builtin_memcpy(key.addr, addr, sizeof(key.addr));
	return bpf_map_lookup_elem(&ferry_cluster_cidrs, &key) != NULL;
}

#endif /* FERRY_CIDR_H */
