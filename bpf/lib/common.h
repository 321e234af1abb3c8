/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What every program needs: headers, the decision a program reaches, and the
 * one bounds-check helper for packet access. */
#ifndef FERRY_COMMON_H
#define FERRY_COMMON_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "abi.h"
#include "reasons.h"

#define FERRY_AF_INET 2    /* sys/socket.h is not for BPF targets */

#define IP_MF     0x2000
#define IP_OFFSET 0x1fff

/* The outcome of one program run; the entry function applies and counts it at its one exit. */
struct decision {
	int   action;        /* TC_ACT_* handed back to the kernel */
	__u8  verdict;       /* enum ferry_verdict */
	__u16 reason;        /* enum ferry_reason */
	/* This CPU's map values of the endpoints concerned, found by the lookups the
	 * decision needed anyway: their counters are counted without another lookup. */
	struct endpoint_value *src;  /* the sending local pod, NULL if none */
	struct endpoint_value *dst;  /* the local pod it was delivered into, NULL if none */
};

static __always_inline struct decision pass(__u16 reason)
{
	return (struct decision){ .action = TC_ACT_OK, .verdict = FERRY_VERDICT_PASS, .reason = reason };
}

static __always_inline struct decision drop(__u16 reason)
{
	return (struct decision){ .action = TC_ACT_SHOT, .verdict = FERRY_VERDICT_DROP, .reason = reason };
}

static __always_inline struct decision redirected(__u8 verdict)
{
	return (struct decision){ .action = TC_ACT_REDIRECT, .verdict = verdict,
				  .reason = FERRY_REASON_FORWARDED };
}

/*
 * The one bounds check for packet access: makes off + len bytes readable in the
 * linear head (pulling non-linear data in when needed) and stores the head in
 * *head, or returns false when the packet is shorter. bpf_skb_pull_data (and
 * every helper that changes the packet) invalidates packet pointers taken before
 * it, so take them again through here. Callers derive header pointers from
 * *head with constant offsets, which keeps the verifier's range proof simple.
 */
static __always_inline bool ctx_pull(struct __sk_buff *ctx, __u32 off, __u32 len, void **head)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (data + off + len > data_end) {
		if (bpf_skb_pull_data(ctx, off + len) < 0)
			return false;
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		if (data + off + len > data_end)
			return false;
	}
	*head = data;
	return true;
}

#endif /* FERRY_COMMON_H */
