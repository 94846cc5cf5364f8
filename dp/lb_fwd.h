/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lb_fwd: the load balancer's stage of the sluice-dp fast path (DESIGN.md,
 * packet path step 2), called from fwd_burst() between parsing and the pod
 * and route lookups. Per burst, on the worker that owns its conntrack:
 *
 *   gather  packets to a VIP, replies to the LB's SNAT address, fragments
 *           and ICMP errors of LB flows (lb_fwd_wants, per packet)
 *   lookup  one staged ct_lookup_bulk() for all their flow keys
 *   miss    Maglev pick (5-tuple hash, or client address only with ClientIP
 *           affinity) -> conntrack insert of the flow and of its reply key
 *   NAT     full NAT, both directions, checksums patched incrementally
 *           (RFC 1624); the caller then routes the rewritten destination
 *
 * Two conntrack entries per flow, in the same table: the client-side key
 * (client -> VIP, zone 0) holding the backend slot, SNAT port and the index
 * of the reply entry; the reply key (backend -> SNAT address:port, zone 1)
 * holding the client address and port and the index of the first. Both are
 * advanced by every packet of the flow, so their states and expiry move
 * together. No allocation, locks or syscalls; drops are counted in the
 * caller's dp_stats counters, events in the lb's per-worker ones.
 *
 * The pure helpers (NAT rewrite, ICMP mapping, fragment table) are exported
 * for the unit tests (tests/lb/test_lb_fwd.c).
 */
#ifndef SLUICE_DP_LB_FWD_H
#define SLUICE_DP_LB_FWD_H

#include <stddef.h>
#include <stdint.h>

#include "lb_svc.h"
#include "pkt.h"

struct rte_mbuf;

#define LB_ZONE_ORIG 0u
#define LB_ZONE_REPLY 1u
#define LB_ZONE_DSR 2u /* backend side of DSR: key = the backend's reply tuple */
#define PKT_IPPROTO_IPIP 4u
#define LB_IPIP_HDR 20u

/* Does this parsed IPv4 packet go through the LB? Any worker, lock-free;
 * the map read is valid until the worker's next quiescent state. */
static inline int lb_fwd_wants(const struct lb *lb, const uint8_t *frame,
			       const struct pkt_info *pi)
{
	const struct lb_map *m = __atomic_load_n(&lb->map, __ATOMIC_ACQUIRE);

	if (m->n_svc == 0)
		return 0;
	if (pi->dst_ip == m->snat_ip) {
		if (pi->proto == 6 || pi->proto == 17)
			return 1;
		/* ICMP errors about our flows; echo to the gateway stays dp's */
		if (pi->proto == PKT_IPPROTO_ICMP && (pi->frag & 0x1fffu) == 0 &&
		    pi->ip_len >= pi->ihl_len + PKT_ICMP_HDR) {
			uint8_t type = frame[PKT_ETH_LEN + pi->ihl_len];
			return type == 3 || type == 11;
		}
		return 0;
	}
	if (lb_map_is_vip(m, pi->dst_ip))
		return 1;
	/* DSR: tunnels to backend pods, and replies from them (filter) */
	return m->n_dsr != 0 &&
	       (pi->proto == PKT_IPPROTO_IPIP ||
		((pi->proto == 6 || pi->proto == 17) && lb_map_dsr_src(m, pi->src_ip)));
}

/*
 * Process the n packets pkts[idx[j]] (j < n) that lb_fwd_wants() took.
 * Each is rewritten in place and its pi[] updated (src_ip, dst_ip), then
 * its new destination is appended to keys[] with its index in kidx[], for
 * the caller's pod/route lookup; or it is left out and counted in
 * drop[reason] (the caller's per-worker dp_stats drop counters), and the
 * caller drops it; or (several workers) it is a reply of a flow another
 * worker tracks: it is left out too, but handed to that worker with one
 * more reference, so the caller's free leaves it alive. A DSR packet comes
 * back marked in pi->lb_dsr (pkt.h): ENCAP with keys[] the backend pod to
 * tunnel it to. Returns how many were appended. Worker lcore `worker`
 * only (it owns lb->lc[worker]), QSBR online.
 */
unsigned lb_fwd_burst(struct lb *lb, unsigned worker, struct rte_mbuf **pkts,
		      struct pkt_info *pi, const uint8_t *idx, unsigned n, uint32_t *keys,
		      uint8_t *kidx, uint64_t *drop);

