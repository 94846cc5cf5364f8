/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The service LB of sluice-dp without EAL: lb_svc (services, backend slots,
 * publication) and lb_fwd (the burst stage), driven with mbufs that point
 * at stack buffers.
 *
 *  1. NAT rewrite: after lb_nat4() every IP, TCP and UDP checksum verifies
 *     by full recomputation, for 2000 random packets and numbered edge
 *     cases (UDP without checksum stays 0; a result of 0 becomes 0xffff).
 *  2. A fragmented datagram: the first fragment's incremental L4 update is
 *     right for the whole reassembled datagram.
 *  3. ICMP errors: parse rejects every truncation; mapping rewrites outer
 *     and quoted packet with all checksums valid.
 *  4. Fragment table: hit, each key field, expiry, collision.
 *  5. lb_svc: errors, map lookups, generations, slots dead then reused with
 *     a new generation, sweep.
 *  6. lb_fwd_burst end to end: SYN to the VIP is DNATed to a backend and
 *     SNATed to the LB address; the backend's SYN-ACK is reverse-NATed; the
 *     same flow sticks; a drained backend keeps its flow and gets no new
 *     ones; a removed backend's flow re-picks; non-first fragments follow
 *     the first; an ICMP error from the backend reaches the client; ClientIP
 *     affinity maps every port of a client to one backend.
 *  7. Two workers: a reply reaching the other worker is handed over, and
 *     so are the later fragments of a reply datagram, behind their first.
 *  8. DSR: exact IPIP header; the LB node leaves the client's packet
 *     untouched and routes it to a sticky backend's tunnel (fragments
 *     too); the backend's node decapsulates, rewrites VIP:port to the pod
 *     and reverse-NATs the pod's replies; bad tunnels are dropped; a local
 *     backend goes through the worker's own hand-off ring.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include <sluice/ring_proto.h>

#include "ct_node.h"
#include "dp_stats.h"
#include "lb_fwd.h"
#include "lb_svc.h"
#include "maglev_node.h"
#include "pkt.h"

#define IP4(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define BE16(x) ((uint16_t)(((x) >> 8) | ((x) & 0xff) << 8))

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Full L4 checksum check: pseudo header + segment folds to 0. */
static int l4_ok(const uint8_t *ip, const uint8_t *l4, size_t l4len)
{
	uint8_t buf[4096];
	memcpy(buf, ip + 12, 8);
	buf[8] = 0;
	buf[9] = ip[9];
	wr16(buf + 10, (uint16_t)l4len);
	memcpy(buf + 12, l4, l4len);
	return pkt_csum(buf, 12 + l4len) == 0;
}

/* Fill in correct checksums of an IPv4 packet with its L4 header. */
static void fix_csums(uint8_t *ip, size_t len)
{
	size_t ihl = (ip[0] & 15u) * 4u;
	uint8_t *l4 = ip + ihl, *c = ip[9] == 6 ? l4 + 16 : l4 + 6;
	uint8_t buf[4096];

	wr16(ip + 10, 0);
	wr16(ip + 10, pkt_csum(ip, ihl));
	wr16(c, 0);
	memcpy(buf, ip + 12, 8);
	buf[8] = 0;
	buf[9] = ip[9];
	wr16(buf + 10, (uint16_t)(len - ihl));
	memcpy(buf + 12, l4, len - ihl);
	uint16_t s = pkt_csum(buf, 12 + len - ihl);
	if (ip[9] == 17 && s == 0)
		s = 0xffff;
	wr16(c, s);
}

/* An IPv4 TCP or UDP packet at ip; returns its length. */
static size_t mk_pkt(uint8_t *ip, uint8_t proto, uint32_t src, uint16_t sport, uint32_t dst,
		     uint16_t dport, size_t payload, uint8_t tcp_flags)
{
	size_t l4h = proto == 6 ? 20 : 8, len = 20 + l4h + payload;

	memset(ip, 0, len);
	ip[0] = 0x45;
	wr16(ip + 2, (uint16_t)len);
	wr16(ip + 4, 0x1234);
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	uint8_t *l4 = ip + 20;
	memcpy(l4, &sport, 2);
	memcpy(l4 + 2, &dport, 2);
	if (proto == 6) {
		l4[12] = 5 << 4;
		l4[13] = tcp_flags;
	} else {
		wr16(l4 + 4, (uint16_t)(l4h + payload));
	}
	for (size_t i = 0; i < payload; i++)
		l4[l4h + i] = (uint8_t)(i * 7 + 3);
	fix_csums(ip, len);
	return len;
}

/* ---- 1. NAT rewrite ---- */

static void test_nat_random(void **state)
{
	uint8_t ip[256];
	(void)state;
	srand(1);
	for (int i = 0; i < 2000; i++) {
		uint8_t proto = i % 2 ? 6 : 17;
		size_t len = mk_pkt(ip, proto, (uint32_t)rand(), (uint16_t)rand(), (uint32_t)rand(),
				    (uint16_t)rand(), (size_t)(rand() % 100), 0x02);
		uint32_t ns = (uint32_t)rand() * 2654435761u, nd = (uint32_t)rand();
		uint16_t nsp = (uint16_t)rand(), ndp = (uint16_t)rand();
		lb_nat4(ip, 1, ns, nsp, nd, ndp);
		assert_int_equal(pkt_csum(ip, 20), 0);
		assert_true(l4_ok(ip, ip + 20, len - 20));
		assert_memory_equal(ip + 12, &ns, 4);
		assert_memory_equal(ip + 16, &nd, 4);
		assert_memory_equal(ip + 20, &nsp, 2);
		assert_memory_equal(ip + 22, &ndp, 2);
	}
}

static void test_nat_cases(void **state)
{
	uint8_t ip[128];
	(void)state;
	/* case 1: UDP without checksum (0) stays without */
	size_t len = mk_pkt(ip, 17, IP4(10, 0, 0, 1), BE16(1000), IP4(10, 96, 0, 1), BE16(53), 4, 0);
	wr16(ip + 26, 0);
	lb_nat4(ip, 1, IP4(10, 77, 1, 1), BE16(2000), IP4(10, 77, 1, 9), BE16(5353));
	assert_int_equal(rd16(ip + 26), 0);
	assert_int_equal(pkt_csum(ip, 20), 0);
	/* case 2: search for a rewrite whose UDP result is 0: sent as 0xffff */
	int hit = 0;
	for (uint32_t p = 1; p < 65536 && !hit; p++) {
		len = mk_pkt(ip, 17, IP4(10, 0, 0, 1), BE16(1000), IP4(10, 96, 0, 1), BE16(53), 4, 0);
		lb_nat4(ip, 1, IP4(10, 77, 1, 1), BE16((uint16_t)p), IP4(10, 77, 1, 9), BE16(5353));
		assert_true(l4_ok(ip, ip + 20, len - 20));
		assert_int_not_equal(rd16(ip + 26), 0);
		hit = rd16(ip + 26) == 0xffff;
	}
	assert_true(hit);
	/* case 3: has_l4 = 0 (a later fragment) touches the IP header only */
	len = mk_pkt(ip, 6, IP4(1, 2, 3, 4), BE16(5), IP4(5, 6, 7, 8), BE16(80), 10, 0x10);
	uint8_t l4[40];
	memcpy(l4, ip + 20, len - 20);
	lb_nat4(ip, 0, IP4(9, 9, 9, 9), 0, IP4(8, 8, 8, 8), 0);
	assert_memory_equal(l4, ip + 20, len - 20);
	assert_int_equal(pkt_csum(ip, 20), 0);
}

/* ---- 2. a datagram in two fragments ---- */

static void test_nat_fragments(void **state)
{
	uint8_t whole[1600], f1[1600], f2[1600];
	(void)state;
	size_t len = mk_pkt(whole, 17, IP4(10, 0, 0, 2), BE16(4444), IP4(10, 96, 0, 10), BE16(53),
			    1200, 0);
	/* f1: header + first 800 L4 bytes (MF); f2: header + the rest */
	memcpy(f1, whole, 20 + 800);
	wr16(f1 + 2, 820);
	wr16(f1 + 6, 0x2000);
	memcpy(f2, whole, 20);
	memcpy(f2 + 20, whole + 20 + 800, len - 820);
	wr16(f2 + 2, (uint16_t)(20 + len - 820));
	wr16(f2 + 6, 800 / 8);
	for (uint8_t *h = f1; h; h = h == f1 ? f2 : NULL) {
		wr16(h + 10, 0);
		wr16(h + 10, pkt_csum(h, 20));
	}
	lb_nat4(f1, 1, IP4(10, 77, 1, 1), BE16(30000), IP4(10, 77, 1, 11), BE16(5353));
	lb_nat4(f2, 0, IP4(10, 77, 1, 1), 0, IP4(10, 77, 1, 11), 0);
	assert_int_equal(pkt_csum(f1, 20), 0);
	assert_int_equal(pkt_csum(f2, 20), 0);
	/* reassemble and verify the UDP checksum with the new pseudo header */
	uint8_t re[1600];
	memcpy(re, f1, 20 + 800);
	memcpy(re + 20 + 800, f2 + 20, len - 820);
	assert_true(l4_ok(re, re + 20, len - 20));
}

