/*
 * test_agent_svc: the pure decisions of ctrl/agent_svc.h, table-driven.
 *
 *   desired    Service + Endpoints JSON -> the agent services wanted
 *              (numbered cases: ports, protocols, named ports, ready vs
 *              not-ready addresses, headless and unallocated Services,
 *              affinity, duplicates, order, externalIPs, health check);
 *   programmed the agent's "services" reply -> the same shape, ours only;
 *   diff       (desired, programmed) -> the exact IPC operations;
 *   name       agent service names, long names hashed to 63 bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "agent_svc.h"

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (j == NULL)
		fail_msg("bad test JSON at %d: %s: %s", e.position, e.text, text);
	return j;
}

static void assert_json_eq(const json_t *got, const char *want_text, int num)
{
	json_t *want = parse(want_text);
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
		char *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
		print_error("case %d\n got  %s\n want %s\n", num, g, w);
		free(g);
		free(w);
		json_decref(want);
		fail();
	}
	json_decref(want);
}

#define SVC(ns, name, ip, extra, ports)                                                            \
	"\"" ns "/" name "\":{\"metadata\":{\"namespace\":\"" ns "\",\"name\":\"" name "\"},"      \
	"\"spec\":{\"clusterIP\":\"" ip "\"" extra ",\"ports\":" ports "}}"

struct desired_case {
	int num;
	const char *services;  /* "ns/name" -> Service */
	const char *endpoints; /* "ns/name" -> Endpoints */
	const char *want;
};

