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

/*
 * "Not mine to decide": what every pass verdict returns, so that the programs
 * hooked after Ferry's still see the packet (a monitor, a firewall). It is
 * TCX_NEXT in TCX mode (enum tcx_action_base, include/uapi/linux/bpf.h since
 * 6.6; the 6.1 uapi headers we build with predate it) and TC_ACT_UNSPEC in tc
 * mode (pkt_cls.h): both are -1, so one constant serves both hooks. TC_ACT_OK
 * (TCX_PASS) would end the chain there. When the last program has said
 * "next", the kernel carries on as with TC_ACT_OK: tcx_run() falls through
 * to the tc filters (tc_run()), and sch_handle_ingress() hands a packet
 * nobody decided on to the stack (net/core/dev.c).
 */
#define FERRY_ACT_NEXT (-1)
_Static_assert(FERRY_ACT_NEXT == TC_ACT_UNSPEC, "TCX_NEXT and TC_ACT_UNSPEC are both -1");

/* The outcome of one program run; the entry function applies and counts it at its one exit. */
struct decision {
	int   action;        /* FERRY_ACT_NEXT or TC_ACT_*, handed back to the kernel */
	__u8  verdict;       /* enum ferry_verdict */
	__u16 reason;        /* enum ferry_reason */
	/* This CPU's map values of the endpoints concerned, found by the lookups the
	 * decision needed anyway: their counters are counted without another lookup. */
	struct endpoint_value *src;  /* the sending local pod, NULL if none */
	struct endpoint_value *dst;  /* the local pod it was delivered into, NULL if none */
};

static __always_inline struct decision pass(__u16 reason)
{
	return (struct decision){ .action = FERRY_ACT_NEXT, .verdict = FERRY_VERDICT_PASS, .reason = reason };
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
 * ctx->data and ctx->data_end, read as one load each at a constant offset from
 * ctx. Plain reads let clang 14 compute &ctx->data_end once, spill it and load
 * through the spilled pointer when ctx_pull is inlined often (both families'
 * paths), and the verifier refuses that: "dereference of modified ctx ptr"
 * (seen on Linux 6.18). The asm cannot be taken apart.
 */
static __always_inline void *ctx_load_ptr(struct __sk_buff *ctx, const int off)
{
	__u64 value;

	asm volatile("%[value] = *(u32 *)(%[ctx] + %[off])"
		     : [value] "=r"(value)
		     : [ctx] "r"(ctx), [off] "i"(off));
	return (void *)(long)value;
}

#define CTX_DATA     ((int)__builtin_offsetof(struct __sk_buff, data))
#define CTX_DATA_END ((int)__builtin_offsetof(struct __sk_buff, data_end))

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
	void *data = ctx_load_ptr(ctx, CTX_DATA);
	void *data_end = ctx_load_ptr(ctx, CTX_DATA_END);

	if (data + off + len > data_end) {
		if (bpf_skb_pull_data(ctx, off + len) < 0)
			return false;
		data = ctx_load_ptr(ctx, CTX_DATA);
		data_end = ctx_load_ptr(ctx, CTX_DATA_END);
		if (data + off + len > data_end)
			return false;
	}
	*head = data;
	return true;
}

#endif /* FERRY_COMMON_H */
