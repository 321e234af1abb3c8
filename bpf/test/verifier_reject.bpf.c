// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A program the verifier must refuse (BpfObjectTest: the rejection reaches the
 * exception): it reads packet data without checking it against data_end.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int unchecked_packet_read(struct __sk_buff *skb)
{
	__u8 *data = (void *)(long)skb->data;

	return data[12];
}

char _license[] SEC("license") = "Dual BSD/GPL";
