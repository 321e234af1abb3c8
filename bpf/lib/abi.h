/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Map layouts: the ABI between the BPF programs and the agent.
 *
 * Every struct here is mirrored field by field in
 *   agent/src/main/java/dev/ferry/datapath/MapLayouts.java
 * and MapLayoutsTest compares the two (test/abi_layout.c prints this side).
 * Padding is explicit and must be zero. A layout change gets a new map name
 * (ferry_endpoints -> ferry_endpoints_v3) so that an upgraded agent never
 * adopts a pinned map of the old shape.
 */
#ifndef FERRY_ABI_H
#define FERRY_ABI_H

#include <linux/types.h>
#include "reasons.h"

#define FERRY_FAMILY_IPV4 4
#define FERRY_FAMILY_IPV6 6

#define FERRY_ETH_ALEN 6

/* Map sizes; the agent opens the pinned maps by their names. */
#define FERRY_ENDPOINTS_MAX        16384
#define FERRY_CLUSTER_CIDRS_MAX    1024
#define FERRY_EGRESS_ROUTES_MAX    256    /* route ids 1..255; 0 is "none" */
#define FERRY_EGRESS_DESTS_MAX     4096   /* (table, destination) prefixes over all tables */
#define FERRY_EGRESS_NEXTHOPS      8      /* next hops per route */
#define FERRY_EGRESS_SLOTS         64     /* flow hash buckets per route: a power of two */
/* IPv4 flows take the first half of a route's buckets, IPv6 flows the second: a route
 * with next hops of both families spreads each family over its own (lib/egress.h). */
#define FERRY_EGRESS_SLOTS_PER_FAMILY (FERRY_EGRESS_SLOTS / 2)
#define FERRY_EGRESS_FALLBACK_SLOT FERRY_EGRESS_NEXTHOPS  /* per-route counter of fallbacks */
#define FERRY_EGRESS_COUNTERS      (FERRY_EGRESS_ROUTES_MAX * (FERRY_EGRESS_NEXTHOPS + 1))

/* ferry_metrics_v3 has a slot for every (family, direction, verdict, reason slot);
 * the spare reason slots let new reasons arrive without a layout change. */
#define FERRY_METRICS_REASON_SLOTS 32
#define FERRY_METRICS_SLOTS        (FERRY_METRICS_FAMILY_COUNT * FERRY_DIR_COUNT * FERRY_VERDICT_COUNT * \
				    FERRY_METRICS_REASON_SLOTS)

_Static_assert(FERRY_REASON_MAX <= FERRY_METRICS_REASON_SLOTS,
	       "every reason needs a slot in ferry_metrics_v3: grow FERRY_METRICS_REASON_SLOTS (and rename the map)");

/* ferry_endpoints_v3 key: a pod address. Also the value of ferry_veth_endpoints,
 * whose key is the __u32 ifindex of the endpoint's host veth (lib/endpoint.h). */
struct endpoint_key {
	__u8  family;      /* FERRY_FAMILY_* */
	__u8  pad[3];
	__u32 addr[4];     /* network byte order; IPv4 uses addr[0], the rest zero */
};