static const struct desired_case desired_cases[] = {
	{1, "{}", "{}", "{}"},
	/* 2: one port, two ready pods, one not ready (left out), weight 1, sorted by address */
	{2, "{" SVC("default", "web", "10.96.0.10", "", "[{\"port\":80,\"targetPort\":8080}]") "}",
	 "{\"default/web\":{\"subsets\":[{\"addresses\":[{\"ip\":\"10.77.2.5\"},{\"ip\":\"10.77.1.9\"}],"
	 "\"notReadyAddresses\":[{\"ip\":\"10.77.1.3\"}],\"ports\":[{\"port\":8080,\"protocol\":\"TCP\"}]}]}}",
	 "{\"k8s/default/web:80/tcp\":{\"vip\":\"10.96.0.10\",\"port\":80,\"proto\":\"tcp\",\"affinity\":\"none\",\"mode\":\"nat\","
	 "\"backends\":[{\"ip\":\"10.77.1.9\",\"port\":8080,\"weight\":1},{\"ip\":\"10.77.2.5\",\"port\":8080,\"weight\":1}]}}"},
	/* 3: Service without Endpoints yet: the VIP exists with no backend */
	{3, "{" SVC("default", "web", "10.96.0.10", "", "[{\"port\":80}]") "}", "{}",
	 "{\"k8s/default/web:80/tcp\":{\"vip\":\"10.96.0.10\",\"port\":80,\"proto\":\"tcp\",\"affinity\":\"none\",\"mode\":\"nat\",\"backends\":[]}}"},
	/* 4: headless (None), unallocated ("") and IPv6 Services are not programmed */
	{4, "{" SVC("a", "h", "None", "", "[{\"port\":80}]") "," SVC("a", "u", "", "", "[{\"port\":80}]") ","
	     SVC("a", "v6", "fd00::1", "", "[{\"port\":80}]") "}", "{}", "{}"},
	/* 5: two named ports, TCP and UDP, each takes its own endpoint port; SCTP skipped */
	{5, "{" SVC("kube", "dns", "10.96.0.53", ",\"sessionAffinity\":\"ClientIP\"",
		    "[{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\"},{\"name\":\"dns-tcp\",\"port\":53,\"protocol\":\"TCP\"},"
		    "{\"name\":\"s\",\"port\":9,\"protocol\":\"SCTP\"}]") "}",
	 "{\"kube/dns\":{\"subsets\":[{\"addresses\":[{\"ip\":\"10.77.1.2\"}],\"ports\":["
	 "{\"name\":\"dns-tcp\",\"port\":5353,\"protocol\":\"TCP\"},{\"name\":\"dns\",\"port\":5353,\"protocol\":\"UDP\"}]}]}}",
	 "{\"k8s/kube/dns:53/udp\":{\"vip\":\"10.96.0.53\",\"port\":53,\"proto\":\"udp\",\"affinity\":\"client_ip\",\"mode\":\"nat\","
	 "\"backends\":[{\"ip\":\"10.77.1.2\",\"port\":5353,\"weight\":1}]},"
	 "\"k8s/kube/dns:53/tcp\":{\"vip\":\"10.96.0.53\",\"port\":53,\"proto\":\"tcp\",\"affinity\":\"client_ip\",\"mode\":\"nat\","
	 "\"backends\":[{\"ip\":\"10.77.1.2\",\"port\":5353,\"weight\":1}]}}"},
	/* 6: a named targetPort resolved differently per pod: two subsets, one list */
	{6, "{" SVC("default", "web", "10.96.0.11", "", "[{\"name\":\"http\",\"port\":80,\"targetPort\":\"http\"}]") "}",
	 "{\"default/web\":{\"subsets\":["
	 "{\"addresses\":[{\"ip\":\"10.77.1.4\"}],\"ports\":[{\"name\":\"http\",\"port\":8080}]},"
	 "{\"addresses\":[{\"ip\":\"10.77.1.5\"}],\"ports\":[{\"name\":\"http\",\"port\":9090}]}]}}",
	 "{\"k8s/default/web:80/tcp\":{\"vip\":\"10.96.0.11\",\"port\":80,\"proto\":\"tcp\",\"affinity\":\"none\",\"mode\":\"nat\","
	 "\"backends\":[{\"ip\":\"10.77.1.4\",\"port\":8080,\"weight\":1},{\"ip\":\"10.77.1.5\",\"port\":9090,\"weight\":1}]}}"},
	/* 7: the same address twice (two subsets listing it) is one backend; an IPv6 address is skipped */
	{7, "{" SVC("default", "web", "10.96.0.12", "", "[{\"port\":80}]") "}",
	 "{\"default/web\":{\"subsets\":[{\"addresses\":[{\"ip\":\"10.77.1.4\"},{\"ip\":\"fd00::4\"}],\"ports\":[{\"port\":80}]},"
	 "{\"addresses\":[{\"ip\":\"10.77.1.4\"}],\"ports\":[{\"port\":80}]}]}}",
	 "{\"k8s/default/web:80/tcp\":{\"vip\":\"10.96.0.12\",\"port\":80,\"proto\":\"tcp\",\"affinity\":\"none\",\"mode\":\"nat\","
	 "\"backends\":[{\"ip\":\"10.77.1.4\",\"port\":80,\"weight\":1}]}}"},
	/* 8: Endpoints of another namespace's Service of the same name are not ours */
	{8, "{" SVC("a", "web", "10.96.0.13", "", "[{\"port\":80}]") "}",
	 "{\"b/web\":{\"subsets\":[{\"addresses\":[{\"ip\":\"10.77.1.4\"}],\"ports\":[{\"port\":80}]}]}}",
	 "{\"k8s/a/web:80/tcp\":{\"vip\":\"10.96.0.13\",\"port\":80,\"proto\":\"tcp\",\"affinity\":\"none\",\"mode\":\"nat\",\"backends\":[]}}"},
	/* 9: an endpoint port of the wrong protocol does not serve a TCP port */
	{9, "{" SVC("a", "web", "10.96.0.14", "", "[{\"port\":80}]") "}",
	 "{\"a/web\":{\"subsets\":[{\"addresses\":[{\"ip\":\"10.77.1.4\"}],\"ports\":[{\"port\":80,\"protocol\":\"UDP\"}]}]}}",
	 "{\"k8s/a/web:80/tcp\":{\"vip\":\"10.96.0.14\",\"port\":80,\"proto\":\"tcp\",\"affinity\":\"none\",\"mode\":\"nat\",\"backends\":[]}}"},
	/* 10: spec.externalIPs: one more service per IPv4 external IP (not an IPv6 one, not the
	 * clusterIP again), same backends; the health-check annotation gives each a TCP check */
	{10, "{\"default/kubernetes\":{\"metadata\":{\"namespace\":\"default\",\"name\":\"kubernetes\","
	     "\"annotations\":{\"sluice.io/health-check\":\"tcp\"}},\"spec\":{\"clusterIP\":\"10.96.0.1\","
	     "\"externalIPs\":[\"192.168.5.200\",\"fd00::1\",\"10.96.0.1\",7],"
	     "\"ports\":[{\"name\":\"https\",\"port\":443,\"targetPort\":6443}]}}}",
	 "{\"default/kubernetes\":{\"subsets\":[{\"addresses\":[{\"ip\":\"192.168.5.11\"}],"
	 "\"ports\":[{\"name\":\"https\",\"port\":6443}]}]}}",
	 "{\"k8s/default/kubernetes:443/tcp\":{\"vip\":\"10.96.0.1\",\"port\":443,\"proto\":\"tcp\",\"affinity\":\"none\",\"mode\":\"nat\","
	 "\"health\":\"tcp\",\"backends\":[{\"ip\":\"192.168.5.11\",\"port\":6443,\"weight\":1}]},"
	 "\"k8s/default/kubernetes@192.168.5.200:443/tcp\":{\"vip\":\"192.168.5.200\",\"port\":443,\"proto\":\"tcp\","
	 "\"affinity\":\"none\",\"mode\":\"nat\",\"health\":\"tcp\",\"backends\":[{\"ip\":\"192.168.5.11\",\"port\":6443,\"weight\":1}]}}"},
	/* 11: annotated sluice.io/lb-mode: dsr -> DSR; another value -> full NAT */
	{11, "{\"a/d\":{\"metadata\":{\"namespace\":\"a\",\"name\":\"d\",\"annotations\":{\"sluice.io/lb-mode\":\"dsr\"}},"
	     "\"spec\":{\"clusterIP\":\"10.96.0.15\",\"ports\":[{\"port\":80}]}},"
	     "\"a/n\":{\"metadata\":{\"namespace\":\"a\",\"name\":\"n\",\"annotations\":{\"sluice.io/lb-mode\":\"DSR!\"}},"
	     "\"spec\":{\"clusterIP\":\"10.96.0.16\",\"ports\":[{\"port\":80}]}}}", "{}",
	 "{\"k8s/a/d:80/tcp\":{\"vip\":\"10.96.0.15\",\"port\":80,\"proto\":\"tcp\",\"affinity\":\"none\",\"mode\":\"dsr\",\"backends\":[]},"
	 "\"k8s/a/n:80/tcp\":{\"vip\":\"10.96.0.16\",\"port\":80,\"proto\":\"tcp\",\"affinity\":\"none\",\"mode\":\"nat\",\"backends\":[]}}"},
};