/* ---- 3. ICMP errors ---- */

/* ICMP dest unreachable (3/4) at ip, quoting q (qlen bytes). */
static size_t mk_icmp(uint8_t *ip, uint32_t src, uint32_t dst, const uint8_t *q, size_t qlen)
{
	size_t len = 20 + 8 + qlen;
	memset(ip, 0, 28);
	ip[0] = 0x45;
	wr16(ip + 2, (uint16_t)len);
	ip[8] = 64;
	ip[9] = 1;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	wr16(ip + 10, pkt_csum(ip, 20));
	ip[20] = 3;
	ip[21] = 4;
	wr16(ip + 26, 1400);
	memcpy(ip + 28, q, qlen);
	wr16(ip + 22, pkt_csum(ip + 20, 8 + qlen));
	return len;
}

static void test_icmp_parse_bounds(void **state)
{
	uint8_t q[64], ip[128];
	struct lb_icmp_inner in;
	(void)state;
	mk_pkt(q, 6, IP4(10, 77, 1, 1), BE16(30000), IP4(10, 77, 1, 11), BE16(8080), 0, 0x02);
	size_t len = mk_icmp(ip, IP4(10, 77, 1, 11), IP4(10, 77, 1, 1), q, 28);
	assert_int_equal(lb_icmp_parse(ip, len, &in), 0);
	assert_int_equal(in.proto, 6);
	assert_int_equal(in.sport, BE16(30000));
	assert_int_equal(in.dport, BE16(8080));
	assert_int_equal(in.src, IP4(10, 77, 1, 1));
	assert_int_equal(in.type, 3);
	assert_int_equal(in.code, 4);
	/* every truncation below header + ICMP + quoted header + 8 fails */
	for (size_t l = 0; l < len; l++)
		assert_int_equal(lb_icmp_parse(ip, l, &in), -EINVAL);
	/* not an error type */
	ip[20] = 8;
	assert_int_equal(lb_icmp_parse(ip, len, &in), -EINVAL);
	ip[20] = 11;
	assert_int_equal(lb_icmp_parse(ip, len, &in), 0);
	/* quote of a later fragment carries no ports */
	wr16(ip + 28 + 6, 100);
	assert_int_equal(lb_icmp_parse(ip, len, &in), -EINVAL);
	wr16(ip + 28 + 6, 0);
	/* quoted ICMP, quoted IPv6 version, short quoted IHL */
	ip[28 + 9] = 1;
	assert_int_equal(lb_icmp_parse(ip, len, &in), -EINVAL);
	ip[28 + 9] = 6;
	ip[28] = 0x65;
	assert_int_equal(lb_icmp_parse(ip, len, &in), -EINVAL);
	ip[28] = 0x44;
	assert_int_equal(lb_icmp_parse(ip, len, &in), -EINVAL);
}

static void test_icmp_nat(void **state)
{
	uint8_t q[128], ip[256];
	struct lb_icmp_inner in;
	(void)state;
	/* backend's port unreachable about UDP snat:30000 -> backend:5353,
	 * whole datagram quoted (Linux quotes as much as fits) */
	size_t qlen = mk_pkt(q, 17, IP4(10, 77, 1, 1), BE16(30000), IP4(10, 77, 1, 11), BE16(5353),
			     20, 0);
	size_t len = mk_icmp(ip, IP4(10, 77, 1, 11), IP4(10, 77, 1, 1), q, qlen);
	lb_icmp_nat(ip, len, IP4(10, 96, 0, 10), IP4(10, 77, 1, 2), IP4(10, 77, 1, 2), BE16(4444),
		    IP4(10, 96, 0, 10), BE16(53));
	assert_int_equal(pkt_csum(ip, 20), 0);
	assert_int_equal(pkt_csum(ip + 20, len - 20), 0);
	assert_int_equal(pkt_csum(ip + 28, 20), 0);
	assert_true(l4_ok(ip + 28, ip + 48, qlen - 20));
	assert_int_equal(lb_icmp_parse(ip, len, &in), 0);
	assert_int_equal(in.src, IP4(10, 77, 1, 2));
	assert_int_equal(in.dst, IP4(10, 96, 0, 10));
	assert_int_equal(in.sport, BE16(4444));
	assert_int_equal(in.dport, BE16(53));
	assert_int_equal(rd16(ip + 26), 1400); /* next-hop MTU untouched */
	/* RFC 792 minimum quote (8 L4 bytes) of TCP: no L4 checksum in it */
	qlen = mk_pkt(q, 6, IP4(10, 77, 1, 1), BE16(30000), IP4(10, 77, 1, 11), BE16(8080), 0, 0x10);
	len = mk_icmp(ip, IP4(10, 77, 1, 11), IP4(10, 77, 1, 1), q, 28);
	lb_icmp_nat(ip, len, IP4(10, 96, 0, 10), IP4(10, 77, 1, 2), IP4(10, 77, 1, 2), BE16(4444),
		    IP4(10, 96, 0, 10), BE16(80));
	assert_int_equal(pkt_csum(ip, 20), 0);
	assert_int_equal(pkt_csum(ip + 20, len - 20), 0);
	assert_int_equal(pkt_csum(ip + 28, 20), 0);
}

/* ---- 4. fragment table ---- */

static void test_frag_table(void **state)
{
	static struct lb_frag t[LB_FRAG_SLOTS];
	const struct lb_frag *f;
	(void)state;
	memset(t, 0, sizeof(t));
	assert_null(lb_frag_get(t, 1, 2, 3, 17, 100));
	lb_frag_put(t, 1, 2, 3, 17, 10, 20, 1000);
	f = lb_frag_get(t, 1, 2, 3, 17, 999);
	assert_non_null(f);
	assert_int_equal(f->new_src, 10);
	assert_int_equal(f->new_dst, 20);
	/* each key field matters */
	assert_null(lb_frag_get(t, 9, 2, 3, 17, 100));
	assert_null(lb_frag_get(t, 1, 9, 3, 17, 100));
	assert_null(lb_frag_get(t, 1, 2, 9, 17, 100));
	assert_null(lb_frag_get(t, 1, 2, 3, 6, 100));
	/* expiry */
	assert_null(lb_frag_get(t, 1, 2, 3, 17, 1000));
	/* many datagrams: the newest of each slot wins, never a wrong one */
	for (uint16_t id = 0; id < 4096; id++)
		lb_frag_put(t, 1, 2, id, 17, id, id, 5000);
	unsigned found = 0;
	for (uint16_t id = 0; id < 4096; id++) {
		f = lb_frag_get(t, 1, 2, id, 17, 10);
		if (f != NULL) {
			assert_int_equal(f->new_src, id);
			found++;
		}
	}
	assert_true(found > LB_FRAG_SLOTS / 2 && found <= LB_FRAG_SLOTS);
}

/* ---- 5, 6. lb_svc and lb_fwd_burst ---- */

#define VIP IP4(10, 96, 0, 10)
#define SNAT IP4(10, 77, 1, 1)
#define CLIENT IP4(10, 77, 1, 2)
#define BE(i) IP4(10, 77, 1, 10 + (i))

struct fx {
	struct rte_rcu_qsbr *q;
	struct lb *lb;
};

static int fx_setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	size_t sz = rte_rcu_qsbr_get_memsize(1);
	fx->q = aligned_alloc(RTE_CACHE_LINE_SIZE, (sz + 63) & ~(size_t)63);
	assert_int_equal(rte_rcu_qsbr_init(fx->q, 1), 0);
	struct lb_params p = { .qsbr = fx->q, .n_workers = 1, .ct_capacity = 1024,
			       .snat_ip = SNAT, .tsc_hz = 2000000000ull };
	fx->lb = lb_create(&p);
	assert_non_null(fx->lb);
	*state = fx;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *fx = *state;
	lb_free(fx->lb);
	free(fx->q);
	free(fx);
	return 0;
}

