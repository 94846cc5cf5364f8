/*
 * test_sched: table-driven cases for the pure scheduler (ctrl/ctlr_sched.h):
 * each filter, each score, tie-breaks, accounting of bound pods, and the
 * FailedScheduling message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "orch_test.h"

#include "ctlr_sched.h"

/* A Ready node with cpu/memory/pods allocatable and extra JSON merged into
 * the object (spec/labels/status overrides). */
static json_t *node(const char *name, const char *cpu, const char *mem, const char *extra)
{
	char buf[2048];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\"},\"spec\":{},"
		 "\"status\":{\"allocatable\":{\"cpu\":\"%s\",\"memory\":\"%s\",\"pods\":\"110\"},"
		 "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
		 name, cpu, mem);
	json_t *n = js(buf);
	if (extra) {
		json_t *x = js(extra);
		const char *k;
		json_t *v;
		json_object_foreach(x, k, v) {
			json_t *cur = json_object_get(n, k);
			if (json_is_object(cur) && json_is_object(v))
				json_object_update(cur, v);
			else
				json_object_set(n, k, v);
		}
		json_decref(x);
	}
	return n;
}

static json_t *pod(const char *name, const char *cpu, const char *mem, const char *spec_extra)
{
	char buf[2048];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\"},"
		 "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\",\"resources\":"
		 "{\"requests\":{\"cpu\":\"%s\",\"memory\":\"%s\"}}}]%s%s}}",
		 name, cpu, mem, spec_extra ? "," : "", spec_extra ? spec_extra : "");
	return js(buf);
}

static void add_node(struct sched *s, json_t *n)
{
	char err[256];
	assert_int_equal(sched_node_set(s, n, err, sizeof(err)), SCHED_OK);
	json_decref(n);
}

static void pick(struct sched *s, json_t *p, struct sched_result *r)
{
	char err[256] = "";
	int rc = sched_pick(s, p, r, err, sizeof(err));
	if (rc != SCHED_OK)
		fail_msg("sched_pick: %s", err);
}

static void bind(struct sched *s, json_t *p, const char *nodename)
{
	char key[300], err[256];
	snprintf(key, sizeof(key), "default/%s",
		 json_string_value(json_object_get(json_object_get(p, "metadata"), "name")));
	assert_int_equal(sched_pod_set(s, key, p, nodename, err, sizeof(err)), SCHED_OK);
}

/* bind() a pod made for the purpose, then drop it. */
static void bind_new(struct sched *s, json_t *p, const char *nodename)
{
	bind(s, p, nodename);
	json_decref(p);
}

/* 1. Quantities: a table of strings and their values. */
static void test_quantity(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		enum sched_res res;
		int64_t want;
		int rc;
	} cases[] = {
		{"500m", SCHED_RES_CPU, 500, SCHED_OK},
		{"2", SCHED_RES_CPU, 2000, SCHED_OK},
		{"1.5", SCHED_RES_CPU, 1500, SCHED_OK},
		{"0.0001", SCHED_RES_CPU, 1, SCHED_OK}, /* rounds up */
		{"128Mi", SCHED_RES_MEMORY, 134217728, SCHED_OK},
		{"1Gi", SCHED_RES_MEMORY, 1073741824, SCHED_OK},
		{"1G", SCHED_RES_MEMORY, 1000000000, SCHED_OK},
		{"1e3", SCHED_RES_MEMORY, 1000, SCHED_OK},
		{"4Mi", SCHED_RES_HP2M, 4194304, SCHED_OK},
		{"110", SCHED_RES_PODS, 110, SCHED_OK},
		{"", SCHED_RES_CPU, 0, SCHED_ERR_INVALID},
		{"-1", SCHED_RES_CPU, 0, SCHED_ERR_INVALID},
		{"1Xi", SCHED_RES_MEMORY, 0, SCHED_ERR_INVALID},
		{"abc", SCHED_RES_MEMORY, 0, SCHED_ERR_INVALID},
		{"99999999Ei", SCHED_RES_MEMORY, 0, SCHED_ERR_INVALID}, /* overflow */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = json_string(cases[i].in);
		int64_t got = -1;
		int rc = sched_quantity(v, cases[i].res, &got);
		json_decref(v);
		if (rc != cases[i].rc || (rc == SCHED_OK && got != cases[i].want))
			fail_msg("case %zu \"%s\": rc %d value %lld, want rc %d value %lld", i,
				 cases[i].in, rc, (long long)got, cases[i].rc,
				 (long long)cases[i].want);
	}
	json_t *v = json_integer(3);
	int64_t got;
	assert_int_equal(sched_quantity(v, SCHED_RES_CPU, &got), SCHED_OK);
	assert_int_equal(got, 3000);
	json_decref(v);
}

