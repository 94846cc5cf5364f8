/*
 * test_endpoints: Endpoints computation (ctrl/ctlr_endpoints.h): selection
 * by labels and namespace, ready vs not-ready addresses, numeric and named
 * target ports, canonical order, and comparison.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "orch_test.h"

#include "ctlr_endpoints.h"

static json_t *pod(const char *name, const char *ns, const char *app, const char *ip,
		   const char *ready, const char *phase, int named_port)
{
	char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"uid\":\"u-%s\","
		 "\"labels\":{\"app\":\"%s\"}},\"spec\":{\"nodeName\":\"n1\",\"containers\":"
		 "[{\"name\":\"c\",\"ports\":[{\"name\":\"http\",\"containerPort\":%d}]}]},"
		 "\"status\":{\"phase\":\"%s\"}}",
		 name, ns, name, app, named_port, phase);
	json_t *p = js(buf);
	json_t *st = json_object_get(p, "status");
	if (ip)
		json_object_set_new(st, "podIP", json_string(ip));
	if (ready)
		json_object_set_new(st, "conditions",
				    json_pack("[{s:s, s:s}]", "type", "Ready", "status", ready));
	return p;
}

static json_t *compute(const json_t *svc, json_t *pods)
{
	const json_t *arr[32];
	size_t n = json_array_size(pods);
	for (size_t i = 0; i < n; i++)
		arr[i] = json_array_get(pods, i);
	bool nomem;
	json_t *ep = endpoints_compute(svc, arr, n, &nomem);
	assert_false(nomem);
	return ep;
}

static void test_selection(void **state)
{
	(void)state;
	json_t *svc = js("{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":"
			 "{\"selector\":{\"app\":\"web\"},\"ports\":[{\"name\":\"http\",\"port\":80,"
			 "\"targetPort\":8080},{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\"}]}}");
	json_t *pods = json_array();
	json_array_append_new(pods, pod("a", "default", "web", "10.244.1.10", "True", "Running", 1));
	json_array_append_new(pods, pod("b", "default", "web", "10.244.1.9", "True", "Running", 1));
	json_array_append_new(pods, pod("c", "default", "web", "10.244.2.5", "False", "Running", 1));
	json_array_append_new(pods, pod("d", "default", "db", "10.244.2.6", "True", "Running", 1));
	json_array_append_new(pods, pod("e", "other", "web", "10.244.2.7", "True", "Running", 1));
	json_array_append_new(pods, pod("f", "default", "web", NULL, "True", "Running", 1));
	json_array_append_new(pods, pod("g", "default", "web", "10.244.2.8", NULL, "Failed", 1));
	json_array_append_new(pods, pod("h", "default", "web", "10.244.2.9", NULL, "Running", 1));
	json_t *ep = compute(svc, pods);
	json_t *want = js(
		"{\"apiVersion\":\"v1\",\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"web\","
		"\"namespace\":\"default\"},\"subsets\":[{\"addresses\":["
		"{\"ip\":\"10.244.1.9\",\"nodeName\":\"n1\",\"targetRef\":{\"kind\":\"Pod\","
		"\"namespace\":\"default\",\"name\":\"b\",\"uid\":\"u-b\"}},"
		"{\"ip\":\"10.244.1.10\",\"nodeName\":\"n1\",\"targetRef\":{\"kind\":\"Pod\","
		"\"namespace\":\"default\",\"name\":\"a\",\"uid\":\"u-a\"}},"
		"{\"ip\":\"10.244.2.9\",\"nodeName\":\"n1\",\"targetRef\":{\"kind\":\"Pod\","
		"\"namespace\":\"default\",\"name\":\"h\",\"uid\":\"u-h\"}}],"
		"\"notReadyAddresses\":[{\"ip\":\"10.244.2.5\",\"nodeName\":\"n1\",\"targetRef\":"
		"{\"kind\":\"Pod\",\"namespace\":\"default\",\"name\":\"c\",\"uid\":\"u-c\"}}],"
		"\"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"},"
		"{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\"}]}]}");
	if (!json_equal(ep, want)) {
		char *got = json_dumps(ep, JSON_INDENT(1));
		fail_msg("got %s", got);
	}
	assert_true(endpoints_equal(ep, want));
	/* Order of the input does not matter. */
	json_t *rev = json_array();
	for (size_t i = json_array_size(pods); i-- > 0;)
		json_array_append(rev, json_array_get(pods, i));
	json_t *ep2 = compute(svc, rev);
	assert_true(json_equal(ep, ep2));
	/* One pod turns ready: different. */
	json_decref(ep2);
	json_array_set_new(rev, 5, pod("c", "default", "web", "10.244.2.5", "True", "Running", 1));
	ep2 = compute(svc, rev);
	assert_false(endpoints_equal(ep, ep2));
	json_decref(ep2);
	json_decref(rev);
	json_decref(ep);
	json_decref(want);
	json_decref(pods);
	json_decref(svc);
}

/* Named targetPort: pods resolving it differently land in two subsets;
 * pods without the name are left out of that port. */
static void test_named_ports(void **state)
{
	(void)state;
	json_t *svc = js("{\"metadata\":{\"name\":\"web\"},\"spec\":{\"selector\":"
			 "{\"app\":\"web\"},\"ports\":[{\"port\":80,\"targetPort\":\"http\"}]}}");
	json_t *pods = json_array();
	json_array_append_new(pods, pod("a", "default", "web", "10.0.0.1", "True", "Running", 8080));
	json_array_append_new(pods, pod("b", "default", "web", "10.0.0.2", "True", "Running", 9090));
	json_array_append_new(pods, pod("c", "default", "web", "10.0.0.3", "True", "Running", 8080));
	json_t *ep = compute(svc, pods);
	json_t *subsets = json_object_get(ep, "subsets");
	assert_int_equal(json_array_size(subsets), 2);
	/* Subsets ordered by port list: 8080 first. */
	json_t *s0 = json_array_get(subsets, 0);
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(json_object_get(s0, "ports"), 0), "port")),
			 8080);
	assert_int_equal(json_array_size(json_object_get(s0, "addresses")), 2);
	json_decref(ep);
	/* No selector: not managed. */
	json_t *bare = js("{\"metadata\":{\"name\":\"ext\"},\"spec\":{\"ports\":[{\"port\":1}]}}");
	bool nomem;
	assert_null(endpoints_compute(bare, NULL, 0, &nomem));
	assert_false(nomem);
	/* Empty result equals an Endpoints without subsets. */
	json_t *none = js("{\"metadata\":{\"name\":\"web\"},\"spec\":{\"selector\":"
			  "{\"app\":\"nothing\"},\"ports\":[{\"port\":80}]}}");
	ep = compute(none, pods);
	json_t *stored = js("{\"metadata\":{\"name\":\"web\"}}");
	assert_true(endpoints_equal(ep, stored));
	json_decref(stored);
	json_decref(ep);
	json_decref(none);
	json_decref(bare);
	json_decref(pods);
	json_decref(svc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_selection),
		cmocka_unit_test(test_named_ports),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
