// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Fixture for ChainEtiquetteTest: the "other tool" a node runs beside Ferry (a
 * monitor, a firewall), hooked after Ferry's program on the same device. It
 * counts the IPv4 packets it is given by destination address and lets the
 * next program decide, as a well-behaved chain member does.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* IPv4 destination address (network byte order) -> packets seen. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 256);
} chain_seen SEC(".maps");

SEC("tc")
int count_after_ferry(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	__u64 zero = 0, *seen;
	__u32 daddr;

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_UNSPEC;
	daddr = ip->daddr;
	/* Two CPUs may race to create the entry: whichever loses finds the winner's. */
	bpf_map_update_elem(&chain_seen, &daddr, &zero, BPF_NOEXIST);
	seen = bpf_map_lookup_elem(&chain_seen, &daddr);
	if (seen)
		__sync_fetch_and_add(seen, 1);
	/* TC_ACT_UNSPEC is TCX_NEXT: the packet goes on as if this program were not there. */
	return TC_ACT_UNSPEC;
}

char _license[] SEC("license") = "Dual BSD/GPL";