/*
 * DSR to a backend pod on this node (the caller's pod lookup found
 * pi->dst_ip, the tunnel destination of a PKT_LB_DSR_ENCAP packet, local):
 * encapsulate m and queue it on this worker's hand-off ring, so it comes
 * back as a tunneled packet and takes the backend side's path. 0 (queued,
 * with one more reference: the caller frees it as unrouted) or a drop
 * reason. Worker `worker` only.
 */
int lb_fwd_dsr_local(struct lb *lb, unsigned worker, struct rte_mbuf *m,
		     const struct pkt_info *pi);

/*
 * Prepend an IPIP header (RFC 2003) src -> dst to the Ethernet frame in m,
 * in its headroom; the Ethernet header moves to the front unchanged.
 * 0 or -ENOSPC (no headroom).
 */
int lb_ipip_encap(struct rte_mbuf *m, uint32_t src, uint32_t dst);

/*
 * Take up to n packets other workers handed to `worker` (replies of flows
 * it tracks) into pkts[]; the caller runs them through fwd_burst() with
 * rx_port = pkts[i]->port, like received packets. Worker `worker` only.
 * Returns the count (0 with a single worker).
 */
unsigned lb_fwd_handoff_take(struct lb *lb, unsigned worker, struct rte_mbuf **pkts, unsigned n);

/*
 * A poll of `worker` that found nothing: expire a conntrack slice if none
 * was swept from an idle poll in the last millisecond (tsc = now). Worker
 * `worker` only.
 */
void lb_fwd_idle(struct lb *lb, unsigned worker, uint64_t tsc);

/* ---- pure helpers (any thread; tested without EAL) ---- */

/*
 * Rewrite the IPv4 packet at ip (header and, if has_l4, the TCP/UDP header
 * after it, all present) to src:sport -> dst:dport (network order), patching
 * the IP and L4 checksums incrementally (RFC 1624 eqn. 3). The L4 checksum
 * covers the pseudo-header, so a first fragment's checksum is patched for
 * the whole datagram. A UDP checksum of 0 (none) stays 0.
 */
void lb_nat4(uint8_t *ip, int has_l4, uint32_t src, uint16_t sport, uint32_t dst,
	     uint16_t dport);

/* The packet an ICMP error quotes (RFC 792: its IP header and >= 8 bytes). */
struct lb_icmp_inner {
	uint32_t src, dst;     /* network order */
	uint16_t sport, dport; /* network order */
	uint8_t proto;
	uint8_t type, code;
};

/*
 * Parse the ICMP error in the IPv4 packet at ip (ip_len bytes present,
 * header ihl bytes): type 3 or 11 quoting a TCP or UDP packet with at
 * least its ports. 0, or -EINVAL naming nothing (malformed or not ours).
 */
int lb_icmp_parse(const uint8_t *ip, size_t ip_len, struct lb_icmp_inner *out);

/*
 * Map the ICMP error at ip (validated by lb_icmp_parse) onto the other side
 * of the NAT: outer addresses become osrc -> odst, the quoted packet
 * isrc:isport -> idst:idport, with the quoted IP checksum and (when quoted)
 * L4 checksum patched incrementally and the ICMP checksum recomputed.
 */
void lb_icmp_nat(uint8_t *ip, size_t ip_len, uint32_t osrc, uint32_t odst, uint32_t isrc,
		 uint16_t isport, uint32_t idst, uint16_t idport);

/*
 * Write the 20-byte IPIP header (RFC 2003 §3.1) for the IPv4 packet at
 * inner at outer: src -> dst (network order), TOS and DF copied from the
 * inner header, IP id copied, TTL 64, protocol 4, checksum computed.
 */
void lb_ipip_hdr(uint8_t *outer, const uint8_t *inner, uint32_t src, uint32_t dst);

/* Fragment table of one worker: remember a first fragment's rewrite,
 * find it for the later ones. Expired entries are overwritten. */
struct lb_frag *lb_frag_put(struct lb_frag *tbl, uint32_t src, uint32_t dst, uint16_t id, uint8_t proto,
		 uint32_t new_src, uint32_t new_dst, uint64_t expire_tsc);
const struct lb_frag *lb_frag_get(const struct lb_frag *tbl, uint32_t src, uint32_t dst,
				  uint16_t id, uint8_t proto, uint64_t now_tsc);

#endif