static void test_desired(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(desired_cases) / sizeof(desired_cases[0]); i++) {
		const struct desired_case *c = &desired_cases[i];
		json_t *svcs = parse(c->services), *eps = parse(c->endpoints);
		json_t *got = agent_svc_desired(svcs, eps);
		assert_non_null(got);
		assert_json_eq(got, c->want, c->num);
		json_decref(got);
		json_decref(svcs);
		json_decref(eps);
	}
}

#define D80(vip, aff, bes)                                                                         \
	"{\"vip\":\"" vip "\",\"port\":80,\"proto\":\"tcp\",\"affinity\":\"" aff "\",\"mode\":\"nat\",\"backends\":" bes "}"
#define H80(vip, bes)                                                                              \
	"{\"vip\":\"" vip "\",\"port\":80,\"proto\":\"tcp\",\"affinity\":\"none\",\"mode\":\"nat\",\"health\":\"tcp\",\"backends\":" bes "}"
#define B(ip, port) "{\"ip\":\"" ip "\",\"port\":" #port ",\"weight\":1}"

struct diff_case {
	int num;
	const char *desired, *programmed, *want_ops;
};

static const struct diff_case diff_cases[] = {
	/* 1: in step: nothing */
	{1, "{\"k8s/a/w:80/tcp\":" D80("10.96.0.1", "none", "[" B("10.0.0.1", 80) "]") "}",
	 "{\"k8s/a/w:80/tcp\":" D80("10.96.0.1", "none", "[" B("10.0.0.1", 80) "]") "}", "[]"},
	/* 2: new service with backends: add, then its whole list */
	{2, "{\"k8s/a/w:80/tcp\":" D80("10.96.0.1", "none", "[" B("10.0.0.1", 80) "]") "}", "{}",
	 "[{\"op\":\"svc.add\",\"name\":\"k8s/a/w:80/tcp\",\"vip\":\"10.96.0.1\",\"port\":80,\"proto\":\"tcp\",\"affinity\":\"none\",\"mode\":\"nat\"},"
	 "{\"op\":\"backend.set\",\"service\":\"k8s/a/w:80/tcp\",\"backends\":[" B("10.0.0.1", 80) "]}]"},
	/* 3: new service without backends: add only */
	{3, "{\"k8s/a/w:80/tcp\":" D80("10.96.0.1", "client_ip", "[]") "}", "{}",
	 "[{\"op\":\"svc.add\",\"name\":\"k8s/a/w:80/tcp\",\"vip\":\"10.96.0.1\",\"port\":80,\"proto\":\"tcp\",\"affinity\":\"client_ip\",\"mode\":\"nat\"}]"},
	/* 4: scale down: one backend.set with the one left */
	{4, "{\"k8s/a/w:80/tcp\":" D80("10.96.0.1", "none", "[" B("10.0.0.1", 80) "]") "}",
	 "{\"k8s/a/w:80/tcp\":" D80("10.96.0.1", "none", "[" B("10.0.0.1", 80) "," B("10.0.0.2", 80) "]") "}",
	 "[{\"op\":\"backend.set\",\"service\":\"k8s/a/w:80/tcp\",\"backends\":[" B("10.0.0.1", 80) "]}]"},
	/* 5: all endpoints gone: an empty list empties the service */
	{5, "{\"k8s/a/w:80/tcp\":" D80("10.96.0.1", "none", "[]") "}",
	 "{\"k8s/a/w:80/tcp\":" D80("10.96.0.1", "none", "[" B("10.0.0.1", 80) "]") "}",
	 "[{\"op\":\"backend.set\",\"service\":\"k8s/a/w:80/tcp\",\"backends\":[]}]"},
	/* 6: Service deleted: svc.del */
	{6, "{}", "{\"k8s/a/w:80/tcp\":" D80("10.96.0.1", "none", "[" B("10.0.0.1", 80) "]") "}",
	 "[{\"op\":\"svc.del\",\"name\":\"k8s/a/w:80/tcp\"}]"},
	/* 7: affinity changed: delete and re-add (the agent refuses a redefinition) */
	{7, "{\"k8s/a/w:80/tcp\":" D80("10.96.0.1", "client_ip", "[" B("10.0.0.1", 80) "]") "}",
	 "{\"k8s/a/w:80/tcp\":" D80("10.96.0.1", "none", "[" B("10.0.0.1", 80) "]") "}",
	 "[{\"op\":\"svc.del\",\"name\":\"k8s/a/w:80/tcp\"},"
	 "{\"op\":\"svc.add\",\"name\":\"k8s/a/w:80/tcp\",\"vip\":\"10.96.0.1\",\"port\":80,\"proto\":\"tcp\",\"affinity\":\"client_ip\",\"mode\":\"nat\"},"
	 "{\"op\":\"backend.set\",\"service\":\"k8s/a/w:80/tcp\",\"backends\":[" B("10.0.0.1", 80) "]}]"},
	/* 8: a VIP moves from one Service to another: the delete goes first */
	{8, "{\"k8s/a/y:80/tcp\":" D80("10.96.0.1", "none", "[]") "}",
	 "{\"k8s/a/x:80/tcp\":" D80("10.96.0.1", "none", "[]") "}",
	 "[{\"op\":\"svc.del\",\"name\":\"k8s/a/x:80/tcp\"},"
	 "{\"op\":\"svc.add\",\"name\":\"k8s/a/y:80/tcp\",\"vip\":\"10.96.0.1\",\"port\":80,\"proto\":\"tcp\",\"affinity\":\"none\",\"mode\":\"nat\"}]"},
	/* 9: a backend's target port changed: it is another backend */
	{9, "{\"k8s/a/w:80/tcp\":" D80("10.96.0.1", "none", "[" B("10.0.0.1", 8081) "]") "}",
	 "{\"k8s/a/w:80/tcp\":" D80("10.96.0.1", "none", "[" B("10.0.0.1", 8080) "]") "}",
	 "[{\"op\":\"backend.set\",\"service\":\"k8s/a/w:80/tcp\",\"backends\":[" B("10.0.0.1", 8081) "]}]"},
	/* 10: a new service with a health check: svc.add carries the check */
	{10, "{\"k8s/a/w:80/tcp\":" H80("10.96.0.1", "[]") "}", "{}",
	 "[{\"op\":\"svc.add\",\"name\":\"k8s/a/w:80/tcp\",\"vip\":\"10.96.0.1\",\"port\":80,\"proto\":\"tcp\",\"affinity\":\"none\","
	 "\"mode\":\"nat\",\"health\":{\"type\":\"tcp\",\"interval_ms\":500,\"timeout_ms\":300,\"fall\":2,\"rise\":2}}]"},
	/* 11: the check dropped (annotation removed): the service is redefined */
	{11, "{\"k8s/a/w:80/tcp\":" D80("10.96.0.1", "none", "[]") "}", "{\"k8s/a/w:80/tcp\":" H80("10.96.0.1", "[]") "}",
	 "[{\"op\":\"svc.del\",\"name\":\"k8s/a/w:80/tcp\"},"
	 "{\"op\":\"svc.add\",\"name\":\"k8s/a/w:80/tcp\",\"vip\":\"10.96.0.1\",\"port\":80,\"proto\":\"tcp\",\"affinity\":\"none\",\"mode\":\"nat\"}]"},
	/* 12: same check on both sides: nothing */
	{12, "{\"k8s/a/w:80/tcp\":" H80("10.96.0.1", "[]") "}", "{\"k8s/a/w:80/tcp\":" H80("10.96.0.1", "[]") "}", "[]"},
	/* 13: mode changed (annotation): delete and re-add in the new mode */
	{13, "{\"k8s/a/w:80/tcp\":{\"vip\":\"10.96.0.1\",\"port\":80,\"proto\":\"tcp\",\"affinity\":\"none\",\"mode\":\"dsr\",\"backends\":[]}}",
	 "{\"k8s/a/w:80/tcp\":" D80("10.96.0.1", "none", "[]") "}",
	 "[{\"op\":\"svc.del\",\"name\":\"k8s/a/w:80/tcp\"},"
	 "{\"op\":\"svc.add\",\"name\":\"k8s/a/w:80/tcp\",\"vip\":\"10.96.0.1\",\"port\":80,\"proto\":\"tcp\",\"affinity\":\"none\",\"mode\":\"dsr\"}]"},
};