static void test_svc_control(void **state)
{
	struct fx *fx = *state;
	struct lb *lb = fx->lb;
	struct lb_params bad = { 0 };

	assert_null(lb_create(&bad));
	assert_int_equal(lb_svc_add(lb, 1, VIP, 80, 1, 0, 1), -EINVAL);
	assert_int_equal(lb_svc_add(lb, 1, VIP, 0, 6, 0, 1), -EINVAL);
	assert_int_equal(lb_svc_add(lb, 1, VIP, 80, 6, 8, 1), -EINVAL);
	assert_int_equal(lb_svc_add(lb, 1, VIP, 80, 6, 0, 1), 0);
	assert_int_equal(lb_svc_add(lb, 1, VIP, 80, 6, 0, 2), 0);       /* replay */
	assert_int_equal(lb_svc_add(lb, 1, VIP, 81, 6, 0, 2), -EEXIST); /* id reused */
	assert_int_equal(lb_svc_add(lb, 2, VIP, 80, 6, 0, 2), -EEXIST); /* key reused */
	assert_int_equal(lb_svc_add(lb, 2, VIP, 80, 17, 0, 2), 0);
	assert_int_equal(lb_svc_count(lb), 2);
	const struct lb_map *m = lb->map;
	assert_non_null(lb_map_find(m, VIP, BE16(80), 6));
	assert_non_null(lb_map_find(m, VIP, BE16(80), 17));
	assert_null(lb_map_find(m, VIP, BE16(81), 6));
	assert_true(lb_map_is_vip(m, VIP));
	assert_false(lb_map_is_vip(m, CLIENT));

	assert_int_equal(lb_backend_add(lb, 9, 1, BE(1), 8080, 1, 2), -ENOENT);
	assert_int_equal(lb_backend_add(lb, 1, 1, BE(1), 8080, 0, 2), -EINVAL);
	assert_int_equal(lb_backend_add(lb, 1, 1, BE(1), 8080, 1, 2), 0);
	assert_int_equal(lb_backend_add(lb, 1, 2, BE(1), 8080, 1, 2), -EEXIST); /* same addr */
	assert_int_equal(lb_backend_add(lb, 1, 2, BE(2), 8080, 1, 1), 0);      /* old gen */
	assert_int_equal(lb_backend_count(lb), 2);
	m = lb->map;
	const struct lb_svc_fp *s = lb_map_find(m, VIP, BE16(80), 6);
	assert_non_null(s->mt);
	/* the slot of backend 1 is live with its address */
	uint32_t slot = maglev_lookup(s->mt, 0);
	uint64_t w = lb->be[slot];
	assert_int_equal(LB_BE_STATE(w), LB_BE_LIVE);
	assert_true(LB_BE_IP(w) == BE(1) || LB_BE_IP(w) == BE(2));
	assert_int_equal(lb_backend_weight(lb, 1, 7, 0), -ENOENT);
	assert_int_equal(lb_backend_weight(lb, 1, 1, 70000), -EINVAL);

	/* sweep generation 2: backend 2 (gen 1) goes, service 1 stays */
	assert_int_equal(lb_sweep(lb, 2), 1);
	assert_int_equal(lb_backend_count(lb), 1);
	/* a removed backend's slot is free (after the publish) and its
	 * generation moves on when it is reused */
	assert_int_equal(lb_backend_del(lb, 1, 1), 0);
	assert_int_equal(lb_backend_del(lb, 1, 1), -ENOENT);
	assert_int_equal(LB_BE_STATE(lb->be[slot]), LB_BE_FREE);
	assert_null(lb_map_find(lb->map, VIP, BE16(80), 6)->mt);
	assert_int_equal(lb_svc_del(lb, 2), 0);
	assert_int_equal(lb_svc_del(lb, 2), -ENOENT);
	assert_null(lb_map_find(lb->map, VIP, BE16(80), 17));
	assert_int_equal(lb_svc_count(lb), 1);
}

/* One packet through lb_fwd_burst: 1 if it was handed back for routing. */
static int burst1(struct lb *lb, uint8_t *frame, size_t len, uint64_t *drop)
{
	struct rte_mbuf m;
	struct rte_mbuf *pkts[1] = { &m };
	struct pkt_info pi[1];
	uint8_t idx[1] = { 0 }, kidx[1];
	uint32_t keys[1];

	memset(&m, 0, sizeof(m));
	m.buf_addr = frame;
	m.data_off = 0;
	m.data_len = (uint16_t)len;
	m.pkt_len = (uint32_t)len;
	m.buf_len = 2048;
	m.nb_segs = 1;
	if (pkt_parse(frame, len, &pi[0]) != 0)
		return -1;
	if (!lb_fwd_wants(lb, frame, &pi[0]))
		return -2;
	unsigned n = lb_fwd_burst(lb, 0, pkts, pi, idx, 1, keys, kidx, drop);
	if (n == 1)
		assert_memory_equal(&keys[0], frame + 14 + 16, 4);
	return (int)n;
}

/* n frames through one lb_fwd_burst call; returns how many came back. */
static unsigned burst_n(struct lb *lb, uint8_t **frames, const size_t *len, unsigned n,
			uint64_t *drop)
{
	struct rte_mbuf m[4], *pkts[4];
	struct pkt_info pi[4];
	uint8_t idx[4], kidx[4];
	uint32_t keys[4];

	assert_true(n <= 4);
	for (unsigned i = 0; i < n; i++) {
		memset(&m[i], 0, sizeof(m[i]));
		m[i].buf_addr = frames[i];
		m[i].data_len = (uint16_t)len[i];
		m[i].pkt_len = (uint32_t)len[i];
		m[i].buf_len = 2048;
		m[i].nb_segs = 1;
		pkts[i] = &m[i];
		assert_int_equal(pkt_parse(frames[i], len[i], &pi[i]), 0);
		assert_true(lb_fwd_wants(lb, frames[i], &pi[i]));
		idx[i] = (uint8_t)i;
	}
	return lb_fwd_burst(lb, 0, pkts, pi, idx, n, keys, kidx, drop);
}

/* Ethernet + IPv4 TCP/UDP frame in f; returns its length. */
static size_t frame(uint8_t *f, uint8_t proto, uint32_t src, uint16_t sport, uint32_t dst,
		    uint16_t dport, size_t payload, uint8_t flags)
{
	memset(f, 0, 14);
	f[0] = 0x02;
	f[5] = 1;
	f[6] = 0x02;
	f[11] = 2;
	wr16(f + 12, 0x0800);
	return 14 + mk_pkt(f + 14, proto, src, sport, dst, dport, payload, flags);
}

static uint32_t ip_src(const uint8_t *f)
{
	uint32_t v;
	memcpy(&v, f + 26, 4);
	return v;
}

static uint32_t ip_dst(const uint8_t *f)
{
	uint32_t v;
	memcpy(&v, f + 30, 4);
	return v;
}

static uint16_t sport(const uint8_t *f)
{
	uint16_t v;
	memcpy(&v, f + 34, 2);
	return v;
}

static void assert_csums(const uint8_t *f, size_t len)
{
	assert_int_equal(pkt_csum(f + 14, 20), 0);
	assert_true(l4_ok(f + 14, f + 34, len - 34));
}

static void assert_no_drops(const uint64_t *drop)
{
	for (unsigned i = 0; i < DP_DROP_MAX; i++)
		assert_int_equal(drop[i], 0);
}

/* Connect client:cport -> VIP:80; returns the backend it reached. */
static uint32_t syn(struct lb *lb, uint16_t cport, uint64_t *drop, uint16_t *natp)
{
	uint8_t f[256];
	size_t len = frame(f, 6, CLIENT, BE16(cport), VIP, BE16(80), 0, 0x02);
	assert_int_equal(burst1(lb, f, len, drop), 1);
	assert_csums(f, len);
	assert_int_equal(ip_src(f), SNAT);
	if (natp)
		*natp = sport(f);
	return ip_dst(f);
}

