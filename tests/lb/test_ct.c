/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of dp/ct: parameter validation, insert/lookup, the TCP/UDP
 * state machine (table-driven), expiry per state and after transitions,
 * the capacity bound, a simulated SYN flood against established flows,
 * eviction order, sweeps (expired, removed backends, sliced), reuse of an
 * expired key, delete, and bulk lookups longer than one chunk.
 *
 * Time is simulated: tsc_hz = 1000, so one TSC tick is one millisecond.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ct.h"
#include "ct_node.h"

#define T_HZ 1000u

static struct ct_params
test_params(uint32_t capacity)
{
	struct ct_params p;

	memset(&p, 0, sizeof(p));
	p.capacity = capacity;
	p.tsc_hz = T_HZ;
	return p;
}

static struct ct *
test_ct(uint32_t capacity)
{
	struct ct_params p = test_params(capacity);
	struct ct *ct = ct_create(&p);

	assert_non_null(ct);
	return ct;
}

/* key i: 192.168.(i>>16).(i>>8) : (i & 0xff) + 1024 -> 10.96.0.1:80, TCP */
static struct ct_key
test_key(uint32_t i)
{
	struct ct_key k;

	memset(&k, 0, sizeof(k));
	k.family = 4;
	k.proto = 6;
	k.src[0] = 192;
	k.src[1] = 168;
	k.src[2] = (uint8_t)(i >> 16);
	k.src[3] = (uint8_t)(i >> 8);
	k.sport = (uint16_t)((i & 0xff) + 1024);
	k.dst[0] = 10;
	k.dst[1] = 96;
	k.dst[3] = 1;
	k.dport = 80;
	return k;
}

static uint32_t
test_lookup1(struct ct *ct, const struct ct_key *k, uint64_t t)
{
	struct ct_clock now = ct_clock_at(ct, t);
	uint64_t h;
	uint32_t idx;

	ct_lookup_bulk(ct, k, 1, &now, &h, &idx);
	return idx;
}

static int
test_insert1(struct ct *ct, const struct ct_key *k, unsigned state,
	     uint32_t backend, uint64_t t, uint32_t *idx)
{
	struct ct_clock now = ct_clock_at(ct, t);
	uint32_t dummy;

	return ct_insert(ct, k, ct_hash(k), state, backend, &now,
			 idx != NULL ? idx : &dummy);
}

/* ---- validation ---- */

static void
test_create_invalid(void **state)
{
	static const struct {
		uint32_t capacity;
		uint64_t hz;
		unsigned tmo_state;
		uint32_t tmo;
	} cases[] = {
		/* 1 */ { 0, T_HZ, 0, 0 },
		/* 2 */ { 8, T_HZ, 0, 0 },            /* below one bucket pair */
		/* 3 */ { 24, T_HZ, 0, 0 },           /* not a power of two */
		/* 4 */ { 1u << 29, T_HZ, 0, 0 },     /* above the maximum */
		/* 5 */ { 64, 999, 0, 0 },            /* no millisecond tick */
		/* 6 */ { 64, T_HZ, CT_TCP_ESTABLISHED, CT_TIMEOUT_MAX_MS + 1 },
	};

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct ct_params p = test_params(cases[c].capacity);

		p.tsc_hz = cases[c].hz;
		p.timeout_ms[cases[c].tmo_state] = cases[c].tmo;
		errno = 0;
		if (ct_create(&p) != NULL || errno != EINVAL)
			fail_msg("case %zu accepted", c + 1);
	}
	assert_null(ct_create(NULL));
	ct_free(NULL);
}

/* ---- insert / lookup ---- */

static void
test_insert_lookup(void **state)
{
	enum { N = 1000 };
	struct ct *ct = test_ct(4096);
	uint64_t st[CT_STAT_MAX];
	uint32_t idx;

	(void)state;
	for (uint32_t i = 0; i < N; i++) {
		struct ct_key k = test_key(i);

		assert_int_equal(test_insert1(ct, &k, CT_TCP_ESTABLISHED, i % 7, 0, &idx), 0);
		ct_entry(ct, idx)->service = 3;
	}
	assert_int_equal(ct_count(ct), N);
	for (uint32_t i = 0; i < N; i++) {
		struct ct_key k = test_key(i);

		idx = test_lookup1(ct, &k, 1);
		assert_int_not_equal(idx, CT_MISS);
		assert_int_equal(ct_entry(ct, idx)->backend, i % 7);
		assert_int_equal(ct_entry(ct, idx)->service, 3);
		assert_int_equal(ct_entry(ct, idx)->state, CT_TCP_ESTABLISHED);
		assert_memory_equal(&ct_entry(ct, idx)->key, &k, sizeof(k));
	}
	for (uint32_t i = N; i < 2 * N; i++) {
		struct ct_key k = test_key(i);

		assert_int_equal(test_lookup1(ct, &k, 1), CT_MISS);
	}
	/* a second insert of a live key is refused and names the entry */
	{
		struct ct_key k = test_key(5);
		uint32_t live = test_lookup1(ct, &k, 1);

		assert_int_equal(test_insert1(ct, &k, CT_TCP_SYN_SENT, 0, 1, &idx), -EEXIST);
		assert_int_equal(idx, live);
	}
	ct_stats_get(ct, st);
	assert_int_equal(st[CT_STAT_INSERT], N);
	assert_int_equal(st[CT_STAT_LOOKUP_HIT], N + 1);
	assert_int_equal(st[CT_STAT_LOOKUP_MISS], N);
	assert_int_equal(st[CT_STAT_INSERT_EXISTS], 1);
	assert_string_equal(ct_stat_name(CT_STAT_INSERT_FULL), "INSERT_FULL");
	assert_string_equal(ct_state_name(CT_TCP_TIME_WAIT), "TCP_TIME_WAIT");
	assert_int_equal(test_insert1(ct, &(struct ct_key){ 0 }, CT_STATE_MAX, 0, 0, &idx),
			 -EINVAL);
	ct_free(ct);
}