static void test_diff(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(diff_cases) / sizeof(diff_cases[0]); i++) {
		const struct diff_case *c = &diff_cases[i];
		json_t *d = parse(c->desired), *p = parse(c->programmed);
		json_t *ops = agent_svc_diff(d, p);
		assert_non_null(ops);
		assert_json_eq(ops, c->want_ops, c->num);
		json_decref(ops);
		json_decref(d);
		json_decref(p);
	}
}

/* The agent's reply read back: only k8s/ services, backends normalized;
 * diffing the result against the same desired table is empty. */
static void test_programmed(void **state)
{
	(void)state;
	json_t *rep = parse(
		"{\"ok\":true,\"services\":["
		"{\"name\":\"mine-by-hand\",\"id\":1,\"vip\":\"10.1.1.1\",\"port\":80,\"proto\":\"tcp\",\"affinity\":\"none\",\"mode\":\"nat\","
		"\"health\":{\"type\":\"none\"},\"backends\":[]},"
		"{\"name\":\"k8s/a/w:80/tcp\",\"id\":2,\"vip\":\"10.96.0.1\",\"port\":80,\"proto\":\"tcp\",\"affinity\":\"none\",\"mode\":\"nat\","
		"\"health\":{\"type\":\"none\"},\"backends\":["
		"{\"id\":7,\"ip\":\"10.0.0.2\",\"port\":80,\"weight\":1,\"healthy\":-1,\"dp_weight\":1},"
		"{\"id\":6,\"ip\":\"10.0.0.1\",\"port\":80,\"weight\":1,\"healthy\":-1,\"dp_weight\":1}]},"
		"{\"name\":\"k8s/a/h:80/tcp\",\"id\":3,\"vip\":\"10.96.0.2\",\"port\":80,\"proto\":\"tcp\",\"affinity\":\"none\","
		"\"health\":{\"type\":\"tcp\",\"interval_ms\":500,\"timeout_ms\":300,\"fall\":2,\"rise\":2},\"backends\":[]}]}");
	json_t *prog = agent_svc_programmed(rep);
	assert_non_null(prog);
	assert_json_eq(prog, "{\"k8s/a/w:80/tcp\":" D80("10.96.0.1", "none", "[" B("10.0.0.1", 80) "," B("10.0.0.2", 80) "]") ","
		       "\"k8s/a/h:80/tcp\":" H80("10.96.0.2", "[]") "}", 1);
	json_t *want = parse("{\"k8s/a/h:80/tcp\":" H80("10.96.0.2", "[]") "}");
	json_t *ops = agent_svc_diff(want, prog);
	/* Only ours is deleted when no Service wants it; the hand-made one stays. */
	assert_json_eq(ops, "[{\"op\":\"svc.del\",\"name\":\"k8s/a/w:80/tcp\"}]", 2);
	json_decref(ops);
	json_decref(want);
	json_decref(prog);
	json_decref(rep);

	json_t *bad = parse("{\"ok\":false,\"error\":\"x\"}");
	assert_null(agent_svc_programmed(bad));
	json_decref(bad);
}

