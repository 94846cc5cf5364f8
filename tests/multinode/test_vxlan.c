/*
 * Unit tests of dp/vxlan: every outer header field of an encapsulated
 * frame, the outer IPv4 checksum against a full recomputation (and the
 * inner one after the TTL decrement dp applies), the flow-hash source
 * port (stable per flow, in range, spread over flows, ports ignored for
 * fragments), and decapsulation of the encapsulated frame and of frames
 * lying about each length, flag and the VNI (numbered cases).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pkt.h"
#include "vxlan.h"

static uint32_t ip4(unsigned a, unsigned b, unsigned c, unsigned d)
{
	uint8_t x[4] = { (uint8_t)a, (uint8_t)b, (uint8_t)c, (uint8_t)d };
	uint32_t v;
	memcpy(&v, x, 4);
	return v;
}

static unsigned rd16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Inner Ethernet + IPv4 + UDP (or TCP) with @payload bytes, checksummed,
 * written at buf + off. Returns the frame length. */
static size_t mk_inner(uint8_t *f, uint8_t proto, uint32_t src, uint32_t dst, unsigned sport,
		       unsigned dport, size_t payload, unsigned frag)
{
	size_t l4 = proto == 6 ? 20 : 8;
	size_t ip_len = 20 + l4 + payload;
	memset(f, 0, 14 + ip_len);
	memcpy(f, "\x02\0\0\0\x01\x01\x02\0\0\0\x01\x02", 12);
	put16(f + 12, 0x0800);
	uint8_t *ip = f + 14;
	ip[0] = 0x45;
	ip[1] = 0xb9; /* DSCP 46 + ECN 01 */
	put16(ip + 2, (unsigned)ip_len);
	put16(ip + 6, frag);
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	put16(ip + 10, pkt_csum(ip, 20));
	put16(ip + 20, sport);
	put16(ip + 22, dport);
	for (size_t i = 0; i < payload; i++)
		ip[20 + l4 + i] = (uint8_t)(i * 7);
	return 14 + ip_len;
}

static const struct vxlan_tx TX = {
	.dst_mac = { 2, 0, 0, 0, 0x77, 2 },
	.src_mac = { 2, 0, 0, 0, 0x77, 1 },
	.vni = 4242,
	.dport = VXLAN_PORT,
};

static struct vxlan_tx tx_params(void)
{
	struct vxlan_tx t = TX;
	t.src_ip = ip4(192, 168, 77, 1);
	t.dst_ip = ip4(192, 168, 77, 2);
	return t;
}

/* Encapsulate the inner frame at buf + VXLAN_OVERHEAD like fwd.c does. */
static size_t encap(uint8_t *buf, size_t inner_len, uint16_t *sport_out)
{
	struct pkt_info pi;
	struct vxlan_tx t = tx_params();
	uint8_t *inner = buf + VXLAN_OVERHEAD;
	assert_int_equal(pkt_parse(inner, inner_len, &pi), 0);
	pkt_ip4_dec_ttl(inner + 14);
	uint16_t sport = vxlan_src_port(vxlan_flow_hash(inner + 14, inner_len - 14, &pi));
	assert_int_equal(vxlan_encap(buf, inner_len, &t, sport, inner[14 + 1]), 0);
	if (sport_out)
		*sport_out = sport;
	return VXLAN_OVERHEAD + inner_len;
}

static void test_encap_fields(void **state)
{
	uint8_t buf[2048];
	(void)state;
	size_t in = mk_inner(buf + VXLAN_OVERHEAD, 17, ip4(10, 78, 1, 2), ip4(10, 78, 2, 2), 40000,
			     53, 100, 0x4000);
	uint16_t sport;
	size_t len = encap(buf, in, &sport);
	struct vxlan_tx t = tx_params();

	/* outer Ethernet */
	assert_memory_equal(buf, t.dst_mac, 6);
	assert_memory_equal(buf + 6, t.src_mac, 6);
	assert_int_equal(rd16(buf + 12), 0x0800);
	/* outer IPv4 */
	const uint8_t *ip = buf + 14;
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(ip[1], 0xb8); /* inner DSCP, no ECN */
	assert_int_equal(rd16(ip + 2), len - 14);
	assert_int_equal(rd16(ip + 6), 0x4000); /* DF, offset 0 */
	assert_int_equal(ip[8], 64);
	assert_int_equal(ip[9], 17);
	assert_memory_equal(ip + 12, &t.src_ip, 4);
	assert_memory_equal(ip + 16, &t.dst_ip, 4);
	/* the stored checksum verifies, and equals a full recomputation */
	assert_int_equal(pkt_csum(ip, 20), 0);
	uint8_t copy[20];
	memcpy(copy, ip, 20);
	copy[10] = copy[11] = 0;
	assert_int_equal(rd16(ip + 10), pkt_csum(copy, 20));
	/* UDP */
	const uint8_t *udp = ip + 20;
	assert_int_equal(rd16(udp), sport);
	assert_true(sport >= VXLAN_SPORT_MIN);
	assert_int_equal(rd16(udp + 2), 4789);
	assert_int_equal(rd16(udp + 4), len - 14 - 20);
	assert_int_equal(rd16(udp + 6), 0);
	/* VXLAN: I flag, reserved zero, VNI */
	const uint8_t *vx = udp + 8;
	static const uint8_t want_vx[8] = { 0x08, 0, 0, 0, 0x00, 0x10, 0x92, 0 };
	assert_memory_equal(vx, want_vx, 8);
	/* inner: TTL decremented with a checksum equal to a recomputation */
	const uint8_t *iip = buf + VXLAN_OVERHEAD + 14;
	assert_int_equal(iip[8], 63);
	memcpy(copy, iip, 20);
	copy[10] = copy[11] = 0;
	assert_int_equal(rd16(iip + 10), pkt_csum(copy, 20));
	/* the whole thing parses as an IPv4 UDP frame */
	struct pkt_info pi;
	assert_int_equal(pkt_parse(buf, len, &pi), 0);
	assert_int_equal(pi.proto, 17);
	assert_int_equal(pi.ip_len, len - 14);
}