/* ---- state machine ---- */

#define O CT_DIR_ORIG
#define R CT_DIR_REPLY
#define SYN CT_TCP_SYN
#define ACK CT_TCP_ACK
#define FIN CT_TCP_FIN
#define RST CT_TCP_RST

static void
test_state_machine(void **state)
{
	static const struct {
		unsigned from, dir;
		uint8_t flags;
		unsigned to;
	} cases[] = {
		/* 1 */ { CT_TCP_SYN_SENT, O, SYN, CT_TCP_SYN_SENT },        /* SYN retransmit */
		/* 2 */ { CT_TCP_SYN_SENT, R, SYN | ACK, CT_TCP_SYN_RECV },
		/* 3 */ { CT_TCP_SYN_SENT, O, ACK, CT_TCP_ESTABLISHED },     /* SYN-ACK bypassed us */
		/* 4 */ { CT_TCP_SYN_SENT, R, ACK, CT_TCP_SYN_SENT },
		/* 5 */ { CT_TCP_SYN_RECV, O, ACK, CT_TCP_ESTABLISHED },
		/* 6 */ { CT_TCP_SYN_RECV, R, SYN | ACK, CT_TCP_SYN_RECV },  /* SYN-ACK retransmit */
		/* 7 */ { CT_TCP_ESTABLISHED, O, ACK, CT_TCP_ESTABLISHED },
		/* 8 */ { CT_TCP_ESTABLISHED, R, ACK, CT_TCP_ESTABLISHED },
		/* 9 */ { CT_TCP_ESTABLISHED, O, SYN, CT_TCP_ESTABLISHED },  /* stray SYN ignored */
		/* 10 */ { CT_TCP_ESTABLISHED, O, FIN | ACK, CT_TCP_FIN_WAIT },
		/* 11 */ { CT_TCP_ESTABLISHED, R, FIN | ACK, CT_TCP_CLOSE_WAIT },
		/* 12 */ { CT_TCP_FIN_WAIT, R, FIN | ACK, CT_TCP_TIME_WAIT },
		/* 13 */ { CT_TCP_FIN_WAIT, O, FIN | ACK, CT_TCP_FIN_WAIT }, /* FIN retransmit */
		/* 14 */ { CT_TCP_FIN_WAIT, R, ACK, CT_TCP_FIN_WAIT },
		/* 15 */ { CT_TCP_CLOSE_WAIT, O, FIN | ACK, CT_TCP_TIME_WAIT },
		/* 16 */ { CT_TCP_CLOSE_WAIT, R, FIN, CT_TCP_CLOSE_WAIT },
		/* 17 */ { CT_TCP_ESTABLISHED, O, RST, CT_TCP_CLOSE },
		/* 18 */ { CT_TCP_SYN_SENT, R, RST | ACK, CT_TCP_CLOSE },   /* port closed */
		/* 19 */ { CT_TCP_TIME_WAIT, O, SYN, CT_TCP_SYN_SENT },      /* tuple reuse */
		/* 20 */ { CT_TCP_CLOSE, O, SYN, CT_TCP_SYN_SENT },
		/* 21 */ { CT_TCP_TIME_WAIT, O, ACK, CT_TCP_TIME_WAIT },
		/* 22 */ { CT_TCP_SYN_RECV, O, FIN | ACK, CT_TCP_FIN_WAIT },
		/* 23 */ { CT_TCP_SYN_SENT, O, FIN, CT_TCP_SYN_SENT },
		/* 24 */ { CT_UDP_NEW, O, 0, CT_UDP_NEW },
		/* 25 */ { CT_UDP_NEW, R, 0, CT_UDP_REPLIED },
		/* 26 */ { CT_UDP_REPLIED, O, 0, CT_UDP_REPLIED },
		/* 27 */ { CT_UDP_NEW, O, RST, CT_UDP_NEW },  /* UDP ignores TCP flags */
		/* 28 */ { CT_TCP_TIME_WAIT, O, SYN | ACK, CT_TCP_TIME_WAIT },
		/* 29 */ { CT_TCP_MIDSTREAM, O, ACK, CT_TCP_MIDSTREAM },     /* client only */
		/* 30 */ { CT_TCP_MIDSTREAM, R, ACK, CT_TCP_ESTABLISHED },   /* backend answers */
		/* 31 */ { CT_TCP_MIDSTREAM, O, FIN | ACK, CT_TCP_FIN_WAIT },
		/* 32 */ { CT_TCP_MIDSTREAM, R, RST, CT_TCP_CLOSE },         /* backend has no such flow */
		/* 33 */ { CT_TCP_MIDSTREAM, O, SYN, CT_TCP_SYN_SENT },      /* client restarted */
	};

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		unsigned got = ct_state_next(cases[c].from, cases[c].dir, cases[c].flags);

		if (got != cases[c].to)
			fail_msg("case %zu: %s + dir %u flags 0x%x -> %s, want %s", c + 1,
				 ct_state_name(cases[c].from), cases[c].dir, cases[c].flags,
				 ct_state_name(got), ct_state_name(cases[c].to));
	}
}