static void test_burst(void **state)
{
	struct fx *fx = *state;
	struct lb *lb = fx->lb;
	uint64_t drop[DP_DROP_MAX] = {0};
	uint8_t f[2048];
	size_t len;
	unsigned hits[5] = {0};

	/* no service at all: nothing is the LB's */
	len = frame(f, 6, CLIENT, BE16(1000), VIP, BE16(80), 0, 0x02);
	assert_int_equal(burst1(lb, f, len, drop), -2);
	assert_int_equal(lb_svc_add(lb, 1, VIP, 80, 6, 0, 1), 0);
	/* a service without backends */
	assert_int_equal(burst1(lb, f, len, drop), 0);
	assert_int_equal(drop[DP_DROP_LB_NO_BACKEND], 1);
	for (uint32_t i = 1; i <= 4; i++)
		assert_int_equal(lb_backend_add(lb, 1, i, BE(i), 8080, 1, 1), 0);
	/* other port of the VIP */
	len = frame(f, 6, CLIENT, BE16(1000), VIP, BE16(81), 0, 0x02);
	assert_int_equal(burst1(lb, f, len, drop), 0);
	assert_int_equal(drop[DP_DROP_LB_NO_SERVICE], 1);

	/* 400 flows spread over the 4 backends */
	for (uint16_t p = 0; p < 400; p++) {
		uint32_t be = syn(lb, (uint16_t)(10000 + p), drop, NULL);
		for (uint32_t i = 1; i <= 4; i++)
			hits[i] += be == BE(i);
	}
	for (uint32_t i = 1; i <= 4; i++)
		assert_in_range(hits[i], 60, 140);

	/* one flow both ways */
	uint16_t np;
	uint32_t be = syn(lb, 5555, drop, &np);
	assert_int_equal(syn(lb, 5555, drop, NULL), be); /* retransmit: same backend */
	len = frame(f, 6, be, BE16(8080), SNAT, np, 0, 0x12); /* SYN-ACK */
	assert_int_equal(burst1(lb, f, len, drop), 1);
	assert_csums(f, len);
	assert_int_equal(ip_src(f), VIP);
	assert_int_equal(sport(f), BE16(80));
	assert_int_equal(ip_dst(f), CLIENT);
	uint16_t dp_;
	memcpy(&dp_, f + 36, 2);
	assert_int_equal(dp_, BE16(5555));
	/* a reply nobody asked for */
	len = frame(f, 6, be, BE16(8080), SNAT, BE16(1), 0, 0x12);
	assert_int_equal(burst1(lb, f, len, drop), 0);
	assert_int_equal(drop[DP_DROP_LB_NO_FLOW], 1);

	/* ICMP from the backend about our packet reaches the client */
	{
		uint8_t q[64];
		size_t ql = mk_pkt(q, 6, SNAT, np, be, BE16(8080), 0, 0x10);
		memset(f, 0, 14);
		f[0] = 2;
		wr16(f + 12, 0x0800);
		len = 14 + mk_icmp(f + 14, be, SNAT, q, ql);
		assert_int_equal(burst1(lb, f, len, drop), 1);
		assert_int_equal(ip_dst(f), CLIENT);
		assert_int_equal(ip_src(f), VIP);
		assert_int_equal(pkt_csum(f + 34, len - 34), 0);
	}

	/* drain the flow's backend: the flow stays, new flows avoid it */
	uint32_t bid = be == BE(1) ? 1 : be == BE(2) ? 2 : be == BE(3) ? 3 : 4;
	assert_int_equal(lb_backend_weight(lb, 1, bid, 0), 0);
	assert_int_equal(syn(lb, 5555, drop, NULL), be);
	for (uint16_t p = 0; p < 200; p++)
		assert_int_not_equal(syn(lb, (uint16_t)(20000 + p), drop, NULL), be);
	/* remove it: the flow re-picks a live backend */
	assert_int_equal(lb_backend_del(lb, 1, bid), 0);
	uint64_t repick = lb->lc[0]->ev[LB_EV_REPICK];
	assert_int_not_equal(syn(lb, 5555, drop, NULL), be);
	assert_int_equal(lb->lc[0]->ev[LB_EV_REPICK], repick + 1);
}

/* Send one TCP segment client:cport -> VIP:80 (orig) or backend -> SNAT:np
 * (reply) with the given flags; it must pass. */
static void seg(struct lb *lb, int orig, uint16_t cport, uint32_t be, uint16_t np, uint8_t flags,
		uint64_t *drop)
{
	uint8_t f[256];
	size_t len = orig ? frame(f, 6, CLIENT, BE16(cport), VIP, BE16(80), 0, flags)
			  : frame(f, 6, be, BE16(8080), SNAT, np, 0, flags);
	assert_int_equal(burst1(lb, f, len, drop), 1);
}

/* A client SYN on a finished connection (its 4-tuple reused at once
 * because the server closed first) is scheduled anew: a drained backend
 * does not get it (test_burst: a live handshake's retransmit stays). */
static void test_tuple_reuse(void **state)
{
	struct fx *fx = *state;
	struct lb *lb = fx->lb;
	uint64_t drop[DP_DROP_MAX] = {0};
	uint16_t np;

	assert_int_equal(lb_svc_add(lb, 1, VIP, 80, 6, 0, 1), 0);
	for (uint32_t i = 1; i <= 4; i++)
		assert_int_equal(lb_backend_add(lb, 1, i, BE(i), 8080, 1, 1), 0);
	uint32_t be = syn(lb, 7777, drop, &np);
	seg(lb, 0, 7777, be, np, 0x12, drop); /* SYN-ACK */
	seg(lb, 1, 7777, be, np, 0x10, drop); /* ACK: established */
	seg(lb, 0, 7777, be, np, 0x11, drop); /* server FIN first */
	seg(lb, 1, 7777, be, np, 0x11, drop); /* client FIN */
	seg(lb, 0, 7777, be, np, 0x10, drop); /* last ACK */
	uint32_t bid = be == BE(1) ? 1 : be == BE(2) ? 2 : be == BE(3) ? 3 : 4;
	assert_int_equal(lb_backend_weight(lb, 1, bid, 0), 0);
	uint64_t reused = lb->lc[0]->ev[LB_EV_REUSED];
	uint32_t again = syn(lb, 7777, drop, NULL);
	assert_int_not_equal(again, be);
	assert_int_equal(lb->lc[0]->ev[LB_EV_REUSED], reused + 1);
	/* the new connection's SYN retransmitted: same (new) backend, no reuse */
	assert_int_equal(syn(lb, 7777, drop, NULL), again);
	assert_int_equal(lb->lc[0]->ev[LB_EV_REUSED], reused + 1);
	assert_int_equal(drop[DP_DROP_LB_NO_FLOW], 0);
}

/* Idle polls expire conntrack in slices, at most one per millisecond: the
 * flows of a quiet LB go away without any packet to drive the sweep. */
static void test_idle_sweep(void **state)
{
	struct fx *fx = *state;
	struct lb *lb = fx->lb;
	struct ct *ct = lb->lc[0]->ct;
	uint64_t drop[DP_DROP_MAX] = {0};
	uint8_t f[256];

	assert_int_equal(lb_svc_add(lb, 1, VIP, 53, 17, 0, 1), 0);
	assert_int_equal(lb_backend_add(lb, 1, 1, BE(1), 5353, 1, 1), 0);
	for (uint16_t p = 0; p < 3; p++) {
		size_t len = frame(f, 17, CLIENT, BE16(4000 + p), VIP, BE16(53), 8, 0);
		assert_int_equal(burst1(lb, f, len, drop), 1);
	}
	assert_int_equal(ct_count(ct), 6);
	/* an hour later (fx: tsc_hz 2 GHz), in 1 ms steps */
	uint64_t t = rte_rdtsc() + 3600ull * 2000000000ull;
	unsigned calls = 0;
	for (; ct_count(ct) > 0 && calls < 1000; calls++, t += 2000000)
		lb_fwd_idle(lb, 0, t);
	assert_int_equal(ct_count(ct), 0);
	assert_true(calls > 1); /* a slice per call, not the whole table */
	/* no slice within the same millisecond */
	for (uint16_t p = 0; p < 3; p++) {
		size_t len = frame(f, 17, CLIENT, BE16(5000 + p), VIP, BE16(53), 8, 0);
		assert_int_equal(burst1(lb, f, len, drop), 1);
	}
	uint32_t before = ct_count(ct);
	for (unsigned i = 0; i < 1000; i++)
		lb_fwd_idle(lb, 0, t - 1);
	assert_int_equal(ct_count(ct), before);
}

static void test_burst_frag_affinity(void **state)
{
	struct fx *fx = *state;
	struct lb *lb = fx->lb;
	uint64_t drop[DP_DROP_MAX] = {0};
	uint8_t whole[2048], f1[2048], f2[2048];

	assert_int_equal(lb_svc_add(lb, 1, VIP, 53, 17, 0, 1), 0);
	assert_int_equal(lb_svc_add(lb, 2, VIP, 80, 6, RING_SVC_F_AFFINITY_CLIENTIP, 1), 0);
	for (uint32_t i = 1; i <= 4; i++) {
		assert_int_equal(lb_backend_add(lb, 1, i, BE(i), 5353, 1, 1), 0);
		assert_int_equal(lb_backend_add(lb, 2, 10 + i, BE(i), 8080, 1, 1), 0);
	}
	/* a later fragment before its first: dropped */
	size_t len = frame(whole, 17, CLIENT, BE16(4000), VIP, BE16(53), 1200, 0);
	memcpy(f2, whole, 34);
	memcpy(f2 + 34, whole + 34 + 800, len - 34 - 800);
	wr16(f2 + 16, (uint16_t)(20 + len - 34 - 800));
	wr16(f2 + 20, 100);
	wr16(f2 + 24, 0);
	wr16(f2 + 24, pkt_csum(f2 + 14, 20));
	size_t l2 = 34 + len - 34 - 800;
	assert_int_equal(burst1(lb, f2, l2, drop), 0);
	assert_int_equal(drop[DP_DROP_LB_NO_FLOW], 1);
	/* first fragment, then the rest follows it */
	memcpy(f1, whole, 34 + 800);
	wr16(f1 + 16, 820);
	wr16(f1 + 20, 0x2000);
	wr16(f1 + 24, 0);
	wr16(f1 + 24, pkt_csum(f1 + 14, 20));
	assert_int_equal(burst1(lb, f1, 34 + 800, drop), 1);
	assert_int_equal(burst1(lb, f2, l2, drop), 1);
	assert_int_equal(ip_dst(f1), ip_dst(f2));
	assert_int_equal(ip_src(f2), SNAT);
	assert_int_equal(pkt_csum(f2 + 14, 20), 0);
	uint8_t re[2048];
	memcpy(re, f1 + 14, 20 + 800);
	memcpy(re + 20 + 800, f2 + 34, len - 34 - 800);
	assert_true(l4_ok(re, re + 20, len - 34));

	/* first and later fragment of one datagram in one burst, in either
	 * order: the later one waits for its first (regression: lb_netns) */
	for (int order = 0; order < 2; order++) {
		uint16_t sp = (uint16_t)(4100 + order);
		len = frame(whole, 17, CLIENT, BE16(sp), VIP, BE16(53), 1200, 0);
		memcpy(f1, whole, 34 + 800);
		wr16(f1 + 16, 820);
		wr16(f1 + 18, (uint16_t)(0x4000 + order)); /* IP id per datagram */
		wr16(f1 + 20, 0x2000);
		memcpy(f2, whole, 34);
		memcpy(f2 + 34, whole + 34 + 800, len - 34 - 800);
		wr16(f2 + 16, (uint16_t)(20 + len - 34 - 800));
		wr16(f2 + 18, (uint16_t)(0x4000 + order));
		wr16(f2 + 20, 100);
		for (uint8_t *h = f1; h; h = h == f1 ? f2 : NULL) {
			wr16(h + 24, 0);
			wr16(h + 24, pkt_csum(h + 14, 20));
		}
		uint8_t *fr[2] = { order ? f2 : f1, order ? f1 : f2 };
		size_t fl[2] = { order ? l2 : 34 + 800, order ? 34 + 800 : l2 };
		assert_int_equal(burst_n(lb, fr, fl, 2, drop), 2);
		assert_int_equal(ip_dst(f1), ip_dst(f2));
		assert_int_equal(ip_src(f2), SNAT);
	}

	/* ClientIP affinity: every source port of one client, one backend */
	uint32_t first = 0;
	for (uint16_t p = 0; p < 100; p++) {
		uint32_t be = syn(lb, (uint16_t)(30000 + p), drop, NULL);
		if (p == 0)
			first = be;
		assert_int_equal(be, first);
	}
}