/* 2. Filters, one row per filter: the node that fails must not be chosen
 * and the message must name the reason. */
static void test_filters(void **state)
{
	(void)state;
	static const struct {
		const char *bad_extra; /* merged into node "a" */
		const char *pod_extra; /* added to the pod's spec */
		const char *reason;
	} cases[] = {
		{"{\"spec\":{\"unschedulable\":true}}", NULL,
		 "0/1 nodes are available: 1 node(s) were unschedulable."},
		{"{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}}", NULL,
		 "0/1 nodes are available: 1 node(s) were not ready."},
		{"{\"status\":{\"conditions\":[]}}", NULL,
		 "0/1 nodes are available: 1 node(s) were not ready."},
		{"{\"spec\":{\"taints\":[{\"key\":\"gpu\",\"value\":\"x\",\"effect\":\"NoSchedule\"}]}}",
		 NULL, "0/1 nodes are available: 1 node(s) had untolerated taint {gpu: x}."},
		{"{\"spec\":{\"taints\":[{\"key\":\"node.kubernetes.io/unreachable\","
		 "\"effect\":\"NoExecute\"}]}}",
		 NULL,
		 "0/1 nodes are available: 1 node(s) had untolerated taint "
		 "{node.kubernetes.io/unreachable: }."},
		{"{\"metadata\":{\"name\":\"a\",\"labels\":{\"disk\":\"hdd\"}}}",
		 "\"nodeSelector\":{\"disk\":\"ssd\"}",
		 "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."},
		{"{\"status\":{\"allocatable\":{\"cpu\":\"100m\",\"memory\":\"8Gi\"},"
		 "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
		 NULL, "0/1 nodes are available: 1 Insufficient cpu."},
		{"{\"status\":{\"allocatable\":{\"cpu\":\"4\",\"memory\":\"100Mi\"},"
		 "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
		 NULL, "0/1 nodes are available: 1 Insufficient memory."},
		{"{\"status\":{\"allocatable\":{\"cpu\":\"1\",\"memory\":\"100Mi\"},"
		 "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
		 NULL, "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory."},
		{"{\"status\":{\"allocatable\":{\"cpu\":\"4\",\"memory\":\"8Gi\",\"pods\":0},"
		 "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
		 NULL, "0/1 nodes are available: 1 Too many pods."},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sched *s = sched_create(NULL);
		add_node(s, node("a", "4", "8Gi", cases[i].bad_extra));
		json_t *p = pod("p", "2", "1Gi", cases[i].pod_extra);
		struct sched_result r;
		pick(s, p, &r);
		if (r.node[0] != 0 || strcmp(r.reason, cases[i].reason) != 0)
			fail_msg("case %zu: node \"%s\" reason \"%s\", want \"%s\"", i, r.node,
				 r.reason, cases[i].reason);
		/* The same node passes once the filter is lifted. */
		add_node(s, node("a", "4", "8Gi",
				 "{\"metadata\":{\"name\":\"a\",\"labels\":{\"disk\":\"ssd\"}}}"));
		pick(s, p, &r);
		if (strcmp(r.node, "a") != 0)
			fail_msg("case %zu: a clean node was not chosen (%s)", i, r.reason);
		json_decref(p);
		sched_free(s);
	}
}

