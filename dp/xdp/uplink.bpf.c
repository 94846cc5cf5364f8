// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
/*
 * uplink.bpf.c: the XDP program on a node's shared uplink NIC.
 *
 * It splits one wire between two owners. sluice traffic goes to the
 * AF_XDP socket (XSK) that sluice-dp bound to the frame's rx queue;
 * everything else (the host's own IP, SSH, the masters' Raft and API
 * traffic, ARP/ND for the host, LLDP...) returns XDP_PASS so the kernel
 * stack sees the NIC as if no program were there.
 *
 * sluice traffic is, in this order:
 *   1. IPv4/IPv6 whose destination matches the steer_v4/steer_v6 LPM
 *      tries (pod CIDRs, service VIPs);
 *   2. UDP to the VXLAN or Geneve port addressed to the node's underlay
 *      address (steer_cfg);
 *   3. ARP request/reply whose target protocol address is in steer_arp
 *      (pod gateway, VIPs dp answers for).
 * One 802.1Q or 802.1ad tag is skipped; a second tag is not parsed and the
 * frame is passed (we do not run the uplink on QinQ). IPv6 extension
 * headers are not walked: encapsulated traffic to an IPv6 underlay must
 * carry UDP right after the fixed header, which VXLAN/Geneve senders do.
 *
 * Whenever the program cannot tell (truncated or malformed header, config
 * missing) it passes: the kernel will drop what is really broken, and a
 * bug here must never cut the host off its own NIC.
 *
 * Every header read is preceded by a check against data_end, both because
 * the verifier rejects the program otherwise and because these are bytes
 * off the wire.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xdp_steer.h"

/* Not in every linux/if_ether.h this may be built against. */
#define STEER_ETH_P_8021Q 0x8100
#define STEER_ETH_P_8021AD 0x88A8
#define STEER_ETH_P_ARP 0x0806
#define STEER_ETH_P_IP 0x0800
#define STEER_ETH_P_IPV6 0x86DD
#define STEER_IP_MF 0x2000
#define STEER_IP_OFFMASK 0x1fff

struct steer_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

/* RFC 826 ARP for Ethernet/IPv4: the fixed header plus the address body. */
struct steer_arp_eth4 {
	__be16 htype;
	__be16 ptype;
	__u8 hlen;
	__u8 plen;
	__be16 op;
	__u8 sha[6];
	__u8 spa[4];
	__u8 tha[6];
	__u8 tpa[4];
} __attribute__((packed));

/* The name DPDK's af_xdp PMD looks up when given this object through its
 * xdp_prog= option, so the same object serves both loaders. max_entries
 * is set by the loader (params.queues) before load. */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdp_steer_cfg);
} steer_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XDP_STEER_MAX_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* LPM tries require it */
	__type(key, struct xdp_steer_lpm4);
	__type(value, __u8);
} steer_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XDP_STEER_MAX_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xdp_steer_lpm6);
	__type(value, __u8);
} steer_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XDP_STEER_MAX_ARP);
	__type(key, __u32); /* IPv4, network order */
	__type(value, __u8);
} steer_arp SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDP_STEER_REASON_MAX);
	__type(key, __u32);
	__type(value, struct xdp_steer_counter);
} steer_stats SEC(".maps");

static __always_inline void steer_count(struct xdp_md *ctx, __u32 reason)
{
	struct xdp_steer_counter *c = bpf_map_lookup_elem(&steer_stats, &reason);

	/* Per-CPU slot: plain increments, no atomics needed. */
	if (c) {
		c->packets++;
		c->bytes += (__u64)(ctx->data_end - ctx->data);
	}
}

static __always_inline int steer_pass(struct xdp_md *ctx, __u32 reason)
{
	steer_count(ctx, reason);
	return XDP_PASS;
}

/*
 * Redirect to the XSK bound to this rx queue. bpf_redirect_map() returns
 * the low bits of its flags (the fallback verdict) when the slot is
 * empty, which is how "sluice traffic, but dp not running" is told apart
 * from a redirect, without a separate lookup.
 */
