/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * No pod speaks for another: what leaves a pod carries that pod's own address,
 * as IPv4 or IPv6 source and as ARP sender. The proof is the endpoint entry of
 * the claimed address: it must exist and name the host veth the packet came in
 * on. Anything else is dropped before any path (redirect_peer, redirect_neigh,
 * the stack) sees it. The stack's rp_filter cannot stand in: the redirects skip
 * the input route lookup it lives in, it is off (or loose) on many nodes, and
 * IPv6 has none.
 */
#ifndef FERRY_SOURCE_H
#define FERRY_SOURCE_H

#include "common.h"
#include "endpoint.h"
#include "ipv6.h"

/* ARP's hardware types that the kernel's ARP takes on an Ethernet device (arp_process()). */
#define ARP_HRD_ETHER   1
#define ARP_HRD_IEEE802 6
#define ARP_PLEN_IPV4   4

/* An ARP packet for IPv4 over Ethernet (RFC 826): the only kind the kernel's ARP acts on.
 * The addresses are byte arrays: spa and tpa are not 4-byte aligned in the frame. */
struct arp_ipv4 {
	__be16 hrd;
	__be16 pro;
	__u8   hln;
	__u8   pln;
	__be16 op;
	__u8   sha[ETH_ALEN];
	__u8   spa[ARP_PLEN_IPV4];
	__u8   tha[ETH_ALEN];
	__u8   tpa[ARP_PLEN_IPV4];
} __attribute__((packed));

/* ep, the endpoint that owns a claimed address, when its host veth is the device
 * the packet arrived on; NULL when the address is not the sender's own. */
static __always_inline struct endpoint_value *if_sender(struct __sk_buff *ctx, struct endpoint_value *ep)
{
	return ep && ep->info.ifindex == ctx->ifindex ? ep : NULL;
}

static __always_inline struct endpoint_value *sender_ipv4(struct __sk_buff *ctx, __be32 addr)
{
	return if_sender(ctx, endpoint_lookup_ipv4(addr));
}

/* Drops what a pod sent in another's name, counted against the pod whose veth
 * it came in on (the claimed address may be an innocent pod's). */
static __always_inline struct decision spoofed(struct __sk_buff *ctx)
{
	struct decision d = drop(FERRY_REASON_SPOOFED_SOURCE);

	d.src = endpoint_of_veth(ctx->ifindex);
	return d;
}

static __always_inline bool arp_is_ipv4_over_ethernet(const struct arp_ipv4 *arp)
{
	return (arp->hrd == bpf_htons(ARP_HRD_ETHER) || arp->hrd == bpf_htons(ARP_HRD_IEEE802)) &&
	       arp->pro == bpf_htons(ETH_P_IP) && arp->hln == ETH_ALEN && arp->pln == ARP_PLEN_IPV4;
}

/*
 * ARP from a pod goes to the stack only when its sender address is the pod's
 * own: the node learns neighbours from what ARP claims (a request for one of its
 * addresses makes an entry for the sender), so a pod claiming another's address
 * would plant it in the node's neighbour table. Dropped here rather than left to
 * arp_filter/arp_ignore, which choose whether to answer, not whom to believe.
 * ARP the kernel does not act on (other formats, truncated) passes as before.
 */
static __always_inline struct decision arp_from_pod(struct __sk_buff *ctx)
{
	struct arp_ipv4 *arp;
	struct decision d = pass(FERRY_REASON_NOT_IP);
	__be32 spa;
	void *head;

	if (!ctx_pull(ctx, ETH_HLEN, sizeof(*arp), &head))
		return d;
	arp = head + ETH_HLEN;
	if (!arp_is_ipv4_over_ethernet(arp))
		return d;
	__builtin_memcpy(&spa, arp->spa, sizeof(spa));
	d.src = sender_ipv4(ctx, spa);
	return d.src ? d : spoofed(ctx);
}

/*
 * Sources that never leave the pod's link, and that neighbour discovery and MLD
 * need before a pod has any other address: link-local (fe80::/10) and
 * unspecified (::, duplicate address detection). The kernel never forwards
 * them (ip6_forward()), and no other pod shares the link, so they need no owner.
 */
static __always_inline bool ipv6_link_scoped(const struct in6_addr *a)
{
	return ipv6_is_link_local(a) || ipv6_is_unspecified(a);
}

/* The endpoint of a routable IPv6 source, when it is the sending pod's own; NULL when not. */
static __always_inline struct endpoint_value *sender_ipv6(struct __sk_buff *ctx, const struct in6_addr *addr)
{
	return if_sender(ctx, endpoint_lookup_ipv6(addr));
}

#endif /* FERRY_SOURCE_H */
