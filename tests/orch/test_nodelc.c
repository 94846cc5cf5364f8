/*
 * test_nodelc: node lifecycle decisions (ctrl/ctlr_node.h) as a pure
 * function of (now, nodes, leases): grace period, eviction timeout, the
 * more-than-half-dead stop, the rate limit, and the JSON round trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ctlr_node.h"
#include "ctlr_util.h"

#define S 1000000ll /* one second in microseconds */
#define T0 (1700000000ll * S)

static const struct nodelc_params P = {.grace_s = 40, .evict_timeout_s = 300};

/* 1. One node, a table of situations at one instant. */
static void test_single_node_table(void **state)
{
	(void)state;
	static const struct {
		const char *what;
		int64_t renew_ago_s; /* -1 = no lease */
		int64_t created_ago_s;
		bool ready, tainted;
		int64_t not_ready_ago_s; /* 0 = unknown */
		size_t pods;
		unsigned want;
	} cases[] = {
		{"fresh and ready", 5, 1000, true, false, 0, 3, NODELC_NONE},
		{"fresh, at the grace edge", 40, 1000, true, false, 0, 3, NODELC_NONE},
		{"fresh, not ready yet", 5, 1000, false, false, 0, 0, NODELC_MARK_READY},
		{"fresh again, still tainted", 5, 1000, false, true, 100, 1, NODELC_MARK_READY},
		{"stale, was ready", 41, 1000, true, false, 0, 3, NODELC_MARK_NOT_READY},
		{"stale, marked, inside timeout", 100, 1000, false, true, 299, 3, NODELC_NONE},
		{"stale, marked, timeout reached", 400, 1000, false, true, 300, 3, NODELC_EVICT},
		{"stale, timed out, no pods", 400, 1000, false, true, 300, 0, NODELC_NONE},
		{"stale, not ready but taint lost", 400, 1000, false, false, 350, 2,
		 NODELC_MARK_NOT_READY | NODELC_EVICT},
		{"no lease, new node", -1, 10, false, false, 0, 0, NODELC_NONE},
		{"no lease, old node", -1, 41, false, false, 0, 0, NODELC_MARK_NOT_READY},
		{"stale, not ready, transition unknown", 400, 1000, false, true, 0, 2, NODELC_NONE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nodelc_node n = {
			.name = "n",
			.renew_us = cases[i].renew_ago_s < 0 ? 0 : T0 - cases[i].renew_ago_s * S,
			.created_us = T0 - cases[i].created_ago_s * S,
			.ready = cases[i].ready,
			.tainted = cases[i].tainted,
			.not_ready_us = cases[i].not_ready_ago_s ? T0 - cases[i].not_ready_ago_s * S : 0,
			.pods = cases[i].pods,
		};
		struct nodelc_state st = {0};
		struct nodelc_summary sum;
		unsigned out;
		/* A single stale node is "all nodes dead": use a healthy pair
		 * next to it so the partition rule stays out of the way. */
		struct nodelc_node three[3] = {n, n, n};
		three[1].name = "ok1";
		three[2].name = "ok2";
		for (int k = 1; k < 3; k++) {
			three[k].renew_us = T0;
			three[k].ready = true;
			three[k].tainted = false;
		}
		unsigned outs[3];
		nodelc_decide(&P, &st, T0, three, 3, outs, &sum);
		out = outs[0];
		if (out != cases[i].want)
			fail_msg("case %zu (%s): action %u, want %u", i, cases[i].what, out,
				 cases[i].want);
		assert_int_equal(outs[1], NODELC_NONE);
	}
}

/* 2. The rate limit: 4 of 10 nodes dead and due at once; one eviction per
 * 10 s at 0.1/s, oldest NotReady first. */
static void test_rate_limit(void **state)
{
	(void)state;
	struct nodelc_node nodes[10];
	static const char *const names[10] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
	for (int i = 0; i < 10; i++) {
		nodes[i] = (struct nodelc_node){.name = names[i], .renew_us = T0, .created_us = T0,
						.ready = true, .pods = 1};
	}
	/* d, b, h, a dead; not ready since 400, 500, 500, 350 s before t1. */
	int64_t t1 = T0 + 1000 * S;
	int dead[4] = {3, 1, 7, 0};
	int64_t since[4] = {400, 500, 500, 350};
	for (int k = 0; k < 4; k++) {
		nodes[dead[k]].ready = false;
		nodes[dead[k]].tainted = true;
		nodes[dead[k]].not_ready_us = t1 - since[k] * S;
	}
	for (int i = 0; i < 10; i++)
		if (nodes[i].ready)
			nodes[i].renew_us = t1;
	struct nodelc_state st = {0};
	struct nodelc_summary sum;
	unsigned out[10];
	/* Expected order: b and h (500 s, by name), then d (400), then a. */
	const char *order[4] = {"b", "h", "d", "a"};
	int64_t t = t1;
	for (int round = 0; round < 4; round++) {
		nodelc_decide(&P, &st, t, nodes, 10, out, &sum);
		assert_int_equal(sum.stale, 4);
		assert_false(sum.partition);
		assert_int_equal(sum.evicted, 1);
		for (int i = 0; i < 10; i++) {
			if (out[i] & NODELC_EVICT) {
				assert_string_equal(nodes[i].name, order[round]);
				nodes[i].pods = 0; /* evicted */
			}
		}
		/* 5 s later: no token yet. */
		nodelc_decide(&P, &st, t + 5 * S, nodes, 10, out, &sum);
		assert_int_equal(sum.evicted, 0);
		t += 10 * S;
	}
	/* A faster configured rate evicts several at once within the burst. */
	struct nodelc_params fast = P;
	fast.evict_rate = 100;
	fast.evict_burst = 3;
	for (int k = 0; k < 4; k++)
		nodes[dead[k]].pods = 2;
	struct nodelc_state st2 = {0};
	nodelc_decide(&fast, &st2, t, nodes, 10, out, &sum);
	assert_int_equal(sum.evicted, 3);
	assert_int_equal(sum.evict_due, 4);
}

/* 3. More than half stale: mark, never evict, report the start once. */
static void test_partition(void **state)
{
	(void)state;
	static const struct {
		int total, dead;
		bool partition;
	} cases[] = {{2, 1, false}, {3, 1, false}, {3, 2, true}, {4, 2, false},
		     {5, 3, true},  {1, 1, true},  {10, 5, false}, {10, 6, true}};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct nodelc_node nodes[10];
		unsigned out[10];
		for (int i = 0; i < cases[c].total; i++) {
			bool d = i < cases[c].dead;
			nodes[i] = (struct nodelc_node){
				.name = "x",
				.renew_us = d ? T0 - 1000 * S : T0,
				.created_us = T0 - 2000 * S,
				.ready = !d,
				.tainted = d,
				.not_ready_us = d ? T0 - 900 * S : 0,
				.pods = 1,
			};
		}
		struct nodelc_state st = {0};
		struct nodelc_summary sum;
		nodelc_decide(&P, &st, T0, nodes, (size_t)cases[c].total, out, &sum);
		if (sum.partition != cases[c].partition)
			fail_msg("case %zu: %d of %d dead: partition %d", c, cases[c].dead,
				 cases[c].total, sum.partition);
		assert_int_equal(sum.evicted, cases[c].partition ? 0 : 1);
		assert_int_equal(sum.partition_begin, cases[c].partition);
		nodelc_decide(&P, &st, T0 + 10 * S, nodes, (size_t)cases[c].total, out, &sum);
		assert_false(sum.partition_begin); /* logged once */
	}
}

