/*
 * Unit tests of lin_check: numbered table-driven histories with their
 * verdicts (stale reads, lost writes, CAS anomalies, overlaps, info ops
 * that must or must not be assumed applied), a randomized simulation of a
 * real register (always linearizable; a corrupted read never is), the
 * budget, and the history file format.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lin_check.h"

#define INF LIN_T_INF
#define R(c, k, v, t0, t1) { c, k, LIN_READ, LIN_OK, v, 0, false, t0, t1 }
#define W(c, k, v, t0, t1) { c, k, LIN_WRITE, LIN_OK, v, 0, false, t0, t1 }
#define WI(c, k, v, t0) { c, k, LIN_WRITE, LIN_INFO, v, 0, false, t0, INF }
#define WF(c, k, v, t0, t1) { c, k, LIN_WRITE, LIN_FAIL, v, 0, false, t0, t1 }
#define CAS(c, k, e, v, sw, t0, t1) { c, k, LIN_CAS, LIN_OK, v, e, sw, t0, t1 }
#define CASI(c, k, e, v, t0) { c, k, LIN_CAS, LIN_INFO, v, e, false, t0, INF }
#define RI(c, k, v, t0) { c, k, LIN_READ, LIN_INFO, v, 0, false, t0, INF }

struct lin_case {
	const char *name;
	enum lin_verdict want;
	size_t n;
	struct lin_op ops[12];
};

static const struct lin_case cases[] = {
	/* 1 */ { "empty", LIN_LINEARIZABLE, 0, { { 0 } } },
	/* 2 */ { "sequential write then read", LIN_LINEARIZABLE, 2,
		{ W(0, 1, 1, 0, 10), R(1, 1, 1, 20, 30) } },
	/* 3 */ { "stale read after a newer write", LIN_NOT_LINEARIZABLE, 3,
		{ W(0, 1, 1, 0, 10), W(0, 1, 2, 20, 30), R(1, 1, 1, 40, 50) } },
	/* 4 */ { "read concurrent with a write sees the old value",
		LIN_LINEARIZABLE, 3,
		{ W(0, 1, 1, 0, 10), W(0, 1, 2, 20, 50), R(1, 1, 1, 30, 40) } },
	/* 5 */ { "read concurrent with a write sees the new value",
		LIN_LINEARIZABLE, 3,
		{ W(0, 1, 1, 0, 10), W(0, 1, 2, 20, 50), R(1, 1, 2, 30, 40) } },
	/* 6 */ { "nil read before the first write", LIN_LINEARIZABLE, 2,
		{ R(1, 1, LIN_NIL, 0, 5), W(0, 1, 1, 10, 20) } },
	/* 7 */ { "nil read after an acked write (lost write)",
		LIN_NOT_LINEARIZABLE, 2,
		{ W(0, 1, 1, 0, 10), R(1, 1, LIN_NIL, 20, 30) } },
	/* 8 */ { "flip-flop between two concurrent writes",
		LIN_NOT_LINEARIZABLE, 4,
		{ W(0, 1, 1, 0, 10), W(1, 1, 2, 5, 15), R(2, 1, 1, 20, 25),
		  R(2, 1, 2, 30, 35) } },
	/* 9 */ { "CAS swaps then read", LIN_LINEARIZABLE, 3,
		{ W(0, 1, 1, 0, 10), CAS(1, 1, 1, 2, true, 20, 30),
		  R(2, 1, 2, 40, 50) } },
	/* 10 */ { "two CAS from the same value both swap",
		LIN_NOT_LINEARIZABLE, 3,
		{ W(0, 1, 1, 0, 10), CAS(1, 1, 1, 2, true, 20, 30),
		  CAS(2, 1, 1, 3, true, 40, 50) } },
	/* 11 */ { "concurrent CAS from the same value both swap",
		LIN_NOT_LINEARIZABLE, 3,
		{ W(0, 1, 1, 0, 10), CAS(1, 1, 1, 2, true, 20, 50),
		  CAS(2, 1, 1, 3, true, 30, 40) } },
	/* 12 */ { "CAS refused although the value matched",
		LIN_NOT_LINEARIZABLE, 2,
		{ W(0, 1, 1, 0, 10), CAS(1, 1, 1, 2, false, 20, 30) } },
	/* 13 */ { "CAS refused, explained by a concurrent write",
		LIN_LINEARIZABLE, 3,
		{ W(0, 1, 1, 0, 10), W(0, 1, 3, 15, 40),
		  CAS(1, 1, 1, 2, false, 20, 30) } },
	/* 14 */ { "CAS swapped from a value never there",
		LIN_NOT_LINEARIZABLE, 2,
		{ W(0, 1, 1, 0, 10), CAS(1, 1, 7, 2, true, 20, 30) } },
	/* 15 */ { "info write must be assumed applied", LIN_LINEARIZABLE, 3,
		{ W(0, 1, 1, 0, 10), WI(1, 1, 2, 5), R(2, 1, 2, 100, 110) } },
	/* 16 */ { "info write may not have happened", LIN_LINEARIZABLE, 4,
		{ W(0, 1, 1, 0, 10), WI(1, 1, 2, 20), R(2, 1, 1, 30, 40),
		  R(2, 1, 1, 50, 60) } },
	/* 17 */ { "info write seen, then the older value again",
		LIN_NOT_LINEARIZABLE, 4,
		{ W(0, 1, 1, 0, 5), WI(1, 1, 2, 6), R(2, 1, 2, 10, 20),
		  R(2, 1, 1, 30, 40) } },
	/* 18 */ { "info write seen before it was invoked",
		LIN_NOT_LINEARIZABLE, 3,
		{ W(0, 1, 1, 0, 5), R(2, 1, 2, 10, 20), WI(1, 1, 2, 30) } },
	/* 19 */ { "failed write seen by a read", LIN_NOT_LINEARIZABLE, 3,
		{ W(0, 1, 1, 0, 10), WF(1, 1, 2, 20, 30), R(2, 1, 2, 40, 50) } },
	/* 20 */ { "info CAS assumed applied", LIN_LINEARIZABLE, 3,
		{ W(0, 1, 1, 0, 10), CASI(1, 1, 1, 2, 20), R(2, 1, 2, 50, 60) } },
	/* 21 */ { "info CAS could not have swapped", LIN_NOT_LINEARIZABLE, 4,
		{ W(0, 1, 1, 0, 10), W(0, 1, 5, 12, 15), CASI(1, 1, 1, 2, 20),
		  R(2, 1, 2, 50, 60) } },
	/* 22 */ { "info read constrains nothing", LIN_LINEARIZABLE, 2,
		{ W(0, 1, 1, 0, 10), RI(1, 1, 99, 20) } },
	/* 23 */ { "three overlapping writes, two reads in an order",
		LIN_LINEARIZABLE, 5,
		{ W(0, 1, 1, 0, 100), W(1, 1, 2, 0, 100), W(2, 1, 3, 0, 100),
		  R(3, 1, 3, 10, 20), R(3, 1, 1, 30, 40) } },
	/* 24 */ { "three overlapping writes, a value seen twice around another",
		LIN_NOT_LINEARIZABLE, 6,
		{ W(0, 1, 1, 0, 100), W(1, 1, 2, 0, 100), W(2, 1, 3, 0, 100),
		  R(3, 1, 3, 10, 20), R(3, 1, 1, 30, 40), R(3, 1, 3, 50, 60) } },
	/* 25 */ { "keys are independent: a bad key among good ones",
		LIN_NOT_LINEARIZABLE, 5,
		{ W(0, 1, 1, 0, 10), R(1, 1, 1, 20, 30), W(0, 2, 1, 0, 10),
		  W(0, 2, 2, 20, 30), R(1, 2, 1, 40, 50) } },
	/* 26 */ { "touching intervals count as concurrent", LIN_LINEARIZABLE, 2,
		{ R(1, 1, 1, 0, 10), W(0, 1, 1, 10, 20) } },
	/* 27 */ { "CAS chain with concurrent readers", LIN_LINEARIZABLE, 6,
		{ W(0, 1, 1, 0, 10), CAS(1, 1, 1, 2, true, 20, 60),
		  CAS(2, 1, 2, 3, true, 30, 70), R(3, 1, 1, 25, 35),
		  R(3, 1, 3, 65, 80), CAS(0, 1, 1, 9, false, 75, 90) } },
	/* 28 */ { "an unread info write explains a refused CAS",
		LIN_LINEARIZABLE, 5,
		{ W(0, 1, 1, 0, 10), WI(1, 1, 5, 12),
		  CAS(2, 1, 1, 2, false, 20, 30), W(0, 1, 7, 40, 50),
		  R(3, 1, 7, 60, 70) } },
	/* 29 */ { "refused CAS with no write that could explain it",
		LIN_NOT_LINEARIZABLE, 4,
		{ W(0, 1, 1, 0, 10), CAS(2, 1, 1, 2, false, 20, 30),
		  WI(1, 1, 5, 35), W(0, 1, 7, 40, 50) } },
	/* 30 */ { "unread info CAS with the same expect stand in for each other",
		LIN_LINEARIZABLE, 6,
		{ W(0, 1, 1, 0, 10), CASI(1, 1, 1, 8, 12), CASI(2, 1, 1, 9, 14),
		  CAS(3, 1, 1, 2, false, 20, 30), W(0, 1, 7, 40, 50),
		  R(3, 1, 7, 60, 70) } },
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct lin_case *c = &cases[i];
		struct lin_result res;
		struct lin_params p = { .report = NULL };
		assert_int_equal(lin_check(c->ops, c->n, &p, &res), 0);
		if (res.verdict != c->want)
			fail_msg("case %zu (%s): got %s, want %s", i + 1,
				 c->name, lin_verdict_str(res.verdict),
				 lin_verdict_str(c->want));
		lin_result_free(&res);
	}
}

