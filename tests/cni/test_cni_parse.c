/*
 * test_cni_parse: table-driven unit tests of sluice-cni's parsers, in
 * process: CNI_ARGS (cni_args), the Result model and its conversion
 * between spec versions (cni_result), and config validation (cni_config).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "cni_args.h"
#include "cni_config.h"
#include "cni_result.h"
#include "cni_version.h"

struct args_case {
	const char *in;
	enum cni_err code;
	const char *pod_name, *pod_ns;
	unsigned unknown;
};

static void test_args_table(void **state)
{
	(void)state;
	static const struct args_case cases[] = {
		/* 1 */ { "", CNI_OK, "", "", 0 },
		/* 2 */ { "K8S_POD_NAME=web;K8S_POD_NAMESPACE=prod", CNI_OK, "web", "prod", 0 },
		/* 3 */ { "K8S_POD_NAMESPACE=prod;K8S_POD_NAME=web", CNI_OK, "web", "prod", 0 },
		/* 4 */ { "IgnoreUnknown=1;FOO=1;K8S_POD_NAME=a", CNI_OK, "a", "", 1 },
		/* 5 */ { "FOO=1;BAR=2;IgnoreUnknown=true", CNI_OK, "", "", 2 },
		/* 6 */ { "FOO=1", CNI_ERR_UNSUPPORTED_FIELD, NULL, NULL, 0 },
		/* 7 */ { "FOO=1;IgnoreUnknown=false", CNI_ERR_UNSUPPORTED_FIELD, NULL, NULL, 0 },
		/* 8 */ { "K8S_POD_NAME", CNI_ERR_INVALID_ENV, NULL, NULL, 0 },
		/* 9 */ { "K8S_POD_NAME=a;", CNI_ERR_INVALID_ENV, NULL, NULL, 0 },
		/* 10 */ { ";K8S_POD_NAME=a", CNI_ERR_INVALID_ENV, NULL, NULL, 0 },
		/* 11 */ { "=a", CNI_ERR_INVALID_ENV, NULL, NULL, 0 },
		/* 12 */ { "IgnoreUnknown=yes", CNI_ERR_INVALID_ENV, NULL, NULL, 0 },
		/* 13 */ { "IgnoreUnknown=1;IgnoreUnknown=1", CNI_ERR_INVALID_ENV, NULL, NULL, 0 },
		/* 14 */ { "K8S_POD_NAME=a;K8S_POD_NAME=b", CNI_ERR_INVALID_ENV, NULL, NULL, 0 },
		/* 15 */ { "K8S_POD_NAMESPACE=0123456789012345678901234567890123456789012345678901234567890123",
			   CNI_ERR_INVALID_ENV, NULL, NULL, 0 }, /* 64 > 63 */
		/* 16 */ { "K8S_POD_NAME=a b", CNI_ERR_INVALID_ENV, NULL, NULL, 0 },
		/* 17 */ { "K8S_POD_NAME=a=b", CNI_OK, "a=b", "", 0 }, /* first '=' splits */
		/* 18 */ { "K8S_POD_NAME=", CNI_OK, "", "", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cni_args a;
		struct cni_error err;
		enum cni_err e = cni_args_parse(cases[i].in, strlen(cases[i].in), &a, &err);
		print_message("args case %zu: %s -> %d\n", i + 1, cases[i].in, e);
		assert_int_equal(e, cases[i].code);
		if (e == CNI_OK) {
			assert_string_equal(a.pod_name, cases[i].pod_name);
			assert_string_equal(a.pod_namespace, cases[i].pod_ns);
			assert_int_equal(a.unknown_count, cases[i].unknown);
		} else {
			assert_true(err.msg[0] != '\0');
		}
	}
	/* Not NUL-terminated input is read only within len. */
	char raw[] = { 'K', '8', 'S', '_', 'P', 'O', 'D', '_', 'N', 'A', 'M', 'E', '=', 'x', 'y' };
	struct cni_args a;
	assert_int_equal(cni_args_parse(raw, 14, &a, NULL), CNI_OK);
	assert_string_equal(a.pod_name, "x");
	/* Embedded NUL is a lie about the length. */
	assert_int_equal(cni_args_parse("K8S_POD_NAME=a\0b", 16, &a, NULL), CNI_ERR_INVALID_ENV);
}

static void test_versions(void **state)
{
	(void)state;
	assert_int_equal(cni_version_from_string("0.3.0"), CNI_VERSION_0_3_0);
	assert_int_equal(cni_version_from_string("1.1.0"), CNI_VERSION_1_1_0);
	assert_int_equal(cni_version_from_string("1.1"), CNI_VERSION_INVALID);
	assert_int_equal(cni_version_from_string("1.1.0 "), CNI_VERSION_INVALID);
	assert_int_equal(cni_version_from_string(NULL), CNI_VERSION_INVALID);
	assert_true(cni_version_is_semver("2.0.0"));
	assert_true(cni_version_is_semver("10.20.30"));
	assert_false(cni_version_is_semver("1.0"));
	assert_false(cni_version_is_semver("1.0.0-rc1"));
	assert_false(cni_version_is_semver("v1.0.0"));
	assert_false(cni_version_is_semver("1..0"));
	assert_false(cni_version_is_semver("123456.0.0"));
}