/* Each state expires exactly after its own (default) timeout. */
static void
test_expiry_per_state(void **state)
{
	static const struct {
		unsigned state;
		uint32_t timeout_ms;
		enum ct_class cls;
	} cases[] = {
		/* 1 */ { CT_TCP_SYN_SENT, 10000, CT_CLASS_EMBRYONIC },
		/* 2 */ { CT_TCP_SYN_RECV, 10000, CT_CLASS_EMBRYONIC },
		/* 3 */ { CT_TCP_ESTABLISHED, 900000, CT_CLASS_ESTABLISHED },
		/* 4 */ { CT_TCP_FIN_WAIT, 30000, CT_CLASS_CLOSING },
		/* 5 */ { CT_TCP_CLOSE_WAIT, 30000, CT_CLASS_CLOSING },
		/* 6 */ { CT_TCP_TIME_WAIT, 10000, CT_CLASS_CLOSING },
		/* 7 */ { CT_TCP_CLOSE, 5000, CT_CLASS_CLOSING },
		/* 8 */ { CT_UDP_NEW, 30000, CT_CLASS_EMBRYONIC },
		/* 9 */ { CT_UDP_REPLIED, 120000, CT_CLASS_ESTABLISHED },
		/* 10 */ { CT_TCP_MIDSTREAM, 60000, CT_CLASS_EMBRYONIC },
	};
	const uint64_t t0 = 5000000; /* arbitrary start, ms */

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct ct *ct = test_ct(64);
		struct ct_key k = test_key((uint32_t)c);

		assert_int_equal(ct_state_class(cases[c].state), cases[c].cls);
		assert_int_equal(test_insert1(ct, &k, cases[c].state, 1, t0, NULL), 0);
		if (test_lookup1(ct, &k, t0 + cases[c].timeout_ms - 1) == CT_MISS)
			fail_msg("case %zu: expired early", c + 1);
		if (test_lookup1(ct, &k, t0 + cases[c].timeout_ms) != CT_MISS)
			fail_msg("case %zu: still live at its timeout", c + 1);
		ct_free(ct);
	}
	/* configured timeouts override the defaults */
	{
		struct ct_params p = test_params(64);
		struct ct *ct;
		struct ct_key k = test_key(1);

		p.timeout_ms[CT_TCP_SYN_SENT] = 1234;
		ct = ct_create(&p);
		assert_non_null(ct);
		assert_int_equal(test_insert1(ct, &k, CT_TCP_SYN_SENT, 1, 0, NULL), 0);
		assert_int_not_equal(test_lookup1(ct, &k, 1233), CT_MISS);
		assert_int_equal(test_lookup1(ct, &k, 1234), CT_MISS);
		ct_free(ct);
	}
}

/* A connection's life: each packet moves the state and re-arms the timer
 * with the new state's timeout. */
static void
test_lifecycle(void **state)
{
	static const struct {
		uint64_t t;     /* ms at which the packet arrives */
		unsigned dir;
		uint8_t flags;
		unsigned want;  /* state after it */
		uint64_t live_until; /* last ms at which lookup still hits */
	} steps[] = {
		/* 1 */ { 100, R, SYN | ACK, CT_TCP_SYN_RECV, 100 + 10000 - 1 },
		/* 2 */ { 9000, O, ACK, CT_TCP_ESTABLISHED, 9000 + 900000 - 1 },
		/* 3 */ { 500000, O, ACK, CT_TCP_ESTABLISHED, 500000 + 900000 - 1 },
		/* 4 */ { 600000, R, FIN | ACK, CT_TCP_CLOSE_WAIT, 600000 + 30000 - 1 },
		/* 5 */ { 610000, O, FIN | ACK, CT_TCP_TIME_WAIT, 610000 + 10000 - 1 },
		/* 6 */ { 615000, O, ACK, CT_TCP_TIME_WAIT, 615000 + 10000 - 1 },
	};
	struct ct *ct = test_ct(64);
	struct ct_key k = test_key(77);
	uint32_t idx;

	(void)state;
	assert_int_equal(test_insert1(ct, &k, CT_TCP_SYN_SENT, 4, 0, &idx), 0);
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		struct ct_clock now = ct_clock_at(ct, steps[s].t);

		assert_int_equal(test_lookup1(ct, &k, steps[s].t), idx);
		if (ct_update(ct, idx, steps[s].dir, steps[s].flags, &now) != (int)steps[s].want)
			fail_msg("step %zu: state %s", s + 1,
				 ct_state_name(ct_entry(ct, idx)->state));
		assert_int_equal(ct_entry(ct, idx)->last_seen, steps[s].t);
		assert_int_equal(test_lookup1(ct, &k, steps[s].live_until), idx);
		if (s + 1 == sizeof(steps) / sizeof(steps[0]))
			assert_int_equal(test_lookup1(ct, &k, steps[s].live_until + 1),
					 CT_MISS);
	}
	assert_int_equal(ct_entry(ct, idx)->backend, 4);
	ct_free(ct);
}

