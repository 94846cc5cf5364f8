/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lb_fwd: the load balancer fast path (see lb_fwd.h). Burst functions and
 * pure helpers only: no allocation, locks, syscalls or logging (STYLE 14).
 *
 * Removed backends. A flow whose backend slot is dead, or was reused
 * (generation mismatch), is treated as new: its conntrack entries are
 * deleted and Maglev picks a live backend. For TCP that backend has no such
 * connection and answers the next segment with a RST (RFC 793 §3.4), so the
 * client's connection ends cleanly instead of hanging; UDP flows simply
 * move. Draining backends (weight 0) are not affected: they keep their
 * slot and their flows, and only Maglev stops giving them new ones.
 */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <sluice/ring_proto.h>

#include "ct_node.h"
#include "lb_fwd.h"
#include "maglev_node.h"

#define LB_TCP 6u
#define LB_UDP 17u
#define LB_SNAT_TRIES 32u
/* Conntrack expiry runs in slices of LB_SWEEP_BUCKETS: one per
 * LB_SWEEP_PKTS packets under load, and from idle polls at most once a
 * millisecond (lb_fwd_idle). Per packets, not per bursts: at a low rate
 * every burst holds a packet or two, and a slice (64 cold buckets, ~1000
 * cycles) every 16 bursts cost more than the packets themselves. */
#define LB_SWEEP_PKTS 512u
#define LB_SWEEP_BUCKETS 64u /* buckets per slice */