/* Where and how to deliver into the pod: the agent's part of a ferry_endpoints_v3 value. */
struct endpoint_info {
	__u32 ifindex;                   /* host-side veth: the bpf_redirect_peer target */
	__u32 endpoint_id;               /* names the endpoint's counters to the agent, never 0 */
	__u32 flags;                     /* FERRY_ENDPOINT_F_* */
	__u8  pod_mac[FERRY_ETH_ALEN];   /* destination MAC of packets delivered into the pod */
	__u8  host_mac[FERRY_ETH_ALEN];  /* source MAC: the host-side veth, the pod's gateway */
	__u32 egress_route;              /* the egress table the pod's traffic follows (the routes that select
	                                  * it, ferry_egress_routes); 0: none */
	__u32 mirror;                    /* the mirrors that copy the pod's packets; 0: none (zero cost) */
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

/* One counter, per CPU: a ferry_metrics_v3 slot (its key is the __u32 of
 * metrics_index() in lib/metrics.h, mirrored by CounterMaps.java) and an element
 * of endpoint_value.counters. The agent sums over CPUs at read time. */
struct metrics_value {
	__u64 packets;
	__u64 bytes;
};

/* ferry_endpoints_v3 value, per CPU. The agent writes the same info on every CPU
 * and keeps the counters when it rewrites the info (EndpointMap.java); each CPU's
 * counters are what that CPU counted, so the lookups that find the endpoint also
 * find its counters. info is 32 bytes, which keeps counters 8-byte aligned. */
struct endpoint_value {
	struct endpoint_info info;
	struct metrics_value counters[FERRY_DIR_COUNT][FERRY_VERDICT_COUNT];  /* [direction seen from the pod][verdict] */
};

/* ferry_events (a ring buffer, lib/monitor.h): one datapath decision worth
 * seeing. Read by dev.ferry.monitor.MonitorEvents through MapLayouts.MONITOR_EVENT.
 * Built only once the event is known to be emitted, from the packet as the
 * program leaves it (after a redirect's MAC and TTL rewrite). */
struct monitor_event {
	__u64 timestamp;      /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 saddr[4];       /* network byte order; IPv4 uses saddr[0]; zero when not IP */
	__u32 daddr[4];
	__u32 ifindex;        /* the device the program ran on */
	__u32 src_endpoint;   /* endpoint id of the sending local pod, 0 when none */
	__u32 dst_endpoint;   /* endpoint id of the local pod delivered into, 0 when none */
	__u32 len;            /* skb->len when the program was entered */
	__u16 reason;         /* enum ferry_reason */
	__u8  direction;      /* enum ferry_direction */
	__u8  verdict;        /* enum ferry_verdict */
	__u8  family;         /* FERRY_FAMILY_*, 0 when not IP */
	__u8  protocol;       /* IP protocol / IPv6 next header, 0 when not IP */
	__u16 sport;          /* TCP/UDP ports, network byte order; 0 otherwise */
	__u16 dport;
	__u8  pad[6];
};

/* ferry_monitor_config, an array of one, written by the agent
 * (dev.ferry.monitor.MonitorMaps). All zero: nothing is emitted. */
struct monitor_config {
	__u32 enabled;            /* 1 while a monitor client is attached */
	__u32 sample_redirects;   /* 0: no redirect events; N: one redirect in N (per CPU) */
	__u64 event_cost_ns;      /* token bucket: 1e9 / events per second per CPU */
	__u64 burst_ns;           /* bucket depth: burst events x event_cost_ns */
};

/* ferry_monitor_state, per CPU, slot 0: this CPU's token bucket and counts.
 * The agent reads emitted and suppressed at scrape time (summed over CPUs). */
struct monitor_state {
	__u64 tokens_ns;          /* credit left, in nanoseconds of rate */
	__u64 last_ns;            /* when credit was last added */
	__u64 emitted;            /* events written into ferry_events */
	__u64 suppressed;         /* events the rate limit held back */
	__u64 lost;               /* events the ring buffer had no room for */
	__u64 redirects_seen;     /* redirects counted towards the 1-in-N sample */
};

/*
 * Egress routes (lib/egress.h, mirrored by dev.ferry.datapath.EgressMaps).
 *
 * ferry_egress_routes key (LPM trie): an egress table (endpoint_info.egress_route:
 * one per distinct set of routes that select pods of this node), then a
 * destination. prefixlen counts the table and family words: an IPv4 /8 of table
 * 3 is stored with prefixlen 64 + 8. The agent resolves conflicts when it writes
 * a table: each prefix names one route, the older one's when two give the same.
 */
struct egress_dest_key {
	__u32 prefixlen;
	__u32 table;
	__u8  family;      /* FERRY_FAMILY_* */
	__u8  pad[3];
	__u32 addr[4];     /* network byte order */
};

struct egress_dest_value {
	__u32 route;       /* the route id (ferry_egress_nexthops index) that serves the prefix */
};

/* Where one next hop is: bpf_redirect_neigh's device and neighbour. */
struct egress_nexthop {
	__u32 ifindex;     /* an uplink of this node */
	__u8  family;      /* FERRY_FAMILY_* */
	__u8  pad[3];
	__u32 addr[4];     /* network byte order */
};

/* Leave the packet to the stack marked with .mark (the stack SNATs and routes it by Ferry's rule). */
#define FERRY_EGRESS_F_MASQUERADE    (1U << 0)
/* No live next hop: drop instead of leaving the packet to the node's normal path. */
#define FERRY_EGRESS_F_FALLBACK_DROP (1U << 1)

/* ferry_egress_nexthops value (an array indexed by route id). The agent writes
 * every slot with the index of a live next hop, keeping a slot on its next hop
 * while that one lives (a failure moves only the failed hop's flows); live == 0
 * is the fallback. */
struct egress_route_value {
	__u32 flags;                               /* FERRY_EGRESS_F_* */
	__u32 mark;                                /* masquerade: skb->mark is this | next hop index */
	__u8  live;                                /* live next hops; 0: fallback */
	__u8  pad[7];
	__u8  slots[FERRY_EGRESS_SLOTS];           /* flow hash bucket -> index into nexthops: IPv4's half, then IPv6's */
	struct egress_nexthop nexthops[FERRY_EGRESS_NEXTHOPS];
};

/* ferry_mirrors: the capture slots (lib/mirror.h). An endpoint's mirror word is
 * a bitmask of them: bit i set copies the pod's packets that slot i's filter
 * matches to slot i's device. 32 slots: one __u32 word, no more captures at
 * once than an operator can follow. */
#define FERRY_MIRROR_SLOTS 32

/* Directions of a mirror slot, seen from the pod. */
#define FERRY_MIRROR_DIR_IN  (1U << 0)   /* delivered into the pod */
#define FERRY_MIRROR_DIR_OUT (1U << 1)   /* sent by the pod */

/* ferry_mirrors value (an array indexed by slot): where clones go and which packets are cloned.
 * Every filter field that is 0 matches any packet. */
struct mirror_slot {
	__u32 ifindex;     /* the device clones are sent out of (bpf_clone_redirect, egress); 0: slot free */
	__u8  directions;  /* FERRY_MIRROR_DIR_* */
	__u8  protocol;    /* IPPROTO_* of the IPv4 header or the IPv6 next header; 0: any */
	__be16 port;       /* a TCP/UDP port, source or destination, network order; 0: any */
	__u8  peer_family; /* FERRY_FAMILY_* of peer; 0: any peer */
	__u8  pad[3];
	__u32 peer[4];     /* the other end: destination of what the pod sends, source of what it receives */
};

/* ferry_mirror_counters value (per CPU, indexed by slot): clones sent, and clones
 * bpf_clone_redirect refused (device gone, no memory). */
struct mirror_counters {
	__u64 cloned;
	__u64 failed;
};

#endif /* FERRY_ABI_H */