/* One 1.1.0 result printed in every version: fields appear and vanish per spec. */
static void test_result_conversion(void **state)
{
	(void)state;
	const char *in =
		"{\"cniVersion\":\"1.1.0\",\"interfaces\":[{\"name\":\"eth0\",\"mac\":"
		"\"02:00:00:00:00:02\",\"sandbox\":\"/var/run/netns/x\",\"mtu\":9000,"
		"\"socketPath\":\"/run/s.sock\",\"pciID\":\"0000:00:01.0\"}],\"ips\":[{\"address\":"
		"\"10.1.0.5/24\",\"gateway\":\"10.1.0.1\",\"interface\":0},{\"address\":"
		"\"fd00::5/64\"}],\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.1.0.1\",\"mtu\":"
		"1400,\"priority\":10,\"scope\":0}],\"dns\":{\"nameservers\":[\"10.1.0.10\"],"
		"\"search\":[\"a.test\"]}}";
	json_t *j = json_loads(in, 0, NULL);
	struct cni_result r;
	assert_int_equal(cni_result_parse(j, CNI_VERSION_1_1_0, &r, NULL), CNI_OK);
	json_decref(j);
	assert_int_equal(r.n_ifaces, 1);
	assert_int_equal(r.n_ips, 2);
	assert_int_equal(r.ips[1].family, 6);
	assert_int_equal(r.ips[1].iface, -1);
	for (int v = 0; v < CNI_VERSION_COUNT; v++) {
		json_t *o = cni_result_to_json(&r, (enum cni_version)v);
		assert_non_null(o);
		bool v11 = v == CNI_VERSION_1_1_0, v1 = v >= CNI_VERSION_1_0_0;
		json_t *if0 = json_array_get(json_object_get(o, "interfaces"), 0);
		json_t *ip0 = json_array_get(json_object_get(o, "ips"), 0);
		json_t *ip1 = json_array_get(json_object_get(o, "ips"), 1);
		json_t *rt0 = json_array_get(json_object_get(o, "routes"), 0);
		assert_string_equal(json_string_value(json_object_get(o, "cniVersion")),
				    cni_version_string((enum cni_version)v));
		assert_int_equal(json_object_get(if0, "socketPath") != NULL, v11);
		assert_int_equal(json_object_get(if0, "mtu") != NULL, v11);
		assert_int_equal(json_object_get(if0, "pciID") != NULL, v11);
		assert_int_equal(json_object_get(rt0, "mtu") != NULL, v11);
		assert_int_equal(json_object_get(rt0, "scope") != NULL, v11);
		assert_int_equal(json_object_get(ip0, "version") != NULL, !v1);
		if (!v1)
			assert_string_equal(json_string_value(json_object_get(ip1, "version")), "6");
		assert_null(json_object_get(ip1, "interface"));
		/* Round trip: what we print in version v parses back in version v. */
		struct cni_result back;
		assert_int_equal(cni_result_parse(o, (enum cni_version)v, &back, NULL), CNI_OK);
		assert_int_equal(back.n_ips, 2);
		assert_string_equal(back.ips[0].address, "10.1.0.5/24");
		json_decref(o);
	}
}

struct result_bad {
	const char *json;
	enum cni_version v;
};