/* Outer checksum against recomputation for many random headers. */
static void test_encap_csum_random(void **state)
{
	uint8_t buf[2048], copy[20];
	(void)state;
	srand(7);
	for (int k = 0; k < 2000; k++) {
		size_t pl = (size_t)(rand() % 1400);
		size_t in = mk_inner(buf + VXLAN_OVERHEAD, (uint8_t)(rand() & 1 ? 6 : 17),
				     (uint32_t)rand(), (uint32_t)rand(), (unsigned)rand() & 0xffff,
				     (unsigned)rand() & 0xffff, pl, 0);
		struct vxlan_tx t = tx_params();
		t.src_ip = (uint32_t)rand();
		t.dst_ip = (uint32_t)rand();
		t.vni = (uint32_t)rand() & VXLAN_VNI_MAX;
		assert_int_equal(vxlan_encap(buf, in, &t, (uint16_t)rand(), (uint8_t)rand()), 0);
		memcpy(copy, buf + 14, 20);
		copy[10] = copy[11] = 0;
		assert_int_equal(rd16(buf + 14 + 10), pkt_csum(copy, 20));
		const uint8_t *vni = buf + 14 + 20 + 8 + 4;
		assert_int_equal((unsigned)vni[0] << 16 | (unsigned)vni[1] << 8 | vni[2], t.vni);
	}
}

static void test_encap_limits(void **state)
{
	uint8_t buf[128];
	struct vxlan_tx t = tx_params();
	(void)state;
	t.vni = VXLAN_VNI_MAX + 1;
	assert_int_equal(vxlan_encap(buf, 60, &t, 50000, 0), -EINVAL);
	t.vni = VXLAN_VNI_MAX;
	assert_int_equal(vxlan_encap(buf, 60, &t, 50000, 0), 0);
	/* more than 65535 bytes of outer IP */
	assert_int_equal(vxlan_encap(buf, 65535 - 36 + 1, &t, 50000, 0), -EINVAL);
}

static uint16_t flow_port(uint8_t proto, uint32_t s, uint32_t d, unsigned sp, unsigned dp,
			  unsigned frag)
{
	uint8_t f[256];
	struct pkt_info pi;
	size_t len = mk_inner(f, proto, s, d, sp, dp, 16, frag);
	assert_int_equal(pkt_parse(f, len, &pi), 0);
	return vxlan_src_port(vxlan_flow_hash(f + 14, len - 14, &pi));
}

static void test_flow_hash(void **state)
{
	(void)state;
	uint32_t a = ip4(10, 78, 1, 2), b = ip4(10, 78, 2, 2);
	/* stable per flow */
	assert_int_equal(flow_port(6, a, b, 40000, 80, 0), flow_port(6, a, b, 40000, 80, 0));
	/* ports matter for TCP/UDP... */
	int differ = 0;
	for (unsigned p = 0; p < 64; p++)
		differ += flow_port(6, a, b, 40000 + p, 80, 0) != flow_port(6, a, b, 40000, 80, 0);
	assert_true(differ >= 60);
	/* ...but not for fragments, which must stay on the first's path */
	assert_int_equal(flow_port(17, a, b, 1, 2, 0x2000), flow_port(17, a, b, 3, 4, 0x2000));
	assert_int_equal(flow_port(17, a, b, 1, 2, 0x0010), flow_port(17, a, b, 3, 4, 0x2000));
	/* every port in the RFC 7348 range, and spread: 1000 flows, few collisions */
	static uint8_t seen[VXLAN_SPORT_SPAN];
	unsigned distinct = 0;
	for (unsigned i = 0; i < 1000; i++) {
		uint16_t p = flow_port(6, a, b, 1024 + i, 443, 0);
		assert_true(p >= VXLAN_SPORT_MIN);
		if (!seen[p - VXLAN_SPORT_MIN]++)
			distinct++;
	}
	assert_true(distinct > 900);
}

