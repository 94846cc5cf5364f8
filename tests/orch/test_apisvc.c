/*
 * test_apisvc: the default/kubernetes reconciler's decision
 * (ctrl/ctlr_apisvc.h): Endpoints from /cluster/status (ready vs not,
 * one subset per API port, non-IPv4 members skipped, canonical order), the
 * target port, the Service created whole and afterwards only its owned
 * fields rewritten (the https port, externalIPs when VIPs are set), and the
 * API VIP checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "orch_test.h"

#include "ctlr_apisvc.h"

#define M(id, name, url, health, role)                                                            \
	"{\"id\":" #id ",\"name\":\"" name "\",\"apiURL\":\"" url "\",\"health\":\"" health         \
	"\",\"role\":\"" role "\"}"

static void assert_json(const json_t *got, const char *want)
{
	json_t *w = js(want);
	if (!json_equal((json_t *)got, w)) {
		char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
		char *x = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS);
		fail_msg("got  %s\nwant %s", g, x);
	}
	json_decref(w);
}

static void test_endpoints(void **state)
{
	(void)state;
	static const struct {
		const char *status, *subsets, *skipped;
		unsigned target;
	} t[] = {
		/* three masters on one port, ordered numerically; the unreachable one not ready */
		{"{\"members\":[" M(1, "m1", "https://192.168.5.11:6443", "ok", "leader") ","
		 M(2, "m2", "https://192.168.5.9:6443", "unreachable", "follower") ","
		 M(3, "m3", "https://192.168.5.100:6443/", "ok", "follower") "]}",
		 "[{\"addresses\":[{\"ip\":\"192.168.5.11\"},{\"ip\":\"192.168.5.100\"}],"
		 "\"notReadyAddresses\":[{\"ip\":\"192.168.5.9\"}],"
		 "\"ports\":[{\"name\":\"https\",\"port\":6443,\"protocol\":\"TCP\"}]}]",
		 "[]", 6443},
		/* loopback masters on distinct ports: one subset each, in port order;
		 * a learner is not ready yet; a DNS name and an IPv6 host are skipped */
		{"{\"members\":[" M(3, "m3", "https://127.0.0.1:6443", "ok", "learner") ","
		 M(1, "m1", "https://127.0.0.1:6441", "ok", "leader") ","
		 M(2, "m2", "https://m2.example:6442", "ok", "follower") ","
		 M(4, "m4", "https://[::1]:6444", "ok", "follower") "]}",
		 "[{\"addresses\":[{\"ip\":\"127.0.0.1\"}],"
		 "\"ports\":[{\"name\":\"https\",\"port\":6441,\"protocol\":\"TCP\"}]},"
		 "{\"notReadyAddresses\":[{\"ip\":\"127.0.0.1\"}],"
		 "\"ports\":[{\"name\":\"https\",\"port\":6443,\"protocol\":\"TCP\"}]}]",
		 "[\"m2\",\"m4\"]", 6441},
		/* two on 7443, one on 6443: the majority's port is the target */
		{"{\"members\":[" M(1, "a", "https://10.1.0.1:6443", "ok", "leader") ","
		 M(2, "b", "https://10.1.0.2:7443", "ok", "follower") ","
		 M(3, "c", "https://10.1.0.3:7443", "ok", "candidate") "]}",
		 "[{\"addresses\":[{\"ip\":\"10.1.0.1\"}],"
		 "\"ports\":[{\"name\":\"https\",\"port\":6443,\"protocol\":\"TCP\"}]},"
		 "{\"addresses\":[{\"ip\":\"10.1.0.2\"}],\"notReadyAddresses\":[{\"ip\":\"10.1.0.3\"}],"
		 "\"ports\":[{\"name\":\"https\",\"port\":7443,\"protocol\":\"TCP\"}]}]",
		 "[]", 7443},
		/* nothing usable: no subsets, the default target; bad URLs skipped */
		{"{\"members\":[" M(1, "x", "http://10.0.0.1:80", "ok", "leader") ","
		 M(2, "y", "https://10.0.0.2:0", "ok", "leader") ","
		 M(3, "z", "https://10.0.0.3:6443x", "ok", "leader") "]}",
		 "[]", "[\"x\",\"y\",\"z\"]", 6443},
		{"{}", "[]", "[]", 6443},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		json_t *st = js(t[i].status), *skipped = json_array();
		json_t *ep = apisvc_endpoints(st, skipped);
		assert_non_null(ep);
		assert_string_equal(json_string_value(json_object_get(json_object_get(ep, "metadata"),
								      "name")), "kubernetes");
		assert_string_equal(json_string_value(json_object_get(json_object_get(ep, "metadata"),
								      "namespace")), "default");
		assert_json(json_object_get(ep, "subsets"), t[i].subsets);
		assert_json(skipped, t[i].skipped);
		assert_int_equal(apisvc_target_port(ep), t[i].target);
		json_decref(ep);
		json_decref(skipped);
		json_decref(st);
	}
}

