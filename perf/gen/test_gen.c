/*
 * Unit tests for sluice-gen's pure modules: the frame builder/stamp reader
 * (gen_pkt) and the latency histogram (gen_lat). No EAL, no hugepages.
 * Numbered table-driven cases for the parser's rejections, so a new lie
 * the reader must catch is one more row.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gen_lat.h"
#include "gen_pkt.h"

static void
test_params(struct gen_pkt_params *p, uint16_t len, uint32_t flows, enum gen_pkt_vary vary)
{
	static const uint8_t src[6] = { 2, 0, 0, 0, 0xaa, 1 };
	static const uint8_t dst[6] = { 2, 0, 0, 0, 0, 1 };

	memset(p, 0, sizeof(*p));
	memcpy(p->src_mac, src, 6);
	memcpy(p->dst_mac, dst, 6);
	p->src_ip = 0x0a4d0102; /* 10.77.1.2 */
	p->dst_ip = 0x0a4d0103;
	p->sport = 1024;
	p->dport = 5001;
	p->len = len;
	p->flows = flows;
	p->vary = vary;
	p->magic = 0x53471234;
}

/* RFC 1071 over the IPv4 header: a valid header sums to 0xffff. */
static uint16_t
ip_sum(const uint8_t *ip)
{
	uint32_t s = 0;
	int i;

	for (i = 0; i < 20; i += 2)
		s += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void
test_roundtrip_min_frame(void **state)
{
	struct gen_pkt_params p;
	struct gen_pkt_stamp st = { .seq = 0xdeadbeef, .tsc = 0x0123456789abcdefull, .flow = 7 };
	struct gen_pkt_stamp out;
	uint8_t buf[GEN_PKT_MAX_LEN];

	(void)state;
	test_params(&p, GEN_PKT_MIN_LEN, 16, GEN_PKT_VARY_PORT);
	assert_int_equal(gen_pkt_template(&p, buf), 0);
	gen_pkt_stamp_frame(&p, buf, &st);
	assert_int_equal(gen_pkt_read_stamp(buf, p.len, p.magic, &out), 0);
	assert_int_equal(out.seq, st.seq);
	assert_true(out.tsc == st.tsc);
	assert_int_equal(out.flow, 7);
	/* flow 7 varies the UDP source port: 1024 + 7 */
	assert_int_equal(buf[34] << 8 | buf[35], 1031);
	/* IPv4 total length covers everything after Ethernet */
	assert_int_equal(buf[16] << 8 | buf[17], GEN_PKT_MIN_LEN - 14);
	assert_int_equal(ip_sum(buf + 14), 0xffff);
}

/* --vary spread: every port in sport+1..65535, the IP header still valid,
 * and 65536 flows give (almost) as many distinct (address, port) pairs,
 * over most of the port range. */
static void
test_vary_spread(void **state)
{
	static uint8_t seen[256][8192]; /* (low address byte, port) bitmap */
	struct gen_pkt_params p;
	uint8_t buf[GEN_PKT_MAX_LEN];
	uint32_t pairs = 0, lo = 65535, hi = 0;

	(void)state;
	memset(seen, 0, sizeof(seen));
	test_params(&p, GEN_PKT_MIN_LEN, 65536, GEN_PKT_VARY_SPREAD);
	for (uint32_t f = 0; f < 65536; f++) {
		struct gen_pkt_stamp st = { .seq = f, .tsc = 1, .flow = (uint16_t)f };
		assert_int_equal(gen_pkt_template(&p, buf), 0);
		gen_pkt_stamp_frame(&p, buf, &st);
		uint32_t port = (uint32_t)(buf[34] << 8 | buf[35]);
		assert_true(port > p.sport && port <= 65535);
		assert_int_equal(ip_sum(buf + 14), 0xffff);
		assert_int_equal(buf[29], (uint8_t)(0x02 + (f & 0xff)));
		uint8_t *b = &seen[buf[29]][port >> 3];
		pairs += !(*b & (1u << (port & 7)));
		*b |= (uint8_t)(1u << (port & 7));
		lo = port < lo ? port : lo;
		hi = port > hi ? port : hi;
	}
	assert_true(pairs > 65000);
	assert_true(lo < 2048 && hi > 64000);
}

/* Varying the source address keeps the header checksum valid (RFC 1624). */
static void
test_vary_ip_checksum(void **state)
{
	static const enum gen_pkt_vary modes[] = { GEN_PKT_VARY_IP, GEN_PKT_VARY_BOTH };
	struct gen_pkt_params p;
	uint8_t tmpl[GEN_PKT_MAX_LEN], buf[GEN_PKT_MAX_LEN];
	size_t m;
	uint32_t f;

	(void)state;
	for (m = 0; m < 2; m++) {
		test_params(&p, 128, 4096, modes[m]);
		assert_int_equal(gen_pkt_template(&p, tmpl), 0);
		for (f = 0; f < 4096; f += 97) {
			struct gen_pkt_stamp st = { .seq = f, .tsc = f, .flow = (uint16_t)f };
			uint32_t want_ip = modes[m] == GEN_PKT_VARY_IP ? p.src_ip + f : p.src_ip + (f & 0xff);
			uint32_t got_ip;

			memcpy(buf, tmpl, p.len);
			gen_pkt_stamp_frame(&p, buf, &st);
			got_ip = (uint32_t)buf[26] << 24 | (uint32_t)buf[27] << 16 |
				 (uint32_t)buf[28] << 8 | buf[29];
			assert_int_equal(got_ip, want_ip);
			assert_int_equal(ip_sum(buf + 14), 0xffff);
		}
	}
}

static void
test_template_rejects(void **state)
{
	struct gen_pkt_params p;
	uint8_t buf[GEN_PKT_MAX_LEN + 16];

	(void)state;
	test_params(&p, GEN_PKT_MIN_LEN - 1, 1, GEN_PKT_VARY_PORT);
	assert_int_equal(gen_pkt_template(&p, buf), -22);
	test_params(&p, GEN_PKT_MAX_LEN + 1, 1, GEN_PKT_VARY_PORT);
	assert_int_equal(gen_pkt_template(&p, buf), -22);
	test_params(&p, 64, 0, GEN_PKT_VARY_PORT);
	assert_int_equal(gen_pkt_template(&p, buf), -22);
	test_params(&p, 64, GEN_PKT_MAX_FLOWS + 1, GEN_PKT_VARY_PORT);
	assert_int_equal(gen_pkt_template(&p, buf), -22);
}

/* Frames the reader must not take for ours. */
static void
test_read_rejects(void **state)
{
	struct {
		const char *what;
		size_t off;      /* byte to overwrite, or SIZE_MAX for none */
		uint8_t val;
		uint32_t len;    /* bytes handed to the reader */
		uint32_t magic;
	} cases[] = {
		/* 1 */ { "truncated by one byte", SIZE_MAX, 0, GEN_PKT_MIN_LEN - 1, 0x53471234 },
		/* 2 */ { "other run's magic", SIZE_MAX, 0, GEN_PKT_MIN_LEN, 0x53479999 },
		/* 3 */ { "ARP ethertype", 13, 0x06, GEN_PKT_MIN_LEN, 0x53471234 },
		/* 4 */ { "IPv6 version nibble", 14, 0x65, GEN_PKT_MIN_LEN, 0x53471234 },
		/* 5 */ { "TCP, not UDP", 23, 6, GEN_PKT_MIN_LEN, 0x53471234 },
		/* 6 */ { "IHL 4", 14, 0x44, GEN_PKT_MIN_LEN, 0x53471234 },
		/* 7 */ { "IHL 6 pushes the stamp past the end", 14, 0x46, GEN_PKT_MIN_LEN, 0x53471234 },
	};
	struct gen_pkt_params p;
	struct gen_pkt_stamp st = { .seq = 1, .tsc = 2, .flow = 0 }, out;
	uint8_t tmpl[GEN_PKT_MAX_LEN], buf[GEN_PKT_MAX_LEN];
	size_t i;

	(void)state;
	test_params(&p, GEN_PKT_MIN_LEN, 1, GEN_PKT_VARY_PORT);
	assert_int_equal(gen_pkt_template(&p, tmpl), 0);
	gen_pkt_stamp_frame(&p, tmpl, &st);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(buf, tmpl, p.len);
		if (cases[i].off != SIZE_MAX)
			buf[cases[i].off] = cases[i].val;
		if (gen_pkt_read_stamp(buf, cases[i].len, cases[i].magic, &out) != -22)
			fail_msg("case %zu (%s) was accepted", i + 1, cases[i].what);
	}
}

