/*
 * Unit tests of dp/pkt: the parser against every bound it checks
 * (numbered, table-driven cases), the ARP and echo responders, the ICMP
 * error builder and RFC 1812 rules, and the RFC 1624 incremental checksum
 * against a full recompute over many random headers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pkt.h"

static const uint8_t GW_MAC[6] = { 2, 0, 0, 0, 0, 1 };
static const uint8_t POD_MAC[6] = { 2, 0, 0, 0, 1, 2 };

static uint32_t ip4(unsigned a, unsigned b, unsigned c, unsigned d)
{
	uint8_t x[4] = { (uint8_t)a, (uint8_t)b, (uint8_t)c, (uint8_t)d };
	uint32_t v;
	memcpy(&v, x, 4);
	return v;
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static unsigned get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* Build eth + IPv4 (+ @payload bytes of 0xab) from the pod to @dst.
 * Returns the frame length. */
static size_t mk_ip4(uint8_t *f, uint32_t dst, uint8_t proto, uint8_t ttl, size_t payload)
{
	memset(f, 0, 14 + 20 + payload);
	memcpy(f, GW_MAC, 6);
	memcpy(f + 6, POD_MAC, 6);
	put16(f + 12, 0x0800);
	uint8_t *ip = f + 14;
	ip[0] = 0x45;
	put16(ip + 2, (unsigned)(20 + payload));
	put16(ip + 4, 0x1234);
	ip[8] = ttl;
	ip[9] = proto;
	uint32_t src = ip4(10, 77, 1, 2);
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	memset(ip + 20, 0xab, payload);
	put16(ip + 10, pkt_csum(ip, 20));
	return 14 + 20 + payload;
}

static size_t mk_arp_req(uint8_t *f, uint32_t sip, uint32_t tip)
{
	memset(f, 0, 60);
	memset(f, 0xff, 6);
	memcpy(f + 6, POD_MAC, 6);
	put16(f + 12, 0x0806);
	uint8_t *a = f + 14;
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1);
	memcpy(a + 8, POD_MAC, 6);
	memcpy(a + 14, &sip, 4);
	memcpy(a + 24, &tip, 4);
	return 42;
}

/* A frame mutation and what the parser must say about it. */
struct parse_case {
	const char *name;
	int kind;              /* 0 = ip4 base, 1 = arp base, 2 = ipv6 base */
	void (*mutate)(uint8_t *f, size_t *len);
	int rc;
	int drop;
	int want_kind;
};

static void m_none(uint8_t *f, size_t *len) { (void)f; (void)len; }
static void m_len0(uint8_t *f, size_t *len) { (void)f; *len = 0; }
static void m_len13(uint8_t *f, size_t *len) { (void)f; *len = 13; }
static void m_len14(uint8_t *f, size_t *len) { (void)f; *len = 14; }
static void m_ip_len33(uint8_t *f, size_t *len) { (void)f; *len = 33; }
static void m_ip_ver6(uint8_t *f, size_t *len) { (void)len; f[14] = 0x65; }
static void m_ip_ihl4(uint8_t *f, size_t *len) { (void)len; f[14] = 0x44; }
static void m_ip_ihl15(uint8_t *f, size_t *len) { (void)len; f[14] = 0x4f; }
static void m_ip_tot19(uint8_t *f, size_t *len) { (void)len; put16(f + 16, 19); }
static void m_ip_tot_over(uint8_t *f, size_t *len) { put16(f + 16, (unsigned)(*len - 14 + 1)); }
static void m_ip_tot_pad(uint8_t *f, size_t *len) { (void)f; *len += 10; }
static void m_ip_csum(uint8_t *f, size_t *len) { (void)len; f[24] ^= 1; }
static void m_ip_opts(uint8_t *f, size_t *len)
{
	/* IHL 6 with one NOP option word, lengths and checksum consistent */
	f[14] = 0x46;
	memset(f + 34, 1, 4);
	put16(f + 24, 0);
	put16(f + 24, pkt_csum(f + 14, 24));
	(void)len;
}
static void m_ip_opts_trunc(uint8_t *f, size_t *len) { f[14] = 0x46; *len = 14 + 22; }
static void m_vlan(uint8_t *f, size_t *len) { (void)len; put16(f + 12, 0x8100); }
static void m_qinq(uint8_t *f, size_t *len) { (void)len; put16(f + 12, 0x88a8); }
static void m_etype(uint8_t *f, size_t *len) { (void)len; put16(f + 12, 0x88cc); }
static void m_arp_len41(uint8_t *f, size_t *len) { (void)f; *len = 41; }
static void m_arp_htype(uint8_t *f, size_t *len) { (void)len; put16(f + 14, 6); }
static void m_arp_ptype(uint8_t *f, size_t *len) { (void)len; put16(f + 16, 0x86dd); }
static void m_arp_hlen(uint8_t *f, size_t *len) { (void)len; f[18] = 8; }
static void m_arp_plen(uint8_t *f, size_t *len) { (void)len; f[19] = 16; }
static void m_v6_len53(uint8_t *f, size_t *len) { (void)f; *len = 53; }
static void m_v6_ver4(uint8_t *f, size_t *len) { (void)len; f[14] = 0x45; }
static void m_v6_plen(uint8_t *f, size_t *len) { put16(f + 18, (unsigned)(*len - 54 + 1)); }

