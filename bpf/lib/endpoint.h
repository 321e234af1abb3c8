/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Local endpoints (pods on this node), written by the agent at CNI ADD, with
 * their counters: the lookup that finds an endpoint also finds where to count. */
#ifndef FERRY_ENDPOINT_H
#define FERRY_ENDPOINT_H

#include <linux/in6.h>
#include "common.h"

/* Per CPU so that each CPU counts into its own copy without atomics. Not
 * preallocated: a preallocated per-CPU hash reserves max_entries values on every
 * possible CPU up front (16384 x 160 bytes x 256 CPUs is about 640 MiB on a big
 * node); allocated on update it costs only the endpoints that exist. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct endpoint_key);
	__type(value, struct endpoint_value);
	__uint(max_entries, FERRY_ENDPOINTS_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_endpoints_v3 SEC(".maps");

/* Host veth ifindex -> the key of its endpoint in ferry_endpoints_v3, written
 * beside every endpoint entry (EndpointMap.java). It names the sender of what a
 * source address cannot: a packet whose source is not the pod's own. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);   /* costs only the endpoints that exist */
	__type(key, __u32);
	__type(value, struct endpoint_key);
	__uint(max_entries, FERRY_ENDPOINTS_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_veth_endpoints SEC(".maps");

/* This CPU's copy of the endpoint's value. */
static __always_inline struct endpoint_value *endpoint_lookup_ipv4(__be32 addr)
{
	struct endpoint_key key = { .family = FERRY_FAMILY_IPV4, .addr = { addr } };

	return bpf_map_lookup_elem(&ferry_endpoints_v3, &key);
}

static __always_inline struct endpoint_value *endpoint_lookup_ipv6(const struct in6_addr *addr)
{
	struct endpoint_key key = { .family = FERRY_FAMILY_IPV6 };

	__builtin_memcpy(key.addr, addr, sizeof(key.addr));
	return bpf_map_lookup_elem(&ferry_endpoints_v3, &key);
}

/* This CPU's value of the endpoint whose host veth is ifindex, or NULL. */
static __always_inline struct endpoint_value *endpoint_of_veth(__u32 ifindex)
{
	struct endpoint_key *key = bpf_map_lookup_elem(&ferry_veth_endpoints, &ifindex);
	struct endpoint_value *ep;

	if (!key)
		return NULL;
	ep = bpf_map_lookup_elem(&ferry_endpoints_v3, key);
	/* A stale entry, whose address now belongs to a pod on another veth, must not name that pod. */
	return ep && ep->info.ifindex == ifindex ? ep : NULL;
}

#endif /* FERRY_ENDPOINT_H */
