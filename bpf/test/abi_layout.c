// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Prints the size and field offsets of every struct in lib/abi.h, one
 * "struct.field offset size" line each, for MapLayoutsTest to compare with the
 * Java layouts. Built for the host: these structs use fixed-width members only,
 * so the host and the BPF target lay them out alike. */
#include <stddef.h>
#include <stdio.h>
#include "abi.h"
#include "reasons.h"

#define SIZE(s)     printf(#s " %zu\n", sizeof(struct s))
#define FIELD(s, f) printf(#s "." #f " %zu %zu\n", offsetof(struct s, f), sizeof(((struct s *)0)->f))

int main(void)
{
	SIZE(endpoint_key);
	FIELD(endpoint_key, family);
	FIELD(endpoint_key, pad);
	FIELD(endpoint_key, addr);

	SIZE(endpoint_info);
	FIELD(endpoint_info, ifindex);
	FIELD(endpoint_info, endpoint_id);
	FIELD(endpoint_info, flags);
	FIELD(endpoint_info, pod_mac);
	FIELD(endpoint_info, host_mac);
	FIELD(endpoint_info, egress_route);
	FIELD(endpoint_info, mirror);

	SIZE(cidr_key);
	FIELD(cidr_key, prefixlen);
	FIELD(cidr_key, family);
	FIELD(cidr_key, pad);
	FIELD(cidr_key, addr);

	SIZE(cidr_info);
	FIELD(cidr_info, flags);

	SIZE(metrics_value);
	FIELD(metrics_value, packets);
	FIELD(metrics_value, bytes);

	SIZE(endpoint_value);
	FIELD(endpoint_value, info);
	FIELD(endpoint_value, counters);

	SIZE(monitor_event);
	FIELD(monitor_event, timestamp);
	FIELD(monitor_event, saddr);
	FIELD(monitor_event, daddr);
	FIELD(monitor_event, ifindex);
	FIELD(monitor_event, src_endpoint);
	FIELD(monitor_event, dst_endpoint);
	FIELD(monitor_event, len);
	FIELD(monitor_event, reason);
	FIELD(monitor_event, direction);
	FIELD(monitor_event, verdict);
	FIELD(monitor_event, family);
	FIELD(monitor_event, protocol);
	FIELD(monitor_event, sport);
	FIELD(monitor_event, dport);
	FIELD(monitor_event, pad);

	SIZE(monitor_config);
	FIELD(monitor_config, enabled);
	FIELD(monitor_config, sample_redirects);
	FIELD(monitor_config, event_cost_ns);
	FIELD(monitor_config, burst_ns);

	SIZE(monitor_state);
	FIELD(monitor_state, tokens_ns);
	FIELD(monitor_state, last_ns);
	FIELD(monitor_state, emitted);
	FIELD(monitor_state, suppressed);
	FIELD(monitor_state, lost);
	FIELD(monitor_state, redirects_seen);
	SIZE(egress_dest_key);
	FIELD(egress_dest_key, prefixlen);
	FIELD(egress_dest_key, table);
	FIELD(egress_dest_key, family);
	FIELD(egress_dest_key, pad);
	FIELD(egress_dest_key, addr);

	SIZE(egress_dest_value);
	FIELD(egress_dest_value, route);

	SIZE(egress_nexthop);
	FIELD(egress_nexthop, ifindex);
	FIELD(egress_nexthop, family);
	FIELD(egress_nexthop, pad);
	FIELD(egress_nexthop, addr);

	SIZE(egress_route_value);
	FIELD(egress_route_value, flags);
	FIELD(egress_route_value, mark);
	FIELD(egress_route_value, live);
	FIELD(egress_route_value, pad);
	FIELD(egress_route_value, slots);
	FIELD(egress_route_value, nexthops);

	SIZE(mirror_slot);
	FIELD(mirror_slot, ifindex);
	FIELD(mirror_slot, directions);
	FIELD(mirror_slot, protocol);
	FIELD(mirror_slot, port);
	FIELD(mirror_slot, peer_family);
	FIELD(mirror_slot, pad);
	FIELD(mirror_slot, peer);

	SIZE(mirror_counters);
	FIELD(mirror_counters, cloned);
	FIELD(mirror_counters, failed);

	/* The reason numbers are ABI too: the Java enum must agree. */
	printf("reason.max %d\n", FERRY_REASON_MAX);
	/* So are the counter arrays' dimensions and ferry_metrics_v3's index. */
	printf("family.count %d\n", FERRY_METRICS_FAMILY_COUNT);
	printf("direction.count %d\n", FERRY_DIR_COUNT);
	printf("verdict.count %d\n", FERRY_VERDICT_COUNT);
	printf("metrics.reason_slots %d\n", FERRY_METRICS_REASON_SLOTS);
	printf("metrics.slots %d\n", FERRY_METRICS_SLOTS);
	printf("egress.routes_max %d\n", FERRY_EGRESS_ROUTES_MAX);
	printf("egress.nexthops %d\n", FERRY_EGRESS_NEXTHOPS);
	printf("egress.slots %d\n", FERRY_EGRESS_SLOTS);
	printf("egress.slots_per_family %d\n", FERRY_EGRESS_SLOTS_PER_FAMILY);

	printf("mirror.slots %d\n", FERRY_MIRROR_SLOTS);
	return 0;
}