/* ---- capacity ---- */

static void
test_capacity_bound(void **state)
{
	static const uint32_t caps[] = { 16, 64, 1024 };

	(void)state;
	for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
		struct ct *ct = test_ct(caps[c]);
		uint32_t ok = 0, first_full = 0;
		uint64_t st[CT_STAT_MAX];

		for (uint32_t i = 0; i < 4 * caps[c]; i++) {
			struct ct_key k = test_key(i);
			int rc = test_insert1(ct, &k, CT_TCP_ESTABLISHED, 0, 0, NULL);

			assert_true(rc == 0 || rc == -ENOSPC);
			if (rc == 0)
				ok++;
			else if (first_full == 0)
				first_full = ok;
			assert_true(ct_count(ct) <= caps[c]);
			assert_int_equal(ct_count(ct), ok);
		}
		ct_stats_get(ct, st);
		printf("capacity %u: first refusal at %u established flows (%.0f%%), filled %u\n",
		       caps[c], first_full, 100.0 * first_full / caps[c], ok);
		assert_int_equal(st[CT_STAT_INSERT_FULL], 4 * caps[c] - ok);
		/* every way is usable: refusals only end when the table is full */
		assert_int_equal(ok, caps[c]);
		/* nothing inserted was lost */
		for (uint32_t i = 0, hits = 0; i < 4 * caps[c]; i++) {
			struct ct_key k = test_key(i);

			hits += test_lookup1(ct, &k, 1) != CT_MISS;
			if (i + 1 == 4 * caps[c])
				assert_int_equal(hits, ok);
		}
		ct_free(ct);
	}
}

/* ---- SYN flood ---- */

/*
 * Floods of flows that never complete: spoofed SYNs, ACKs for connections
 * that do not exist (inserted as TCP_MIDSTREAM), one-way UDP. Each must fill
 * only the free space and churn among itself, never evicting established
 * flows, while later legitimate new flows still get in.
 */
static void
test_flood(void **state)
{
	static const struct {
		const char *what;
		unsigned state;
	} cases[] = {
		/* 1 */ { "SYN", CT_TCP_SYN_SENT },
		/* 2 */ { "ACK (mid-stream)", CT_TCP_MIDSTREAM },
		/* 3 */ { "UDP", CT_UDP_NEW },
	};
	enum { CAP = 4096, EST = 2048, FLOOD = 200000, LATE = 500 };
	/* established at t = 1 expire at 900001 */
	const uint64_t T_FLOOD = 895000;

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct ct *ct = test_ct(CAP);
		uint64_t st[CT_STAT_MAX];
		uint32_t refused = 0, late_ok = 0;

		/* half the table in established connections */
		for (uint32_t i = 0; i < EST; i++) {
			struct ct_key k = test_key(i);
			struct ct_clock now = ct_clock_at(ct, 1);
			uint32_t idx;

			assert_int_equal(test_insert1(ct, &k, CT_TCP_SYN_SENT, i, 0, &idx), 0);
			assert_int_equal(ct_update(ct, idx, O, ACK, &now), CT_TCP_ESTABLISHED);
		}
		/* 50x capacity over 2 s; none ever completes. The flood starts
		 * late in the established flows' life, when they have less time
		 * left than a fresh SYN: age alone would pick them first, so
		 * only their class protects them. */
		for (uint32_t i = 0; i < FLOOD; i++) {
			struct ct_key k = test_key(1000000 + i);
			int rc = test_insert1(ct, &k, cases[c].state, 0, T_FLOOD + i / 100, NULL);

			assert_true(rc == 0 || rc == -ENOSPC);
			refused += rc == -ENOSPC;
			assert_true(ct_count(ct) <= CAP);
		}
		/* every established flow survived, on its backend */
		for (uint32_t i = 0; i < EST; i++) {
			struct ct_key k = test_key(i);
			uint32_t idx = test_lookup1(ct, &k, T_FLOOD + 2100);

			if (idx == CT_MISS)
				fail_msg("case %zu: established flow %u evicted by the %s flood",
					 c + 1, i, cases[c].what);
			assert_int_equal(ct_entry(ct, idx)->backend, i);
		}
		/* the flood filled the rest of the table and churned among itself */
		ct_stats_get(ct, st);
		assert_int_equal(ct_count(ct), CAP);
		assert_true(st[CT_STAT_EVICT_EMBRYONIC] > FLOOD / 2);
		assert_int_equal(st[CT_STAT_EVICT_EXPIRED], 0);
		/* new legitimate connections still get in, displacing flood entries */
		for (uint32_t i = 0; i < LATE; i++) {
			struct ct_key k = test_key(EST + i);

			late_ok += test_insert1(ct, &k, CT_TCP_SYN_SENT, 0, T_FLOOD + 2100,
						NULL) == 0;
		}
		printf("%s flood: %u into %u slots holding %u established: %llu embryonic "
		       "evictions, %u refused; %u/%u later SYNs admitted\n",
		       cases[c].what, FLOOD, CAP, EST,
		       (unsigned long long)st[CT_STAT_EVICT_EMBRYONIC], refused, late_ok, LATE);
		assert_int_equal(late_ok, LATE);
		ct_free(ct);
	}
}

