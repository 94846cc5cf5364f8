/*
 * Unit tests of api_objects: a valid object of each kind decodes with the
 * right metadata and store key; numbered invalid documents fail with the
 * right HTTP class (400 / 413 / 422), the offending field path and a
 * message naming it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api_objects.h"

#define POD_OK                                                                 \
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":"      \
	"\"web-1\",\"namespace\":\"shop\",\"uid\":"                            \
	"\"0f3c2a8e-1b2d-4c5e-8f90-a1b2c3d4e5f6\",\"resourceVersion\":"        \
	"\"42\",\"labels\":{\"app\":\"web\",\"sluice.io/tier\":\"front\"},"    \
	"\"creationTimestamp\":\"2026-11-25T03:00:00Z\"},\"spec\":{"           \
	"\"nodeName\":\"node-a\",\"containers\":[{\"name\":\"nginx\","         \
	"\"image\":\"nginx:1.25\",\"ports\":[{\"containerPort\":80,"           \
	"\"name\":\"http\",\"protocol\":\"TCP\"}],\"env\":[{\"name\":"         \
	"\"MODE\",\"value\":\"prod\"}]}]},\"status\":{\"phase\":\"Running\","  \
	"\"podIP\":\"10.244.1.7\"}}"

static void test_valid_objects(void **state)
{
	(void)state;
	struct api_obj_error err;
	char key[256];
	struct api_obj *o = api_obj_decode(POD_OK, strlen(POD_OK), API_OBJ_POD,
					   &err);
	if (o == NULL)
		fail_msg("%s", err.errmsg);
	assert_int_equal(api_obj_kind(o), API_OBJ_POD);
	assert_string_equal(api_obj_name(o), "web-1");
	assert_string_equal(api_obj_namespace(o), "shop");
	assert_string_equal(api_obj_uid(o),
			    "0f3c2a8e-1b2d-4c5e-8f90-a1b2c3d4e5f6");
	assert_int_equal(api_obj_resource_version(o), 42);
	assert_string_equal(api_obj_label(o, "sluice.io/tier"), "front");
	assert_null(api_obj_label(o, "missing"));
	assert_int_equal(api_obj_store_key(o, key, sizeof(key)),
			 strlen("/registry/pods/shop/web-1"));
	assert_string_equal(key, "/registry/pods/shop/web-1");
	assert_non_null(json_object_get(api_obj_json(o), "spec"));
	api_obj_free(o);

	static const struct {
		enum api_obj_kind kind;
		const char *json;
		const char *key;
	} ok[] = {
		{API_OBJ_NODE,
		 "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":"
		 "{\"name\":\"node-a\"},\"spec\":{\"podCIDR\":\"10.244.1.0/24\","
		 "\"podCIDRs\":[\"10.244.1.0/24\",\"fd00:1::/64\"]},\"status\":"
		 "{\"addresses\":[{\"type\":\"InternalIP\",\"address\":"
		 "\"192.168.50.2\"},{\"type\":\"Hostname\",\"address\":"
		 "\"node-a\"}],\"conditions\":[{\"type\":\"Ready\",\"status\":"
		 "\"True\"}]}}",
		 "/registry/nodes/node-a"},
		{API_OBJ_SERVICE,
		 "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":"
		 "{\"name\":\"web\"},\"spec\":{\"type\":\"NodePort\",\"selector\":"
		 "{\"app\":\"web\"},\"clusterIP\":\"10.96.0.10\",\"ports\":["
		 "{\"name\":\"http\",\"port\":80,\"targetPort\":\"http\","
		 "\"nodePort\":30080},{\"name\":\"https\",\"port\":443,"
		 "\"targetPort\":8443}]}}",
		 "/registry/services/default/web"},
		{API_OBJ_ENDPOINTS,
		 "{\"apiVersion\":\"v1\",\"kind\":\"Endpoints\",\"metadata\":"
		 "{\"name\":\"web\",\"namespace\":\"shop\"},\"subsets\":[{"
		 "\"addresses\":[{\"ip\":\"10.244.1.7\",\"nodeName\":\"node-a\"}],"
		 "\"notReadyAddresses\":[{\"ip\":\"fd00::7\"}],\"ports\":[{"
		 "\"port\":80,\"protocol\":\"TCP\"}]}]}",
		 "/registry/endpoints/shop/web"},
		{API_OBJ_DEPLOYMENT,
		 "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
		 "\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":3,"
		 "\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":"
		 "{\"metadata\":{\"labels\":{\"app\":\"web\",\"v\":\"2\"}},"
		 "\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"w\"}]}},"
		 "\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{"
		 "\"maxSurge\":\"25%\",\"maxUnavailable\":0}}},\"status\":{"
		 "\"replicas\":3,\"readyReplicas\":2}}",
		 "/registry/deployments/default/web"},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		o = api_obj_decode(ok[i].json, strlen(ok[i].json), API_OBJ_ANY,
				   &err);
		if (o == NULL)
			fail_msg("ok case %zu: %s", i + 1, err.errmsg);
		assert_int_equal(api_obj_kind(o), ok[i].kind);
		api_obj_store_key(o, key, sizeof(key));
		assert_string_equal(key, ok[i].key);
		api_obj_free(o);
	}
}

/* Build a pod document with one spliced fragment. */
static char *pod_with(const char *meta, const char *spec)
{
	static char buf[2048];
	snprintf(buf, sizeof(buf),
		 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{%s},"
		 "\"spec\":{%s}}",
		 meta, spec);
	return buf;
}

