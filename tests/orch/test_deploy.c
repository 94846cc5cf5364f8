/*
 * test_deploy: Deployment reconcile decisions (ctrl/ctlr_deploy.h): scale
 * up and down, replacement of lost and failed pods, rollout steps under
 * maxSurge/maxUnavailable, Recreate, status, and malformed input.
 *
 * Rollouts are checked by simulation: the plan is applied to an in-memory
 * pod set (creates added unready, deletes removed), pods turn ready
 * between steps, and every step must respect the surge and availability
 * bounds until all pods carry the new hash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "orch_test.h"

#include "ctlr_deploy.h"
#include "ctlr_util.h"

static json_t *deployment(int replicas, const char *image, const char *strategy)
{
	char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
		 "\"namespace\":\"default\",\"uid\":\"11111111-2222-3333-4444-555555555555\","
		 "\"generation\":3},\"spec\":{\"replicas\":%d,\"selector\":{\"matchLabels\":"
		 "{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},"
		 "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"%s\"}]}}%s%s}}",
		 replicas, image, strategy ? ",\"strategy\":" : "", strategy ? strategy : "");
	return js(buf);
}

/* The pod set: a JSON array of pods. */
static void apply(json_t *pods, const struct deploy_plan *plan)
{
	size_t i;
	json_t *d;
	json_array_foreach(plan->del, i, d) {
		size_t j;
		json_t *p;
		bool found = false;
		json_array_foreach(pods, j, p) {
			if (strcmp(ctlr_name(p), json_string_value(d)) == 0) {
				json_array_remove(pods, j);
				found = true;
				break;
			}
		}
		if (!found)
			fail_msg("plan deletes %s which does not exist", json_string_value(d));
	}
	json_t *c;
	json_array_foreach(plan->create, i, c) {
		size_t j;
		json_t *p;
		json_array_foreach(pods, j, p) {
			if (strcmp(ctlr_name(p), ctlr_name(c)) == 0)
				fail_msg("plan creates %s twice", ctlr_name(c));
		}
		json_array_append(pods, c);
	}
}

static void set_ready(json_t *pod, bool ready)
{
	json_object_set_new(pod, "status",
			    json_pack("{s:s, s:[{s:s, s:s}]}", "phase", "Running", "conditions",
				      "type", "Ready", "status", ready ? "True" : "False"));
	json_object_set_new(json_object_get(pod, "spec"), "nodeName", json_string("n1"));
}

static void plan(const json_t *d, json_t *pods, struct deploy_plan *p)
{
	size_t n = json_array_size(pods);
	const json_t *arr[256];
	assert_true(n <= 256);
	for (size_t i = 0; i < n; i++)
		arr[i] = json_array_get(pods, i);
	char err[256];
	if (deploy_reconcile(d, arr, n, p, err, sizeof(err)) != 0)
		fail_msg("deploy_reconcile: %s", err);
}

/* The pods of a first reconcile of d, applied. */
static json_t *start(const json_t *d)
{
	json_t *pods = json_array();
	struct deploy_plan p;
	plan(d, pods, &p);
	apply(pods, &p);
	deploy_plan_clear(&p);
	return pods;
}

static size_t count_hash(const json_t *pods, const char *hash, bool ready_only)
{
	size_t n = 0, i;
	json_t *p;
	json_array_foreach(pods, i, p) {
		const char *h = json_string_value(json_object_get(
			json_object_get(json_object_get(p, "metadata"), "labels"), DEPLOY_HASH_LABEL));
		if ((hash == NULL || (h && strcmp(h, hash) == 0)) &&
		    (!ready_only || ctlr_pod_ready(p)))
			n++;
	}
	return n;
}

/* 1. Scale from 0 to 3, to 5, down to 2: names, labels, owner. */
static void test_scale(void **state)
{
	(void)state;
	json_t *pods = json_array();
	struct deploy_plan p;
	static const struct {
		int replicas;
		size_t creates, deletes, total;
	} steps[] = {{3, 3, 0, 3}, {3, 0, 0, 3}, {5, 2, 0, 5}, {2, 0, 3, 2}, {0, 0, 2, 0}};
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		json_t *d = deployment(steps[s].replicas, "img:1", NULL);
		plan(d, pods, &p);
		if (json_array_size(p.create) != steps[s].creates ||
		    json_array_size(p.del) != steps[s].deletes)
			fail_msg("step %zu: %zu creates %zu deletes", s, json_array_size(p.create),
				 json_array_size(p.del));
		apply(pods, &p);
		assert_int_equal(json_array_size(pods), steps[s].total);
		if (s == 0) {
			/* Names <deploy>-<hash>-<n>, label and controller ref. */
			json_t *c = json_array_get(p.create, 0);
			char want[64];
			snprintf(want, sizeof(want), "web-%s-0", p.hash);
			assert_string_equal(ctlr_name(c), want);
			json_t *labels = json_object_get(json_object_get(c, "metadata"), "labels");
			assert_string_equal(json_string_value(json_object_get(labels, "app")), "web");
			assert_string_equal(
				json_string_value(json_object_get(labels, DEPLOY_HASH_LABEL)), p.hash);
			json_t *ref = json_array_get(
				json_object_get(json_object_get(c, "metadata"), "ownerReferences"), 0);
			assert_string_equal(json_string_value(json_object_get(ref, "uid")),
					    "11111111-2222-3333-4444-555555555555");
			assert_true(json_is_true(json_object_get(ref, "controller")));
			assert_string_equal(ctlr_namespace(c), "default");
			/* status written: 0 pods seen so far, generation 3 */
			assert_non_null(p.status);
			assert_int_equal(json_integer_value(json_object_get(p.status,
									    "observedGeneration")),
					 3);
		}
		deploy_plan_clear(&p);
		json_decref(d);
	}
	json_decref(pods);
}