static void test_decap_roundtrip(void **state)
{
	uint8_t buf[2048];
	struct pkt_info pi;
	size_t off, ilen;
	enum dp_drop why;
	(void)state;
	size_t in = mk_inner(buf + VXLAN_OVERHEAD, 6, ip4(10, 78, 1, 2), ip4(10, 78, 2, 2), 40000,
			     80, 1000, 0x4000);
	uint8_t orig[2048];
	memcpy(orig, buf + VXLAN_OVERHEAD, in);
	size_t len = encap(buf, in, NULL);
	/* Ethernet padding after the datagram is not part of the inner frame */
	memset(buf + len, 0xee, 8);
	assert_int_equal(pkt_parse(buf, len + 8, &pi), 0);
	assert_true(vxlan_is_candidate(&pi, ip4(192, 168, 77, 2)));
	assert_false(vxlan_is_candidate(&pi, ip4(192, 168, 77, 1)));
	assert_int_equal(vxlan_decap(buf, len + 8, &pi, VXLAN_PORT, 4242, &off, &ilen, &why), 0);
	assert_int_equal(why, DP_DROP_NONE);
	assert_int_equal(off, VXLAN_OVERHEAD);
	assert_int_equal(ilen, in);
	/* the inner frame is the original except for the TTL and its checksum */
	assert_memory_equal(buf + off, orig, 14 + 8);
	assert_memory_equal(buf + off + 14 + 12, orig + 14 + 12, in - 14 - 12);
}

/* Numbered cases: one lie each, all on the same encapsulated frame. */
struct decap_case {
	const char *name;
	size_t at;        /* byte offset patched (from frame start) */
	int width;        /* 1 or 2 bytes; 0 = truncate the IP/UDP lengths */
	unsigned value;
	enum dp_drop want;
};

#define O_IP 14
#define O_UDP (14 + 20)
#define O_VX (14 + 20 + 8)

static const struct decap_case decap_cases[] = {
	{ "1 wrong VNI", O_VX + 6, 1, 0x93, DP_DROP_VXLAN_VNI },
	{ "2 I flag clear", O_VX, 1, 0x00, DP_DROP_VXLAN_MALFORMED },
	{ "3 R bits set, I set: accepted", O_VX, 1, 0xff, DP_DROP_NONE },
	{ "4 wrong UDP port", O_UDP + 2, 2, 4790, DP_DROP_VXLAN_MALFORMED },
	{ "5 UDP length short by one", O_UDP + 4, 2, 0, DP_DROP_VXLAN_MALFORMED },
	{ "6 UDP length long by one", O_UDP + 4, 2, 1, DP_DROP_VXLAN_MALFORMED },
	{ "7 MF set", O_IP + 6, 2, 0x2000, DP_DROP_VXLAN_MALFORMED },
	{ "8 fragment offset", O_IP + 6, 2, 0x0001, DP_DROP_VXLAN_MALFORMED },
	{ "9 not UDP", O_IP + 9, 1, 6, DP_DROP_VXLAN_MALFORMED },
	{ "10 too short for an inner Ethernet header", 0, 0, 13, DP_DROP_VXLAN_MALFORMED },
	{ "11 exactly an inner Ethernet header", 0, 0, 14, DP_DROP_NONE },
};

static void test_decap_cases(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(decap_cases) / sizeof(decap_cases[0]); k++) {
		const struct decap_case *c = &decap_cases[k];
		uint8_t buf[512];
		struct pkt_info pi;
		size_t off = 0, ilen = 0;
		enum dp_drop why;
		size_t in = mk_inner(buf + VXLAN_OVERHEAD, 17, ip4(10, 78, 1, 2), ip4(10, 78, 2, 2),
				     1, 2, 100, 0);
		size_t len = encap(buf, in, NULL);
		if (c->width == 0) {
			/* the inner frame is c->value bytes: shrink IP and UDP alike */
			len = VXLAN_OVERHEAD + c->value;
			put16(buf + O_IP + 2, (unsigned)(len - 14));
			put16(buf + O_UDP + 4, (unsigned)(len - 14 - 20));
		} else if (c->width == 1) {
			buf[c->at] = (uint8_t)c->value;
		} else if (c->at == O_UDP + 4) {
			put16(buf + c->at, rd16(buf + c->at) + (c->value ? 1 : -1u));
		} else {
			put16(buf + c->at, c->value);
		}
		/* keep the outer header checksum right: the lie is elsewhere */
		put16(buf + O_IP + 10, 0);
		put16(buf + O_IP + 10, pkt_csum(buf + O_IP, 20));
		assert_int_equal(pkt_parse(buf, len, &pi), 0);
		int rc = vxlan_decap(buf, len, &pi, VXLAN_PORT, 4242, &off, &ilen, &why);
		if (why != c->want || (rc == 0) != (c->want == DP_DROP_NONE))
			fail_msg("case %s: rc %d why %d, want %d", c->name, rc, why, c->want);
		if (rc == 0)
			assert_true(off + ilen <= len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encap_fields),
		cmocka_unit_test(test_encap_csum_random),
		cmocka_unit_test(test_encap_limits),
		cmocka_unit_test(test_flow_hash),
		cmocka_unit_test(test_decap_roundtrip),
		cmocka_unit_test(test_decap_cases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