static void test_name(void **state)
{
	char out[64], again[64];
	(void)state;
	agent_svc_name("default", "web", 80, "tcp", out, sizeof(out));
	assert_string_equal(out, "k8s/default/web:80/tcp");
	char ns[64], nm[64];
	memset(ns, 'n', 63);
	ns[63] = '\0';
	memset(nm, 'm', 63);
	nm[63] = '\0';
	agent_svc_name(ns, nm, 65535, "udp", out, sizeof(out));
	assert_int_equal(strlen(out), 63);
	assert_memory_equal(out, "k8s/nnn", 7);
	assert_int_equal(out[54], '~');
	/* Deterministic, and distinct for names that share the 54-byte head. */
	agent_svc_name(ns, nm, 65535, "udp", again, sizeof(again));
	assert_string_equal(out, again);
	agent_svc_name(ns, nm, 65534, "udp", again, sizeof(again));
	assert_string_not_equal(out, again);
	/* An external IP's service, hashed the same way when long. */
	agent_svc_ext_name("default", "kubernetes", "192.168.5.200", 443, "tcp", out, sizeof(out));
	assert_string_equal(out, "k8s/default/kubernetes@192.168.5.200:443/tcp");
	agent_svc_ext_name(ns, nm, "192.168.5.200", 443, "tcp", out, sizeof(out));
	agent_svc_ext_name(ns, nm, "192.168.5.201", 443, "tcp", again, sizeof(again));
	assert_int_equal(strlen(out), 63);
	assert_string_not_equal(out, again);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_desired),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_programmed),
		cmocka_unit_test(test_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