/* 3. Tolerations: a table of (taint, toleration, tolerated?). */
static void test_tolerations(void **state)
{
	(void)state;
	static const struct {
		const char *taint;
		const char *tol;
		bool ok;
	} cases[] = {
		{"{\"key\":\"k\",\"value\":\"v\",\"effect\":\"NoSchedule\"}",
		 "{\"key\":\"k\",\"operator\":\"Equal\",\"value\":\"v\",\"effect\":\"NoSchedule\"}", true},
		{"{\"key\":\"k\",\"value\":\"v\",\"effect\":\"NoSchedule\"}",
		 "{\"key\":\"k\",\"value\":\"w\",\"effect\":\"NoSchedule\"}", false},
		{"{\"key\":\"k\",\"value\":\"v\",\"effect\":\"NoSchedule\"}",
		 "{\"key\":\"k\",\"operator\":\"Exists\"}", true},
		{"{\"key\":\"k\",\"value\":\"v\",\"effect\":\"NoExecute\"}",
		 "{\"key\":\"k\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}", false},
		{"{\"key\":\"k\",\"value\":\"v\",\"effect\":\"NoExecute\"}",
		 "{\"operator\":\"Exists\"}", true},
		{"{\"key\":\"k\",\"effect\":\"PreferNoSchedule\"}", "{\"key\":\"other\",\"operator\":\"Exists\"}",
		 true}, /* Prefer is not a filter */
		{"{\"key\":\"k\",\"value\":\"v\",\"effect\":\"NoSchedule\"}",
		 "{\"key\":\"j\",\"operator\":\"Exists\"}", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char extra[512], pe[512];
		snprintf(extra, sizeof(extra), "{\"spec\":{\"taints\":[%s]}}", cases[i].taint);
		snprintf(pe, sizeof(pe), "\"tolerations\":[%s]", cases[i].tol);
		struct sched *s = sched_create(NULL);
		add_node(s, node("a", "4", "8Gi", extra));
		json_t *p = pod("p", "1", "1Gi", pe);
		struct sched_result r;
		pick(s, p, &r);
		if ((r.node[0] != 0) != cases[i].ok)
			fail_msg("case %zu: got \"%s\" (%s), want tolerated=%d", i, r.node, r.reason,
				 cases[i].ok);
		json_decref(p);
		sched_free(s);
	}
	/* A cordoned node admits a pod tolerating the unschedulable taint. */
	struct sched *s = sched_create(NULL);
	add_node(s, node("a", "4", "8Gi", "{\"spec\":{\"unschedulable\":true}}"));
	json_t *p = pod("p", "1", "1Gi",
			"\"tolerations\":[{\"key\":\"node.kubernetes.io/unschedulable\","
			"\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}]");
	struct sched_result r;
	pick(s, p, &r);
	assert_string_equal(r.node, "a");
	json_decref(p);
	sched_free(s);
}

/* 4. Hugepages: only the node that declares enough gets the pod, and the
 * message counts each class of node once. */
static void test_hugepages_and_message(void **state)
{
	(void)state;
	struct sched *s = sched_create(NULL);
	static const char hp[] = "{\"status\":{\"allocatable\":{\"cpu\":\"4\",\"memory\":\"8Gi\","
			 "\"hugepages-2Mi\":\"%s\"},"
			 "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}";
	char extra[512];
	snprintf(extra, sizeof(extra), hp, "0");
	add_node(s, node("n1", "4", "8Gi", extra));
	add_node(s, node("n2", "4", "8Gi", extra));
	add_node(s, node("n3", "4", "8Gi", "{\"spec\":{\"unschedulable\":true}}"));
	add_node(s, node("n4", "4", "8Gi", "{\"spec\":{\"unschedulable\":true}}"));
	add_node(s, node("n5", "4", "8Gi", "{\"spec\":{\"unschedulable\":true}}"));
	json_t *p = js("{\"metadata\":{\"name\":\"dp\"},\"spec\":{\"containers\":[{\"name\":\"c\","
		       "\"resources\":{\"limits\":{\"hugepages-2Mi\":\"64Mi\"}}}]}}");
	struct sched_result r;
	pick(s, p, &r);
	assert_string_equal(r.node, "");
	assert_string_equal(r.reason, "0/5 nodes are available: 2 Insufficient hugepages-2Mi, "
				      "3 node(s) were unschedulable.");
	assert_int_equal(r.nodes, 5);
	assert_int_equal(r.feasible, 0);
	/* n2 gets 128Mi of hugepages: it alone fits, twice, then not again. */
	snprintf(extra, sizeof(extra), hp, "128Mi");
	add_node(s, node("n2", "4", "8Gi", extra));
	for (int i = 0; i < 2; i++) {
		pick(s, p, &r);
		assert_string_equal(r.node, "n2");
		char key[32];
		snprintf(key, sizeof(key), "default/dp%d", i);
		assert_int_equal(sched_pod_set(s, key, p, r.node, NULL, 0), SCHED_OK);
	}
	pick(s, p, &r);
	assert_string_equal(r.node, "");
	assert_string_equal(r.reason, "0/5 nodes are available: 2 Insufficient hugepages-2Mi, "
				      "3 node(s) were unschedulable.");
	/* Removing one accounted pod frees room again. */
	sched_pod_remove(s, "default/dp0");
	pick(s, p, &r);
	assert_string_equal(r.node, "n2");
	assert_string_equal(sched_res_name(SCHED_RES_HP1G), "hugepages-1Gi");
	json_decref(p);
	sched_free(s);
	/* No nodes at all. */
	s = sched_create(NULL);
	p = pod("p", "1", "1Gi", NULL);
	pick(s, p, &r);
	assert_string_equal(r.reason, "0/0 nodes are available.");
	json_decref(p);
	sched_free(s);
}

/* 5. LeastAllocated: the emptier node wins. */
static void test_score_least_allocated(void **state)
{
	(void)state;
	struct sched *s = sched_create(&(struct sched_params){.w_least = 1});
	add_node(s, node("a", "4", "8Gi", NULL));
	add_node(s, node("b", "4", "8Gi", NULL));
	json_t *big = pod("big", "2", "4Gi", NULL);
	bind(s, big, "a");
	json_t *p = pod("p", "1", "1Gi", NULL);
	struct sched_result r;
	pick(s, p, &r);
	assert_string_equal(r.node, "b");
	/* Bigger node, same usage: the bigger one has more free. */
	add_node(s, node("c", "16", "32Gi", NULL));
	bind_new(s, pod("x", "2", "4Gi", NULL), "c");
	pick(s, p, &r);
	assert_string_equal(r.node, "c");
	json_decref(big);
	json_decref(p);
	sched_free(s);
}

/* 6. BalancedAllocation: a memory-heavy pod goes where memory is the less
 * used resource, even at equal free totals. */
static void test_score_balanced(void **state)
{
	(void)state;
	struct sched *s = sched_create(&(struct sched_params){.w_balanced = 1});
	add_node(s, node("a", "4", "8Gi", NULL));
	add_node(s, node("b", "4", "8Gi", NULL));
	bind_new(s, pod("cpuhog", "3", "1Gi", NULL), "a");
	bind_new(s, pod("memhog", "1", "6Gi", NULL), "b");
	json_t *p = pod("p", "100m", "4Gi", NULL);
	struct sched_result r;
	pick(s, p, &r);
	/* a: cpu 3.1/4=.78, mem 5/8=.63 -> .85; b: cpu .28, mem 10/8 no fit */
	assert_string_equal(r.node, "a");
	json_decref(p);
	p = pod("q", "2", "100Mi", NULL);
	pick(s, p, &r);
	/* a: cpu 5/4 no fit... b: cpu 3/4=.75 mem .76 -> balanced */
	assert_string_equal(r.node, "b");
	json_decref(p);
	sched_free(s);
}

/* 7. Spreading: replicas of one owner go to distinct nodes even when
 * another node is emptier; a pod of another owner is not affected. */
static void test_score_spread(void **state)
{
	(void)state;
	struct sched *s = sched_create(NULL);
	add_node(s, node("a", "4", "8Gi", NULL));
	add_node(s, node("b", "4", "8Gi", NULL));
	add_node(s, node("c", "4", "8Gi", NULL));
	const char *owner = "\"ownerReferences\":[{\"uid\":\"d1\",\"controller\":true}]";
	char buf[512];
	const char *seen[3];
	for (int i = 0; i < 3; i++) {
		snprintf(buf, sizeof(buf),
			 "{\"metadata\":{\"name\":\"w%d\",%s},\"spec\":{\"containers\":[{\"name\":"
			 "\"c\"}]}}",
			 i, owner);
		json_t *p = js(buf);
		struct sched_result r;
		pick(s, p, &r);
		assert_string_not_equal(r.node, "");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(r.node, seen[j]);
		seen[i] = r.node[0] == 'a' ? "a" : r.node[0] == 'b' ? "b" : "c";
		bind(s, p, r.node);
		json_decref(p);
	}
	/* Make "a" much emptier than the others: a 4th replica still spreads
	 * evenly (weight 2 beats least-allocated at this load). */
	sched_free(s);
	s = sched_create(NULL);
	add_node(s, node("a", "4", "8Gi", NULL));
	add_node(s, node("b", "4", "8Gi", NULL));
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"w0\",%s},\"spec\":{\"containers\":[{\"name\":\"c\"}]}}",
		 owner);
	json_t *p = js(buf);
	bind(s, p, "a");
	bind_new(s, pod("other", "500m", "1Gi", NULL), "b");
	struct sched_result r;
	pick(s, p, &r);
	assert_string_equal(r.node, "b");
	json_decref(p);
	sched_free(s);
	json_t *o = js("{\"metadata\":{\"ownerReferences\":[{\"uid\":\"x\"},{\"uid\":\"y\","
		       "\"controller\":true}]}}");
	assert_string_equal(sched_owner_uid(o), "y");
	json_decref(o);
}