/* Two clients, same source port, one backend: distinct SNAT ports, and
 * each reply finds its own client. */
static void test_snat_collision(void **state)
{
	struct fx *fx = *state;
	struct lb *lb = fx->lb;
	uint64_t drop[DP_DROP_MAX] = {0};
	uint8_t a[256], b[256];
	uint16_t pa, pb;
	size_t la, lb_;

	assert_int_equal(lb_svc_add(lb, 1, VIP, 80, 6, 0, 1), 0);
	assert_int_equal(lb_backend_add(lb, 1, 1, BE(1), 8080, 1, 1), 0);
	la = frame(a, 6, CLIENT, BE16(5000), VIP, BE16(80), 0, 0x02);
	lb_ = frame(b, 6, IP4(10, 77, 1, 3), BE16(5000), VIP, BE16(80), 0, 0x02);
	assert_int_equal(burst1(lb, a, la, drop), 1);
	assert_int_equal(burst1(lb, b, lb_, drop), 1);
	pa = sport(a);
	pb = sport(b);
	assert_int_equal(pa, BE16(5000)); /* the client's own port first */
	assert_int_not_equal(pa, pb);
	assert_int_equal(lb->lc[0]->ev[LB_EV_SNAT_RETRY], 1);
	la = frame(a, 6, BE(1), BE16(8080), SNAT, pb, 0, 0x12);
	assert_int_equal(burst1(lb, a, la, drop), 1);
	assert_int_equal(ip_dst(a), IP4(10, 77, 1, 3));
	la = frame(a, 6, BE(1), BE16(8080), SNAT, pa, 0, 0x12);
	assert_int_equal(burst1(lb, a, la, drop), 1);
	assert_int_equal(ip_dst(a), CLIENT);
}

/* Two workers: a reply that reaches the other worker is handed to the
 * flow's worker (by SNAT port class) and NATed there. */
static int fx2_setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	size_t sz = rte_rcu_qsbr_get_memsize(2);
	fx->q = aligned_alloc(RTE_CACHE_LINE_SIZE, (sz + 63) & ~(size_t)63);
	assert_int_equal(rte_rcu_qsbr_init(fx->q, 2), 0);
	struct lb_params p = { .qsbr = fx->q, .n_workers = 2, .ct_capacity = 1024,
			       .snat_ip = SNAT, .tsc_hz = 2000000000ull };
	fx->lb = lb_create(&p);
	assert_non_null(fx->lb);
	*state = fx;
	return 0;
}

static void test_handoff(void **state)
{
	struct fx *fx = *state;
	struct lb *lb = fx->lb;
	uint64_t drop[DP_DROP_MAX] = {0};
	uint8_t f[256];
	struct rte_mbuf m, *pkts[1] = { &m }, *got[4];
	struct pkt_info pi[1];
	uint8_t idx[1] = { 0 }, kidx[1];
	uint32_t keys[1];

	assert_int_equal(lb_svc_add(lb, 1, VIP, 80, 6, 0, 1), 0);
	assert_int_equal(lb_backend_add(lb, 1, 1, BE(1), 8080, 1, 1), 0);
	/* the client's worker is 0: its SNAT ports are even */
	uint16_t np;
	size_t len = frame(f, 6, CLIENT, BE16(5001), VIP, BE16(80), 0, 0x02);
	assert_int_equal(burst1(lb, f, len, drop), 1);
	np = sport(f);
	assert_int_equal(rte_be_to_cpu_16(np) % 2, 0);
	/* the backend's SYN-ACK arrives at worker 1 */
	len = frame(f, 6, BE(1), BE16(8080), SNAT, np, 0, 0x12);
	memset(&m, 0, sizeof(m));
	m.buf_addr = f;
	m.data_len = (uint16_t)len;
	m.buf_len = 256;
	m.nb_segs = 1;
	m.port = 7;
	rte_mbuf_refcnt_set(&m, 1);
	assert_int_equal(pkt_parse(f, len, &pi[0]), 0);
	assert_int_equal(lb_fwd_burst(lb, 1, pkts, pi, idx, 1, keys, kidx, drop), 0);
	assert_int_equal(rte_mbuf_refcnt_read(&m), 2); /* caller's free leaves it */
	assert_int_equal(lb->lc[1]->ev[LB_EV_HANDOFF], 1);
	assert_int_equal(ip_dst(f), SNAT); /* untouched by worker 1 */
	assert_int_equal(lb_fwd_handoff_take(lb, 1, got, 4), 0);
	assert_int_equal(lb_fwd_handoff_take(lb, 0, got, 4), 1);
	assert_ptr_equal(got[0], &m);
	assert_int_equal(got[0]->port, 7);
	/* worker 0 routes it like a received packet */
	assert_int_equal(pkt_parse(f, len, &pi[0]), 0);
	assert_int_equal(lb_fwd_burst(lb, 0, pkts, pi, idx, 1, keys, kidx, drop), 1);
	assert_int_equal(ip_dst(f), CLIENT);
	assert_int_equal(ip_src(f), VIP);
	assert_csums(f, len);
	assert_no_drops(drop);
}

/* Run frame f through worker w's lb_fwd_burst in mbuf m (refcnt 1).
 * Returns how many came back for routing. */
static unsigned burst_w(struct lb *lb, unsigned w, struct rte_mbuf *m, uint8_t *f, size_t len,
			uint64_t *drop)
{
	struct rte_mbuf *pkts[1] = { m };
	struct pkt_info pi[1];
	uint8_t idx[1] = { 0 }, kidx[1];
	uint32_t keys[1];

	memset(m, 0, sizeof(*m));
	m->buf_addr = f;
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	m->buf_len = 2048;
	m->nb_segs = 1;
	m->port = 3;
	rte_mbuf_refcnt_set(m, 1);
	assert_int_equal(pkt_parse(f, len, &pi[0]), 0);
	assert_true(lb_fwd_wants(lb, f, &pi[0]));
	return lb_fwd_burst(lb, w, pkts, pi, idx, 1, keys, kidx, drop);
}

/* Split the UDP datagram `whole` (frame of len bytes) into a first
 * fragment f1 (800 L4 bytes, MF) and the rest f2, IP id `id`; returns
 * f2's length (f1's is 34 + 800). */
static size_t split2(const uint8_t *whole, size_t len, uint16_t id, uint8_t *f1, uint8_t *f2)
{
	memcpy(f1, whole, 34 + 800);
	wr16(f1 + 16, 820);
	wr16(f1 + 20, 0x2000);
	memcpy(f2, whole, 34);
	memcpy(f2 + 34, whole + 34 + 800, len - 34 - 800);
	wr16(f2 + 16, (uint16_t)(20 + len - 34 - 800));
	wr16(f2 + 20, 100);
	for (uint8_t *h = f1; h; h = h == f1 ? f2 : NULL) {
		wr16(h + 18, id);
		wr16(h + 24, 0);
		wr16(h + 24, pkt_csum(h + 14, 20));
	}
	return len - 800;
}

/* Two workers: the fragments of a reply datagram reach the worker that
 * does not track the flow. The first is handed over by its port, the
 * later ones (no port) follow it by (src, dst, id, proto) and are all
 * rewritten by the flow's worker; a later fragment whose first was never
 * seen is still dropped. */