static const struct parse_case parse_cases[] = {
	/*  1 */ { "ip4 ok", 0, m_none, 0, DP_DROP_NONE, PKT_KIND_IPV4 },
	/*  2 */ { "empty frame", 0, m_len0, -22, DP_DROP_ETH_SHORT, 0 },
	/*  3 */ { "13 bytes", 0, m_len13, -22, DP_DROP_ETH_SHORT, 0 },
	/*  4 */ { "eth only, ip4 type", 0, m_len14, -22, DP_DROP_IP_MALFORMED, 0 },
	/*  5 */ { "ip4 header 19 bytes", 0, m_ip_len33, -22, DP_DROP_IP_MALFORMED, 0 },
	/*  6 */ { "ip version 6 in ip4", 0, m_ip_ver6, -22, DP_DROP_IP_MALFORMED, 0 },
	/*  7 */ { "ihl 4", 0, m_ip_ihl4, -22, DP_DROP_IP_MALFORMED, 0 },
	/*  8 */ { "ihl 15 past frame", 0, m_ip_ihl15, -22, DP_DROP_IP_MALFORMED, 0 },
	/*  9 */ { "total length < ihl", 0, m_ip_tot19, -22, DP_DROP_IP_MALFORMED, 0 },
	/* 10 */ { "total length > frame", 0, m_ip_tot_over, -22, DP_DROP_IP_MALFORMED, 0 },
	/* 11 */ { "ethernet padding ok", 0, m_ip_tot_pad, 0, DP_DROP_NONE, PKT_KIND_IPV4 },
	/* 12 */ { "bad header checksum", 0, m_ip_csum, -22, DP_DROP_IP_CSUM, 0 },
	/* 13 */ { "options ok", 0, m_ip_opts, 0, DP_DROP_NONE, PKT_KIND_IPV4 },
	/* 14 */ { "options truncated", 0, m_ip_opts_trunc, -22, DP_DROP_IP_MALFORMED, 0 },
	/* 15 */ { "vlan", 0, m_vlan, -22, DP_DROP_VLAN, 0 },
	/* 16 */ { "qinq", 0, m_qinq, -22, DP_DROP_VLAN, 0 },
	/* 17 */ { "lldp ethertype", 0, m_etype, -22, DP_DROP_ETHERTYPE, 0 },
	/* 18 */ { "arp ok", 1, m_none, 0, DP_DROP_NONE, PKT_KIND_ARP },
	/* 19 */ { "arp 27 bytes", 1, m_arp_len41, -22, DP_DROP_ARP_MALFORMED, 0 },
	/* 20 */ { "arp htype", 1, m_arp_htype, -22, DP_DROP_ARP_MALFORMED, 0 },
	/* 21 */ { "arp ptype", 1, m_arp_ptype, -22, DP_DROP_ARP_MALFORMED, 0 },
	/* 22 */ { "arp hlen", 1, m_arp_hlen, -22, DP_DROP_ARP_MALFORMED, 0 },
	/* 23 */ { "arp plen", 1, m_arp_plen, -22, DP_DROP_ARP_MALFORMED, 0 },
	/* 24 */ { "ipv6 ok", 2, m_none, 0, DP_DROP_NONE, PKT_KIND_IPV6 },
	/* 25 */ { "ipv6 39-byte header", 2, m_v6_len53, -22, DP_DROP_IP_MALFORMED, 0 },
	/* 26 */ { "ipv6 version 4", 2, m_v6_ver4, -22, DP_DROP_IP_MALFORMED, 0 },
	/* 27 */ { "ipv6 payload > frame", 2, m_v6_plen, -22, DP_DROP_IP_MALFORMED, 0 },
};