static void test_result_rejects(void **state)
{
	(void)state;
	static const struct result_bad cases[] = {
		{ "[]", CNI_VERSION_1_1_0 },
		{ "{\"interfaces\":{}}", CNI_VERSION_1_1_0 },
		{ "{\"interfaces\":[{\"mac\":\"x\"}]}", CNI_VERSION_1_1_0 },
		{ "{\"interfaces\":[{\"name\":\"0123456789abcdef\"}]}", CNI_VERSION_1_1_0 },
		{ "{\"interfaces\":[{\"name\":\"\"}]}", CNI_VERSION_1_1_0 },
		{ "{\"ips\":[{\"address\":\"10.0.0.1\"}]}", CNI_VERSION_1_1_0 },
		{ "{\"ips\":[{\"address\":\"10.0.0.1/33\"}]}", CNI_VERSION_1_1_0 },
		{ "{\"ips\":[{\"address\":\"fd00::1/129\"}]}", CNI_VERSION_1_1_0 },
		{ "{\"ips\":[{\"address\":\"10.0.0.1/24\",\"gateway\":\"fd00::1\"}]}", CNI_VERSION_1_1_0 },
		{ "{\"ips\":[{\"address\":\"10.0.0.1/24\",\"interface\":-1}]}", CNI_VERSION_1_1_0 },
		{ "{\"ips\":[{\"address\":\"10.0.0.1/24\"}]}", CNI_VERSION_0_3_1 },
		{ "{\"ips\":[{\"address\":\"10.0.0.1/24\",\"version\":\"6\"}]}", CNI_VERSION_0_3_0 },
		{ "{\"routes\":[{\"gw\":\"10.0.0.1\"}]}", CNI_VERSION_1_1_0 },
		{ "{\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"::1\"}]}", CNI_VERSION_1_1_0 },
		{ "{\"routes\":[{\"dst\":\"0.0.0.0/0\",\"scope\":256}]}", CNI_VERSION_1_1_0 },
		{ "{\"routes\":[{\"dst\":\"0.0.0.0/0\",\"mtu\":-1}]}", CNI_VERSION_1_1_0 },
		{ "{\"dns\":[]}", CNI_VERSION_1_1_0 },
		{ "{\"dns\":{\"nameservers\":[\"not-an-ip\"]}}", CNI_VERSION_1_1_0 },
		{ "{\"dns\":{\"nameservers\":[\"1.1.1.1\",\"1.1.1.1\",\"1.1.1.1\",\"1.1.1.1\","
		  "\"1.1.1.1\",\"1.1.1.1\",\"1.1.1.1\",\"1.1.1.1\",\"1.1.1.1\"]}}", CNI_VERSION_1_1_0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
		struct cni_result r;
		struct cni_error err;
		print_message("result case %zu: %s\n", i + 1, cases[i].json);
		assert_int_equal(cni_result_parse(j, cases[i].v, &r, &err), CNI_ERR_DECODE);
		json_decref(j);
	}
}

static void test_result_append_rebases(void **state)
{
	(void)state;
	struct cni_result a, b;
	cni_result_init(&a);
	cni_result_init(&b);
	a.n_ifaces = 2;
	strcpy(a.ifaces[0].name, "x");
	strcpy(a.ifaces[1].name, "y");
	b.n_ifaces = 1;
	strcpy(b.ifaces[0].name, "eth0");
	b.n_ips = 1;
	b.ips[0].family = 4;
	strcpy(b.ips[0].address, "10.0.0.2/24");
	b.ips[0].iface = 0;
	assert_int_equal(cni_result_append(&a, &b, NULL), CNI_OK);
	assert_int_equal(a.n_ifaces, 3);
	assert_int_equal(a.ips[0].iface, 2);
	/* Overflow leaves dst untouched. */
	struct cni_result big;
	cni_result_init(&big);
	big.n_ifaces = CNI_RESULT_MAX_IFACES;
	assert_int_equal(cni_result_append(&big, &b, NULL), CNI_ERR_INTERNAL);
	assert_int_equal(big.n_ifaces, CNI_RESULT_MAX_IFACES);
}

static void test_config_defaults_and_ports(void **state)
{
	(void)state;
	const char *in = "{\"cniVersion\":\"1.0.0\",\"name\":\"net-1.a_b\",\"type\":\"sluice-cni\","
			 "\"capabilities\":{\"portMappings\":true},\"runtimeConfig\":{\"portMappings\":"
			 "[{\"HostPort\":80,\"ContainerPort\":8080,\"Protocol\":\"UDP\"},"
			 "{\"hostPort\":443,\"containerPort\":8443,\"hostIP\":\"127.0.0.1\"}],"
			 "\"ips\":[\"10.0.0.9/24\"]}}";
	struct cni_error err;
	struct cni_config *c = cni_config_parse(in, strlen(in), &err);
	assert_non_null(c);
	assert_int_equal(c->version, CNI_VERSION_1_0_0);
	assert_int_equal(c->mode, CNI_MODE_VETH);
	assert_int_equal(c->timeout_ms, 2000);
	assert_string_equal(c->agent_socket, "ipc:///run/sluice/agent.ipc");
	assert_int_equal(c->n_ports, 2);
	assert_int_equal(c->ports[0].host_port, 80);
	assert_string_equal(c->ports[0].protocol, "udp");
	assert_string_equal(c->ports[1].protocol, "tcp");
	assert_string_equal(c->ports[1].host_ip, "127.0.0.1");
	assert_int_equal(c->n_req_ips, 1);
	assert_false(c->has_prev_result);
	cni_config_free(c);
	cni_config_free(NULL);
	/* Version peeking for error labels. */
	assert_int_equal(cni_config_peek_version("{\"cniVersion\":\"0.3.1\"}", 22), CNI_VERSION_0_3_1);
	assert_int_equal(cni_config_peek_version("zzz", 3), CNI_VERSION_LATEST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args_table),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_result_conversion),
		cmocka_unit_test(test_result_rejects),
		cmocka_unit_test(test_result_append_rebases),
		cmocka_unit_test(test_config_defaults_and_ports),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