/* Reports name the ops that do not fit. */
static void test_report(void **state)
{
	(void)state;
	const struct lin_case *c = &cases[2];
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct lin_params p = { .report = f };
	struct lin_result res;

	assert_non_null(f);
	assert_int_equal(lin_check(c->ops, c->n, &p, &res), 0);
	fclose(f);
	assert_int_equal(res.verdict, LIN_NOT_LINEARIZABLE);
	assert_int_equal(res.n_bad, 1);
	assert_non_null(strstr(buf, "key 1: NOT linearizable"));
	assert_non_null(strstr(buf, "c1 k1 r 1 ok [40, 50]"));
	assert_int_equal(res.keys[0].n_linearized, 2);
	free(buf);
	lin_result_free(&res);
}

static void test_final_value(void **state)
{
	(void)state;
	struct lin_op ops[] = { W(0, 4, 1, 0, 10), W(1, 4, 2, 20, 30),
				WI(2, 4, 3, 40), W(0, 5, 8, 0, 1) };
	struct lin_result res;

	assert_int_equal(lin_check(ops, 4, NULL, &res), 0);
	assert_int_equal(res.verdict, LIN_LINEARIZABLE);
	assert_int_equal(res.n_keys, 2);
	assert_int_equal(res.keys[0].key, 4);
	/* the info write is left out: not needed */
	assert_int_equal(res.keys[0].final_value, 2);
	assert_int_equal(res.keys[1].final_value, 8);
	lin_result_free(&res);
}

