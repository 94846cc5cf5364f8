/*
 * test_cli_print: the printers, as numbered table-driven cases: AGE
 * formatting, RFC 3339 parsing, and for each kind the exact table `sluice
 * get` prints (default and wide), plus -o name and resource paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"

static void test_age(void **state)
{
	(void)state;
	static const struct {
		long secs;
		const char *want;
	} cases[] = {
		{0, "0s"},          {59, "59s"},        {119, "119s"},
		{120, "2m0s"},      {599, "9m59s"},     {600, "10m"},
		{3 * 3600 - 1, "179m"}, {3 * 3600, "3h0m"}, {8 * 3600 - 60, "7h59m"},
		{8 * 3600, "8h"},   {47 * 3600, "47h"}, {48 * 3600, "2d0h"},
		{8 * 86400, "8d"},  {729 * 86400, "729d"}, {800 * 86400, "2y70d"},
		{-5, "0s"}, /* clock skew: never negative */
	};
	char buf[32];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cli_age(1000000, 1000000 + cases[i].secs, buf, sizeof(buf));
		if (strcmp(buf, cases[i].want) != 0)
			fail_msg("age case %zu: %ld s gave %s, want %s", i, cases[i].secs, buf,
				 cases[i].want);
	}
	cli_age(-1, 5, buf, sizeof(buf));
	assert_string_equal(buf, "<unknown>");
}

static void test_parse_time(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		long long want;
	} cases[] = {
		{"1970-01-01T00:00:00Z", 0},
		{"2024-02-29T12:00:00Z", 1709208000},
		{"2024-02-29T12:00:00.123456Z", 1709208000},
		{"2024-02-29T14:00:00+02:00", 1709208000},
		{"2024-02-29T10:30:00-01:30", 1709208000},
		{"2024-02-29 12:00:00", -1},
		{"yesterday", -1},
		{"", -1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long long got = (long long)cli_parse_time(cases[i].s);
		if (got != cases[i].want)
			fail_msg("time case %zu: %s gave %lld", i, cases[i].s, got);
	}
	assert_int_equal(cli_parse_time(NULL), -1);
}

#define T0 "2024-01-01T00:00:00Z"
#define NOW 1704067200L /* T0 */

struct table_case {
	const char *resource;
	bool wide, with_ns;
	const char *objects; /* JSON array */
	const char *want;
};