static void test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		uint8_t *f = calloc(1, 128);
		size_t len;
		struct pkt_info pi;

		assert_non_null(f);
		if (c->kind == 0) {
			len = mk_ip4(f, ip4(10, 77, 1, 3), 17, 64, 16);
		} else if (c->kind == 1) {
			len = mk_arp_req(f, ip4(10, 77, 1, 2), ip4(10, 77, 1, 1));
		} else {
			memcpy(f, GW_MAC, 6);
			put16(f + 12, 0x86dd);
			f[14] = 0x60;
			put16(f + 18, 8);
			len = 14 + 40 + 8;
		}
		c->mutate(f, &len);
		/* Copy into an exact-size buffer so ASan catches any overread. */
		uint8_t *exact = malloc(len ? len : 1);
		assert_non_null(exact);
		memcpy(exact, f, len);
		int rc = pkt_parse(exact, len, &pi);
		if (rc != c->rc || pi.drop != c->drop || (rc == 0 && pi.kind != c->want_kind))
			fail_msg("case %zu (%s): rc %d drop %d kind %d", i + 1, c->name, rc, pi.drop,
				 pi.kind);
		free(exact);
		free(f);
	}
}

static void test_parse_fields(void **state)
{
	uint8_t f[128];
	struct pkt_info pi;
	(void)state;

	size_t len = mk_ip4(f, ip4(10, 77, 1, 3), 6, 17, 40);
	f[14 + 6] = 0x40; /* DF */
	put16(f + 24, 0);
	put16(f + 24, pkt_csum(f + 14, 20));
	assert_int_equal(pkt_parse(f, len, &pi), 0);
	assert_int_equal(pi.ttl, 17);
	assert_int_equal(pi.proto, 6);
	assert_int_equal(pi.ihl_len, 20);
	assert_int_equal(pi.ip_len, 60);
	assert_int_equal(pi.frag, 0x4000);
	assert_int_equal(pi.src_ip, ip4(10, 77, 1, 2));
	assert_int_equal(pi.dst_ip, ip4(10, 77, 1, 3));
	assert_true(pi.l2_unicast);
	len = mk_arp_req(f, ip4(10, 77, 1, 2), ip4(10, 77, 1, 1));
	assert_int_equal(pkt_parse(f, len, &pi), 0);
	assert_false(pi.l2_unicast);
	assert_int_equal(pi.arp_op, 1);
}

static void test_every_truncation(void **state)
{
	/* Every prefix of valid frames parses or fails cleanly (ASan guards). */
	uint8_t f[128];
	struct pkt_info pi;
	(void)state;
	size_t full = mk_ip4(f, ip4(10, 77, 1, 3), 1, 64, 30);
	for (size_t len = 0; len < full; len++) {
		uint8_t *e = malloc(len ? len : 1);
		memcpy(e, f, len);
		assert_int_equal(pkt_parse(e, len, &pi), -22);
		free(e);
	}
	full = mk_arp_req(f, 1, 2);
	for (size_t len = 0; len < full; len++) {
		uint8_t *e = malloc(len ? len : 1);
		memcpy(e, f, len);
		assert_int_equal(pkt_parse(e, len, &pi), -22);
		free(e);
	}
}

static void test_arp_reply(void **state)
{
	uint8_t f[64];
	struct pkt_info pi;
	(void)state;

	size_t len = mk_arp_req(f, ip4(10, 77, 1, 2), ip4(10, 77, 1, 1));
	assert_int_equal(pkt_parse(f, len, &pi), 0);
	assert_int_equal(pkt_arp_reply(f, len, &pi, GW_MAC), 0);
	assert_memory_equal(f, POD_MAC, 6);          /* back to the asker */
	assert_memory_equal(f + 6, GW_MAC, 6);
	assert_int_equal(get16(f + 12), 0x0806);
	assert_int_equal(get16(f + 14 + 6), 2);      /* reply */
	assert_memory_equal(f + 14 + 8, GW_MAC, 6);  /* sha = us */
	uint32_t v = ip4(10, 77, 1, 1);
	assert_memory_equal(f + 14 + 14, &v, 4);     /* spa = asked IP */
	assert_memory_equal(f + 14 + 18, POD_MAC, 6);
	v = ip4(10, 77, 1, 2);
	assert_memory_equal(f + 14 + 24, &v, 4);
	/* a reply is not answered */
	assert_int_equal(pkt_parse(f, len, &pi), 0);
	assert_int_equal(pkt_arp_reply(f, len, &pi, GW_MAC), -22);
}