static inline void lb_cnt(uint64_t *c, uint64_t n)
{
	/* one writer (this worker); telemetry reads relaxed, never torn */
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* Unaligned header fields: memcpy keeps the wire byte order (n = network
 * order value); lb_rd16/lb_wr16 convert to and from host order. */
static inline uint16_t lb_rd16n(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t lb_rd32n(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint16_t lb_rd16(const uint8_t *p)
{
	return rte_be_to_cpu_16(lb_rd16n(p));
}

static inline void lb_wr16(uint8_t *p, uint16_t host)
{
	uint16_t v = rte_cpu_to_be_16(host);
	memcpy(p, &v, sizeof(v));
}

/* Patch checksum field *c for the 32-bit network-order value at old ->
 * new (two 16-bit words of the sum). */
static inline uint16_t lb_csum32(uint16_t hc, const uint8_t o[4], const uint8_t n[4])
{
	hc = pkt_csum_update16(hc, lb_rd16(o), lb_rd16(n));
	return pkt_csum_update16(hc, lb_rd16(o + 2), lb_rd16(n + 2));
}

/* Rewrite the addresses and (if l4 != NULL) ports of one IPv4 header,
 * patching its checksum, and the L4 checksum at l4csum (NULL = none or
 * not present; zero_ok: UDP, where 0 means "no checksum"). */
static void lb_rewrite(uint8_t *ip, uint8_t *l4, uint8_t *l4csum, int zero_ok, uint32_t src,
		       uint16_t sport, uint32_t dst, uint16_t dport)
{
	uint8_t ns[4], nd[4], np[2];
	uint16_t hc = lb_rd16(ip + 10), lc = 0;
	int do_l4 = l4csum != NULL && !(zero_ok && lb_rd16(l4csum) == 0);

	memcpy(ns, &src, 4);
	memcpy(nd, &dst, 4);
	if (do_l4)
		lc = lb_rd16(l4csum);
	hc = lb_csum32(lb_csum32(hc, ip + 12, ns), ip + 16, nd);
	if (do_l4)
		lc = lb_csum32(lb_csum32(lc, ip + 12, ns), ip + 16, nd);
	memcpy(ip + 12, ns, 4);
	memcpy(ip + 16, nd, 4);
	lb_wr16(ip + 10, hc);
	if (l4 != NULL) {
		memcpy(np, &sport, 2);
		if (do_l4)
			lc = pkt_csum_update16(lc, lb_rd16(l4), lb_rd16(np));
		memcpy(l4, np, 2);
		memcpy(np, &dport, 2);
		if (do_l4)
			lc = pkt_csum_update16(lc, lb_rd16(l4 + 2), lb_rd16(np));
		memcpy(l4 + 2, np, 2);
	}
	if (do_l4) {
		/* RFC 768: a computed UDP checksum of 0 is sent as all ones */
		if (zero_ok && lc == 0)
			lc = 0xffff;
		lb_wr16(l4csum, lc);
	}
}

void lb_nat4(uint8_t *ip, int has_l4, uint32_t src, uint16_t sport, uint32_t dst,
	     uint16_t dport)
{
	unsigned ihl = (ip[0] & 0x0fu) * 4u;
	uint8_t *l4 = has_l4 ? ip + ihl : NULL;
	uint8_t *csum = NULL;

	if (l4 != NULL)
		csum = ip[9] == LB_TCP ? l4 + 16 : ip[9] == LB_UDP ? l4 + 6 : NULL;
	lb_rewrite(ip, l4, csum, ip[9] == LB_UDP, src, sport, dst, dport);
}

int lb_icmp_parse(const uint8_t *ip, size_t ip_len, struct lb_icmp_inner *out)
{
	size_t ihl, iihl;
	const uint8_t *icmp, *in;

	if (ip_len < PKT_IP4_MIN)
		return -EINVAL;
	ihl = (ip[0] & 0x0fu) * 4u;
	/* outer header, ICMP header, quoted header of >= 20 bytes: lengths
	 * checked before each read */
	if (ihl < PKT_IP4_MIN || ip_len < ihl + PKT_ICMP_HDR + PKT_IP4_MIN || ip[9] != PKT_IPPROTO_ICMP)
		return -EINVAL;
	icmp = ip + ihl;
	if (icmp[0] != 3 && icmp[0] != 11)
		return -EINVAL;
	in = icmp + PKT_ICMP_HDR;
	iihl = (in[0] & 0x0fu) * 4u;
	/* the quote must be IPv4 with its header and the 8 bytes holding
	 * the ports (RFC 792), and a first fragment (it has the ports) */
	if ((in[0] >> 4) != 4 || iihl < PKT_IP4_MIN ||
	    ip_len < ihl + PKT_ICMP_HDR + iihl + PKT_ICMP_QUOTE || (lb_rd16(in + 6) & 0x1fffu) != 0 ||
	    (in[9] != LB_TCP && in[9] != LB_UDP))
		return -EINVAL;
	out->type = icmp[0];
	out->code = icmp[1];
	out->proto = in[9];
	out->src = lb_rd32n(in + 12);
	out->dst = lb_rd32n(in + 16);
	out->sport = lb_rd16n(in + iihl);
	out->dport = lb_rd16n(in + iihl + 2);
	return 0;
}

void lb_icmp_nat(uint8_t *ip, size_t ip_len, uint32_t osrc, uint32_t odst, uint32_t isrc,
		 uint16_t isport, uint32_t idst, uint16_t idport)
{
	size_t ihl = (ip[0] & 0x0fu) * 4u;
	uint8_t *icmp = ip + ihl, *in = icmp + PKT_ICMP_HDR;
	size_t iihl = (in[0] & 0x0fu) * 4u;
	size_t quoted = ip_len - ihl - PKT_ICMP_HDR - iihl; /* L4 bytes quoted */
	uint8_t *l4 = in + iihl, *csum = NULL;

	/* The quoted L4 checksum is patched only if the quote holds it
	 * (Linux quotes as much as fits; RFC 792 only 8 bytes). */
	if (in[9] == LB_UDP && quoted >= 8)
		csum = l4 + 6;
	else if (in[9] == LB_TCP && quoted >= 18)
		csum = l4 + 16;
	lb_rewrite(in, l4, csum, in[9] == LB_UDP, isrc, isport, idst, idport);
	lb_rewrite(ip, NULL, NULL, 0, osrc, 0, odst, 0);
	/* The ICMP checksum covers the quote, which changed in several
	 * places: recompute it over the whole message. */
	lb_wr16(icmp + 2, 0);
	lb_wr16(icmp + 2, pkt_csum(icmp, ip_len - ihl));
}

static inline uint32_t lb_frag_slot(uint32_t src, uint32_t dst, uint16_t id, uint8_t proto)
{
	uint64_t h = ((uint64_t)src << 32 | dst) * 0x9e3779b97f4a7c15ULL;
	h ^= ((uint64_t)id << 8 | proto) * 0xc2b2ae3d27d4eb4fULL;
	return (uint32_t)(h >> 48) & (LB_FRAG_SLOTS - 1);
}

struct lb_frag *lb_frag_put(struct lb_frag *tbl, uint32_t src, uint32_t dst, uint16_t id,
			    uint8_t proto, uint32_t new_src, uint32_t new_dst, uint64_t expire_tsc)
{
	/* Direct mapped: a collision replaces the older datagram's entry;
	 * its remaining fragments are then dropped and counted (bounded
	 * memory beats completeness under a fragment flood). */
	struct lb_frag *f = &tbl[lb_frag_slot(src, dst, id, proto)];

	f->src = src;
	f->dst = dst;
	f->id = id;
	f->proto = proto;
	f->new_src = new_src;
	f->new_dst = new_dst;
	f->expire_tsc = expire_tsc;
	f->used = 1;
	f->dsr = 0;
	return f;
}

void lb_ipip_hdr(uint8_t *outer, const uint8_t *inner, uint32_t src, uint32_t dst)
{
	uint16_t len = (uint16_t)(lb_rd16(inner + 2) + LB_IPIP_HDR);

	outer[0] = 0x45;
	outer[1] = inner[1];                        /* TOS (RFC 2003 §3.1) */
	lb_wr16(outer + 2, len);
	memcpy(outer + 4, inner + 4, 2);            /* IP id */
	lb_wr16(outer + 6, lb_rd16(inner + 6) & 0x4000u); /* DF only */
	outer[8] = 64;
	outer[9] = PKT_IPPROTO_IPIP;
	lb_wr16(outer + 10, 0);
	memcpy(outer + 12, &src, 4);
	memcpy(outer + 16, &dst, 4);
	lb_wr16(outer + 10, pkt_csum(outer, LB_IPIP_HDR));
}

int lb_ipip_encap(struct rte_mbuf *m, uint32_t src, uint32_t dst)
{
	uint8_t *f = (uint8_t *)rte_pktmbuf_prepend(m, LB_IPIP_HDR);

	if (f == NULL)
		return -ENOSPC;
	memmove(f, f + LB_IPIP_HDR, PKT_ETH_LEN);
	lb_ipip_hdr(f + PKT_ETH_LEN, f + PKT_ETH_LEN + LB_IPIP_HDR, src, dst);
	return 0;
}

const struct lb_frag *lb_frag_get(const struct lb_frag *tbl, uint32_t src, uint32_t dst,
				  uint16_t id, uint8_t proto, uint64_t now_tsc)
{
	const struct lb_frag *f = &tbl[lb_frag_slot(src, dst, id, proto)];

	if (!f->used || f->src != src || f->dst != dst || f->id != id || f->proto != proto ||
	    (int64_t)(now_tsc - f->expire_tsc) >= 0)
		return NULL;
	return f;
}

/* ---- the burst ---- */

static inline void lb_key(struct ct_key *k, uint32_t src, uint32_t dst, uint16_t sport,
			  uint16_t dport, uint8_t proto, uint16_t zone)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->src, &src, 4);
	memcpy(k->dst, &dst, 4);
	k->sport = sport;
	k->dport = dport;
	k->proto = proto;
	k->family = 4;
	k->zone = zone;
}

static inline uint32_t lb_key_src(const struct ct_key *k)
{
	return lb_rd32n(k->src);
}

static inline uint32_t lb_key_dst(const struct ct_key *k)
{
	return lb_rd32n(k->dst);
}

/* Is ri the live reply entry of forward entry fi? Both are indices into
 * one table; either may have been evicted and reused independently. */
static inline int lb_pair_ok(struct ct *ct, uint32_t fi, uint32_t ri)
{
	const struct ct_entry *e, *r;

	if (fi >= ct->capacity || ri >= ct->capacity)
		return 0;
	if (ct->buckets[fi / CT_WAYS].sig[fi % CT_WAYS] == 0 ||
	    ct->buckets[ri / CT_WAYS].sig[ri % CT_WAYS] == 0)
		return 0;
	e = &ct->entries[fi];
	r = &ct->entries[ri];
	return e->key.zone == LB_ZONE_ORIG && r->key.zone == LB_ZONE_REPLY && e->pad == ri &&
	       r->service == fi && r->key.dport == e->nat_port && r->nat_port == e->key.sport &&
	       r->pad == lb_key_src(&e->key) && r->backend == e->backend;
}

/*
 * Advance entry a (the one this packet hit) and its partner b. The two are
 * in lockstep (same state machine, same packets), so a packet that moves
 * a state goes to both at once. One that moves no state only has to keep
 * expiry times fresh, and that can wait: a's own once per ~1/4 s window of
 * the TSC (its lines are cached from the lookup), b's once per ~2 s window
 * (b's two lines are cold: reading them on every packet cost ~60% of the
 * established path in perf/lb_fwd_bench). Expiry then lags by at most
 * ~2 s, below every steady-state timeout (the 5 s of CLOSE is reached by a
 * state change, which updates both). b is only touched once lb_pair_ok()
 * says it is a's partner (the caller checked that for the reply path).
 */
static inline void lb_update_pair(const struct lb *lb, struct ct *ct, uint32_t a, uint32_t b,
				  unsigned dir, uint8_t tcp_flags, const struct ct_clock *clk,
				  int fresh)
{
	const struct ct_entry *e = ct_entry(ct, a);
	uint64_t seen = e->last_seen;
	int moved = fresh || ct_state_next(e->state, dir, tcp_flags) != e->state;

	if (!moved && (seen >> lb->refresh_shift) == (clk->tsc >> lb->refresh_shift))
		return;
	(void)ct_update(ct, a, dir, tcp_flags, clk);
	if (!moved && (seen >> lb->partner_shift) == (clk->tsc >> lb->partner_shift))
		return;
	if (dir == CT_DIR_REPLY || lb_pair_ok(ct, a, b))
		(void)ct_update(ct, b, dir, tcp_flags, clk);
}

/* SNAT port candidate `try` for a flow: the client's own port first (as
 * Linux masquerading does), then up to 31 ports spread over the range by
 * a golden-ratio step from a start the flow hash picks. Not linear
 * probing: the client ports of a busy client cluster (ephemeral ranges),
 * and a probe run that starts in such a cluster walks it to the end (that
 * lost 0.23% of new flows with generator-like ports); 7 spread probes lost
 * 0.8% at half the space in use, 31 lose ~2^-31. Always in this worker's
 * class (port % workers == worker) and >= 1024. */
static inline uint16_t lb_snat_port(unsigned nw, unsigned w, uint16_t cport_be, uint64_t h,
				    unsigned try)
{
	uint32_t p = try == 0 ? (uint32_t)((cport_be >> 8) | (cport_be & 0xff) << 8)
			      : 1024u + ((uint32_t)(h >> 16) + try * 0x9e3779b1u) % 64512u;

	if (p < 1024)
		p += 1024;
	p = p - p % nw + w;
	if (p > 65535)
		p -= nw;
	return (uint16_t)((p >> 8) | (p & 0xff) << 8); /* to network order */
}

enum lb_kind { LB_K_ORIG, LB_K_REPLY, LB_K_DSR, LB_K_DSR_REPLY };

struct lb_work {
	struct ct_key key;
	uint8_t *ip;
	const struct lb_svc_fp *svc;
	uint8_t j;    /* index into idx[] */
	uint8_t kind;
	uint8_t tcp_flags;
	uint8_t first_frag;
};

static inline unsigned lb_state_new(uint8_t proto, uint8_t tcp_flags)
{
	if (proto != LB_TCP)
		return CT_UDP_NEW;
	return (tcp_flags & (CT_TCP_SYN | CT_TCP_ACK)) == CT_TCP_SYN ? CT_TCP_SYN_SENT
								    : CT_TCP_MIDSTREAM;
}

/* A new flow for w (forward key missed): Maglev picks a live backend
 * (*bw), the forward entry is inserted (*fi). 0, -1 (the same new flow
 * earlier in this burst made it), or a drop reason. */
static inline int lb_pick_insert(struct lb *lb, struct lb_lcore *lc, const struct lb_work *w,
				 uint64_t hash, const struct ct_clock *clk, uint32_t *fi,
				 uint64_t *bwp)
{
	const struct lb_svc_fp *s = w->svc;
	uint64_t h = hash;
	uint32_t slot;
	int rc;

	if (s->mt == NULL)
		return DP_DROP_LB_NO_BACKEND;
	if (s->flags & RING_SVC_F_AFFINITY_CLIENTIP) {
		struct ct_key ak;
		lb_key(&ak, lb_key_src(&w->key), lb_key_dst(&w->key), 0, w->key.dport,
		       w->key.proto, 0);
		h = ct_hash(&ak);
	}
	slot = maglev_lookup(s->mt, h);
	if (slot == MAGLEV_NO_BACKEND || slot >= LB_BE_SLOTS)
		return DP_DROP_LB_NO_BACKEND;
	uint64_t bw = __atomic_load_n(&lb->be[slot], __ATOMIC_ACQUIRE);
	if (LB_BE_STATE(bw) != LB_BE_LIVE)
		return DP_DROP_LB_NO_BACKEND;
	*bwp = bw;
	rc = ct_insert(lc->ct, &w->key, hash, lb_state_new(w->key.proto, w->tcp_flags), slot, clk,
		       fi);
	if (rc == -EEXIST)
		return -1; /* the same new flow earlier in this burst made it */
	return rc != 0 ? DP_DROP_LB_CT_FULL : 0;
}

/* Set up a new flow for w (forward key missed). 0 and *fi, or a drop. */
static int lb_new_flow(struct lb *lb, struct lb_lcore *lc, unsigned worker, struct lb_work *w,
		       uint64_t hash, const struct ct_clock *clk, uint32_t *fi)
{
	const struct lb_svc_fp *s = w->svc;
	uint32_t ri = CT_MISS;
	uint64_t bw;
	int rc = lb_pick_insert(lb, lc, w, hash, clk, fi, &bw);

	if (rc != 0)
		return rc < 0 ? 0 : rc;
	unsigned state = lb_state_new(w->key.proto, w->tcp_flags);
	uint32_t slot = ct_entry(lc->ct, *fi)->backend;
	uint16_t np = 0;
	for (unsigned t = 0; t < LB_SNAT_TRIES; t++) {
		struct ct_key rk;
		np = lb_snat_port(lb->n_workers, worker, w->key.sport, hash, t);
		lb_key(&rk, LB_BE_IP(bw), lb->snat_ip, LB_BE_PORT(bw), np, w->key.proto,
		       LB_ZONE_REPLY);
		rc = ct_insert(lc->ct, &rk, ct_hash(&rk), state, slot, clk, &ri);
		if (rc != -EEXIST)
			break;
		lb_cnt(&lc->ev[LB_EV_SNAT_RETRY], 1);
	}
	if (rc != 0) {
		(void)ct_delete(lc->ct, *fi);
		return DP_DROP_LB_CT_FULL;
	}
	struct ct_entry *e = ct_entry(lc->ct, *fi), *r = ct_entry(lc->ct, ri);
	e->service = s->id;
	e->nat_port = np;
	e->flags = LB_BE_GEN(bw);
	e->pad = ri;
	r->service = *fi;
	r->nat_port = w->key.sport;
	r->flags = LB_BE_GEN(bw);
	r->pad = lb_key_src(&w->key);
	lb_cnt(&lc->ev[LB_EV_NEW_FLOW], 1);
	return 0;
}

/* Client -> VIP. 0 or a drop reason. */
static int lb_orig(struct lb *lb, struct lb_lcore *lc, unsigned worker, struct lb_work *w,
		   uint64_t hash, uint32_t fi, const struct ct_clock *clk)
{
	struct ct *ct = lc->ct;
	uint64_t bw;
	int rc;

	if (fi != CT_MISS) {
		const struct ct_entry *e = ct_entry(ct, fi);
		bw = __atomic_load_n(&lb->be[e->backend % LB_BE_SLOTS], __ATOMIC_ACQUIRE);
		/* A client SYN on a finished connection reuses its 4-tuple
		 * for a new one (the server closed first, so the client kept
		 * no TIME-WAIT): schedule it afresh, as IPVS does with
		 * conn_reuse_mode, or a drained backend would get it. */
		int reused = (w->tcp_flags & (CT_TCP_SYN | CT_TCP_ACK)) == CT_TCP_SYN &&
			     (e->state == CT_TCP_TIME_WAIT || e->state == CT_TCP_CLOSE);
		if (reused || LB_BE_STATE(bw) != LB_BE_LIVE || LB_BE_GEN(bw) != e->flags) {
			/* backend removed: re-pick (see the file comment) */
			if (lb_pair_ok(ct, fi, e->pad))
				(void)ct_delete(ct, e->pad);
			(void)ct_delete(ct, fi);
			lb_cnt(&lc->ev[reused ? LB_EV_REUSED : LB_EV_REPICK], 1);
			fi = CT_MISS;
		}
	}
	int fresh = fi == CT_MISS;
	if (fresh && (rc = lb_new_flow(lb, lc, worker, w, hash, clk, &fi)) != 0)
		return rc;
	struct ct_entry *e = ct_entry(ct, fi);
	bw = __atomic_load_n(&lb->be[e->backend % LB_BE_SLOTS], __ATOMIC_ACQUIRE);
	lb_update_pair(lb, ct, fi, e->pad, CT_DIR_ORIG, w->tcp_flags, clk, fresh);
	lb_nat4(w->ip, 1, lb->snat_ip, e->nat_port, LB_BE_IP(bw), LB_BE_PORT(bw));
	lb_cnt(&lc->ev[LB_EV_ORIG], 1);
	return 0;
}

/* Backend -> SNAT address. 0 or a drop reason. */
static int lb_reply(const struct lb *lb, struct lb_lcore *lc, struct lb_work *w, uint32_t ri,
		    const struct ct_clock *clk)
{
	struct ct *ct = lc->ct;

	if (ri == CT_MISS)
		return DP_DROP_LB_NO_FLOW;
	const struct ct_entry *r = ct_entry(ct, ri);
	uint32_t fi = r->service;
	if (!lb_pair_ok(ct, fi, ri)) {
		(void)ct_delete(ct, ri);
		return DP_DROP_LB_NO_FLOW;
	}
	const struct ct_entry *e = ct_entry(ct, fi);
	lb_update_pair(lb, ct, ri, fi, CT_DIR_REPLY, w->tcp_flags, clk, 0);
	lb_nat4(w->ip, 1, lb_key_dst(&e->key), e->key.dport, r->pad, r->nat_port);
	lb_cnt(&lc->ev[LB_EV_REPLY], 1);
	return 0;
}

/* ---- DSR (docs/lb.md "DSR") ---- */

/* LB side: client -> DSR VIP. Conntrack and Maglev as for full NAT (one
 * entry, no reply key, nothing rewritten); *be_ip is the backend pod to
 * tunnel the packet to. 0 or a drop reason. */
static int lb_dsr_orig(struct lb *lb, struct lb_lcore *lc, struct lb_work *w, uint64_t hash,
		       uint32_t fi, const struct ct_clock *clk, uint32_t *be_ip)
{
	struct ct *ct = lc->ct;
	uint64_t bw = 0;
	int rc;

	if (fi != CT_MISS) {
		const struct ct_entry *e = ct_entry(ct, fi);
		bw = __atomic_load_n(&lb->be[e->backend % LB_BE_SLOTS], __ATOMIC_ACQUIRE);
		if (LB_BE_STATE(bw) != LB_BE_LIVE || LB_BE_GEN(bw) != e->flags) {
			(void)ct_delete(ct, fi);
			lb_cnt(&lc->ev[LB_EV_REPICK], 1);
			fi = CT_MISS;
		}
	}
	if (fi == CT_MISS) {
		rc = lb_pick_insert(lb, lc, w, hash, clk, &fi, &bw);
		if (rc > 0)
			return rc;
		struct ct_entry *e = ct_entry(ct, fi);
		if (rc == 0) {
			e->service = w->svc->id;
			e->nat_port = 0;
			e->flags = LB_BE_GEN(bw);
			e->pad = CT_MISS; /* no reply entry */
			lb_cnt(&lc->ev[LB_EV_NEW_FLOW], 1);
		}
		bw = __atomic_load_n(&lb->be[e->backend % LB_BE_SLOTS], __ATOMIC_ACQUIRE);
	}
	(void)ct_update(ct, fi, CT_DIR_ORIG, w->tcp_flags, clk);
	*be_ip = LB_BE_IP(bw);
	lb_cnt(&lc->ev[LB_EV_DSR_ENCAP], 1);
	return 0;
}

/*
 * Backend side: the client's packet at ip (whole or first fragment, L4
 * header present), to DSR service s, was tunneled to pod. Rewrite its
 * destination VIP:port -> pod:targetPort and track the flow under the
 * pod's reply tuple (zone LB_ZONE_DSR) holding the VIP and port, so the
 * replies get their source back. 0 or a drop reason.
 */
static int lb_dsr_in(struct lb *lb, struct lb_lcore *lc, const struct lb_svc_fp *s, uint8_t *ip,
		     uint32_t pod, const struct ct_clock *clk, uint64_t tsc)
{
	const struct lb_be_ip *be = lb_svc_be_by_ip(s, pod);
	unsigned ihl = (ip[0] & 0x0fu) * 4u;
	uint8_t *l4 = ip + ihl;
	uint8_t proto = ip[9], tcp_flags = proto == LB_TCP ? l4[13] : 0;
	uint32_t client = lb_rd32n(ip + 12), vip = lb_rd32n(ip + 16);
	uint16_t cport = lb_rd16n(l4), vport = lb_rd16n(l4 + 2);
	struct ct_key k;
	uint64_t h;
	uint32_t i;

	if (be == NULL)
		return DP_DROP_LB_DSR_IPIP;
	lb_key(&k, pod, client, be->port, cport, proto, LB_ZONE_DSR);
	ct_lookup_bulk(lc->ct, &k, 1, clk, &h, &i);
	if (i == CT_MISS) {
		int rc = ct_insert(lc->ct, &k, h, lb_state_new(proto, tcp_flags), be->slot, clk, &i);
		if (rc != 0 && rc != -EEXIST)
			return DP_DROP_LB_CT_FULL;
	}
	struct ct_entry *e = ct_entry(lc->ct, i);
	e->service = s->id;
	e->pad = vip;
	e->nat_port = vport;
	(void)ct_update(lc->ct, i, CT_DIR_ORIG, tcp_flags, clk);
	if (lb_rd16(ip + 6) & 0x2000u)
		lb_frag_put(lc->frag, client, vip, lb_rd16(ip + 4), proto, client, pod,
			    tsc + lb->frag_ttl_tsc);
	lb_nat4(ip, 1, client, cport, pod, be->port);
	return 0;
}

/* Backend side: a packet from a (possible) DSR backend pod. A reply of a
 * tracked flow gets the VIP:port as source; anything else passes. */
static void lb_dsr_reply(struct lb_lcore *lc, const struct lb_work *w, uint32_t ri,
			 const struct ct_clock *clk)
{
	if (ri == CT_MISS)
		return;
	const struct ct_entry *e = ct_entry(lc->ct, ri);
	(void)ct_update(lc->ct, ri, CT_DIR_REPLY, w->tcp_flags, clk);
	lb_nat4(w->ip, 1, e->pad, e->nat_port, lb_key_dst(&w->key), w->key.dport);
	lb_cnt(&lc->ev[LB_EV_DSR_REPLY], 1);
}

/* Outcome of lb_dsr_ipip() besides 0 (decapsulated and rewritten) and a
 * drop reason: hand the packet to worker -(r + 1). */
#define LB_DSR_HANDOFF(w) (-1 - (int)(w))

/*
 * Backend side: an IPIP packet (outer header parsed into *pi). Valid DSR
 * traffic is an unfragmented tunnel, with a well-formed IPv4 TCP/UDP
 * packet inside to a DSR service's VIP:port, sent to one of its backends.
 * The flow belongs to the worker of the client's port (so the pod's
 * replies find it: lb_fwd_burst); on that worker the outer header is
 * removed and the inner packet rewritten (lb_dsr_in), *pi re-parsed.
 */
static int lb_dsr_ipip(struct lb *lb, struct lb_lcore *lc, unsigned worker,
		       const struct lb_map *m, struct rte_mbuf *mb, struct pkt_info *pi,
		       const struct ct_clock *clk, uint64_t tsc)
{
	uint8_t *f = rte_pktmbuf_mtod(mb, uint8_t *), *in = f + PKT_ETH_LEN + pi->ihl_len;
	size_t avail = (size_t)pi->ip_len - pi->ihl_len, iihl;
	uint32_t pod = pi->dst_ip;

	if ((pi->frag & 0x3fffu) != 0 || avail < PKT_IP4_MIN || (in[0] >> 4) != 4)
		return DP_DROP_LB_DSR_IPIP;
	iihl = (in[0] & 0x0fu) * 4u;
	uint16_t ifrag = lb_rd16(in + 6);
	uint8_t proto = in[9];
	int later = (ifrag & 0x1fffu) != 0;
	if (iihl < PKT_IP4_MIN || lb_rd16(in + 2) != avail || iihl > avail ||
	    pkt_csum(in, iihl) != 0 || (proto != LB_TCP && proto != LB_UDP) ||
	    (!later && avail < iihl + (proto == LB_TCP ? 20u : 8u)))
		return DP_DROP_LB_DSR_IPIP;
	uint32_t client = lb_rd32n(in + 12), vip = lb_rd32n(in + 16);
	uint16_t id = lb_rd16(in + 4);
	const struct lb_frag *fr = NULL;
	const struct lb_svc_fp *s = NULL;
	if (later) {
		/* no port: follow the first fragment, here or to its worker */
		fr = lb_frag_get(lc->frag, client, vip, id, proto, tsc);
		if (fr == NULL || fr->dsr) {
			const struct lb_frag *ho =
				lb->n_workers > 1
					? lb_frag_get(lc->frag_ho, client, vip, id, proto, tsc)
					: NULL;
			if (ho != NULL && ho->new_dst != worker && ho->new_dst < lb->n_workers)
				return LB_DSR_HANDOFF(ho->new_dst);
			return DP_DROP_LB_NO_FLOW;
		}
	} else {
		s = lb_map_find(m, vip, lb_rd16n(in + iihl + 2), proto);
		if (s == NULL || !(s->flags & RING_SVC_F_DSR) || lb_svc_be_by_ip(s, pod) == NULL)
			return DP_DROP_LB_DSR_IPIP;
		unsigned owner = lb_rd16(in + iihl) % lb->n_workers;
		if (owner != worker) {
			if (ifrag & 0x2000u)
				lb_frag_put(lc->frag_ho, client, vip, id, proto, 0, owner,
					    tsc + lb->frag_ttl_tsc);
			return LB_DSR_HANDOFF(owner);
		}
	}
	/* decapsulate: the Ethernet header moves up over the outer IP one */
	size_t inner_frame = PKT_ETH_LEN + avail;
	memmove(f + pi->ihl_len, f, PKT_ETH_LEN);
	rte_pktmbuf_adj(mb, pi->ihl_len);
	if (mb->data_len > inner_frame)
		rte_pktmbuf_trim(mb, (uint16_t)(mb->data_len - inner_frame));
	f = rte_pktmbuf_mtod(mb, uint8_t *);
	in = f + PKT_ETH_LEN;
	if (later) {
		lb_nat4(in, 0, fr->new_src, 0, fr->new_dst, 0);
		lb_cnt(&lc->ev[LB_EV_FRAG], 1);
	} else {
		int rc = lb_dsr_in(lb, lc, s, in, pod, clk, tsc);
		if (rc != 0)
			return rc;
	}
	if (pkt_parse(f, mb->data_len, pi) != 0)
		return DP_DROP_LB_DSR_IPIP; /* cannot happen: checked above */
	pi->lb_dsr = PKT_LB_DSR_LOCAL;
	lb_cnt(&lc->ev[LB_EV_DSR_DECAP], 1);
	return 0;
}

int lb_fwd_dsr_local(struct lb *lb, unsigned worker, struct rte_mbuf *m,
		     const struct pkt_info *pi)
{
	struct lb_lcore *lc = lb->lc[worker];

	if (lb_ipip_encap(m, lb->snat_ip, pi->dst_ip) != 0)
		return DP_DROP_ENCAP_HEADROOM;
	rte_mbuf_refcnt_update(m, 1);
	if (rte_ring_mp_enqueue(lb->handoff[worker], m) != 0) {
		rte_mbuf_refcnt_update(m, -1);
		return DP_DROP_LB_HANDOFF_FULL;
	}
	lb_cnt(&lc->ev[LB_EV_HANDOFF], 1);
	return 0;
}

/* An ICMP error to a VIP (from a client, about a reply it got) or to the
 * SNAT address (about a packet we sent a backend): map it through
 * conntrack to the other side. 0 or a drop reason. */
static int lb_icmp(struct lb *lb, struct lb_lcore *lc, uint8_t *ip, const struct pkt_info *pi,
		   const struct ct_clock *clk)
{
	struct lb_icmp_inner in;
	struct ct_key k;
	uint64_t h;
	uint32_t i;

	if (lb_icmp_parse(ip, pi->ip_len, &in) != 0)
		return DP_DROP_LB_MALFORMED;
	if (pi->dst_ip == lb->snat_ip) {
		/* quote: snat:np -> backend:bp */
		lb_key(&k, in.dst, in.src, in.dport, in.sport, in.proto, LB_ZONE_REPLY);
		ct_lookup_bulk(lc->ct, &k, 1, clk, &h, &i);
		if (i == CT_MISS)
			return DP_DROP_LB_NO_FLOW;
		const struct ct_entry *r = ct_entry(lc->ct, i);
		if (!lb_pair_ok(lc->ct, r->service, i))
			return DP_DROP_LB_NO_FLOW;
		const struct ct_entry *e = ct_entry(lc->ct, r->service);
		/* to the client, from the VIP, quoting client -> VIP */
		lb_icmp_nat(ip, pi->ip_len, lb_key_dst(&e->key), r->pad, r->pad, r->nat_port,
			    lb_key_dst(&e->key), e->key.dport);
	} else {
		/* quote: vip:vp -> client:cp */
		lb_key(&k, in.dst, in.src, in.dport, in.sport, in.proto, LB_ZONE_ORIG);
		ct_lookup_bulk(lc->ct, &k, 1, clk, &h, &i);
		if (i == CT_MISS)
			return DP_DROP_LB_NO_FLOW;
		const struct ct_entry *e = ct_entry(lc->ct, i);
		uint64_t bw = __atomic_load_n(&lb->be[e->backend % LB_BE_SLOTS], __ATOMIC_ACQUIRE);
		/* a DSR flow (no SNAT port): its replies never passed here */
		if (LB_BE_STATE(bw) != LB_BE_LIVE || LB_BE_GEN(bw) != e->flags || e->nat_port == 0)
			return DP_DROP_LB_NO_FLOW;
		/* to the backend, from the SNAT address, quoting backend -> snat */
		lb_icmp_nat(ip, pi->ip_len, lb->snat_ip, LB_BE_IP(bw), LB_BE_IP(bw), LB_BE_PORT(bw),
			    lb->snat_ip, e->nat_port);
	}
	lb_cnt(&lc->ev[LB_EV_ICMP], 1);
	return 0;
}

/*
 * Several workers: a reply (or an ICMP error about our packet) belongs to
 * the worker whose class its SNAT port is in (port % workers). Queue it
 * for that worker unless it is this one. Returns 1 if queued.
 */
static inline int lb_handoff_put(struct lb *lb, unsigned worker, uint16_t nat_port_host,
				 struct rte_mbuf *m, struct rte_mbuf *ho[][CT_BURST_MAX],
				 unsigned *nho)
{
	unsigned owner = nat_port_host % lb->n_workers;

	if (owner == worker)
		return 0;
	ho[owner][nho[owner]++] = m;
	return 1;
}

unsigned lb_fwd_handoff_take(struct lb *lb, unsigned worker, struct rte_mbuf **pkts, unsigned n)
{
	if (lb->handoff[worker] == NULL)
		return 0;
	return rte_ring_sc_dequeue_burst(lb->handoff[worker], (void **)pkts, n, NULL);
}

unsigned lb_fwd_burst(struct lb *lb, unsigned worker, struct rte_mbuf **pkts,
		      struct pkt_info *pi, const uint8_t *idx, unsigned n, uint32_t *keys,
		      uint8_t *kidx, uint64_t *drop)
{
	struct lb_lcore *lc = lb->lc[worker];
	const struct lb_map *m = __atomic_load_n(&lb->map, __ATOMIC_ACQUIRE);
	struct lb_work w[CT_BURST_MAX];
	struct ct_key ck[CT_BURST_MAX];
	uint64_t hashes[CT_BURST_MAX];
	uint32_t cidx[CT_BURST_MAX];
	uint8_t ok[CT_BURST_MAX];
	uint8_t frags[CT_BURST_MAX];
	uint32_t tun[CT_BURST_MAX]; /* DSR: the backend to tunnel to */
	unsigned nf = 0;
	struct rte_mbuf *ho[LB_WORKERS_MAX][CT_BURST_MAX]; /* hand-offs by worker */
	unsigned nho[LB_WORKERS_MAX] = {0};
	uint64_t tsc = rte_rdtsc();
	struct ct_clock clk = ct_clock_at(lc->ct, tsc);
	unsigned nw = 0, out = 0;
	int rc;

	if (n > CT_BURST_MAX)
		n = CT_BURST_MAX;
	/* Gather: fragments and ICMP are handled here, one by one (rare);
	 * TCP/UDP first fragments get a flow key for the bulk lookup. */
	for (unsigned j = 0; j < n; j++) {
		unsigned i = idx[j];
		struct pkt_info *p = &pi[i];
		uint8_t *ip = rte_pktmbuf_mtod(pkts[i], uint8_t *) + PKT_ETH_LEN;
		unsigned l4min = p->proto == LB_TCP ? 20u : 8u;

		ok[j] = 0;
		if (p->proto == PKT_IPPROTO_ICMP) {
			struct lb_icmp_inner in;
			/* an error about a packet we sent a backend names our
			 * SNAT port, hence the worker that tracks the flow */
			if (lb->n_workers > 1 && p->dst_ip == m->snat_ip &&
			    lb_icmp_parse(ip, p->ip_len, &in) == 0 &&
			    lb_handoff_put(lb, worker, rte_be_to_cpu_16(in.sport), pkts[i], ho, nho))
				continue;
			rc = lb_icmp(lb, lc, ip, p, &clk);
			if (rc != 0) {
				lb_cnt(&drop[rc], 1);
				continue;
			}
			ok[j] = 1;
			continue;
		}
		if (p->proto != LB_TCP && p->proto != LB_UDP) {
			if (p->proto == PKT_IPPROTO_IPIP && m->n_dsr != 0) {
				rc = lb_dsr_ipip(lb, lc, worker, m, pkts[i], p, &clk, tsc);
				if (rc < 0) {
					unsigned o = (unsigned)(-1 - rc);
					ho[o][nho[o]++] = pkts[i];
				} else if (rc != 0) {
					lb_cnt(&drop[rc], 1);
				} else {
					ok[j] = 1;
				}
				continue;
			}
			lb_cnt(&drop[DP_DROP_LB_NO_SERVICE], 1);
			continue;
		}
		if ((p->frag & 0x1fffu) != 0) {
			/* after the flows below: its first fragment may be
			 * in this very burst */
			frags[nf++] = (uint8_t)j;
			continue;
		}
		if (p->ip_len < p->ihl_len + l4min) {
			lb_cnt(&drop[DP_DROP_LB_MALFORMED], 1);
			continue;
		}
		struct lb_work *x = &w[nw];
		const uint8_t *l4 = ip + p->ihl_len;
		x->ip = ip;
		x->j = (uint8_t)j;
		x->tcp_flags = p->proto == LB_TCP ? l4[13] : 0;
		x->first_frag = (p->frag & 0x2000u) != 0;
		if (p->dst_ip == m->snat_ip) {
			if (lb->n_workers > 1 &&
			    lb_handoff_put(lb, worker, lb_rd16(l4 + 2), pkts[i], ho, nho)) {
				/* its later fragments follow it (no port) */
				if (x->first_frag)
					lb_frag_put(lc->frag_ho, p->src_ip, p->dst_ip, lb_rd16(ip + 4),
						    p->proto, 0, lb_rd16(l4 + 2) % lb->n_workers,
						    tsc + lb->frag_ttl_tsc);
				continue;
			}
			x->kind = LB_K_REPLY;
			x->svc = NULL;
		} else {
			x->kind = LB_K_ORIG;
			x->svc = lb_map_find(m, p->dst_ip, lb_rd16n(l4 + 2), p->proto);
			if (unlikely(x->svc == NULL)) {
				if (m->n_dsr == 0 || lb_map_is_vip(m, p->dst_ip)) {
					lb_cnt(&drop[DP_DROP_LB_NO_SERVICE], 1);
					continue;
				}
				/* from a DSR backend (filter): the flow, if any, is
				 * the client port's worker's */
				unsigned o = lb_rd16(l4 + 2) % lb->n_workers;
				if (o != worker) {
					ho[o][nho[o]++] = pkts[i];
					if (x->first_frag)
						lb_frag_put(lc->frag_ho, p->src_ip, p->dst_ip,
							    lb_rd16(ip + 4), p->proto, 0, o,
							    tsc + lb->frag_ttl_tsc);
					continue;
				}
				x->kind = LB_K_DSR_REPLY;
			} else if (unlikely(x->svc->flags & RING_SVC_F_DSR)) {
				x->kind = LB_K_DSR;
			}
		}
		lb_key(&x->key, p->src_ip, p->dst_ip, lb_rd16n(l4), lb_rd16n(l4 + 2), p->proto,
		       x->kind == LB_K_REPLY	  ? LB_ZONE_REPLY
		       : x->kind == LB_K_DSR_REPLY ? LB_ZONE_DSR
						   : LB_ZONE_ORIG);
		ck[nw] = x->key;
		nw++;
	}

	/* One staged lookup for every flow key of the burst. */
	if (nw != 0)
		ct_lookup_bulk(lc->ct, ck, nw, &clk, hashes, cidx);
	/* New flows insert a reply key nobody looked up: prefetch its buckets
	 * for the likely SNAT port (the client's own) one stage ahead; the
	 * next stage prefetches the entry lines both inserts will write. */
	uint64_t rh[CT_BURST_MAX];
	unsigned nnew = 0;
	for (unsigned k = 0; k < nw; k++) {
		rh[k] = 0;
		const struct lb_work *x = &w[k];
		if (cidx[k] != CT_MISS || x->kind != LB_K_ORIG || x->svc->mt == NULL ||
		    (x->svc->flags & RING_SVC_F_AFFINITY_CLIENTIP))
			continue;
		uint32_t slot = maglev_lookup(x->svc->mt, hashes[k]);
		if (slot >= LB_BE_SLOTS)
			continue;
		uint64_t bw = __atomic_load_n(&lb->be[slot], __ATOMIC_RELAXED);
		struct ct_key rk;
		lb_key(&rk, LB_BE_IP(bw), lb->snat_ip, LB_BE_PORT(bw),
		       lb_snat_port(lb->n_workers, worker, x->key.sport, hashes[k], 0), x->key.proto,
		       LB_ZONE_REPLY);
		rh[k] = ct_hash(&rk);
		ct_prefetch(lc->ct, rh[k]);
		nnew++;
	}
	for (unsigned k = 0; nnew != 0 && k < nw; k++) {
		if (rh[k] == 0)
			continue;
		ct_prefetch_slot(lc->ct, hashes[k]);
		ct_prefetch_slot(lc->ct, rh[k]);
	}
	for (unsigned k = 0; k < nw; k++) {
		struct lb_work *x = &w[k];
		struct pkt_info *p = &pi[idx[x->j]];
		uint32_t osrc = p->src_ip, odst = p->dst_ip;

		if (likely(x->kind == LB_K_ORIG))
			rc = lb_orig(lb, lc, worker, x, hashes[k], cidx[k], &clk);
		else if (x->kind == LB_K_REPLY)
			rc = lb_reply(lb, lc, x, cidx[k], &clk);
		else if (x->kind == LB_K_DSR)
			rc = lb_dsr_orig(lb, lc, x, hashes[k], cidx[k], &clk, &tun[x->j]);
		else
			rc = (lb_dsr_reply(lc, x, cidx[k], &clk), 0);
		if (rc != 0) {
			lb_cnt(&drop[rc], 1);
			continue;
		}
		ok[x->j] = 1;
		if (x->kind == LB_K_DSR)
			p->lb_dsr = PKT_LB_DSR_ENCAP;
		/* a first fragment: the rest of its datagram follows it */
		if (x->first_frag) {
			struct lb_frag *fe =
				lb_frag_put(lc->frag, osrc, odst, lb_rd16(x->ip + 4), p->proto,
					    lb_rd32n(x->ip + 12), lb_rd32n(x->ip + 16),
					    tsc + lb->frag_ttl_tsc);
			if (x->kind == LB_K_DSR) {
				fe->new_dst = tun[x->j];
				fe->dsr = 1;
			}
		}
	}

	/* Later fragments follow their first fragment's rewrite (Maglev
	 * §4.3); one that comes before its first is dropped and counted. */
	for (unsigned k = 0; k < nf; k++) {
		unsigned j = frags[k];
		const struct pkt_info *p = &pi[idx[j]];
		uint8_t *ip = rte_pktmbuf_mtod(pkts[idx[j]], uint8_t *) + PKT_ETH_LEN;
		const struct lb_frag *f =
			lb_frag_get(lc->frag, p->src_ip, p->dst_ip, lb_rd16(ip + 4), p->proto, tsc);
		if (f == NULL && lb->n_workers > 1) {
			/* its first fragment went to the flow's worker */
			f = lb_frag_get(lc->frag_ho, p->src_ip, p->dst_ip, lb_rd16(ip + 4), p->proto,
					tsc);
			if (f != NULL && f->new_dst != worker && f->new_dst < lb->n_workers) {
				ho[f->new_dst][nho[f->new_dst]++] = pkts[idx[j]];
				continue;
			}
			f = NULL;
		}
		if (f == NULL) {
			/* from a DSR backend (filter), not a reply: passes */
			if (m->n_dsr != 0 && p->dst_ip != m->snat_ip &&
			    !lb_map_is_vip(m, p->dst_ip)) {
				ok[j] = 1;
				continue;
			}
			lb_cnt(&drop[DP_DROP_LB_NO_FLOW], 1);
			continue;
		}
		if (f->dsr) {
			/* DSR, LB side: tunneled like its first fragment */
			tun[j] = f->new_dst;
			pi[idx[j]].lb_dsr = PKT_LB_DSR_ENCAP;
		} else {
			lb_nat4(ip, 0, f->new_src, 0, f->new_dst, 0);
		}
		lb_cnt(&lc->ev[LB_EV_FRAG], 1);
		ok[j] = 1;
	}

	/* Hand the survivors back for routing, in burst order. */
	for (unsigned j = 0; j < n; j++) {
		unsigned i = idx[j];
		uint8_t *ip;

		if (!ok[j])
			continue;
		ip = rte_pktmbuf_mtod(pkts[i], uint8_t *) + PKT_ETH_LEN;
		pi[i].src_ip = lb_rd32n(ip + 12);
		/* DSR, LB side: routed to the backend, unchanged inside */
		pi[i].dst_ip = unlikely(pi[i].lb_dsr == PKT_LB_DSR_ENCAP) ? tun[j] : lb_rd32n(ip + 16);
		keys[out] = pi[i].dst_ip;
		kidx[out++] = (uint8_t)i;
	}

	/* Hand-offs: one enqueue per worker. The extra reference keeps each
	 * mbuf alive through the caller's free of everything not routed. */
	for (unsigned o = 0; o < lb->n_workers; o++) {
		if (nho[o] == 0)
			continue;
		for (unsigned k = 0; k < nho[o]; k++)
			rte_mbuf_refcnt_update(ho[o][k], 1);
		unsigned q = rte_ring_mp_enqueue_burst(lb->handoff[o], (void **)ho[o], nho[o], NULL);
		for (unsigned k = q; k < nho[o]; k++)
			rte_mbuf_refcnt_update(ho[o][k], -1); /* the caller frees it */
		lb_cnt(&lc->ev[LB_EV_HANDOFF], q);
		if (q < nho[o])
			lb_cnt(&drop[DP_DROP_LB_HANDOFF_FULL], nho[o] - q);
	}

	/* Between bursts, now and then: expire a slice of conntrack. */
	lc->sweep_pkts += n;
	if (lc->sweep_pkts >= LB_SWEEP_PKTS) {
		struct ct_sweep_req sr = { .now_tsc = tsc, .max_buckets = LB_SWEEP_BUCKETS };
		lc->sweep_pkts = 0;
		(void)ct_sweep(lc->ct, &sr);
	}
	return out;
}

void lb_fwd_idle(struct lb *lb, unsigned worker, uint64_t tsc)
{
	struct lb_lcore *lc = lb->lc[worker];

	if (tsc - lc->idle_sweep_tsc < lb->idle_sweep_gap_tsc)
		return;
	lc->idle_sweep_tsc = tsc;
	struct ct_sweep_req sr = { .now_tsc = tsc, .max_buckets = LB_SWEEP_BUCKETS };
	(void)ct_sweep(lc->ct, &sr);
}