/* A mid-stream flow (its connection began on another LB node) is kept on
 * its backend and becomes established once the backend answers. */
static void
test_midstream_confirm(void **state)
{
	struct ct *ct = test_ct(64);
	struct ct_key k = test_key(3);
	struct ct_clock now = ct_clock_at(ct, 100);
	uint32_t idx;

	(void)state;
	assert_int_equal(test_insert1(ct, &k, CT_TCP_MIDSTREAM, 9, 100, &idx), 0);
	assert_int_equal(ct_state_class(CT_TCP_MIDSTREAM), CT_CLASS_EMBRYONIC);
	assert_int_equal(ct_update(ct, idx, O, ACK, &now), CT_TCP_MIDSTREAM);
	assert_int_equal(ct_update(ct, idx, R, ACK, &now), CT_TCP_ESTABLISHED);
	/* now it lives the established timeout, not the mid-stream one */
	assert_int_equal(test_lookup1(ct, &k, 100 + 900000 - 1), idx);
	assert_int_equal(ct_entry(ct, idx)->backend, 9);
	ct_free(ct);
}

/* ---- eviction order ---- */

/*
 * Capacity 16 = 2 buckets of 8, so every key may use both buckets and the
 * table is one eviction set. Fill it with: 8 established, 3 closing (expiring
 * at different times), 3 embryonic (idem), 2 UDP flows that have timed
 * out. New inserts must evict: the 2 expired, then the 3 embryonic oldest
 * first, then the 3 closing oldest first, then be refused.
 */