static void test_csum_incremental_random(void **state)
{
	(void)state;
	srand(1624);
	for (int n = 0; n < 100000; n++) {
		uint8_t ip[20];
		for (int i = 0; i < 20; i++)
			ip[i] = (uint8_t)rand();
		ip[0] = 0x45;
		ip[8] = (uint8_t)(1 + rand() % 255); /* TTL > 0 */
		put16(ip + 10, 0);
		put16(ip + 10, pkt_csum(ip, 20));
		pkt_ip4_dec_ttl(ip);
		/* the incrementally patched header must still verify ... */
		assert_int_equal(pkt_csum(ip, 20), 0);
		/* ... and equal a full recompute, except that RFC 1624 can yield
		 * 0xffff where recompute gives 0x0000 (both are "zero"). */
		unsigned inc = get16(ip + 10);
		put16(ip + 10, 0);
		unsigned full = pkt_csum(ip, 20);
		assert_true(inc == full || (inc == 0xffff && full == 0) || (inc == 0 && full == 0xffff));
	}
}

static void test_csum_update16_known(void **state)
{
	(void)state;
	/* RFC 1624 section 4 example: HC 0xdd2f, m 0x5555 -> m' 0x3285 gives 0x0000 */
	assert_int_equal(pkt_csum_update16(0xdd2f, 0x5555, 0x3285), 0x0000);
	/* RFC 1071 example data: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2 */
	const uint8_t d[8] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	assert_int_equal(pkt_csum(d, 8), (uint16_t)~0xddf2);
	/* odd length pads with zero */
	const uint8_t o[3] = { 0x12, 0x34, 0x56 };
	assert_int_equal(pkt_csum(o, 3), (uint16_t)~(0x1234 + 0x5600));
}

static void test_icmp_error(void **state)
{
	uint8_t f[256];
	struct pkt_info pi;
	(void)state;

	size_t len = mk_ip4(f, ip4(10, 77, 1, 3), 17, 1, 100);
	assert_int_equal(pkt_parse(f, len, &pi), 0);
	uint8_t orig[28];
	memcpy(orig, f + 14, 28);
	assert_true(pkt_icmp_error_allowed(f, len, &pi));
	int n = pkt_icmp_error(f, sizeof(f), &pi, 11, 0, ip4(10, 77, 1, 1), GW_MAC);
	assert_int_equal(n, 14 + 20 + 8 + 28);
	assert_memory_equal(f, POD_MAC, 6);
	assert_memory_equal(f + 6, GW_MAC, 6);
	/* the result is itself a valid IPv4 packet from the gateway to the pod */
	struct pkt_info r;
	assert_int_equal(pkt_parse(f, (size_t)n, &r), 0);
	assert_int_equal(r.proto, 1);
	assert_int_equal(r.src_ip, ip4(10, 77, 1, 1));
	assert_int_equal(r.dst_ip, ip4(10, 77, 1, 2));
	assert_int_equal(r.ttl, 64);
	const uint8_t *icmp = f + 34;
	assert_int_equal(icmp[0], 11);
	assert_int_equal(icmp[1], 0);
	assert_int_equal(pkt_csum(icmp, 8 + 28), 0);
	assert_memory_equal(icmp + 8, orig, 28);     /* header + 64 bits quoted */
	/* never an error about an ICMP error */
	assert_false(pkt_icmp_error_allowed(f, (size_t)n, &r));
	/* too small a buffer is refused without writing past it */
	len = mk_ip4(f, ip4(10, 77, 1, 3), 17, 1, 100);
	assert_int_equal(pkt_parse(f, len, &pi), 0);
	assert_int_equal(pkt_icmp_error(f, 69, &pi, 3, 1, ip4(10, 77, 1, 1), GW_MAC), -28);
	/* RFC 1191 next-hop MTU, checksum still valid */
	len = mk_ip4(f, ip4(10, 77, 1, 3), 17, 64, 100);
	assert_int_equal(pkt_parse(f, len, &pi), 0);
	n = pkt_icmp_error(f, sizeof(f), &pi, 3, 4, ip4(10, 77, 1, 1), GW_MAC);
	assert_true(n > 0);
	pkt_icmp_error_set_mtu(f, 1500);
	assert_int_equal(get16(f + 34 + 6), 1500);
	assert_int_equal(pkt_csum(f + 34, (size_t)n - 34), 0);
	/* short payload quotes what there is */
	len = mk_ip4(f, ip4(10, 77, 1, 3), 17, 1, 3);
	assert_int_equal(pkt_parse(f, len, &pi), 0);
	assert_int_equal(pkt_icmp_error(f, sizeof(f), &pi, 3, 1, ip4(10, 77, 1, 1), GW_MAC),
			 14 + 20 + 8 + 23);
}