static __always_inline int steer_redirect(struct xdp_md *ctx, const struct xdp_steer_cfg *cfg,
					  __u32 reason)
{
	/* Only PASS or DROP are accepted as fallback; anything else in the map
	 * (a torn or bogus write) is treated as PASS. */
	__u64 fallback = cfg->fallback == XDP_DROP ? XDP_DROP : XDP_PASS;
	long rc = bpf_redirect_map(&xsks_map, ctx->rx_queue_index, fallback);

	steer_count(ctx, rc == XDP_REDIRECT ? reason : XDP_STEER_NOSOCK);
	return (int)rc;
}

static __always_inline int steer_udp_is_encap(const struct xdp_steer_cfg *cfg, __be16 dport)
{
	return (cfg->vxlan_port && dport == cfg->vxlan_port) ||
	       (cfg->geneve_port && dport == cfg->geneve_port);
}

static __always_inline int steer_ip4(struct xdp_md *ctx, const struct xdp_steer_cfg *cfg,
				     void *l3, void *end)
{
	struct iphdr *ip = l3;
	struct xdp_steer_lpm4 key;
	struct udphdr *udp;
	__u32 ihl, u4;

	if ((void *)(ip + 1) > end)
		return steer_pass(ctx, XDP_STEER_PASS_TRUNC);
	/* RFC 791: IHL counts 32-bit words and is at least 5. */
	if (ip->version != 4 || ip->ihl < 5)
		return steer_pass(ctx, XDP_STEER_PASS_MALFORMED);
	ihl = (__u32)ip->ihl * 4;
	/* Options must be present even if we do not read them: the L4 offset
	 * below depends on them, and a frame whose IHL lies is not ours. */
	if ((void *)ip + ihl > end)
		return steer_pass(ctx, XDP_STEER_PASS_TRUNC);

	key.prefixlen = 32;
	__builtin_memcpy(key.addr, &ip->daddr, 4);
	if (bpf_map_lookup_elem(&steer_v4, &key))
		return steer_redirect(ctx, cfg, XDP_STEER_REDIRECT_PREFIX4);

	__builtin_memcpy(&u4, cfg->underlay4, 4);
	if (!(cfg->flags & XDP_STEER_CFG_UNDERLAY4) || ip->protocol != IPPROTO_UDP ||
	    ip->daddr != u4)
		return steer_pass(ctx, XDP_STEER_PASS_HOST);
	/* A non-first fragment carries no UDP header and cannot be matched
	 * here, so it goes to the kernel: encapsulated traffic must not be
	 * fragmented on the underlay (senders set DF; the underlay MTU must
	 * fit the overhead). */
	if (ip->frag_off & bpf_htons(STEER_IP_OFFMASK))
		return steer_pass(ctx, XDP_STEER_PASS_FRAG);
	udp = (void *)ip + ihl;
	if ((void *)(udp + 1) > end)
		return steer_pass(ctx, XDP_STEER_PASS_TRUNC);
	if (steer_udp_is_encap(cfg, udp->dest))
		return steer_redirect(ctx, cfg, XDP_STEER_REDIRECT_ENCAP);
	return steer_pass(ctx, XDP_STEER_PASS_HOST);
}

/* No memcmp in BPF: compare the 16 bytes as four words. */
static __always_inline int steer_ip6_eq(const struct in6_addr *a, const __u8 *b)
{
	__u32 w[4];

	__builtin_memcpy(w, b, 16);
	return a->in6_u.u6_addr32[0] == w[0] && a->in6_u.u6_addr32[1] == w[1] &&
	       a->in6_u.u6_addr32[2] == w[2] && a->in6_u.u6_addr32[3] == w[3];
}