/* 2. Scale-down victims: unscheduled, then not ready, then highest name. */
static void test_scale_down_order(void **state)
{
	(void)state;
	json_t *d = deployment(4, "img:1", NULL);
	json_t *pods = start(d);
	struct deploy_plan p;
	/* 0 ready, 1 ready, 2 unscheduled, 3 scheduled but not ready. */
	set_ready(json_array_get(pods, 0), true);
	set_ready(json_array_get(pods, 1), true);
	set_ready(json_array_get(pods, 3), false);
	json_decref(d);
	d = deployment(1, "img:1", NULL);
	plan(d, pods, &p);
	assert_int_equal(json_array_size(p.del), 3);
	const char *h = p.hash;
	char n2[64], n3[64], n1[64];
	snprintf(n2, sizeof(n2), "web-%s-2", h);
	snprintf(n3, sizeof(n3), "web-%s-3", h);
	snprintf(n1, sizeof(n1), "web-%s-1", h);
	assert_string_equal(json_string_value(json_array_get(p.del, 0)), n2);
	assert_string_equal(json_string_value(json_array_get(p.del, 1)), n3);
	assert_string_equal(json_string_value(json_array_get(p.del, 2)), n1);
	/* Status reflects what was seen: 4 pods, 2 ready. */
	assert_int_equal(json_integer_value(json_object_get(p.status, "replicas")), 4);
	assert_int_equal(json_integer_value(json_object_get(p.status, "readyReplicas")), 2);
	deploy_plan_clear(&p);
	json_decref(d);
	json_decref(pods);
}

/* 3. Replace: a lost pod (deleted by eviction) and a Failed pod come back,
 * reusing the free name indices. */
static void test_replace(void **state)
{
	(void)state;
	json_t *d = deployment(3, "img:1", NULL);
	json_t *pods = start(d);
	struct deploy_plan p;
	json_array_remove(pods, 1); /* evicted */
	json_object_set_new(json_array_get(pods, 0), "status",
			    json_pack("{s:s}", "phase", "Failed"));
	plan(d, pods, &p);
	/* The Failed pod is deleted; two new ones are created, named 1 and 3
	 * (0 is still held by the Failed pod until it is gone). */
	assert_int_equal(json_array_size(p.del), 1);
	assert_int_equal(json_array_size(p.create), 2);
	char want[64];
	snprintf(want, sizeof(want), "web-%s-1", p.hash);
	assert_string_equal(ctlr_name(json_array_get(p.create, 0)), want);
	snprintf(want, sizeof(want), "web-%s-3", p.hash);
	assert_string_equal(ctlr_name(json_array_get(p.create, 1)), want);
	apply(pods, &p);
	deploy_plan_clear(&p);
	assert_int_equal(json_array_size(pods), 3);
	/* Steady: nothing to do, status already written? It changes once. */
	plan(d, pods, &p);
	assert_int_equal(json_array_size(p.create) + json_array_size(p.del), 0);
	json_object_set(d, "status", p.status);
	deploy_plan_clear(&p);
	plan(d, pods, &p);
	assert_null(p.status); /* unchanged: no write */
	deploy_plan_clear(&p);
	json_decref(d);
	json_decref(pods);
}

/* 4. Rollouts, table of (replicas, strategy, expected max total, expected
 * min ready): simulate until every pod is new and ready. */