/* 4. JSON: from Node + Lease, and the marked objects round-trip to the
 * state the decision expects next time. */
static void test_json_round_trip(void **state)
{
	(void)state;
	json_error_t e;
	json_t *node = json_loads(
		"{\"metadata\":{\"name\":\"n1\",\"creationTimestamp\":\"2023-11-14T22:00:00Z\"},"
		"\"spec\":{\"taints\":[{\"key\":\"other\",\"effect\":\"NoSchedule\"}]},"
		"\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
		0, &e);
	json_t *lease = json_loads("{\"spec\":{\"renewTime\":\"2023-11-14T22:13:20.500000Z\"}}", 0,
				   &e);
	struct nodelc_node n;
	nodelc_from_json(node, lease, 0, &n);
	assert_string_equal(n.name, "n1");
	assert_int_equal(n.renew_us, 1700000000ll * S + 500000);
	assert_true(n.ready);
	assert_false(n.tainted);
	int64_t now = n.renew_us + 60 * S;
	json_t *marked = nodelc_apply(node, NODELC_MARK_NOT_READY, now);
	struct nodelc_node m;
	nodelc_from_json(marked, lease, 0, &m);
	assert_false(m.ready);
	assert_true(m.tainted);
	assert_int_equal(m.not_ready_us, now);
	/* The other taint is kept. */
	assert_int_equal(json_array_size(json_object_get(json_object_get(marked, "spec"), "taints")),
			 2);
	/* Marking again later keeps the transition time (the timeout clock). */
	json_t *again = nodelc_apply(marked, NODELC_MARK_NOT_READY, now + 100 * S);
	nodelc_from_json(again, lease, 0, &m);
	assert_int_equal(m.not_ready_us, now);
	json_t *back = nodelc_apply(again, NODELC_MARK_READY, now + 200 * S);
	nodelc_from_json(back, lease, 0, &m);
	assert_true(m.ready);
	assert_false(m.tainted);
	assert_int_equal(json_array_size(json_object_get(json_object_get(back, "spec"), "taints")),
			 1);
	/* A node first seen after its creation is judged from first sight. */
	nodelc_from_json(node, NULL, T0, &m);
	assert_int_equal(m.created_us, T0);
	assert_int_equal(m.renew_us, 0);
	json_decref(node);
	json_decref(lease);
	json_decref(marked);
	json_decref(again);
	json_decref(back);
	/* Times. */
	int64_t us;
	assert_true(ctlr_time_parse("1970-01-01T00:00:00Z", &us));
	assert_int_equal(us, 0);
	assert_true(ctlr_time_parse("2023-11-14T23:13:20+01:00", &us));
	assert_int_equal(us, 1700000000ll * S);
	assert_false(ctlr_time_parse("2023-11-14 nope", &us));
	assert_false(ctlr_time_parse("2023-13-14T00:00:00Z", &us));
	char buf[40];
	ctlr_time_format(1700000000ll * S + 42, buf, sizeof(buf));
	assert_string_equal(buf, "2023-11-14T22:13:20.000042Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_node_table),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_partition),
		cmocka_unit_test(test_json_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