/* 7b. PreferNoSchedule: not a filter, but the node without the taint (or
 * whose taint the pod tolerates) wins at equal load. */
static void test_score_prefer_no_schedule(void **state)
{
	(void)state;
	static const struct {
		const char *tol; /* pod tolerations, or NULL */
		const char *want;
	} cases[] = {
		{NULL, "b"},
		{"\"tolerations\":[{\"key\":\"spot\",\"operator\":\"Exists\"}]", "a"},
		{"\"tolerations\":[{\"key\":\"other\",\"operator\":\"Exists\"}]", "b"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sched *s = sched_create(NULL);
		add_node(s, node("a", "4", "8Gi",
				 "{\"spec\":{\"taints\":[{\"key\":\"spot\",\"effect\":"
				 "\"PreferNoSchedule\"}]}}"));
		add_node(s, node("b", "4", "8Gi", NULL));
		json_t *p = pod("p", "1", "1Gi", cases[i].tol);
		struct sched_result r;
		pick(s, p, &r);
		if (strcmp(r.node, cases[i].want) != 0)
			fail_msg("case %zu: chose %s, want %s", i, r.node, cases[i].want);
		json_decref(p);
		sched_free(s);
	}
	/* Only tainted nodes: still schedulable (it is a preference). */
	struct sched *s = sched_create(NULL);
	add_node(s, node("a", "4", "8Gi",
			 "{\"spec\":{\"taints\":[{\"key\":\"spot\",\"effect\":"
			 "\"PreferNoSchedule\"}]}}"));
	json_t *p = pod("p", "1", "1Gi", NULL);
	struct sched_result r;
	pick(s, p, &r);
	assert_string_equal(r.node, "a");
	json_decref(p);
	sched_free(s);
}

/* 8. Ties go to the lexically smallest name, whatever the insertion order. */
static void test_tie_break(void **state)
{
	(void)state;
	static const char *const orders[][3] = {
		{"n3", "n1", "n2"}, {"n2", "n3", "n1"}, {"n1", "n2", "n3"}};
	for (size_t i = 0; i < 3; i++) {
		struct sched *s = sched_create(NULL);
		for (size_t j = 0; j < 3; j++)
			add_node(s, node(orders[i][j], "4", "8Gi", NULL));
		json_t *p = pod("p", "1", "1Gi", NULL);
		struct sched_result r;
		pick(s, p, &r);
		assert_string_equal(r.node, "n1");
		json_decref(p);
		sched_free(s);
	}
}

/* 9. Accounting follows node removal and re-adding, and pod moves. */
static void test_accounting(void **state)
{
	(void)state;
	struct sched *s = sched_create(NULL);
	add_node(s, node("a", "2", "8Gi", NULL));
	json_t *p = pod("p", "2", "1Gi", NULL);
	bind(s, p, "a");
	struct sched_result r;
	pick(s, p, &r);
	assert_string_equal(r.reason, "0/1 nodes are available: 1 Insufficient cpu.");
	sched_node_remove(s, "a");
	assert_int_equal(sched_node_count(s), 0);
	add_node(s, node("a", "2", "8Gi", NULL));
	pick(s, p, &r); /* the bound pod still counts */
	assert_string_equal(r.node, "");
	bind(s, p, NULL); /* unbound: frees */
	pick(s, p, &r);
	assert_string_equal(r.node, "a");
	/* A pod bound to a node not seen yet counts once the node appears. */
	bind(s, p, "late");
	add_node(s, node("late", "2", "8Gi", NULL));
	sched_node_remove(s, "a");
	pick(s, p, &r);
	assert_string_equal(r.node, "");
	assert_true(sched_node_bytes(s) > 0);
	json_decref(p);
	sched_free(s);
}

/* 10. Malformed input is refused with the field named; nothing crashes. */
static void test_bad_input(void **state)
{
	(void)state;
	static const struct {
		const char *obj;
		bool is_node;
		const char *field;
	} cases[] = {
		{"{\"metadata\":{}}", true, "metadata.name"},
		{"{\"metadata\":{\"name\":\"a\"},\"status\":{\"allocatable\":{\"cpu\":\"x\"}}}", true,
		 "status.allocatable.cpu"},
		{"{\"metadata\":{\"name\":\"a\"},\"spec\":{\"taints\":[{\"effect\":\"NoSchedule\"}]}}",
		 true, "spec.taints[0].key"},
		{"{\"metadata\":{\"name\":\"a\"},\"spec\":{\"taints\":[{\"key\":\"k\",\"effect\":\"Bad\"}]}}",
		 true, "spec.taints[0].effect"},
		{"{\"metadata\":{\"name\":\"a\"},\"status\":{\"allocatable\":7}}", true,
		 "status.allocatable"},
		{"{\"spec\":7}", false, "spec"},
		{"{\"spec\":{\"containers\":[{\"resources\":{\"requests\":{\"memory\":\"lots\"}}}]}}",
		 false, "spec.containers[0].resources.requests.memory"},
		{"{\"spec\":{\"containers\":[],\"nodeSelector\":{\"a\":1}}}", false,
		 "spec.nodeSelector.a"},
		{"{\"spec\":{\"containers\":[],\"tolerations\":[{\"operator\":\"Maybe\"}]}}", false,
		 "spec.tolerations[0].operator"},
		{"{\"spec\":{\"containers\":[],\"tolerations\":[{\"value\":\"v\"}]}}", false,
		 "spec.tolerations[0].key"},
		{"{\"spec\":{\"containers\":{}}}", false, "spec.containers"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sched *s = sched_create(NULL);
		json_t *o = js(cases[i].obj);
		char err[256] = "";
		int rc;
		if (cases[i].is_node) {
			rc = sched_node_set(s, o, err, sizeof(err));
			assert_int_equal(sched_node_count(s), 0);
		} else {
			struct sched_result r;
			rc = sched_pick(s, o, &r, err, sizeof(err));
		}
		if (rc != SCHED_ERR_INVALID || strstr(err, cases[i].field) == NULL)
			fail_msg("case %zu: rc %d \"%s\", want the field %s", i, rc, err,
				 cases[i].field);
		json_decref(o);
		sched_free(s);
	}
	/* A node that turns malformed leaves the snapshot. */
	struct sched *s = sched_create(NULL);
	add_node(s, node("a", "2", "8Gi", NULL));
	json_t *bad = node("a", "x", "8Gi", NULL);
	assert_int_equal(sched_node_set(s, bad, NULL, 0), SCHED_ERR_INVALID);
	assert_int_equal(sched_node_count(s), 0);
	json_decref(bad);
	sched_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quantity),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_tolerations),
		cmocka_unit_test(test_hugepages_and_message),
		cmocka_unit_test(test_score_least_allocated),
		cmocka_unit_test(test_score_balanced),
		cmocka_unit_test(test_score_spread),
		cmocka_unit_test(test_score_prefer_no_schedule),
		cmocka_unit_test(test_tie_break),
		cmocka_unit_test(test_accounting),
		cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