static void test_handoff_frags(void **state)
{
	struct fx *fx = *state;
	struct lb *lb = fx->lb;
	uint64_t drop[DP_DROP_MAX] = {0};
	uint8_t f[2048], whole[2048], f1[2048], f2[2048], f3[2048];
	struct rte_mbuf m1, m2, m3, *got[4];

	assert_int_equal(lb_svc_add(lb, 1, VIP, 53, 17, 0, 1), 0);
	assert_int_equal(lb_backend_add(lb, 1, 1, BE(1), 5353, 1, 1), 0);
	size_t len = frame(f, 17, CLIENT, BE16(6000), VIP, BE16(53), 10, 0);
	assert_int_equal(burst_w(lb, 0, &m1, f, len, drop), 1);
	uint16_t np = sport(f);
	assert_int_equal(rte_be_to_cpu_16(np) % 2, 0); /* worker 0's flow */

	/* the answer, 1200 bytes in two fragments, plus a second later
	 * fragment of the same datagram (a retransmitted copy) */
	len = frame(whole, 17, BE(1), BE16(5353), SNAT, np, 1200, 0);
	size_t l2 = split2(whole, len, 0x7001, f1, f2);
	memcpy(f3, f2, l2);
	assert_int_equal(burst_w(lb, 1, &m1, f1, 34 + 800, drop), 0);
	assert_int_equal(burst_w(lb, 1, &m2, f2, l2, drop), 0);
	assert_int_equal(burst_w(lb, 1, &m3, f3, l2, drop), 0);
	assert_int_equal(lb->lc[1]->ev[LB_EV_HANDOFF], 3);
	assert_int_equal(rte_mbuf_refcnt_read(&m2), 2);
	assert_int_equal(ip_dst(f2), SNAT); /* untouched by worker 1 */
	assert_int_equal(lb_fwd_handoff_take(lb, 1, got, 4), 0);
	assert_int_equal(lb_fwd_handoff_take(lb, 0, got, 4), 3);
	assert_ptr_equal(got[0], &m1); /* in order: the first fragment first */
	assert_ptr_equal(got[1], &m2);
	assert_ptr_equal(got[2], &m3);
	/* worker 0 rewrites all three (mbufs reset, same bytes) */
	assert_int_equal(burst_w(lb, 0, &m1, f1, 34 + 800, drop), 1);
	assert_int_equal(burst_w(lb, 0, &m2, f2, l2, drop), 1);
	assert_int_equal(burst_w(lb, 0, &m3, f3, l2, drop), 1);
	for (uint8_t *h = f1; h; h = h == f1 ? f2 : h == f2 ? f3 : NULL) {
		assert_int_equal(ip_src(h), VIP);
		assert_int_equal(ip_dst(h), CLIENT);
		assert_int_equal(pkt_csum(h + 14, 20), 0);
	}
	uint8_t re[2048];
	memcpy(re, f1 + 14, 20 + 800);
	memcpy(re + 20 + 800, f2 + 34, l2 - 34);
	assert_true(l4_ok(re, re + 20, len - 34));
	assert_int_equal(lb->lc[0]->ev[LB_EV_FRAG], 2);
	assert_no_drops(drop);

	/* a later fragment of a datagram whose first nobody saw */
	len = frame(whole, 17, BE(1), BE16(5353), SNAT, np, 1200, 0);
	l2 = split2(whole, len, 0x7002, f1, f2);
	assert_int_equal(burst_w(lb, 1, &m2, f2, l2, drop), 0);
	assert_int_equal(drop[DP_DROP_LB_NO_FLOW], 1);
	assert_int_equal(lb->lc[1]->ev[LB_EV_HANDOFF], 3);
	assert_int_equal(lb_fwd_handoff_take(lb, 0, got, 4), 0);
}

/* ---- 8. DSR ---- */

#define GW2 IP4(10, 77, 2, 1) /* another node's gateway: the tunnel's source */

/* One frame through worker 0 (m: headroom 128, refcnt 1); *key and *pio
 * get the routing key and the packet's pkt_info. Returns how many came
 * back for routing (0 or 1). */
static unsigned burst_dsr(struct lb *lb, struct rte_mbuf *m, uint8_t *buf, size_t len,
			  uint64_t *drop, uint32_t *key, struct pkt_info *pio)
{
	struct rte_mbuf *pkts[1] = { m };
	uint8_t idx[1] = { 0 }, kidx[1];

	memset(m, 0, sizeof(*m));
	m->buf_addr = buf;
	m->buf_len = 2048;
	m->data_off = 128;
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	m->nb_segs = 1;
	rte_mbuf_refcnt_set(m, 1);
	uint8_t *f = buf + 128;
	assert_int_equal(pkt_parse(f, len, pio), 0);
	if (!lb_fwd_wants(lb, f, pio))
		return 9;
	return lb_fwd_burst(lb, 0, pkts, pio, idx, 1, key, kidx, drop);
}

/* An IPIP frame at buf + 128: outer src -> dst around the inner frame's
 * IP packet (inner: an Ethernet frame built by frame()). Returns its length. */
static size_t ipip_frame(uint8_t *buf, const uint8_t *inner, size_t ilen, uint32_t src,
			 uint32_t dst)
{
	uint8_t *f = buf + 128;
	memcpy(f, inner, 14);
	memcpy(f + 34, inner + 14, ilen - 14);
	lb_ipip_hdr(f + 14, f + 34, src, dst);
	return ilen + 20;
}

static void test_ipip_hdr(void **state)
{
	uint8_t in[128], out[20];
	uint32_t src = IP4(10, 77, 1, 1), dst = IP4(10, 77, 2, 12);
	(void)state;
	size_t len = mk_pkt(in, 6, CLIENT, BE16(5000), VIP, BE16(80), 10, 0x02);
	in[1] = 0x28;       /* TOS */
	wr16(in + 4, 0xbeef);
	wr16(in + 6, 0x4000); /* DF */
	lb_ipip_hdr(out, in, src, dst);
	const uint8_t want[12] = { 0x45, 0x28, (uint8_t)((len + 20) >> 8), (uint8_t)(len + 20),
				   0xbe, 0xef, 0x40, 0x00, 64, 4 };
	assert_memory_equal(out, want, 10);
	assert_int_equal(pkt_csum(out, 20), 0);
	assert_memory_equal(out + 12, &src, 4);
	assert_memory_equal(out + 16, &dst, 4);
	/* without DF: no flags; MF and the offset are the inner's own */
	wr16(in + 6, 0x2000 | 100);
	lb_ipip_hdr(out, in, src, dst);
	assert_int_equal(rd16(out + 6), 0);
	assert_int_equal(pkt_csum(out, 20), 0);
}

static void dsr_setup_svc(struct lb *lb)
{
	assert_int_equal(lb_svc_add(lb, 1, VIP, 80, 6, RING_SVC_F_DSR, 1), 0);
	assert_int_equal(lb_svc_add(lb, 2, VIP, 53, 17, RING_SVC_F_DSR, 1), 0);
	assert_int_equal(lb_svc_add(lb, 3, VIP, 443, 6, 0, 1), 0); /* full NAT */
	for (uint32_t i = 1; i <= 4; i++) {
		assert_int_equal(lb_backend_add(lb, 1, i, BE(i), 8080, 1, 1), 0);
		assert_int_equal(lb_backend_add(lb, 2, 10 + i, BE(i), 5353, 1, 1), 0);
		assert_int_equal(lb_backend_add(lb, 3, 20 + i, BE(i), 8443, 1, 1), 0);
	}
}

/* The LB node: the client's packet goes untouched to the tunnel of the
 * backend conntrack keeps; encapsulation is exact; no reply state. */