static void
test_lat_percentiles(void **state)
{
	struct gen_lat *h = gen_lat_create(), *snap = gen_lat_create();
	struct gen_lat_summary s;
	uint64_t v[100];
	unsigned int i;

	(void)state;
	assert_non_null(h);
	assert_non_null(snap);
	/* 1..100 µs: p50 is the 50th value's bucket, p99 the 99th's. */
	for (i = 0; i < 100; i++)
		v[i] = (i + 1) * 1000ull;
	gen_lat_record_burst(h, v, 100);
	gen_lat_summarize(h, NULL, &s);
	assert_true(s.count == 100);
	assert_true(s.min_us == 1.0 && s.max_us == 100.0);
	assert_true(s.p50_us > 50.0 && s.p50_us < 50.1);
	assert_true(s.p99_us > 99.0 && s.p99_us < 99.1);

	/* An interval after a snapshot sees only what came later. */
	gen_lat_copy(snap, h);
	v[0] = 20000000; /* 20 ms: overflow bucket */
	gen_lat_record_burst(h, v, 1);
	gen_lat_summarize(h, snap, &s);
	assert_true(s.count == 1);
	assert_true(s.p50_us == GEN_LAT_MAX_NS / 1000.0);
	gen_lat_summarize(h, NULL, &s);
	assert_true(s.max_us == 20000.0);

	gen_lat_free(h);
	gen_lat_free(snap);
	gen_lat_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_min_frame),
		cmocka_unit_test(test_vary_ip_checksum),
		cmocka_unit_test(test_vary_spread),
		cmocka_unit_test(test_template_rejects),
		cmocka_unit_test(test_read_rejects),
		cmocka_unit_test(test_lat_percentiles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