static void test_rollout_table(void **state)
{
	(void)state;
	static const struct {
		int replicas;
		const char *strategy;
		long max_total, min_ready;
	} cases[] = {
		{4, NULL, 5, 3}, /* 25%: surge 1 (up), unavailable 1 (down) */
		{10, NULL, 13, 8},
		{3, "{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":0,"
		    "\"maxUnavailable\":1}}",
		 3, 2},
		{3, "{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":\"100%\","
		    "\"maxUnavailable\":0}}",
		 6, 3},
		{1, NULL, 2, 0}, /* 25% of 1: surge 1, unavailable 0 -> ... */
		{5, "{\"type\":\"Recreate\"}", 5, 0},
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		json_t *d1 = deployment(cases[c].replicas, "img:1", cases[c].strategy);
		json_t *d2 = deployment(cases[c].replicas, "img:2", cases[c].strategy);
		json_t *pods = start(d1);
		struct deploy_plan p;
		size_t i;
		json_t *pod;
		json_array_foreach(pods, i, pod) set_ready(pod, true);
		char old_hash[DEPLOY_HASH_LEN + 1], new_hash[DEPLOY_HASH_LEN + 1];
		deploy_template_hash(json_object_get(json_object_get(d1, "spec"), "template"),
				     old_hash);
		deploy_template_hash(json_object_get(json_object_get(d2, "spec"), "template"),
				     new_hash);
		assert_string_not_equal(old_hash, new_hash);
		int steps = 0;
		for (;;) {
			plan(d2, pods, &p);
			bool idle = json_array_size(p.create) == 0 && json_array_size(p.del) == 0;
			apply(pods, &p);
			deploy_plan_clear(&p);
			long total = (long)json_array_size(pods);
			long ready = (long)count_hash(pods, NULL, true);
			if (total > cases[c].max_total)
				fail_msg("case %zu step %d: %ld pods > %ld", c, steps, total,
					 cases[c].max_total);
			if (ready < cases[c].min_ready)
				fail_msg("case %zu step %d: %ld ready < %ld", c, steps, ready,
					 cases[c].min_ready);
			/* The new pods become ready before the next step. */
			json_array_foreach(pods, i, pod) set_ready(pod, true);
			if (idle)
				break;
			if (++steps > 100)
				fail_msg("case %zu: rollout does not converge", c);
		}
		assert_int_equal(count_hash(pods, new_hash, true), (size_t)cases[c].replicas);
		assert_int_equal(count_hash(pods, old_hash, false), 0);
		assert_true(steps >= 1);
		json_decref(d1);
		json_decref(d2);
		json_decref(pods);
	}
}

/* 5. A rollout does not progress past maxUnavailable while new pods stay
 * unready: it stalls instead of taking the service down. */
static void test_rollout_stalls_when_unready(void **state)
{
	(void)state;
	json_t *d1 = deployment(4, "img:1", NULL);
	json_t *d2 = deployment(4, "img:2", NULL);
	json_t *pods = start(d1);
	struct deploy_plan p;
	size_t i;
	json_t *pod;
	json_array_foreach(pods, i, pod) set_ready(pod, true);
	for (int step = 0; step < 5; step++) {
		plan(d2, pods, &p);
		apply(pods, &p);
		deploy_plan_clear(&p);
	}
	/* 4 + 1 surge; 3 old ready remain (maxUnavailable 1). */
	assert_int_equal(json_array_size(pods), 5);
	assert_int_equal(count_hash(pods, NULL, true), 3);
	json_decref(d1);
	json_decref(d2);
	json_decref(pods);
}

/* 6. Malformed Deployments are refused with the field named. */
static void test_bad_input(void **state)
{
	(void)state;
	static const struct {
		const char *obj;
		const char *field;
	} cases[] = {
		{"{\"metadata\":{\"name\":\"d\",\"uid\":\"u\"},\"spec\":{}}", "spec.template"},
		{"{\"metadata\":{\"name\":\"d\"},\"spec\":{\"template\":{}}}", "metadata.uid"},
		{"{\"metadata\":{\"name\":\"d\",\"uid\":\"u\"},\"spec\":{\"template\":{},"
		 "\"replicas\":-1}}",
		 "spec.replicas"},
		{"{\"metadata\":{\"name\":\"d\",\"uid\":\"u\"},\"spec\":{\"template\":{},"
		 "\"strategy\":{\"rollingUpdate\":{\"maxSurge\":\"lots\"}}}}",
		 "maxSurge"},
		{"{\"metadata\":{\"name\":\"d\",\"uid\":\"u\"},\"spec\":{\"template\":{},"
		 "\"strategy\":{\"rollingUpdate\":{\"maxUnavailable\":\"200%\"}}}}",
		 "maxUnavailable"},
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		json_t *d = js(cases[c].obj);
		struct deploy_plan p;
		char err[256] = "";
		int rc = deploy_reconcile(d, NULL, 0, &p, err, sizeof(err));
		deploy_plan_clear(&p);
		if (rc == 0 || strstr(err, cases[c].field) == NULL)
			fail_msg("case %zu: rc %d \"%s\"", c, rc, err);
		json_decref(d);
	}
	static const struct {
		const char *v;
		long total;
		int up;
		long want;
	} ip[] = {{"null", 4, 1, 1},   {"null", 4, 0, 1},    {"null", 10, 1, 3},
		  {"null", 10, 0, 2},  {"\"50%\"", 3, 1, 2}, {"\"50%\"", 3, 0, 1},
		  {"2", 10, 0, 2},     {"\"x%\"", 3, 0, -1}, {"-1", 3, 0, -1}};
	for (size_t c = 0; c < sizeof(ip) / sizeof(ip[0]); c++) {
		json_t *v = json_loads(ip[c].v, JSON_DECODE_ANY, NULL);
		long got = deploy_int_or_percent(json_is_null(v) ? NULL : v, ip[c].total, ip[c].up);
		if (got != ip[c].want)
			fail_msg("int-or-percent case %zu: %ld, want %ld", c, got, ip[c].want);
		json_decref(v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scale),
		cmocka_unit_test(test_scale_down_order),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_rollout_table),
		cmocka_unit_test(test_rollout_stalls_when_unready),
		cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
