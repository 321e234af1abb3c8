/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The upper-layer header behind IPv6 extension headers, for the observers: the
 * capture filter (mirror.h) and the monitor's events (monitor.h). The datapath's
 * own parse (ipv6.h) never walks them: a packet with one goes to the stack.
 *
 * Walked: hop-by-hop options, routing, destination options (next header, length
 * in 8-octet units past the first 8), the authentication header (length in
 * 4-octet units, less 2: RFC 4302) and the fragment header (8 bytes). A fragment
 * whose offset is not 0 carries no upper-layer header: its protocol is known (the
 * fragment header names it), its ports are in the first fragment only. ESP and
 * "no next header" end the walk like any upper layer: there is nothing to read.
 */
#ifndef FERRY_IPV6_EXT_H
#define FERRY_IPV6_EXT_H

#include <stddef.h>
#include "ipv6.h"

/*
 * Extension headers walked before giving up. RFC 8200 4.1 lets each appear once
 * in its order (destination options twice, ESP last): hop-by-hop, destination,
 * routing, fragment, AH, destination is 6. Also the verifier's bound: the loop
 * runs at most this often, and ipv6_upper_layer() is a global function, verified
 * once on its own rather than inlined into every path of handle().
 */
#define FERRY_IPV6_MAX_EXT_HEADERS 6

/* The fragment offset in the fragment header's third and fourth bytes (the low 3 bits are flags). */
#define FERRY_IPV6_FRAG_OFFSET_MASK 0xfff8

static __always_inline bool ipv6_is_walked_ext(__u8 nexthdr)
{
	return nexthdr == NEXTHDR_HOP || nexthdr == NEXTHDR_ROUTING || nexthdr == NEXTHDR_DEST ||
	       nexthdr == NEXTHDR_AUTH || nexthdr == NEXTHDR_FRAGMENT;
}

/* How ipv6_upper_layer() packs its answer: scalars only, so the call needs no pointer argument proved. */
static __always_inline __u8 upper_layer_protocol(int ul)
{
	return ul & 0xff;
}

static __always_inline __u32 upper_layer_offset(int ul)
{
	return (__u32)ul >> 8;
}

/*
 * The upper-layer protocol of the IPv6 packet after the Ethernet header, and the
 * offset of its header from the frame's start, packed as offset << 8 | protocol.
 * The offset is 0 when there is no upper-layer header to read: a non-first
 * fragment, a packet cut short, or more than FERRY_IPV6_MAX_EXT_HEADERS extension
 * headers (then the protocol is the last next header read). Reads with
 * bpf_skb_load_bytes, so it neither pulls nor moves the packet.
 */
__noinline int ipv6_upper_layer(struct __sk_buff *ctx)
{
	__u32 off = ETH_HLEN + IPV6_HLEN;
	__u8 nexthdr;
	__u32 i;

	if (bpf_skb_load_bytes(ctx, ETH_HLEN + offsetof(struct ipv6hdr, nexthdr), &nexthdr, sizeof(nexthdr)) < 0)
		return 0;
	for (i = 0; i < FERRY_IPV6_MAX_EXT_HEADERS && ipv6_is_walked_ext(nexthdr); i++) {
		__u8 ext[4]; /* next header, length, and the fragment header's offset */

		if (bpf_skb_load_bytes(ctx, off, ext, sizeof(ext)) < 0)
			return nexthdr;
		switch (nexthdr) {
		case NEXTHDR_FRAGMENT:
			if (((ext[2] << 8) | ext[3]) & FERRY_IPV6_FRAG_OFFSET_MASK)
				return ext[0]; /* not the first fragment: no upper-layer header here */
			off += 8;
			break;
		case NEXTHDR_AUTH:
			off += ((__u32)ext[1] + 2) * 4;
			break;
		default:
			off += ((__u32)ext[1] + 1) * 8;
		}
		nexthdr = ext[0];
	}
	if (ipv6_is_walked_ext(nexthdr))
		return nexthdr;
	return (int)(off << 8 | nexthdr);
}

#endif /* FERRY_IPV6_EXT_H */