static const struct table_case table_cases[] = {
	/* 0: pods: ready from container statuses, restarts summed, AGE */
	{"pods", false, false,
	 "[{\"metadata\":{\"name\":\"web-1\",\"creationTimestamp\":\"2023-12-31T23:55:00Z\"},"
	 "\"spec\":{\"containers\":[{},{}]},\"status\":{\"phase\":\"Running\","
	 "\"containerStatuses\":[{\"ready\":true,\"restartCount\":2},{\"ready\":false,"
	 "\"restartCount\":1}]}},"
	 "{\"metadata\":{\"name\":\"db\",\"creationTimestamp\":\"2023-12-29T00:00:00Z\"},"
	 "\"spec\":{\"containers\":[{}]}}]",
	 "NAME    READY   STATUS    RESTARTS   AGE\n"
	 "web-1   1/2     Running   3          5m0s\n"
	 "db      0/1     Pending   0          3d0h\n"},
	/* 1: pods wide, all namespaces, terminating, Ready condition */
	{"pods", true, true,
	 "[{\"metadata\":{\"name\":\"a\",\"namespace\":\"kube\",\"creationTimestamp\":\"" T0 "\","
	 "\"deletionTimestamp\":\"" T0 "\"},\"spec\":{\"nodeName\":\"n1\",\"containers\":[{}]},"
	 "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.244.1.5\",\"conditions\":[{\"type\":"
	 "\"Ready\",\"status\":\"True\"}]}}]",
	 "NAMESPACE   NAME   READY   STATUS        RESTARTS   AGE   IP           NODE\n"
	 "kube        a      1/1     Terminating   0          0s    10.244.1.5   n1\n"},
	/* 2: nodes: ready, cordoned, roles, CIDR; one NotReady without labels */
	{"nodes", false, true /* ignored: cluster scoped */,
	 "[{\"metadata\":{\"name\":\"m1\",\"creationTimestamp\":\"2023-12-31T00:00:00Z\","
	 "\"labels\":{\"node-role.kubernetes.io/master\":\"\",\"x\":\"y\"}},"
	 "\"spec\":{\"podCIDR\":\"10.244.0.0/24\",\"unschedulable\":true},"
	 "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}},"
	 "{\"metadata\":{\"name\":\"w1\"},\"status\":{\"conditions\":[{\"type\":\"Ready\","
	 "\"status\":\"False\"}]}}]",
	 "NAME   STATUS                     ROLES    AGE         POD-CIDR\n"
	 "m1     Ready,SchedulingDisabled   master   24h         10.244.0.0/24\n"
	 "w1     NotReady                   <none>   <unknown>   <none>\n"},
	/* 3: nodes wide */
	{"nodes", true, false,
	 "[{\"metadata\":{\"name\":\"n1\",\"creationTimestamp\":\"" T0 "\"},"
	 "\"spec\":{\"taints\":[{\"key\":\"k\",\"effect\":\"NoSchedule\"}]},"
	 "\"status\":{\"addresses\":[{\"type\":\"Hostname\",\"address\":\"n1\"},"
	 "{\"type\":\"InternalIP\",\"address\":\"192.168.7.2\"}]}}]",
	 "NAME   STATUS    ROLES    AGE   POD-CIDR   INTERNAL-IP   TAINTS\n"
	 "n1     Unknown   <none>   0s    <none>     192.168.7.2   1\n"},
	/* 4: services, ports with node ports, wide selector */
	{"services", true, false,
	 "[{\"metadata\":{\"name\":\"web\",\"creationTimestamp\":\"" T0 "\"},"
	 "\"spec\":{\"type\":\"NodePort\",\"clusterIP\":\"10.96.0.10\",\"selector\":{\"app\":"
	 "\"web\"},\"ports\":[{\"port\":80,\"nodePort\":30080},{\"port\":53,\"protocol\":"
	 "\"UDP\"}]}}]",
	 "NAME   TYPE       CLUSTER-IP   EXTERNAL-IP   PORT(S)               AGE   SELECTOR\n"
	 "web    NodePort   10.96.0.10   <none>        80:30080/TCP,53/UDP   0s    app=web\n"},
	/* 5: endpoints: first three, then "+ N more" */
	{"endpoints", false, false,
	 "[{\"metadata\":{\"name\":\"web\",\"creationTimestamp\":\"" T0 "\"},"
	 "\"subsets\":[{\"addresses\":[{\"ip\":\"10.0.0.1\"},{\"ip\":\"10.0.0.2\"},{\"ip\":"
	 "\"10.0.0.3\"},{\"ip\":\"10.0.0.4\"}],\"ports\":[{\"port\":8080}]}]},"
	 "{\"metadata\":{\"name\":\"none\",\"creationTimestamp\":\"" T0 "\"}}]",
	 "NAME   ENDPOINTS                                               AGE\n"
	 "web    10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:8080 + 1 more...   0s\n"
	 "none   <none>                                                  0s\n"},
	/* 6: deployments, wide */
	{"deployments", true, false,
	 "[{\"metadata\":{\"name\":\"web\",\"creationTimestamp\":\"" T0 "\"},"
	 "\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
	 "\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"},"
	 "{\"name\":\"s\",\"image\":\"envoy\"}]}}},\"status\":{\"readyReplicas\":2,"
	 "\"updatedReplicas\":3,\"availableReplicas\":2}}]",
	 "NAME   READY   UP-TO-DATE   AVAILABLE   AGE   CONTAINERS   IMAGES          SELECTOR\n"
	 "web    2/3     3            2           0s    c,s          busybox,envoy   app=web\n"},
	/* 7: leases */
	{"leases", false, false,
	 "[{\"metadata\":{\"name\":\"n1\",\"creationTimestamp\":\"" T0 "\"},\"spec\":"
	 "{\"holderIdentity\":\"n1\"}},{\"metadata\":{\"name\":\"x\"}}]",
	 "NAME   HOLDER   AGE\n"
	 "n1     n1       0s\n"
	 "x      <none>   <unknown>\n"},
};

