/*
 * pkt: bounds-checked parsing and in-place rewriting of Ethernet, ARP,
 * IPv4 and ICMP for the sluice-dp fast path.
 *
 * Pure functions over byte buffers: no DPDK, no allocation, no global
 * state, so they are unit-tested and fuzzed without EAL and called from
 * any lcore. Every read is checked against the bytes present first
 * (WireGuard's prepare_skb_header discipline); a frame that lies about a
 * length is rejected with -EINVAL and the reason stored in pkt_info.drop,
 * which the caller counts.
 *
 * Addresses are kept in network byte order (as on the wire) so they can
 * be used as hash keys and compared against masks without swapping.
 */
#ifndef SLUICE_DP_PKT_H
#define SLUICE_DP_PKT_H

#include <stddef.h>
#include <stdint.h>

#include "dp_stats.h"

#define PKT_ETH_LEN 14u
#define PKT_ARP_LEN 28u
#define PKT_IP4_MIN 20u
#define PKT_IP6_LEN 40u
#define PKT_ICMP_HDR 8u
/* RFC 792: an ICMP error quotes the IP header plus 64 bits of data. */
#define PKT_ICMP_QUOTE 8u
/* Largest ICMP error frame we build: eth + ip + icmp + quoted (60 + 8). */
#define PKT_ICMP_ERR_MAX (PKT_ETH_LEN + PKT_IP4_MIN + PKT_ICMP_HDR + 60u + PKT_ICMP_QUOTE)

#define PKT_ETHERTYPE_IPV4 0x0800u
#define PKT_ETHERTYPE_ARP 0x0806u
#define PKT_ETHERTYPE_IPV6 0x86ddu
#define PKT_ETHERTYPE_VLAN 0x8100u
#define PKT_ETHERTYPE_QINQ 0x88a8u

#define PKT_IPPROTO_ICMP 1u

enum pkt_kind {
	PKT_KIND_NONE = 0,
	PKT_KIND_ARP,
	PKT_KIND_IPV4,
	PKT_KIND_IPV6,
};

/* What pkt_parse() learned about a frame. Offsets are from frame start. */
struct pkt_info {
	uint8_t kind;          /* enum pkt_kind */
	uint8_t drop;          /* enum dp_drop, DP_DROP_NONE on success */
	uint8_t l2_unicast;    /* destination MAC is unicast */
	uint8_t ttl;           /* IPv4 */
	uint8_t proto;         /* IPv4 */
	uint8_t ihl_len;       /* IPv4 header length in bytes, 20..60 */
	uint16_t ethertype;
	uint16_t ip_len;       /* IPv4 total length (<= frame len - 14) */
	uint16_t frag;         /* IPv4 flags+fragment offset, host order */
	uint16_t arp_op;       /* ARP opcode, host order */
	uint8_t lb_dsr;        /* PKT_LB_DSR_*, set by the LB (dp/lb_fwd.h) */
	uint32_t src_ip;       /* IPv4 or ARP sender, network order */
	uint32_t dst_ip;       /* IPv4 or ARP target, network order; with
				* PKT_LB_DSR_ENCAP the tunnel's destination */
};

/* pkt_info.lb_dsr: 0, or a DSR packet (docs/lb.md "DSR") that the LB
 * handed back for routing: ENCAP is the client's packet, to be sent in an
 * IPIP tunnel to dst_ip (a backend pod); LOCAL was decapsulated and
 * rewritten for a backend pod that must be on this node. */
#define PKT_LB_DSR_ENCAP 1u
#define PKT_LB_DSR_LOCAL 2u

/**
 * Parse one frame.
 * @frame, @len: the bytes present (not owned, read only).
 * @pi: filled on return (also on error, with pi->drop naming the reason).
 * @return 0, or -EINVAL when the frame is malformed or of a kind dp drops
 *   (VLAN, unknown ethertype); IPv6 is parsed (fixed header) and returns 0.
 * Any thread.
 */
int pkt_parse(const uint8_t *frame, size_t len, struct pkt_info *pi);

/** Internet checksum (RFC 1071) of @len bytes, folded and complemented,
 *  as a host-order value of the big-endian field. */
uint16_t pkt_csum(const uint8_t *p, size_t len);

/**
 * RFC 1624 eqn. 3 incremental update: HC' = ~(~HC + ~m + m').
 * @hc: old checksum field, @m: old 16-bit word, @m_new: new word, all as
 * host-order values of big-endian fields. Returns the new checksum field.
 */
static inline uint16_t pkt_csum_update16(uint16_t hc, uint16_t m, uint16_t m_new)
{
	uint32_t sum = (uint16_t)~hc;
	sum += (uint16_t)~m;
	sum += m_new;
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)~sum;
}

/**
 * Decrement the TTL of the IPv4 header at @ip (20+ bytes present, TTL > 0)
 * and patch its checksum incrementally. Any thread.
 */
void pkt_ip4_dec_ttl(uint8_t *ip);

/** Write Ethernet destination and source MACs at the start of @frame. */
void pkt_eth_set(uint8_t *frame, const uint8_t dst[6], const uint8_t src[6]);

/**
 * Turn the ARP request in @frame (parsed by pkt_parse) into the reply
 * "@pi->dst_ip is at @mac", in place, addressed back to the requester.
 * The frame length does not change. Returns 0 or -EINVAL if not a request.
 */
int pkt_arp_reply(uint8_t *frame, size_t len, const struct pkt_info *pi,
		  const uint8_t mac[6]);

/**
 * Turn the ICMP echo request in @frame into its echo reply in place
 * (swap addresses, type 8 -> 0, TTL 64, checksums patched incrementally),
 * from @mac. Returns 0, or -EINVAL if the frame is not a complete,
 * unfragmented echo request.
 */
int pkt_icmp_echo_reply(uint8_t *frame, size_t len, const struct pkt_info *pi,
			const uint8_t mac[6]);

/**
 * RFC 1812 4.3.2.7: may an ICMP error be sent about this IPv4 packet?
 * Not about an ICMP error, a non-first fragment, a packet from 0.0.0.0,
 * a multicast/broadcast/loopback source, or a multicast destination.
 * @frame holds the parsed packet (pi->kind == PKT_KIND_IPV4).
 */
int pkt_icmp_error_allowed(const uint8_t *frame, size_t len, const struct pkt_info *pi);

/**
 * Rewrite the IPv4 frame in @frame (parsed into @pi) into an ICMP error
 * (@type, @code) about it, in place: Ethernet to the original source MAC
 * from @mac, IP from @src_ip (network order) to the original source,
 * TTL 64, quoting the original header plus 8 bytes (RFC 792).
 * @cap: buffer capacity, >= PKT_ICMP_ERR_MAX is always enough.
 * @return the new frame length, or -ENOSPC if @cap is too small.
 */
int pkt_icmp_error(uint8_t *frame, size_t cap, const struct pkt_info *pi,
		   uint8_t type, uint8_t code, uint32_t src_ip, const uint8_t mac[6]);

/**
 * RFC 1191: put @mtu in the "next-hop MTU" field of the ICMP
 * fragmentation-needed error (type 3 code 4) that pkt_icmp_error() just
 * built in @frame, patching its checksum incrementally.
 */
void pkt_icmp_error_set_mtu(uint8_t *frame, uint16_t mtu);

#endif
