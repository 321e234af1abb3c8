/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Every verdict, direction and reason the datapath counts, in one place.
 * Mirrored by agent/src/main/java/dev/ferry/datapath/{Verdict,Direction,Reason}.java,
 * whose labels are the Prometheus label values. Numbers are never reused:
 * retire a reason by leaving a hole.
 */
#ifndef FERRY_REASONS_H
#define FERRY_REASONS_H

enum ferry_direction {
	FERRY_DIR_INGRESS = 0,   /* towards a pod: to_pod on the uplink; pod-side for endpoint counters */
	FERRY_DIR_EGRESS  = 1,   /* out of a pod: from_pod on the host veth */
	FERRY_DIR_COUNT,         /* a counter array dimension: a new direction changes map layouts */
};

enum ferry_verdict {
	FERRY_VERDICT_PASS           = 0,  /* FERRY_ACT_NEXT: the next program, then the kernel stack, decides */
	FERRY_VERDICT_REDIRECT_PEER  = 1,  /* bpf_redirect_peer into a local pod */
	FERRY_VERDICT_REDIRECT_NEIGH = 2,  /* bpf_redirect_neigh towards another node */
	FERRY_VERDICT_DROP           = 3,
	FERRY_VERDICT_COUNT,               /* a counter array dimension: a new verdict changes map layouts */
};

/* The family of what a program saw, a dimension of ferry_metrics_v3 only (the
 * endpoint counters add the families up). By ethertype: ARP and everything that
 * is not IP is "other". */
enum ferry_metrics_family {
	FERRY_METRICS_FAMILY_OTHER = 0,
	FERRY_METRICS_FAMILY_IPV4  = 1,
	FERRY_METRICS_FAMILY_IPV6  = 2,
	FERRY_METRICS_FAMILY_COUNT,        /* a ferry_metrics_v3 dimension: a new family renames the map */
};

enum ferry_reason {
	FERRY_REASON_FORWARDED          = 0,   /* the redirect verdicts */
	FERRY_REASON_NOT_IP             = 1,   /* ARP (from a pod: claiming its own address) and every other ethertype */
	FERRY_REASON_TRUNCATED          = 2,   /* shorter than the headers it claims */
	FERRY_REASON_MALFORMED          = 3,   /* IP version or header length that makes no sense */
	FERRY_REASON_IP_OPTIONS         = 4,
	FERRY_REASON_FRAGMENT           = 5,
	FERRY_REASON_TTL_EXPIRED        = 6,   /* TTL <= 1: the stack answers with ICMP time exceeded */
	FERRY_REASON_NOT_LOCAL_ENDPOINT = 7,   /* to_pod: not addressed to a pod of this node */
	FERRY_REASON_OUTSIDE_CLUSTER    = 8,   /* not in the cluster CIDRs: masquerade and routing are the stack's */
	FERRY_REASON_FIB_MISS           = 9,   /* bpf_fib_lookup: no route to forward on (unreachable, local,
	                                        * forwarding off, or back out of the device it came in on) */
	FERRY_REASON_FRAG_NEEDED        = 10,  /* larger than the route's MTU: the stack sends ICMP frag needed */
	FERRY_REASON_NAT_FLOW           = 11,  /* conntrack NATs this flow: the reverse translation needs the stack */
	FERRY_REASON_IPV6               = 12,  /* retired: IPv6 before Ferry forwarded it (no program
	                                        * counts it since; the number stays taken) */
	FERRY_REASON_STACK_ONLY         = 13,  /* the endpoint carries FERRY_ENDPOINT_F_STACK_ONLY */
	FERRY_REASON_REDIRECT_FAILED    = 14,  /* the redirect helper refused: dropped */
	FERRY_REASON_SPOOFED_SOURCE     = 15,  /* from_pod: a source (IPv4, IPv6, ARP sender) that is not
	                                        * the sending pod's own (lib/source.h): dropped */
	FERRY_REASON_NAT_CLASH          = 16,  /* a new flow whose reverse tuple a NATed flow's conntrack entry
	                                        * holds (source port reuse): the stack moves its port aside */
	/* IPv6 (lib/ipv6.h). Its truncated, malformed, fragment, hop limit (ttl_expired),
	 * frag_needed (Packet Too Big), fib_miss, NAT and cluster reasons are the IPv4
	 * ones: the family label of the counters tells the families apart. */
	FERRY_REASON_IPV6_HOP_BY_HOP    = 17,  /* a hop-by-hop options header: every router must read it */
	FERRY_REASON_IPV6_ROUTING       = 18,  /* a routing header: the next hop is not the destination */
	FERRY_REASON_IPV6_EXT_HEADER    = 19,  /* any other extension header (destination options, AH,
	                                        * mobility, HIP, shim6, experimental): not parsed here */
	FERRY_REASON_IPV6_NDP           = 20,  /* ICMPv6 neighbour discovery (133-137): the link's, for the stack */
	FERRY_REASON_IPV6_MLD           = 21,  /* ICMPv6 multicast listener discovery (130-132, 143) */
	FERRY_REASON_IPV6_LINK_SCOPE    = 22,  /* a link-local or unspecified source, or a link-local or
	                                        * multicast destination: never routed by Ferry */
	/* 23: unassigned */
	FERRY_REASON_EGRESS_ROUTE       = 24,  /* redirect_neigh to a next hop of the pod's egress route */
	FERRY_REASON_EGRESS_FALLBACK    = 25,  /* the egress route has no live next hop: its fallback
	                                        * (the node's normal path, or drop) */
	FERRY_REASON_EGRESS_MASQUERADE  = 26,  /* marked for Ferry's policy rule: the stack SNATs it to the
	                                        * route's next hops */
	FERRY_REASON_MAX,
};

#endif /* FERRY_REASONS_H */