#define PORT(tp) "{\"name\":\"https\",\"port\":443,\"protocol\":\"TCP\",\"targetPort\":" #tp "}"

static void test_service(void **state)
{
	(void)state;
	const char *vips[] = {"192.168.5.200", "192.168.5.201"};
	struct apisvc_cfg none = {.target_port = 6443}, two = {vips, 2, 7443};
	bool nomem;

	/* Created whole, with the reserved clusterIP. */
	json_t *svc = apisvc_service(NULL, &none, &nomem);
	assert_false(nomem);
	assert_json(svc, "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
			 "\"kubernetes\",\"namespace\":\"default\",\"labels\":{\"component\":"
			 "\"apiserver\",\"provider\":\"kubernetes\"},\"annotations\":{"
			 "\"sluice.io/health-check\":\"tcp\"}},\"spec\":{\"type\":\"ClusterIP\","
			 "\"clusterIP\":\"10.96.0.1\",\"sessionAffinity\":\"None\",\"ports\":[" PORT(6443)
			 "]}}");
	json_decref(svc);
	svc = apisvc_service(NULL, &two, &nomem);
	assert_json(json_object_get(json_object_get(svc, "spec"), "externalIPs"),
		    "[\"192.168.5.200\",\"192.168.5.201\"]");
	json_decref(svc);

	const struct {
		const char *cur; /* spec */
		const struct apisvc_cfg *cfg;
		const char *want; /* spec after, NULL = nothing to write */
	} t[] = {
		/* as wanted: nothing to do (operator labels elsewhere are not looked at) */
		{"{\"clusterIP\":\"10.96.0.1\",\"ports\":[" PORT(6443) "]}", &none, NULL},
		/* an operator's extra port and externalIPs stay when no VIP is configured */
		{"{\"clusterIP\":\"10.96.0.1\",\"externalIPs\":[\"1.2.3.4\"],\"ports\":[{\"name\":"
		 "\"metrics\",\"port\":9090}," PORT(6443) "]}", &none, NULL},
		/* the https port edited: put back, in place, other ports kept */
		{"{\"ports\":[{\"name\":\"metrics\",\"port\":9090},{\"name\":\"https\",\"port\":8443,"
		 "\"targetPort\":1}]}", &none,
		 "{\"ports\":[{\"name\":\"metrics\",\"port\":9090}," PORT(6443) "]}"},
		/* removed: added first */
		{"{\"ports\":[{\"name\":\"metrics\",\"port\":9090}]}", &none,
		 "{\"ports\":[" PORT(6443) ",{\"name\":\"metrics\",\"port\":9090}]}"},
		/* an unnamed 443/TCP and a named https: one left */
		{"{\"ports\":[{\"port\":443}," PORT(6443) "]}", &none, "{\"ports\":[" PORT(6443) "]}"},
		/* no spec at all */
		{NULL, &none, "{\"ports\":[" PORT(6443) "]}"},
		/* VIPs configured: externalIPs ours, target port follows the masters */
		{"{\"externalIPs\":[\"1.2.3.4\"],\"ports\":[" PORT(6443) "]}", &two,
		 "{\"externalIPs\":[\"192.168.5.200\",\"192.168.5.201\"],\"ports\":[" PORT(7443) "]}"},
		{"{\"externalIPs\":[\"192.168.5.200\",\"192.168.5.201\"],\"ports\":[" PORT(7443) "]}",
		 &two, NULL},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		json_t *cur = js("{\"metadata\":{\"name\":\"kubernetes\",\"namespace\":\"default\","
				 "\"resourceVersion\":\"42\",\"labels\":{\"mine\":\"x\"}}}");
		if (t[i].cur)
			json_object_set_new(cur, "spec", js(t[i].cur));
		json_t *got = apisvc_service(cur, t[i].cfg, &nomem);
		assert_false(nomem);
		if (t[i].want == NULL) {
			if (got != NULL)
				fail_msg("case %zu: wrote %s", i, json_dumps(got, JSON_COMPACT));
		} else {
			assert_non_null(got);
			assert_json(json_object_get(got, "spec"), t[i].want);
			/* the rest of the object is the operator's, resourceVersion kept */
			assert_json(json_object_get(got, "metadata"),
				    "{\"name\":\"kubernetes\",\"namespace\":\"default\","
				    "\"resourceVersion\":\"42\",\"labels\":{\"mine\":\"x\"}}");
		}
		json_decref(got);
		json_decref(cur);
	}
}