#define C1 "\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]"

static void test_invalid_objects(void **state)
{
	(void)state;
	static const struct {
		const char *meta; /* NULL: use raw */
		const char *spec;
		const char *raw;
		int status;
		const char *field;
		const char *msg;
	} cases[] = {
		/* 1 */ {NULL, NULL, "{\"kind\":", 400, "", "invalid JSON"},
		/* 2 */ {NULL, NULL, "[1,2]", 400, "", "expected a JSON object"},
		/* 3 */ {NULL, NULL, "{\"kind\":\"Pod\"}", 400, "", "apiVersion"},
		/* 4 */ {NULL, NULL, "{\"kind\":\"Gadget\",\"apiVersion\":\"v1\"}",
			 400, "", "no kind \"Gadget\""},
		/* 5 */ {NULL, NULL,
			 "{\"kind\":\"Deployment\",\"apiVersion\":\"v1\"}", 400,
			 "", "apps/v1"},
		/* 6 */ {"", C1, NULL, 422, "metadata.name", "Required value"},
		/* 7 */ {"\"name\":\"Web\"", C1, NULL, 422, "metadata.name",
			 "DNS-1123"},
		/* 8 */ {"\"name\":7", C1, NULL, 400, "metadata.name",
			 "expected string, got integer"},
		/* 9 */ {"\"name\":\"w\",\"namespace\":\"a.b\"", C1, NULL, 422,
			 "metadata.namespace", "DNS-1123 label"},
		/* 10 */ {"\"name\":\"w\",\"uid\":\"xyz\"", C1, NULL, 422,
			  "metadata.uid", "UUID"},
		/* 11 */ {"\"name\":\"w\",\"resourceVersion\":\"12a\"", C1, NULL,
			  422, "metadata.resourceVersion", "decimal"},
		/* 12 */ {"\"name\":\"w\",\"labels\":{\"-bad\":\"x\"}", C1, NULL,
			  422, "metadata.labels", "qualified name"},
		/* 13 */ {"\"name\":\"w\",\"labels\":{\"ok\":\"a b\"}", C1, NULL,
			  422, "metadata.labels.ok", "label value"},
		/* 14 */ {"\"name\":\"w\",\"creationTimestamp\":\"yesterday\"",
			  C1, NULL, 422, "metadata.creationTimestamp",
			  "RFC 3339"},
		/* 15 */ {"\"name\":\"w\"", "", NULL, 422, "spec.containers",
			  "Required value"},
		/* 16 */ {"\"name\":\"w\"", "\"containers\":[]", NULL, 422,
			  "spec.containers", "Required value"},
		/* 17 */ {"\"name\":\"w\"",
			  "\"containers\":[{\"name\":\"c\"}]", NULL, 422,
			  "spec.containers[0].image", "Required value"},
		/* 18 */ {"\"name\":\"w\"",
			  "\"containers\":[{\"name\":\"c\",\"image\":\"i\"},"
			  "{\"name\":\"c\",\"image\":\"i\"}]",
			  NULL, 422, "spec.containers[1].name", "Duplicate"},
		/* 19 */ {"\"name\":\"w\"",
			  "\"containers\":[{\"name\":\"c\",\"image\":\"i\","
			  "\"ports\":[{\"containerPort\":70000}]}]",
			  NULL, 422, "spec.containers[0].ports[0].containerPort",
			  "between 1 and 65535"},
		/* 20 */ {"\"name\":\"w\"",
			  "\"containers\":[{\"name\":\"c\",\"image\":\"i\","
			  "\"ports\":[{\"containerPort\":80,\"protocol\":"
			  "\"ICMP\"}]}]",
			  NULL, 422, "spec.containers[0].ports[0].protocol",
			  "TCP"},
		/* 21 */ {"\"name\":\"w\"", C1 ",\"restartPolicy\":\"Sometimes\"",
			  NULL, 422, "spec.restartPolicy",
			  "Unsupported value"},
		/* 22 */ {"\"name\":\"w\"",
			  "\"containers\":[{\"name\":\"c\",\"image\":\"i\","
			  "\"env\":[{\"name\":\"1X\"}]}]",
			  NULL, 422, "spec.containers[0].env[0].name",
			  "environment variable"},
		/* 23 */ {"\"name\":\"w\"", "\"containers\":{}", NULL, 400,
			  "spec.containers", "expected array"},
		/* 24 */ {"\"name\":\"w\"",
			  "\"containers\":[{\"name\":\"c\",\"image\":\"i\","
			  "\"ports\":[{\"containerPort\":8.5}]}]",
			  NULL, 400, "spec.containers[0].ports[0].containerPort",
			  "got number"},
		/* 25 */ {NULL, NULL,
			  "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"kind\":\"Pod\"}",
			  400, "", "duplicate"},
		/* 26 */ {NULL, NULL,
			  "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":"
			  "{\"name\":\"n\",\"namespace\":\"x\"}}",
			  422, "metadata.namespace", "Forbidden"},
		/* 27 */ {NULL, NULL,
			  "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":"
			  "{\"name\":\"n\"},\"spec\":{\"podCIDR\":\"10.0.0.0/33\"}}",
			  422, "spec.podCIDR", "CIDR"},
		/* 28 */ {NULL, NULL,
			  "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":"
			  "{\"name\":\"1web\"},\"spec\":{\"ports\":[{\"port\":80}]}}",
			  422, "metadata.name", "DNS-1035"},
		/* 29 */ {NULL, NULL,
			  "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":"
			  "{\"name\":\"web\"},\"spec\":{\"ports\":[{\"port\":80},"
			  "{\"name\":\"b\",\"port\":81}]}}",
			  422, "spec.ports[0].name", "Required value"},
		/* 30 */ {NULL, NULL,
			  "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":"
			  "{\"name\":\"web\"},\"spec\":{\"ports\":[{\"port\":80,"
			  "\"nodePort\":30001}]}}",
			  422, "spec.ports[0].nodePort", "Forbidden"},
		/* 31 */ {NULL, NULL,
			  "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":"
			  "{\"name\":\"web\"},\"spec\":{\"clusterIP\":\"10.1\","
			  "\"ports\":[{\"port\":80}]}}",
			  422, "spec.clusterIP", "IP"},
		/* 32 */ {NULL, NULL,
			  "{\"apiVersion\":\"v1\",\"kind\":\"Endpoints\","
			  "\"metadata\":{\"name\":\"web\"},\"subsets\":[{"
			  "\"addresses\":[{\"ip\":\"999.1.1.1\"}]}]}",
			  422, "subsets[0].addresses[0].ip", "IP"},
		/* 33 */ {NULL, NULL,
			  "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
			  "\"metadata\":{\"name\":\"d\"},\"spec\":{\"selector\":"
			  "{\"matchLabels\":{\"app\":\"a\"}},\"template\":{"
			  "\"metadata\":{\"labels\":{\"app\":\"b\"}},\"spec\":{"
			  C1 "}}}}",
			  422, "spec.template.metadata.labels",
			  "selector does not match"},
		/* 34 */ {NULL, NULL,
			  "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
			  "\"metadata\":{\"name\":\"d\"},\"spec\":{\"replicas\":-1,"
			  "\"selector\":{\"matchLabels\":{\"app\":\"a\"}}}}",
			  422, "spec.replicas", "between 0"},
		/* 35 */ {NULL, NULL,
			  "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
			  "\"metadata\":{\"name\":\"d\"},\"spec\":{\"selector\":"
			  "{\"matchLabels\":{}}}}",
			  422, "spec.selector.matchLabels", "Required value"},
		/* 36 */ {NULL, NULL,
			  "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
			  "\"metadata\":{\"name\":\"d\"},\"spec\":{\"selector\":"
			  "{\"matchLabels\":{\"a\":\"b\"}},\"template\":{"
			  "\"metadata\":{\"labels\":{\"a\":\"b\"}},\"spec\":{"
			  C1 "}},\"strategy\":{\"rollingUpdate\":{\"maxSurge\":"
			  "\"150%\"}}}}",
			  422, "spec.strategy.rollingUpdate.maxSurge",
			  "percentage"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *doc = cases[i].raw
					  ? cases[i].raw
					  : pod_with(cases[i].meta, cases[i].spec);
		struct api_obj_error err;
		struct api_obj *o = api_obj_decode(doc, strlen(doc),
						   API_OBJ_ANY, &err);
		if (o != NULL)
			fail_msg("case %zu accepted", i + 1);
		if (err.status != cases[i].status ||
		    strcmp(err.field, cases[i].field) != 0 ||
		    strstr(err.errmsg, cases[i].msg) == NULL)
			fail_msg("case %zu: %d field '%s' msg '%s'", i + 1,
				 err.status, err.field, err.errmsg);
	}
}

static void test_messages_and_limits(void **state)
{
	(void)state;
	struct api_obj_error err;
	const char *doc = pod_with("\"name\":\"web\"",
				   "\"containers\":[{\"name\":\"c\"}]");
	assert_null(api_obj_decode(doc, strlen(doc), API_OBJ_POD, &err));
	/* The API server's 422 wording. */
	assert_string_equal(err.errmsg,
			    "Pod \"web\" is invalid: spec.containers[0].image: "
			    "Required value");
	assert_int_equal(err.code, API_OBJ_ERR_INVALID);
	assert_string_equal(api_obj_strerror(err.code), "unprocessable entity");

	/* The expected kind is enforced. */
	assert_null(api_obj_decode(POD_OK, strlen(POD_OK), API_OBJ_NODE, &err));
	assert_int_equal(err.status, 400);
	assert_non_null(strstr(err.errmsg, "expected \"Node\""));

	/* Size bound before parsing. */
	size_t big = API_OBJ_MAX_BYTES + 1;
	char *b = malloc(big);
	memset(b, ' ', big);
	assert_null(api_obj_decode(b, big, API_OBJ_ANY, &err));
	assert_int_equal(err.status, 413);
	free(b);
	/* Embedded NUL is not JSON. */
	assert_null(api_obj_decode("{\"a\":\"\\u0000\"}", 14, API_OBJ_ANY,
				   &err));
	assert_int_equal(err.status, 400);
	/* err may be NULL. */
	assert_null(api_obj_decode("nope", 4, API_OBJ_ANY, NULL));
	api_obj_free(NULL);
	assert_int_equal(api_obj_http_status(99), 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_objects),
		cmocka_unit_test(test_invalid_objects),
		cmocka_unit_test(test_messages_and_limits),
	};
	return cmocka_run_group_tests_name("api_objects", tests, NULL, NULL);
}