static void test_invalid(void **state)
{
	(void)state;
	struct lin_op back[] = { W(0, 1, 1, 10, 5) };
	struct lin_op neg[] = { W(0, 1, -3, 0, 5) };
	struct lin_op kind[] = { { 0, 1, (enum lin_kind)9, LIN_OK, 1, 0,
				   false, 0, 1 } };
	struct lin_result res;

	assert_int_equal(lin_check(back, 1, NULL, &res), -EINVAL);
	assert_int_equal(lin_check(neg, 1, NULL, &res), -EINVAL);
	assert_int_equal(lin_check(kind, 1, NULL, &res), -EINVAL);
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/*
 * Simulate a real register: each of C clients issues ops whose
 * linearization point is a random instant inside its interval, applied in
 * point order. The history is linearizable by construction; some ops are
 * turned into info (their effect kept). Then a read is corrupted to a value
 * nobody wrote: never linearizable.
 */
static size_t simulate(struct lin_op *ops, size_t n, uint32_t key)
{
	struct pt { uint64_t t; size_t i; } *pts = calloc(n, sizeof(*pts));
	uint64_t client_t[6] = { 0 };
	int64_t next_val = 1;

	assert_non_null(pts);
	for (size_t i = 0; i < n; i++) {
		uint32_t c = (uint32_t)(rnd() % 6);
		uint64_t t0 = client_t[c] + rnd() % 50;
		uint64_t t1 = t0 + 1 + rnd() % 200;
		client_t[c] = t1 + 1;
		ops[i] = (struct lin_op){ .client = c, .key = key,
					  .invoke_ns = t0, .return_ns = t1,
					  .outcome = LIN_OK };
		pts[i].t = t0 + rnd() % (t1 - t0 + 1);
		pts[i].i = i;
		switch (rnd() % 3) {
		case 0: ops[i].kind = LIN_READ; break;
		case 1: ops[i].kind = LIN_WRITE; break;
		default: ops[i].kind = LIN_CAS; break;
		}
	}
	/* apply in linearization-point order (insertion sort: small n) */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && pts[j - 1].t > pts[j].t; j--) {
			struct pt tmp = pts[j];
			pts[j] = pts[j - 1];
			pts[j - 1] = tmp;
		}
	int64_t reg = LIN_NIL, last_written = 1;
	for (size_t k = 0; k < n; k++) {
		struct lin_op *o = &ops[pts[k].i];
		switch (o->kind) {
		case LIN_READ:
			o->value = reg;
			break;
		case LIN_WRITE:
			o->value = next_val++;
			reg = o->value;
			last_written = o->value;
			break;
		case LIN_CAS:
			o->expect = rnd() % 2 ? reg : last_written;
			o->value = next_val++;
			o->cas_ok = reg == o->expect;
			if (o->cas_ok)
				reg = o->value;
			break;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (ops[i].kind != LIN_READ && rnd() % 20 == 0)
			ops[i].outcome = LIN_INFO;
	free(pts);
	return n;
}

static void test_random_register(void **state)
{
	(void)state;
	enum { N = 200, ROUNDS = 40 };
	struct lin_op *ops = calloc(N * 2, sizeof(*ops));

	assert_non_null(ops);
	for (int r = 0; r < ROUNDS; r++) {
		simulate(ops, N, 1);
		simulate(ops + N, N, 2);
		struct lin_result res;
		assert_int_equal(lin_check(ops, 2 * N, NULL, &res), 0);
		if (res.verdict != LIN_LINEARIZABLE)
			fail_msg("round %d: simulated register judged %s", r,
				 lin_verdict_str(res.verdict));
		lin_result_free(&res);
		/* corrupt one ok read of key 2 to a value never written */
		for (size_t i = N; i < 2 * N; i++)
			if (ops[i].kind == LIN_READ) {
				ops[i].value = 1000000;
				break;
			}
		assert_int_equal(lin_check(ops, 2 * N, NULL, &res), 0);
		assert_int_equal(res.verdict, LIN_NOT_LINEARIZABLE);
		assert_int_equal(res.n_bad, 1);
		assert_int_equal(res.keys[1].verdict, LIN_NOT_LINEARIZABLE);
		lin_result_free(&res);
	}
	free(ops);
}

/* Many concurrent info writes and an impossible read: the search is
 * exponential without the cache, so a tiny budget must stop it with
 * UNKNOWN, and a normal budget must still decide. */
static void test_budget(void **state)
{
	(void)state;
	enum { N = 12 };
	struct lin_op ops[N + 2];
	struct lin_result res;

	for (uint32_t i = 0; i < N; i++)
		ops[i] = (struct lin_op)WI(i, 1, (int64_t)i + 1, i);
	ops[N] = (struct lin_op)R(99, 1, 5, 100, 110);
	ops[N + 1] = (struct lin_op)R(99, 1, 777, 120, 130);
	struct lin_params tiny = { .max_steps = 20 };
	assert_int_equal(lin_check(ops, N + 2, &tiny, &res), 0);
	assert_int_equal(res.verdict, LIN_UNKNOWN);
	assert_int_equal(res.n_unknown, 1);
	assert_true(res.keys[0].steps <= 21);
	lin_result_free(&res);
	struct lin_params full = { 0 };
	assert_int_equal(lin_check(ops, N + 2, &full, &res), 0);
	assert_int_equal(res.verdict, LIN_NOT_LINEARIZABLE);
	lin_result_free(&res);
}

static bool op_eq(const struct lin_op *a, const struct lin_op *b)
{
	return a->client == b->client && a->key == b->key &&
	       a->kind == b->kind && a->outcome == b->outcome &&
	       a->value == b->value && a->expect == b->expect &&
	       a->cas_ok == b->cas_ok && a->invoke_ns == b->invoke_ns &&
	       a->return_ns == b->return_ns;
}

/* Forty unread info writes pending at once, then a read of a value nobody
 * wrote: 2^40 subsets without the symmetry reduction, a few hundred steps
 * with it. */
static void test_symmetry(void **state)
{
	(void)state;
	enum { N = 40 };
	struct lin_op ops[N + 3];
	struct lin_result res;

	ops[0] = (struct lin_op)W(99, 1, 1000, 0, 1);
	for (uint32_t i = 0; i < N; i++)
		ops[i + 1] = (struct lin_op)WI(i, 1, (int64_t)i + 1, 2 + i);
	ops[N + 1] = (struct lin_op)R(99, 1, 1000, 100, 110);
	ops[N + 2] = (struct lin_op)R(99, 1, 777, 120, 130);
	struct lin_params p = { .max_steps = 100000 };
	assert_int_equal(lin_check(ops, N + 3, &p, &res), 0);
	assert_int_equal(res.verdict, LIN_NOT_LINEARIZABLE);
	lin_result_free(&res);
	ops[N + 2] = (struct lin_op)R(99, 1, 1000, 120, 130);
	assert_int_equal(lin_check(ops, N + 3, &p, &res), 0);
	assert_int_equal(res.verdict, LIN_LINEARIZABLE);
	lin_result_free(&res);
}

/* Reference: try every order of every subset of the info ops (all ok ops
 * placed), checking real time and the register. Exponential: tiny n. */
static bool brute(const struct lin_op *ops, size_t n, size_t *perm,
		  bool *used, size_t depth, int64_t reg)
{
	bool all_ok = true;
	for (size_t i = 0; i < n; i++)
		if (!used[i] && ops[i].outcome == LIN_OK)
			all_ok = false;
	if (all_ok)
		return true;
	for (size_t i = 0; i < n; i++) {
		if (used[i])
			continue;
		/* i may go next only if no unplaced op returned before i
		 * was invoked */
		bool ok = true;
		for (size_t j = 0; j < n && ok; j++)
			if (!used[j] && j != i && ops[j].outcome == LIN_OK &&
			    ops[j].return_ns < ops[i].invoke_ns)
				ok = false;
		if (!ok)
			continue;
		const struct lin_op *o = &ops[i];
		int64_t nx = reg;
		if (o->kind == LIN_READ && reg != o->value)
			continue;
		if (o->kind == LIN_WRITE)
			nx = o->value;
		if (o->kind == LIN_CAS) {
			if (o->outcome == LIN_INFO)
				nx = reg == o->expect ? o->value : reg;
			else if (o->cas_ok != (reg == o->expect))
				continue;
			else if (o->cas_ok)
				nx = o->value;
		}
		used[i] = true;
		perm[depth] = i;
		if (brute(ops, n, perm, used, depth + 1, nx))
			return true;
		used[i] = false;
	}
	return false;
}

/* Random small histories with many info ops and few values (so values
 * repeat in reads and compares): the checker must agree with brute force
 * on every one. Guards the symmetry reduction and the cache. */
static void test_against_brute_force(void **state)
{
	(void)state;
	enum { N = 7, ROUNDS = 3000 };
	struct lin_op ops[N];
	size_t perm[N];
	bool used[N];
	unsigned counts[2] = { 0, 0 };

	for (int r = 0; r < ROUNDS; r++) {
		for (size_t i = 0; i < N; i++) {
			uint64_t t0 = rnd() % 60;
			struct lin_op o = { .client = (uint32_t)i, .key = 1,
					    .invoke_ns = t0,
					    .return_ns = t0 + 1 + rnd() % 30,
					    .outcome = LIN_OK };
			o.kind = (enum lin_kind)(1 + rnd() % 3);
			o.value = (int64_t)(rnd() % 4) + 1;
			if (o.kind == LIN_READ && rnd() % 5 == 0)
				o.value = LIN_NIL;
			o.expect = (int64_t)(rnd() % 4) + 1;
			o.cas_ok = rnd() % 2;
			if (o.kind != LIN_READ && rnd() % 3 == 0) {
				o.outcome = LIN_INFO;
				o.return_ns = LIN_T_INF;
				/* sometimes a value nobody reads */
				if (rnd() % 2)
					o.value = 100 + (int64_t)i;
			}
			ops[i] = o;
		}
		memset(used, 0, sizeof(used));
		bool want = brute(ops, N, perm, used, 0, LIN_NIL);
		struct lin_result res;
		assert_int_equal(lin_check(ops, N, NULL, &res), 0);
		if ((res.verdict == LIN_LINEARIZABLE) != want)
			fail_msg("round %d: checker says %s, brute force %s", r,
				 lin_verdict_str(res.verdict),
				 want ? "linearizable" : "not");
		counts[want]++;
		lin_result_free(&res);
	}
	/* both verdicts must be well represented for this to mean much */
	assert_true(counts[0] > ROUNDS / 10 && counts[1] > ROUNDS / 10);
}

static void test_file_roundtrip(void **state)
{
	(void)state;
	const struct lin_case *c = &cases[26];
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct lin_op more[] = { WI(7, 3, 4, 100), CASI(7, 3, 4, 5, 200),
				 WF(1, 3, 6, 5, 9) };

	assert_non_null(f);
	assert_int_equal(lin_history_write(f, c->ops, c->n), 0);
	assert_int_equal(lin_history_write(f, more, 3), 0);
	fclose(f);
	struct lin_op *ops;
	size_t n;
	char err[128];
	assert_int_equal(lin_history_parse(buf, len, &ops, &n, err,
					   sizeof(err)), 0);
	assert_int_equal(n, c->n + 3);
	for (size_t i = 0; i < n; i++)
		assert_true(op_eq(&ops[i], i < c->n ? &c->ops[i] :
				  &more[i - c->n]));
	free(ops);
	free(buf);
}

static void test_parse_errors(void **state)
{
	(void)state;
	static const struct { const char *text; const char *msg; } bad[] = {
		{ "0 1 w ok 1 0 0 5\n", "line 1: bad field count" },
		{ "# c\n0 1 x ok 1 0 0 5 6\n", "line 2: bad kind" },
		{ "0 1 w maybe 1 0 0 5 6\n", "line 1: bad outcome" },
		{ "0 1 w ok 1 0 0 9 6\n", "line 1: bad return_ns" },
		{ "0 1 w ok 1 0 0 5 -\n", "line 1: bad return_ns" },
		{ "0 1 w ok -4 0 0 5 6\n", "line 1: bad value (negative" },
		{ "0 1 w ok 1 0 2 5 6\n", "line 1: bad cas_ok" },
		{ "-1 1 w ok 1 0 0 5 6\n", "line 1: bad client" },
		{ "0 99999999999 w ok 1 0 0 5 6\n", "line 1: bad key" },
		{ "0 1 w ok 1x 0 0 5 6\n", "line 1: bad value" },
		{ "0 1 w ok 1 0 0 5 6 7\n", "line 1: bad trailing" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lin_op *ops = NULL;
		size_t n = 0;
		char err[128] = "";
		int rc = lin_history_parse(bad[i].text, strlen(bad[i].text),
					   &ops, &n, err, sizeof(err));
		if (rc != -EINVAL || strncmp(err, bad[i].msg,
					     strlen(bad[i].msg)))
			fail_msg("bad[%zu]: rc %d, errmsg '%s', want '%s'", i,
				 rc, err, bad[i].msg);
		assert_null(ops);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_report),
		cmocka_unit_test(test_final_value),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_random_register),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_symmetry),
		cmocka_unit_test(test_against_brute_force),
		cmocka_unit_test(test_file_roundtrip),
		cmocka_unit_test(test_parse_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