static void test_vips(void **state)
{
	(void)state;
	char err[256];
	static const struct {
		const char *ip, *cidr, *err; /* err NULL = accepted */
	} t[] = {
		{"192.168.5.200", NULL, NULL},
		{"203.0.113.7", "10.0.0.0/8", NULL},
		{"10.244.3.3", NULL, "inside the pod network 10.244.0.0/16"},
		{"10.20.3.3", "10.20.0.0/16", "inside the pod network 10.20.0.0/16"},
		{"10.96.0.1", NULL, "inside the service CIDR 10.96.0.0/16"},
		{"127.0.0.1", NULL, "not a unicast host address"},
		{"0.0.0.0", NULL, "not a unicast host address"},
		{"169.254.1.1", NULL, "not a unicast host address"},
		{"224.0.0.1", NULL, "not a unicast host address"},
		{"255.255.255.255", NULL, "not a unicast host address"},
		{"::1", NULL, "not an IPv4 address"},
		{"192.168.5", NULL, "not an IPv4 address"},
		{"", NULL, "not an IPv4 address"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		err[0] = 0;
		int rc = apisvc_vip_check(t[i].ip, t[i].cidr, err, sizeof(err));
		if (t[i].err == NULL) {
			assert_int_equal(rc, 0);
		} else {
			assert_int_equal(rc, -1);
			if (strstr(err, t[i].err) == NULL)
				fail_msg("%s: error '%s' lacks '%s'", t[i].ip, err, t[i].err);
		}
	}
	char vips[3][APISVC_IP_MAX];
	size_t n = 0;
	assert_int_equal(apisvc_vips_parse("192.168.5.200,192.168.5.201", NULL, vips, 3, &n, err,
					   sizeof(err)), 0);
	/* repeated flags append; duplicates are dropped */
	assert_int_equal(apisvc_vips_parse("192.168.5.201,192.168.5.202", NULL, vips, 3, &n, err,
					   sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_string_equal(vips[2], "192.168.5.202");
	assert_int_equal(apisvc_vips_parse("192.168.5.203", NULL, vips, 3, &n, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "at most 3"));
	n = 0;
	assert_int_equal(apisvc_vips_parse("192.168.5.200,,", NULL, vips, 3, &n, err, sizeof(err)),
			 -1);
	assert_int_equal(apisvc_vips_parse("192.168.5.200,10.244.0.9", NULL, vips, 3, &n, err,
					   sizeof(err)), -1);
	assert_non_null(strstr(err, "10.244.0.9"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_service),
		cmocka_unit_test(test_vips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
