/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Map layouts: the ABI between the BPF programs and the agent.
 *
 * Every struct here is mirrored field by field in
 *   agent/src/main/java/dev/ferry/datapath/MapLayouts.java
 * and MapLayoutsTest compares the two (test/abi_layout.c prints this side).
 * Padding is explicit and must be zero. A layout change gets a new map name
 * (ferry_endpoints -> ferry_endpoints_v2) so that an upgraded agent never
 * adopts a pinned map of the old shape.
 */
#ifndef FERRY_ABI_H
#define FERRY_ABI_H

#include <linux/types.h>

#define FERRY_FAMILY_IPV4 4
#define FERRY_FAMILY_IPV6 6

#define FERRY_ETH_ALEN 6

/* Map names and sizes; the agent opens the pinned maps by these names. */
#define FERRY_ENDPOINTS_MAX        16384
#define FERRY_CLUSTER_CIDRS_MAX    1024
#define FERRY_METRICS_MAX          1024
#define FERRY_ENDPOINT_METRICS_MAX 65536

/* ferry_endpoints key: a pod address. */
struct endpoint_key {
	__u8  family;      /* FERRY_FAMILY_* */
	__u8  pad[3];
	__u32 addr[4];     /* network byte order; IPv4 uses addr[0], the rest zero */
};

/* ferry_endpoints value: where and how to deliver into the pod. */
struct endpoint_info {
	__u32 ifindex;                   /* host-side veth: the bpf_redirect_peer target */
	__u32 endpoint_id;               /* key of the per-endpoint counters, never 0 */
	__u32 flags;                     /* FERRY_ENDPOINT_F_* */
	__u8  pod_mac[FERRY_ETH_ALEN];   /* destination MAC of packets delivered into the pod */
	__u8  host_mac[FERRY_ETH_ALEN];  /* source MAC: the host-side veth, the pod's gateway */
};

/* Deliver to this endpoint through the kernel stack only (plumbing not finished,
 * or turned off by an operator while debugging). */
#define FERRY_ENDPOINT_F_STACK_ONLY (1U << 0)

/* ferry_cluster_cidrs key (LPM trie). prefixlen counts the family word too:
 * an IPv4 /16 is stored with prefixlen 32 + 16. */
struct cidr_key {
	__u32 prefixlen;
	__u8  family;      /* FERRY_FAMILY_* */
	__u8  pad[3];
	__u32 addr[4];     /* network byte order */
};

struct cidr_info {
	__u32 flags;       /* reserved, zero */
};

/* ferry_metrics key: one counter per (direction, verdict, reason). */
struct metrics_key {
	__u8  direction;   /* enum ferry_direction */
	__u8  verdict;     /* enum ferry_verdict */
	__u16 reason;      /* enum ferry_reason */
};

/* Value of both counter maps, per CPU; the agent sums over CPUs at read time. */
struct metrics_value {
	__u64 packets;
	__u64 bytes;
};

/* ferry_endpoint_metrics key: one counter per (endpoint, direction, verdict). */
struct endpoint_metrics_key {
	__u32 endpoint_id;
	__u8  direction;   /* enum ferry_direction, seen from the pod */
	__u8  verdict;     /* enum ferry_verdict */
	__u16 pad;
};

#endif /* FERRY_ABI_H */