static void
test_eviction_order(void **state)
{
	static const struct {
		uint32_t key;
		unsigned state;
		uint64_t t;        /* insert time (ms) */
		int evicted_as;    /* order of eviction, 0 = never */
	} fill[] = {
		{ 1, CT_TCP_ESTABLISHED, 1000, 0 },  { 2, CT_TCP_ESTABLISHED, 1000, 0 },
		{ 3, CT_TCP_ESTABLISHED, 1000, 0 },  { 4, CT_TCP_ESTABLISHED, 1000, 0 },
		{ 5, CT_TCP_ESTABLISHED, 1000, 0 },  { 6, CT_TCP_ESTABLISHED, 1000, 0 },
		{ 7, CT_TCP_ESTABLISHED, 1000, 0 },  { 8, CT_TCP_ESTABLISHED, 1000, 0 },
		/* UDP_NEW lives 30 s: inserted at 0 it is dead by 40 s */
		{ 9, CT_UDP_NEW, 0, 1 },             { 10, CT_UDP_NEW, 1, 2 },
		/* closing, expiring at 30000+t: oldest (smallest expiry) first */
		{ 11, CT_TCP_FIN_WAIT, 12000, 7 },   { 12, CT_TCP_FIN_WAIT, 11000, 6 },
		{ 13, CT_TCP_FIN_WAIT, 13000, 8 },
		/* embryonic, expiring at 10000 + t */
		{ 14, CT_TCP_SYN_SENT, 31000, 4 },   { 15, CT_TCP_SYN_RECV, 30000, 3 },
		{ 16, CT_TCP_SYN_SENT, 32000, 5 },
	};
	enum { NF = sizeof(fill) / sizeof(fill[0]) };
	const uint64_t now = 35000; /* keys 9, 10 expired; all others live */
	struct ct *ct = test_ct(16);

	(void)state;
	for (unsigned i = 0; i < NF; i++) {
		struct ct_key k = test_key(fill[i].key);

		assert_int_equal(test_insert1(ct, &k, fill[i].state, 0, fill[i].t, NULL), 0);
	}
	assert_int_equal(ct_count(ct), 16);
	/* Newcomers are established-class (e.g. state restored from a peer):
	 * they may evict everything but established flows and are not
	 * evictable themselves, so each round shows one victim. */
	for (int round = 1; round <= 9; round++) {
		struct ct_key k = test_key(100 + (uint32_t)round);
		int rc = test_insert1(ct, &k, CT_TCP_ESTABLISHED, 0, now, NULL);

		if (round == 9) {
			/* 16 live established flows: nothing may go */
			assert_int_equal(rc, -ENOSPC);
			break;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(ct_count(ct), 16);
		for (unsigned i = 0; i < NF; i++) {
			struct ct_key fk = test_key(fill[i].key);
			bool hit = test_lookup1(ct, &fk, now) != CT_MISS;
			bool want_gone = fill[i].evicted_as != 0 && fill[i].evicted_as <= round;

			/* expired ones miss either way; the stats below show
			 * they were the first two victims */
			if (fill[i].evicted_as == 1 || fill[i].evicted_as == 2)
				continue;
			if (hit == want_gone)
				fail_msg("round %d: key %u %s", round, fill[i].key,
					 hit ? "still present" : "evicted too early");
		}
		if (round == 2) {
			uint64_t st[CT_STAT_MAX];

			ct_stats_get(ct, st);
			assert_int_equal(st[CT_STAT_EVICT_EXPIRED], 2);
			assert_int_equal(st[CT_STAT_EVICT_EMBRYONIC], 0);
		}
	}
	{
		uint64_t st[CT_STAT_MAX];
		struct ct_key k = test_key(300);

		/* a SYN cannot displace an established flow either */
		assert_int_equal(test_insert1(ct, &k, CT_TCP_SYN_SENT, 0, now, NULL), -ENOSPC);
		ct_stats_get(ct, st);
		assert_int_equal(st[CT_STAT_EVICT_EXPIRED], 2);
		assert_int_equal(st[CT_STAT_EVICT_EMBRYONIC], 3);
		assert_int_equal(st[CT_STAT_EVICT_CLOSING], 3);
		assert_int_equal(st[CT_STAT_INSERT_FULL], 2);
		for (uint32_t key = 1; key <= 8; key++) {
			k = test_key(key);
			assert_int_not_equal(test_lookup1(ct, &k, now), CT_MISS);
		}
	}
	ct_free(ct);
}

/* ---- sweep ---- */

static void
test_sweep_backend(void **state)
{
	enum { N = 1000 };
	struct ct *ct = test_ct(4096);
	uint64_t dead[1] = { (1ULL << 3) | (1ULL << 7) };
	struct ct_sweep_req req = { .now_tsc = 10, .dead = dead, .nb_dead_bits = 10 };
	unsigned freed;

	(void)state;
	for (uint32_t i = 0; i < N; i++) {
		struct ct_key k = test_key(i);

		assert_int_equal(test_insert1(ct, &k, CT_TCP_ESTABLISHED, i % 10, 0, NULL), 0);
	}
	freed = ct_sweep(ct, &req);
	assert_int_equal(freed, N / 5);
	assert_int_equal(ct_count(ct), N - N / 5);
	for (uint32_t i = 0; i < N; i++) {
		struct ct_key k = test_key(i);
		bool hit = test_lookup1(ct, &k, 10) != CT_MISS;

		assert_int_equal(hit, i % 10 != 3 && i % 10 != 7);
	}
	/* nothing more to do; backend ids beyond the bitmap are kept */
	assert_int_equal(ct_sweep(ct, &req), 0);
	req.nb_dead_bits = 2;
	dead[0] = ~0ULL;
	assert_int_equal(ct_sweep(ct, &req), N / 10 * 2); /* backends 0 and 1 */
	ct_free(ct);
}

static void
test_sweep_expired_sliced(void **state)
{
	enum { CAP = 1024, N = 600 };
	struct ct *ct = test_ct(CAP);
	struct ct_sweep_req req = { .now_tsc = 20000, .max_buckets = 7 };
	unsigned freed = 0, calls = 0;
	uint64_t st[CT_STAT_MAX];

	(void)state;
	for (uint32_t i = 0; i < N; i++) {
		struct ct_key k = test_key(i);

		/* even keys embryonic (10 s), odd established (900 s) */
		assert_int_equal(test_insert1(ct, &k, i % 2 ? CT_TCP_ESTABLISHED
							    : CT_TCP_SYN_SENT,
					      1, 0, NULL), 0);
	}
	/* 128 buckets in slices of 7: 19 calls cover the table once */
	while (calls * 7 < CAP / CT_WAYS) {
		freed += ct_sweep(ct, &req);
		calls++;
	}
	assert_int_equal(calls, 19);
	assert_int_equal(freed, N / 2);
	assert_int_equal(ct_count(ct), N / 2);
	ct_stats_get(ct, st);
	assert_int_equal(st[CT_STAT_SWEEP_EXPIRED], N / 2);
	req.max_buckets = 0;
	assert_int_equal(ct_sweep(ct, &req), 0);
	req.now_tsc = 900000;
	assert_int_equal(ct_sweep(ct, &req), N / 2);
	assert_int_equal(ct_count(ct), 0);
	ct_free(ct);
}

/* ---- reuse, delete, update errors ---- */

static void
test_reuse_delete(void **state)
{
	struct ct *ct = test_ct(64);
	struct ct_key k = test_key(9);
	struct ct_clock now = ct_clock_at(ct, 0);
	uint32_t a, b;
	uint64_t st[CT_STAT_MAX];

	(void)state;
	assert_int_equal(test_insert1(ct, &k, CT_TCP_SYN_SENT, 1, 0, &a), 0);
	assert_int_equal(test_lookup1(ct, &k, 10000), CT_MISS); /* expired */
	/* the client retries: same key, reused in place, never duplicated */
	assert_int_equal(test_insert1(ct, &k, CT_TCP_SYN_SENT, 2, 10000, &b), 0);
	assert_int_equal(a, b);
	assert_int_equal(ct_count(ct), 1);
	assert_int_equal(ct_entry(ct, b)->backend, 2);
	ct_stats_get(ct, st);
	assert_int_equal(st[CT_STAT_INSERT_REUSE], 1);

	assert_int_equal(ct_delete(ct, b), 0);
	assert_int_equal(ct_count(ct), 0);
	assert_int_equal(test_lookup1(ct, &k, 10001), CT_MISS);
	assert_int_equal(ct_delete(ct, b), -EINVAL);
	assert_int_equal(ct_update(ct, b, O, ACK, &now), -EINVAL);
	assert_int_equal(ct_update(ct, 64, O, ACK, &now), -EINVAL);
	assert_int_equal(ct_delete(ct, 64), -EINVAL);
	ct_free(ct);
}

/* Bulk lookups across several CT_BURST_MAX chunks, hits and misses mixed. */
static void
test_bulk_lookup(void **state)
{
	enum { N = 150 };
	struct ct *ct = test_ct(1024);
	struct ct_key keys[N];
	uint64_t hashes[N];
	uint32_t idx[N];
	struct ct_clock now = ct_clock_at(ct, 5);
	unsigned hits;

	(void)state;
	for (uint32_t i = 0; i < N; i++) {
		keys[i] = test_key(i * 3);
		if (i % 3 == 0)
			assert_int_equal(test_insert1(ct, &keys[i], CT_UDP_NEW, i, 0, NULL), 0);
	}
	hits = ct_lookup_bulk(ct, keys, N, &now, hashes, idx);
	assert_int_equal(hits, N / 3);
	for (uint32_t i = 0; i < N; i++) {
		assert_true(hashes[i] == ct_hash(&keys[i]));
		if (i % 3 == 0) {
			assert_int_not_equal(idx[i], CT_MISS);
			assert_int_equal(ct_entry(ct, idx[i])->backend, i);
		} else {
			assert_int_equal(idx[i], CT_MISS);
		}
	}
	assert_int_equal(ct_lookup_bulk(ct, keys, 0, &now, hashes, idx), 0);
	ct_free(ct);
}

/* IPv6 keys share the layout: a v6 flow whose address starts with the
 * bytes of a tracked v4 flow is a different flow. */
static void
test_ipv6_keys(void **state)
{
	enum { N = 500 };
	struct ct *ct = test_ct(4096);

	(void)state;
	for (uint32_t i = 0; i < N; i++) {
		struct ct_key k4 = test_key(i), k6 = test_key(i);

		k6.family = 6;
		k6.src[15] = 1; /* 192.168.x.y::1 */
		k6.dst[15] = 1;
		assert_int_equal(test_insert1(ct, &k4, CT_TCP_SYN_SENT, i, 0, NULL), 0);
		assert_int_equal(test_insert1(ct, &k6, CT_TCP_SYN_SENT, N + i, 0, NULL), 0);
	}
	assert_int_equal(ct_count(ct), 2 * N);
	for (uint32_t i = 0; i < N; i++) {
		struct ct_key k4 = test_key(i), k6 = test_key(i);
		uint32_t a, b;

		k6.family = 6;
		k6.src[15] = 1;
		k6.dst[15] = 1;
		a = test_lookup1(ct, &k4, 1);
		b = test_lookup1(ct, &k6, 1);
		assert_int_not_equal(a, CT_MISS);
		assert_int_not_equal(b, CT_MISS);
		assert_int_equal(ct_entry(ct, a)->backend, i);
		assert_int_equal(ct_entry(ct, b)->backend, N + i);
	}
	ct_free(ct);
}

/*
 * Randomized model check: 200k random operations (time steps, lookups,
 * inserts in any state, per-packet updates, deletes, full sweeps with a dead
 * backend) on a 64-entry table with 300 candidate keys, against a plain
 * array model. Invariants: a hit returns exactly the model's live flow
 * (backend, state); a miss on a flow the model holds live is only allowed if
 * the flow was evictable (never established-class); nothing expired or
 * deleted is ever returned; the count never exceeds the capacity.
 */
static void
test_model(void **state)
{
	enum { K = 300, OPS = 200000 };
	struct model {
		bool present;
		uint32_t backend;
		unsigned state;
		uint64_t expire;
	} m[K];
	static const uint8_t flag_set[] = { CT_TCP_SYN, CT_TCP_SYN | CT_TCP_ACK, CT_TCP_ACK,
					    CT_TCP_FIN | CT_TCP_ACK, CT_TCP_RST, 0 };
	uint32_t timeout[CT_STATE_MAX];
	struct ct *ct = test_ct(64);
	uint64_t t = 1000, rng = 12345, evicted_unseen = 0, refused = 0;

	(void)state;
	memset(m, 0, sizeof(m));
	/* the defaults, as the model sees them (test_expiry_per_state pins them) */
	{
		struct ct_key k = test_key(999999);
		uint32_t idx;

		for (unsigned st = 0; st < CT_STATE_MAX; st++) {
			uint64_t lo = 0, hi = CT_TIMEOUT_MAX_MS;
			struct ct *one = test_ct(16);

			assert_int_equal(test_insert1(one, &k, st, 0, 0, &idx), 0);
			while (lo + 1 < hi) { /* smallest t at which it is gone */
				uint64_t mid = (lo + hi) / 2;

				if (test_lookup1(one, &k, mid) == CT_MISS)
					hi = mid;
				else
					lo = mid;
			}
			timeout[st] = (uint32_t)hi;
			ct_free(one);
		}
	}
	for (uint32_t op = 0; op < OPS; op++) {
		uint64_t r;
		uint32_t key, idx;
		struct ct_key k;
		bool live;

		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		r = rng >> 33;
		key = (uint32_t)(r % K);
		k = test_key(key);
		live = m[key].present && t < m[key].expire;
		switch ((r >> 12) % 8) {
		case 0: /* time passes */
			t += (r >> 16) % 3000;
			break;
		case 1:
		case 2: { /* a packet: lookup, then update on a hit */
			idx = test_lookup1(ct, &k, t);
			if (idx == CT_MISS) {
				if (live && ct_state_class(m[key].state) == CT_CLASS_ESTABLISHED)
					fail_msg("op %u: live established key %u lost", op, key);
				if (live)
					evicted_unseen++;
				m[key].present = false;
				break;
			}
			if (!live)
				fail_msg("op %u: key %u returned but not live in the model", op, key);
			assert_int_equal(ct_entry(ct, idx)->backend, m[key].backend);
			assert_int_equal(ct_entry(ct, idx)->state, m[key].state);
			{
				unsigned dir = (unsigned)(r >> 20) & 1;
				uint8_t fl = flag_set[(r >> 21) % sizeof(flag_set)];
				struct ct_clock now = ct_clock_at(ct, t);
				unsigned want = ct_state_next(m[key].state, dir, fl);

				assert_int_equal(ct_update(ct, idx, dir, fl, &now), (int)want);
				m[key].state = want;
				m[key].expire = t + timeout[want];
			}
			break;
		}
		case 3:
		case 4:
		case 5: { /* a new flow in any state */
			unsigned st = (unsigned)((r >> 20) % CT_STATE_MAX);
			uint32_t be = (uint32_t)((r >> 24) % 8);
			int rc = test_insert1(ct, &k, st, be, t, &idx);

			if (rc == -EEXIST) {
				if (!live)
					fail_msg("op %u: EEXIST for key %u not live in the model", op, key);
				break;
			}
			if (rc == -ENOSPC) {
				refused++;
				break;
			}
			assert_int_equal(rc, 0);
			if (live) {
				/* ct lost it silently: only an evictable flow may go */
				assert_int_not_equal(ct_state_class(m[key].state),
						     CT_CLASS_ESTABLISHED);
				evicted_unseen++;
			}
			m[key] = (struct model){ true, be, st, t + timeout[st] };
			break;
		}
		case 6: /* connection torn down by the caller */
			idx = test_lookup1(ct, &k, t);
			if (idx != CT_MISS) {
				assert_true(live);
				assert_int_equal(ct_delete(ct, idx), 0);
			}
			m[key].present = false;
			break;
		default: { /* backend (r % 8) removed: full sweep */
			uint64_t dead = 1ULL << ((r >> 20) % 8);
			struct ct_sweep_req req = { .now_tsc = t, .dead = &dead, .nb_dead_bits = 8 };

			if ((r >> 24) % 16 != 0)
				break; /* rarely */
			ct_sweep(ct, &req);
			for (uint32_t j = 0; j < K; j++)
				if (m[j].present && (dead >> m[j].backend) & 1)
					m[j].present = false;
			break;
		}
		}
		assert_true(ct_count(ct) <= ct_capacity(ct));
	}
	printf("model: %u ops, %llu flows lost to eviction (all evictable), %llu refused\n",
	       OPS, (unsigned long long)evicted_unseen, (unsigned long long)refused);
	assert_true(evicted_unseen > 0); /* the table was under pressure */
	ct_free(ct);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_invalid),
		cmocka_unit_test(test_insert_lookup),
		cmocka_unit_test(test_state_machine),
		cmocka_unit_test(test_expiry_per_state),
		cmocka_unit_test(test_lifecycle),
		cmocka_unit_test(test_capacity_bound),
		cmocka_unit_test(test_flood),
		cmocka_unit_test(test_midstream_confirm),
		cmocka_unit_test(test_eviction_order),
		cmocka_unit_test(test_sweep_backend),
		cmocka_unit_test(test_sweep_expired_sliced),
		cmocka_unit_test(test_reuse_delete),
		cmocka_unit_test(test_bulk_lookup),
		cmocka_unit_test(test_ipv6_keys),
		cmocka_unit_test(test_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