static void test_dsr_lb_side(void **state)
{
	struct fx *fx = *state;
	struct lb *lb = fx->lb;
	uint64_t drop[DP_DROP_MAX] = {0};
	uint8_t buf[2048], orig[256];
	struct rte_mbuf m;
	struct pkt_info pi;
	uint32_t key, be = 0;
	unsigned hits[5] = {0};

	dsr_setup_svc(lb);
	for (uint16_t p = 0; p < 200; p++) {
		size_t len = frame(orig, 6, CLIENT, BE16(10000 + p), VIP, BE16(80), 0, 0x02);
		memcpy(buf + 128, orig, len);
		assert_int_equal(burst_dsr(lb, &m, buf, len, drop, &key, &pi), 1);
		assert_memory_equal(buf + 128, orig, len); /* not rewritten */
		assert_int_equal(pi.lb_dsr, PKT_LB_DSR_ENCAP);
		assert_int_equal(pi.dst_ip, key);
		for (uint32_t i = 1; i <= 4; i++)
			hits[i] += key == BE(i);
	}
	for (uint32_t i = 1; i <= 4; i++)
		assert_in_range(hits[i], 20, 80);
	/* one flow: the same backend for every packet (ACK, data) */
	size_t len = frame(orig, 6, CLIENT, BE16(7777), VIP, BE16(80), 0, 0x02);
	memcpy(buf + 128, orig, len);
	assert_int_equal(burst_dsr(lb, &m, buf, len, drop, &be, &pi), 1);
	for (int k = 0; k < 5; k++) {
		len = frame(orig, 6, CLIENT, BE16(7777), VIP, BE16(80), 100, 0x10);
		memcpy(buf + 128, orig, len);
		assert_int_equal(burst_dsr(lb, &m, buf, len, drop, &key, &pi), 1);
		assert_int_equal(key, be);
	}
	/* encapsulation: Ethernet moved to the front, outer header, inner
	 * bytes untouched */
	assert_int_equal(lb_ipip_encap(&m, SNAT, be), 0);
	uint8_t *f = rte_pktmbuf_mtod(&m, uint8_t *);
	assert_int_equal(m.data_len, len + 20);
	assert_memory_equal(f, orig, 14);
	assert_memory_equal(f + 34, orig + 14, len - 14);
	assert_int_equal(f[14], 0x45);
	assert_int_equal(f[23], 4);
	assert_int_equal(rd16(f + 16), len - 14 + 20);
	assert_int_equal(pkt_csum(f + 14, 20), 0);
	assert_int_equal(ip_src(f), SNAT);
	assert_int_equal(ip_dst(f), be);
	/* no headroom: refused */
	m.data_off = 10;
	assert_int_equal(lb_ipip_encap(&m, SNAT, be), -ENOSPC);

	/* fragments: the later one is tunneled to its first's backend */
	uint8_t whole[2048], f1[2048], f2[2048];
	len = frame(whole, 17, CLIENT, BE16(4000), VIP, BE16(53), 1200, 0);
	size_t l2 = split2(whole, len, 0x5151, f1, f2);
	memcpy(buf + 128, f1, 34 + 800);
	assert_int_equal(burst_dsr(lb, &m, buf, 34 + 800, drop, &be, &pi), 1);
	assert_int_equal(pi.lb_dsr, PKT_LB_DSR_ENCAP);
	memcpy(buf + 128, f2, l2);
	assert_int_equal(burst_dsr(lb, &m, buf, l2, drop, &key, &pi), 1);
	assert_int_equal(pi.lb_dsr, PKT_LB_DSR_ENCAP);
	assert_int_equal(key, be);
	assert_memory_equal(buf + 128, f2, l2);

	/* the mode of a service does not change in place */
	assert_int_equal(lb_svc_add(lb, 1, VIP, 80, 6, 0, 2), -EEXIST);
	assert_int_equal(lb_svc_add(lb, 1, VIP, 80, 6, RING_SVC_F_DSR, 2), 0);
	/* an ICMP error from the client about a (direct) reply of a DSR flow
	 * is not mapped */
	{
		uint8_t q[64], e[256];
		size_t ql = mk_pkt(q, 6, VIP, BE16(80), CLIENT, BE16(7777), 0, 0x12);
		memset(e, 0, 14);
		e[0] = 2;
		wr16(e + 12, 0x0800);
		size_t el = 14 + mk_icmp(e + 14, CLIENT, VIP, q, ql);
		memcpy(buf + 128, e, el);
		assert_int_equal(burst_dsr(lb, &m, buf, el, drop, &key, &pi), 0);
		assert_int_equal(drop[DP_DROP_LB_NO_FLOW], 1);
		drop[DP_DROP_LB_NO_FLOW] = 0;
	}
	/* the full-NAT service on the same VIP is unchanged */
	len = frame(orig, 6, CLIENT, BE16(9000), VIP, BE16(443), 0, 0x02);
	memcpy(buf + 128, orig, len);
	assert_int_equal(burst_dsr(lb, &m, buf, len, drop, &key, &pi), 1);
	assert_int_equal(pi.lb_dsr, 0);
	assert_int_equal(ip_src(buf + 128), SNAT);
	assert_int_equal(lb->lc[0]->ev[LB_EV_DSR_ENCAP], 200 + 6 + 1);
	assert_int_equal(lb->lc[0]->ev[LB_EV_REPLY], 0);
	assert_no_drops(drop);
}

/* The backend's node: the tunnel is removed, VIP:port becomes the pod's
 * address and target port; the pod's replies get VIP:port back. */
static void test_dsr_backend_side(void **state)
{
	struct fx *fx = *state;
	struct lb *lb = fx->lb;
	uint64_t drop[DP_DROP_MAX] = {0};
	uint8_t buf[2048], in[2048], orig[2048];
	struct rte_mbuf m;
	struct pkt_info pi;
	uint32_t key;

	dsr_setup_svc(lb);
	size_t ilen = frame(in, 6, CLIENT, BE16(5000), VIP, BE16(80), 40, 0x02);
	size_t len = ipip_frame(buf, in, ilen, GW2, BE(2));
	assert_int_equal(burst_dsr(lb, &m, buf, len, drop, &key, &pi), 1);
	uint8_t *f = rte_pktmbuf_mtod(&m, uint8_t *);
	assert_int_equal(m.data_len, ilen);
	assert_int_equal(key, BE(2));
	assert_int_equal(pi.lb_dsr, PKT_LB_DSR_LOCAL);
	assert_int_equal(ip_src(f), CLIENT);
	assert_int_equal(sport(f), BE16(5000));
	assert_int_equal(ip_dst(f), BE(2));
	assert_int_equal(rd16(f + 36), 8080);
	assert_memory_equal(f, in, 14);
	assert_memory_equal(f + 54, in + 54, 40); /* payload */
	assert_csums(f, ilen);
	assert_int_equal(lb->lc[0]->ev[LB_EV_DSR_DECAP], 1);

	/* the pod's SYN-ACK: from VIP:80 again, to the client directly */
	len = frame(orig, 6, BE(2), BE16(8080), CLIENT, BE16(5000), 20, 0x12);
	memcpy(buf + 128, orig, len);
	assert_int_equal(burst_dsr(lb, &m, buf, len, drop, &key, &pi), 1);
	f = buf + 128;
	assert_int_equal(key, CLIENT);
	assert_int_equal(ip_src(f), VIP);
	assert_int_equal(sport(f), BE16(80));
	assert_int_equal(ip_dst(f), CLIENT);
	assert_int_equal(rd16(f + 36), 5000);
	assert_csums(f, len);
	assert_int_equal(lb->lc[0]->ev[LB_EV_DSR_REPLY], 1);
	/* other traffic of the pod passes untouched */
	len = frame(orig, 6, BE(2), BE16(8080), CLIENT, BE16(5001), 20, 0x12);
	memcpy(buf + 128, orig, len);
	assert_int_equal(burst_dsr(lb, &m, buf, len, drop, &key, &pi), 1);
	assert_memory_equal(buf + 128, orig, len);
	len = frame(orig, 17, BE(2), BE16(999), IP4(10, 77, 9, 9), BE16(53), 20, 0);
	memcpy(buf + 128, orig, len);
	assert_int_equal(burst_dsr(lb, &m, buf, len, drop, &key, &pi), 1);
	assert_memory_equal(buf + 128, orig, len);
	/* a UDP datagram in two fragments inside two tunnels */
	uint8_t whole[2048], f1[2048], f2[2048];
	ilen = frame(whole, 17, CLIENT, BE16(4000), VIP, BE16(53), 1200, 0);
	size_t l2 = split2(whole, ilen, 0x6161, f1, f2);
	len = ipip_frame(buf, f1, 34 + 800, GW2, BE(3));
	assert_int_equal(burst_dsr(lb, &m, buf, len, drop, &key, &pi), 1);
	f = rte_pktmbuf_mtod(&m, uint8_t *);
	assert_int_equal(ip_dst(f), BE(3));
	uint8_t re[2048];
	memcpy(re, f + 14, 20 + 800);
	len = ipip_frame(buf, f2, l2, GW2, BE(3));
	assert_int_equal(burst_dsr(lb, &m, buf, len, drop, &key, &pi), 1);
	f = rte_pktmbuf_mtod(&m, uint8_t *);
	assert_int_equal(ip_dst(f), BE(3));
	assert_int_equal(pkt_csum(f + 14, 20), 0);
	memcpy(re + 20 + 800, f + 34, l2 - 34);
	assert_true(l4_ok(re, re + 20, ilen - 34));
	assert_int_equal(rd16(re + 22), 5353);
	assert_no_drops(drop);
}

/* Tunnels that are not DSR traffic for one of the service's backends are
 * dropped and counted, never delivered. */