static void test_icmp_error_rules(void **state)
{
	uint8_t f[128];
	struct pkt_info pi;
	(void)state;
	struct {
		const char *name;
		uint32_t src, dst;
		uint8_t proto;
		uint8_t icmp_type;
		unsigned frag;
		int allowed;
	} cases[] = {
		{ "udp ok", ip4(10, 77, 1, 2), ip4(10, 9, 9, 9), 17, 0, 0, 1 },
		{ "echo request ok", ip4(10, 77, 1, 2), ip4(10, 9, 9, 9), 1, 8, 0, 1 },
		{ "dest unreach", ip4(10, 77, 1, 2), ip4(10, 9, 9, 9), 1, 3, 0, 0 },
		{ "time exceeded", ip4(10, 77, 1, 2), ip4(10, 9, 9, 9), 1, 11, 0, 0 },
		{ "src 0.0.0.0", 0, ip4(10, 9, 9, 9), 17, 0, 0, 0 },
		{ "src loopback", ip4(127, 0, 0, 1), ip4(10, 9, 9, 9), 17, 0, 0, 0 },
		{ "src multicast", ip4(224, 0, 0, 5), ip4(10, 9, 9, 9), 17, 0, 0, 0 },
		{ "dst broadcast", ip4(10, 77, 1, 2), 0xffffffffu, 17, 0, 0, 0 },
		{ "dst multicast", ip4(10, 77, 1, 2), ip4(239, 1, 1, 1), 17, 0, 0, 0 },
		{ "first fragment", ip4(10, 77, 1, 2), ip4(10, 9, 9, 9), 17, 0, 0x2000, 1 },
		{ "later fragment", ip4(10, 77, 1, 2), ip4(10, 9, 9, 9), 17, 0, 0x0010, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = mk_ip4(f, cases[i].dst, cases[i].proto, 1, 16);
		memcpy(f + 26, &cases[i].src, 4);
		put16(f + 20, cases[i].frag);
		f[34] = cases[i].icmp_type;
		put16(f + 24, 0);
		put16(f + 24, pkt_csum(f + 14, 20));
		assert_int_equal(pkt_parse(f, len, &pi), 0);
		if (pkt_icmp_error_allowed(f, len, &pi) != cases[i].allowed)
			fail_msg("rule case %zu (%s)", i + 1, cases[i].name);
	}
}

static void test_echo_reply(void **state)
{
	uint8_t f[128];
	struct pkt_info pi;
	(void)state;

	size_t len = mk_ip4(f, ip4(10, 77, 1, 1), 1, 64, 16);
	uint8_t *icmp = f + 34;
	memset(icmp, 0, 16);
	icmp[0] = 8;
	put16(icmp + 4, 0x77);
	put16(icmp + 2, pkt_csum(icmp, 16));
	assert_int_equal(pkt_parse(f, len, &pi), 0);
	assert_int_equal(pkt_icmp_echo_reply(f, len, &pi, GW_MAC), 0);
	struct pkt_info r;
	assert_int_equal(pkt_parse(f, len, &r), 0); /* IP checksum still right */
	assert_int_equal(r.src_ip, ip4(10, 77, 1, 1));
	assert_int_equal(r.dst_ip, ip4(10, 77, 1, 2));
	assert_int_equal(icmp[0], 0);
	assert_int_equal(pkt_csum(icmp, 16), 0);    /* ICMP checksum patched */
	assert_memory_equal(f, POD_MAC, 6);
	/* not an echo request any more: refused */
	assert_int_equal(pkt_icmp_echo_reply(f, len, &r, GW_MAC), -22);
	/* truncated ICMP header refused */
	len = mk_ip4(f, ip4(10, 77, 1, 1), 1, 64, 4);
	f[34] = 8;
	assert_int_equal(pkt_parse(f, len, &pi), 0);
	assert_int_equal(pkt_icmp_echo_reply(f, len, &pi, GW_MAC), -22);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_arp_reply),
		cmocka_unit_test(test_csum_incremental_random),
		cmocka_unit_test(test_csum_update16_known),
		cmocka_unit_test(test_icmp_error),
		cmocka_unit_test(test_icmp_error_rules),
		cmocka_unit_test(test_echo_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
