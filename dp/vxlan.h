/*
 * vxlan: RFC 7348 encapsulation and decapsulation for the multi-node pod
 * network (docs/multinode.md). Pure functions over byte buffers, no DPDK
 * and no state, so they are unit-tested and fuzzed without EAL and run on
 * any lcore.
 *
 * sluice's VXLAN is an L3 overlay: the inner frame is the routed IPv4
 * packet with an Ethernet header the receiver ignores (it routes on the
 * inner destination IP, like the local pod path). Outer headers: Ethernet
 * to the underlay next hop, IPv4 node -> node with DF set (dp never lets
 * the underlay fragment; oversize inner DF packets get ICMP fragmentation
 * needed instead), UDP with a source port derived from the inner flow hash
 * (RFC 7348 section 5, so underlay ECMP spreads flows) and checksum 0
 * (allowed for IPv4, RFC 7348 section 5), VXLAN with the I flag and the
 * cluster VNI.
 */
#ifndef SLUICE_DP_VXLAN_H
#define SLUICE_DP_VXLAN_H

#include <stddef.h>
#include <stdint.h>

#include "pkt.h"

#define VXLAN_PORT 4789u     /* IANA */
#define VXLAN_HDR_LEN 8u
#define VXLAN_UDP_LEN 8u
/* Bytes added in front of the inner frame: outer Ethernet, IPv4, UDP, VXLAN. */
#define VXLAN_OVERHEAD (PKT_ETH_LEN + PKT_IP4_MIN + VXLAN_UDP_LEN + VXLAN_HDR_LEN)
#define VXLAN_VNI_MAX 0xffffffu
/* RFC 7348 section 5: source ports from the dynamic/private range. */
#define VXLAN_SPORT_MIN 49152u
#define VXLAN_SPORT_SPAN 16384u
#define VXLAN_OUTER_TTL 64u

/* Everything the outer headers need; addresses in network order. */
struct vxlan_tx {
	uint8_t dst_mac[6];   /* underlay next hop */
	uint8_t src_mac[6];   /* the uplink's MAC */
	uint32_t src_ip;      /* this node's underlay address */
	uint32_t dst_ip;      /* the remote node's underlay address */
	uint32_t vni;         /* <= VXLAN_VNI_MAX */
	uint16_t dport;       /* host order, normally VXLAN_PORT */
};

/**
 * Flow hash of the IPv4 packet at @ip (@len bytes present, header already
 * validated by pkt_parse into @pi): addresses, protocol and, for TCP/UDP
 * first fragments with the ports present, both ports. Stable for a flow,
 * so one flow keeps one outer source port (no reordering under ECMP).
 * Any thread.
 */
uint32_t vxlan_flow_hash(const uint8_t *ip, size_t len, const struct pkt_info *pi);

/** Outer UDP source port for @hash: VXLAN_SPORT_MIN + hash mod span. */
static inline uint16_t vxlan_src_port(uint32_t hash)
{
	return (uint16_t)(VXLAN_SPORT_MIN + (hash ^ (hash >> 16)) % VXLAN_SPORT_SPAN);
}

/**
 * Write the VXLAN_OVERHEAD bytes of outer headers at @hdr, which must sit
 * directly in front of the inner frame of @inner_len bytes (the caller
 * prepended the room). Outer IPv4 checksum is computed in full; TOS takes
 * the inner packet's DSCP (@inner_tos & 0xfc; ECN is not copied).
 * @return 0, or -EINVAL if the result would exceed 65535 bytes of IP or
 * @t->vni is out of range. Any thread.
 */
int vxlan_encap(uint8_t *hdr, size_t inner_len, const struct vxlan_tx *t, uint16_t sport,
		uint8_t inner_tos);

/*
 * Decapsulation. @frame (@len bytes) was parsed by pkt_parse into @pi and
 * is IPv4 UDP to this node (@underlay_ip) on the VXLAN port @dport (host
 * order): check every length against the bytes present, the I flag and
 * the VNI. On success *@inner_off is the offset of the inner Ethernet
 * frame and *@inner_len its length (outer Ethernet padding excluded).
 * @return 0, or -EINVAL with *@why set (DP_DROP_VXLAN_MALFORMED,
 * DP_DROP_VXLAN_VNI). Fragmented outer packets are malformed here: dp's
 * peers set DF, and reassembly has no place on the fast path. The outer
 * UDP checksum is not verified (RFC 7348 section 5 lets the receiver
 * skip it; the inner packet carries its own). Any thread.
 */
int vxlan_decap(const uint8_t *frame, size_t len, const struct pkt_info *pi, uint16_t dport,
		uint32_t vni, size_t *inner_off, size_t *inner_len, enum dp_drop *why);

/** Is @pi an IPv4 UDP packet to @underlay_ip? (candidate for decap) */
static inline int vxlan_is_candidate(const struct pkt_info *pi, uint32_t underlay_ip)
{
	return pi->kind == PKT_KIND_IPV4 && pi->proto == 17 && pi->dst_ip == underlay_ip;
}

#endif