static void test_dsr_bad_ipip(void **state)
{
	struct fx *fx = *state;
	struct lb *lb = fx->lb;
	uint64_t drop[DP_DROP_MAX] = {0};
	uint8_t buf[2048], in[256];
	struct rte_mbuf m;
	struct pkt_info pi;
	uint32_t key;
	size_t ilen, len;
	unsigned want = 0;

	/* no DSR service at all: IPIP is not the LB's */
	assert_int_equal(lb_svc_add(lb, 3, VIP, 443, 6, 0, 1), 0);
	ilen = frame(in, 6, CLIENT, BE16(5000), VIP, BE16(80), 0, 0x02);
	len = ipip_frame(buf, in, ilen, GW2, BE(1));
	assert_int_equal(burst_dsr(lb, &m, buf, len, drop, &key, &pi), 9);
	dsr_setup_svc(lb);
#define BAD(expr_len)                                                                   \
	do {                                                                            \
		assert_int_equal(burst_dsr(lb, &m, buf, (expr_len), drop, &key, &pi), 0); \
		assert_int_equal(drop[DP_DROP_LB_DSR_IPIP], ++want);                     \
	} while (0)
	/* 1. to the non-DSR (full NAT) service of the VIP */
	ilen = frame(in, 6, CLIENT, BE16(5000), VIP, BE16(443), 0, 0x02);
	BAD(ipip_frame(buf, in, ilen, GW2, BE(1)));
	/* 2. to no service */
	ilen = frame(in, 6, CLIENT, BE16(5000), VIP, BE16(81), 0, 0x02);
	BAD(ipip_frame(buf, in, ilen, GW2, BE(1)));
	ilen = frame(in, 6, CLIENT, BE16(5000), IP4(10, 77, 1, 2), BE16(80), 0, 0x02);
	BAD(ipip_frame(buf, in, ilen, GW2, BE(1)));
	/* 3. to an address that is not a backend of the service */
	ilen = frame(in, 6, CLIENT, BE16(5000), VIP, BE16(80), 0, 0x02);
	BAD(ipip_frame(buf, in, ilen, GW2, BE(7)));
	/* 4. inner header checksum wrong */
	len = ipip_frame(buf, in, ilen, GW2, BE(1));
	buf[128 + 34 + 10] ^= 1;
	BAD(len);
	/* 5. inner length longer / shorter than the tunnel holds */
	len = ipip_frame(buf, in, ilen, GW2, BE(1));
	wr16(buf + 128 + 34 + 2, (uint16_t)(ilen - 14 + 4));
	wr16(buf + 128 + 34 + 10, 0);
	wr16(buf + 128 + 34 + 10, pkt_csum(buf + 128 + 34, 20));
	BAD(len);
	/* 6. truncated: inner IP header only (the tunnel says so) */
	len = ipip_frame(buf, in, 34, GW2, BE(1));
	wr16(buf + 128 + 14 + 2, 40);
	wr16(buf + 128 + 14 + 10, 0);
	wr16(buf + 128 + 14 + 10, pkt_csum(buf + 128 + 14, 20));
	BAD(len);
	/* 7. not IPv4 inside */
	len = ipip_frame(buf, in, ilen, GW2, BE(1));
	buf[128 + 34] = 0x65;
	BAD(len);
	/* 8. ICMP inside */
	len = ipip_frame(buf, in, ilen, GW2, BE(1));
	buf[128 + 34 + 9] = 1;
	wr16(buf + 128 + 34 + 10, 0);
	wr16(buf + 128 + 34 + 10, pkt_csum(buf + 128 + 34, 20));
	BAD(len);
	/* 9. the tunnel itself fragmented */
	len = ipip_frame(buf, in, ilen, GW2, BE(1));
	wr16(buf + 128 + 14 + 6, 0x2000);
	wr16(buf + 128 + 14 + 10, 0);
	wr16(buf + 128 + 14 + 10, pkt_csum(buf + 128 + 14, 20));
	BAD(len);
#undef BAD
	/* 10. a later fragment inside whose first was never seen */
	uint8_t whole[2048], f1[2048], f2[2048];
	ilen = frame(whole, 17, CLIENT, BE16(4000), VIP, BE16(53), 1200, 0);
	size_t l2 = split2(whole, ilen, 0x7171, f1, f2);
	len = ipip_frame(buf, f2, l2, GW2, BE(1));
	assert_int_equal(burst_dsr(lb, &m, buf, len, drop, &key, &pi), 0);
	assert_int_equal(drop[DP_DROP_LB_NO_FLOW], 1);
	/* and a good one still passes */
	ilen = frame(in, 6, CLIENT, BE16(5000), VIP, BE16(80), 0, 0x02);
	len = ipip_frame(buf, in, ilen, GW2, BE(1));
	assert_int_equal(burst_dsr(lb, &m, buf, len, drop, &key, &pi), 1);
	assert_int_equal(drop[DP_DROP_LB_DSR_IPIP], want);
}

/* A backend on the LB node itself: the packet is tunneled through the
 * worker's own hand-off ring and comes back as the backend side's. */
static void test_dsr_local(void **state)
{
	struct fx *fx = *state;
	struct lb *lb = fx->lb;
	uint64_t drop[DP_DROP_MAX] = {0};
	uint8_t buf[2048], orig[256];
	struct rte_mbuf m, *got[2];
	struct pkt_info pi;
	uint32_t key;

	dsr_setup_svc(lb);
	size_t len = frame(orig, 6, CLIENT, BE16(6000), VIP, BE16(80), 0, 0x02);
	memcpy(buf + 128, orig, len);
	assert_int_equal(burst_dsr(lb, &m, buf, len, drop, &key, &pi), 1);
	assert_int_equal(lb_fwd_dsr_local(lb, 0, &m, &pi), 0);
	assert_int_equal(rte_mbuf_refcnt_read(&m), 2);
	assert_int_equal(lb_fwd_handoff_take(lb, 0, got, 2), 1);
	assert_ptr_equal(got[0], &m);
	/* as if received: the tunnel to the local backend */
	struct rte_mbuf *pkts[1] = { &m };
	uint8_t idx[1] = { 0 }, kidx[1];
	uint8_t *f = rte_pktmbuf_mtod(&m, uint8_t *);
	assert_int_equal(pkt_parse(f, m.data_len, &pi), 0);
	assert_int_equal(pi.proto, 4);
	assert_true(lb_fwd_wants(lb, f, &pi));
	assert_int_equal(lb_fwd_burst(lb, 0, pkts, &pi, idx, 1, &key, kidx, drop), 1);
	f = rte_pktmbuf_mtod(&m, uint8_t *);
	assert_int_equal(m.data_len, len);
	assert_int_equal(ip_dst(f), key);
	assert_int_equal(rd16(f + 36), 8080);
	assert_int_equal(ip_src(f), CLIENT);
	assert_csums(f, len);
}

/* Two workers, backend side: the flow belongs to the client port's
 * worker; a tunnel and a reply reaching the other one are handed over. */
static void test_dsr_handoff(void **state)
{
	struct fx *fx = *state;
	struct lb *lb = fx->lb;
	uint64_t drop[DP_DROP_MAX] = {0};
	uint8_t in[256], t[512], r[256];
	struct rte_mbuf mt, mr, *got[4];

	dsr_setup_svc(lb);
	/* client port 5001: worker 1's; the tunnel arrives at worker 0 */
	size_t ilen = frame(in, 6, CLIENT, BE16(5001), VIP, BE16(80), 0, 0x02);
	memcpy(t, in, 14);
	memcpy(t + 34, in + 14, ilen - 14);
	lb_ipip_hdr(t + 14, t + 34, GW2, BE(2));
	assert_int_equal(burst_w(lb, 0, &mt, t, ilen + 20, drop), 0);
	assert_int_equal(lb->lc[0]->ev[LB_EV_HANDOFF], 1);
	assert_int_equal(lb_fwd_handoff_take(lb, 1, got, 4), 1);
	assert_ptr_equal(got[0], &mt);
	assert_int_equal(burst_w(lb, 1, &mt, t, ilen + 20, drop), 1);
	uint8_t *f = rte_pktmbuf_mtod(&mt, uint8_t *);
	assert_int_equal(ip_dst(f), BE(2));
	assert_int_equal(lb->lc[1]->ev[LB_EV_DSR_DECAP], 1);
	/* the pod's reply reaches worker 0 too: handed over, then rewritten */
	size_t rl = frame(r, 6, BE(2), BE16(8080), CLIENT, BE16(5001), 0, 0x12);
	assert_int_equal(burst_w(lb, 0, &mr, r, rl, drop), 0);
	assert_int_equal(lb_fwd_handoff_take(lb, 1, got, 4), 1);
	assert_int_equal(burst_w(lb, 1, &mr, r, rl, drop), 1);
	assert_int_equal(ip_src(r), VIP);
	assert_int_equal(sport(r), BE16(80));
	assert_csums(r, rl);
	assert_no_drops(drop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nat_random),
		cmocka_unit_test(test_nat_cases),
		cmocka_unit_test(test_nat_fragments),
		cmocka_unit_test(test_icmp_parse_bounds),
		cmocka_unit_test(test_icmp_nat),
		cmocka_unit_test(test_frag_table),
		cmocka_unit_test_setup_teardown(test_svc_control, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_burst, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tuple_reuse, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_idle_sweep, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_burst_frag_affinity, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_snat_collision, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_handoff, fx2_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_handoff_frags, fx2_setup, fx_teardown),
		cmocka_unit_test(test_ipip_hdr),
		cmocka_unit_test_setup_teardown(test_dsr_lb_side, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_dsr_backend_side, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_dsr_bad_ipip, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_dsr_local, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_dsr_handoff, fx2_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