static __always_inline int steer_ip6(struct xdp_md *ctx, const struct xdp_steer_cfg *cfg,
				     void *l3, void *end)
{
	struct ipv6hdr *ip6 = l3;
	struct xdp_steer_lpm6 key;
	struct udphdr *udp;

	if ((void *)(ip6 + 1) > end)
		return steer_pass(ctx, XDP_STEER_PASS_TRUNC);
	if (ip6->version != 6)
		return steer_pass(ctx, XDP_STEER_PASS_MALFORMED);

	key.prefixlen = 128;
	__builtin_memcpy(key.addr, &ip6->daddr, 16);
	if (bpf_map_lookup_elem(&steer_v6, &key))
		return steer_redirect(ctx, cfg, XDP_STEER_REDIRECT_PREFIX6);

	if (!(cfg->flags & XDP_STEER_CFG_UNDERLAY6) || ip6->nexthdr != IPPROTO_UDP ||
	    !steer_ip6_eq(&ip6->daddr, cfg->underlay6))
		return steer_pass(ctx, XDP_STEER_PASS_HOST);
	udp = (void *)(ip6 + 1);
	if ((void *)(udp + 1) > end)
		return steer_pass(ctx, XDP_STEER_PASS_TRUNC);
	if (steer_udp_is_encap(cfg, udp->dest))
		return steer_redirect(ctx, cfg, XDP_STEER_REDIRECT_ENCAP);
	return steer_pass(ctx, XDP_STEER_PASS_HOST);
}

static __always_inline int steer_arp4(struct xdp_md *ctx, const struct xdp_steer_cfg *cfg,
				      void *l3, void *end)
{
	struct steer_arp_eth4 *arp = l3;
	__u32 tpa;

	if ((void *)(arp + 1) > end)
		return steer_pass(ctx, XDP_STEER_PASS_TRUNC);
	/* Only Ethernet/IPv4 ARP has the layout above (RFC 826). */
	if (arp->htype != bpf_htons(1) || arp->ptype != bpf_htons(STEER_ETH_P_IP) ||
	    arp->hlen != 6 || arp->plen != 4)
		return steer_pass(ctx, XDP_STEER_PASS_MALFORMED);
	/* 1 = request, 2 = reply; RARP and InARP are the host's business. A
	 * reply's target is its requester, so a reply to dp's own request
	 * (e.g. for a next hop) is steered by the same TPA test. */
	if (arp->op != bpf_htons(1) && arp->op != bpf_htons(2))
		return steer_pass(ctx, XDP_STEER_PASS_ARP);
	__builtin_memcpy(&tpa, arp->tpa, 4);
	if (bpf_map_lookup_elem(&steer_arp, &tpa))
		return steer_redirect(ctx, cfg, XDP_STEER_REDIRECT_ARP);
	return steer_pass(ctx, XDP_STEER_PASS_ARP);
}

/* 8< xdp-steer-classify (docs/xdp-uplink.md pulls this region) */
SEC("xdp")
int sluice_uplink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	const struct xdp_steer_cfg *cfg;
	__u32 zero = 0;
	void *l3;
	__be16 proto;

	cfg = bpf_map_lookup_elem(&steer_cfg, &zero);
	if (!cfg)
		return steer_pass(ctx, XDP_STEER_PASS_NOCONFIG);

	if ((void *)(eth + 1) > end)
		return steer_pass(ctx, XDP_STEER_PASS_TRUNC);
	proto = eth->h_proto;
	l3 = eth + 1;
	if (proto == bpf_htons(STEER_ETH_P_8021Q) || proto == bpf_htons(STEER_ETH_P_8021AD)) {
		struct steer_vlan_hdr *vlan = l3;

		if ((void *)(vlan + 1) > end)
			return steer_pass(ctx, XDP_STEER_PASS_TRUNC);
		proto = vlan->proto;
		l3 = vlan + 1;
		if (proto == bpf_htons(STEER_ETH_P_8021Q) || proto == bpf_htons(STEER_ETH_P_8021AD))
			return steer_pass(ctx, XDP_STEER_PASS_VLAN_STACKED);
	}

	if (proto == bpf_htons(STEER_ETH_P_IP))
		return steer_ip4(ctx, cfg, l3, end);
	if (proto == bpf_htons(STEER_ETH_P_IPV6))
		return steer_ip6(ctx, cfg, l3, end);
	if (proto == bpf_htons(STEER_ETH_P_ARP))
		return steer_arp4(ctx, cfg, l3, end);
	return steer_pass(ctx, XDP_STEER_PASS_OTHER);
}
/* >8 xdp-steer-classify */

/* The kernel needs a GPL-compatible license string to offer every helper;
 * this file alone is dual licensed (see SPDX line) for that reason. */
char _license[] SEC("license") = "GPL";