static void test_tables(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(table_cases) / sizeof(table_cases[0]); i++) {
		const struct table_case *tc = &table_cases[i];
		json_t *objs = json_loads(tc->objects, 0, NULL);
		if (objs == NULL)
			fail_msg("table case %zu: bad JSON in the test", i);
		struct cli_table *t = cli_table_create(cli_res_lookup(tc->resource), tc->wide,
						       tc->with_ns);
		size_t k;
		json_t *o;
		json_array_foreach(objs, k, o)
			cli_table_add(t, o, NOW);
		char *out = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&out, &len);
		cli_table_print(t, f, false);
		fclose(f);
		if (strcmp(out, tc->want) != 0)
			fail_msg("table case %zu:\n--- got\n%s--- want\n%s", i, out, tc->want);
		free(out);
		/* --no-headers: one line per row, the header gone. */
		f = open_memstream(&out, &len);
		cli_table_print(t, f, true);
		fclose(f);
		size_t lines = 0;
		for (char *p = out; *p; p++)
			lines += *p == '\n';
		assert_int_equal(lines, json_array_size(objs));
		assert_null(strstr(out, "NAME"));
		free(out);
		cli_table_free(t);
		json_decref(objs);
	}
}

static void test_output_name_and_paths(void **state)
{
	(void)state;
	char *out = NULL, path[256];
	size_t len = 0;
	json_t *list = json_loads("{\"items\":[{\"metadata\":{\"name\":\"a\"}},{\"metadata\":"
				  "{\"name\":\"b\"}}]}", 0, NULL);
	FILE *f = open_memstream(&out, &len);
	cli_print_object(f, cli_res_lookup("po"), list, CLI_OUT_NAME);
	fclose(f);
	assert_string_equal(out, "pod/a\npod/b\n");
	free(out);
	json_decref(list);

	assert_int_equal(cli_output_parse("yaml"), CLI_OUT_YAML);
	assert_int_equal(cli_output_parse("xml"), -1);

	static const struct {
		const char *res, *ns, *name, *query, *want;
	} p[] = {
		{"po", "default", "web", NULL, "/api/v1/namespaces/default/pods/web"},
		{"pods", NULL, NULL, "watch=1", "/api/v1/pods?watch=1"},
		{"no", "ignored", "n1", NULL, "/api/v1/nodes/n1"},
		{"deploy", "prod", NULL, NULL, "/apis/apps/v1/namespaces/prod/deployments"},
		{"leases", "sluice-node-lease", "n 1", NULL,
		 "/apis/coordination.k8s.io/v1/namespaces/sluice-node-lease/leases/n%201"},
		{"svc", "a/b", "x?y", NULL, "/api/v1/namespaces/a%2Fb/services/x%3Fy"},
		{"EP", "d", NULL, NULL, "/api/v1/namespaces/d/endpoints"},
	};
	for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
		const struct cli_res *r = cli_res_lookup(p[i].res);
		assert_non_null(r);
		assert_int_equal(cli_res_path(r, p[i].ns, p[i].name, p[i].query, path, sizeof(path)),
				 0);
		if (strcmp(path, p[i].want) != 0)
			fail_msg("path case %zu: %s", i, path);
	}
	assert_null(cli_res_lookup("widgets"));
	assert_ptr_equal(cli_res_by_kind("Deployment", "apps/v1"), cli_res_lookup("deploy"));
	assert_null(cli_res_by_kind("Deployment", "v1"));
	char q[64] = "";
	assert_int_equal(cli_query_add(q, sizeof(q), "labelSelector", "app=web,tier!=db"), 0);
	assert_string_equal(q, "labelSelector=app%3Dweb%2Ctier%21%3Ddb");
	char small[8] = "";
	assert_int_equal(cli_query_add(small, sizeof(small), "labelSelector", "x"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_age),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_output_name_and_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
