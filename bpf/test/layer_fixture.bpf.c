// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Fixture for the agent's bpf layer tests (agent/src/test/java/dev/ferry/bpf):
 * one map of each kind the layer must handle and two tc programs whose verdicts
 * differ, so that a program swap is observable.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

/* Pinned by name: a second load of the object adopts it (BpfObjectTest). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fixture_state SEC(".maps");

/* Runs of verdict_from_config, per CPU. A 4-byte value: each CPU's slot is padded to 8. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} fixture_packets SEC(".maps");

/* [0]: the verdict verdict_from_config returns (TC_ACT_OK while unset). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} fixture_config SEC(".maps");

/* What the last run of verdict_from_config saw: [0] skb->ifindex, [1] skb->ingress_ifindex. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 2);
} fixture_seen SEC(".maps");

/* Swaps the MAC addresses, so that a test run's output packet differs from its input. */
static __always_inline void swap_macs(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	__u8 mac[ETH_ALEN];

	if ((void *)(eth + 1) > data_end)
		return;
	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);
}

SEC("tc")
int verdict_from_config(struct __sk_buff *skb)
{
	__u32 zero = 0, one = 1;
	__u32 ifindex = skb->ifindex, ingress_ifindex = skb->ingress_ifindex;
	__u32 *packets, *verdict;

	packets = bpf_map_lookup_elem(&fixture_packets, &zero);
	if (packets)
		__sync_fetch_and_add(packets, 1);
	bpf_map_update_elem(&fixture_seen, &zero, &ifindex, BPF_ANY);
	bpf_map_update_elem(&fixture_seen, &one, &ingress_ifindex, BPF_ANY);
	swap_macs(skb);

	verdict = bpf_map_lookup_elem(&fixture_config, &zero);
	return verdict && *verdict ? *verdict : TC_ACT_OK;
}

SEC("tc")
int verdict_shot(struct __sk_buff *skb)
{
	return TC_ACT_SHOT;
}

char _license[] SEC("license") = "Dual BSD/GPL";
