/*
 * test_api_kv: the etcd-gateway translation core (ctrl/api_kv.c) against a
 * real store: JSON request -> store command -> store_apply -> JSON
 * response, byte for byte where etcd's format is fixed (field names,
 * int64 as strings, base64), and the rejection of bad requests with the
 * field named and etcd's gRPC code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api_kv.h"
#include "store.h"
#include "store_cmd.h"

/* Apply a decoded mutation to s; returns the response JSON as a string
 * (caller frees) or the error JSON. */
static char *kv_apply(struct store *s, enum api_kv_ep ep, const char *body)
{
	struct api_kv_req req;
	struct api_kv_err err;
	json_t *out;

	if (api_kv_decode(ep, body, strlen(body), &req, &err) < 0) {
		out = api_kv_err_json(&err);
	} else if (ep == API_KV_RANGE) {
		struct store_op_result r;
		int rc = store_range(s, &req.range, &r);
		if (rc != STORE_OK) {
			api_kv_err_from_store(rc, store_errmsg(s), &err);
			out = api_kv_err_json(&err);
		} else {
			struct api_kv_header h = {.revision =
							  store_revision(s)};
			out = api_kv_range_json(&req, &r, &h);
			store_op_result_clear(&r);
		}
		api_kv_req_clear(&req);
	} else {
		uint8_t *cmd;
		size_t len;
		char msg[STORE_ERRMSG_SIZE];
		struct store_result res = {0};
		if (ep == API_KV_LEASE_GRANT && req.cmd.lease_id == 0)
			req.cmd.lease_id = 7;
		assert_int_equal(store_cmd_encode(&req.cmd, &cmd, &len, msg),
				 STORE_OK);
		store_apply(s, 0, cmd, len, &res);
		free(cmd);
		if (res.err != STORE_OK) {
			api_kv_err_from_store(res.err, res.errmsg, &err);
			out = api_kv_err_json(&err);
		} else {
			struct api_kv_header h = {.revision = res.revision};
			out = api_kv_result_json(&req, &res, &h);
		}
		store_result_clear(&res);
		api_kv_req_clear(&req);
	}
	assert_non_null(out);
	char *s_out = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(out);
	return s_out;
}

static void expect_apply(struct store *s, enum api_kv_ep ep, const char *body,
			 const char *want)
{
	char *got = kv_apply(s, ep, body);
	if (strcmp(got, want) != 0)
		fail_msg("request %s\n got  %s\n want %s", body, got, want);
	free(got);
}

/* "foo"=Zm9v "bar"=YmFy "baz"=YmF6 "fop"=Zm9w "zoo"=em9v */
static void test_put_range(void **state)
{
	(void)state;
	struct store *s = store_create(NULL);
	expect_apply(s, API_KV_PUT, "{\"key\":\"Zm9v\",\"value\":\"YmFy\"}",
		     "{\"header\":{\"revision\":\"2\"}}");
	expect_apply(s, API_KV_PUT,
		     "{\"key\":\"Zm9v\",\"value\":\"YmF6\",\"prev_kv\":true}",
		     "{\"header\":{\"revision\":\"3\"},\"prev_kv\":{"
		     "\"create_revision\":\"2\",\"key\":\"Zm9v\","
		     "\"mod_revision\":\"2\",\"value\":\"YmFy\","
		     "\"version\":\"1\"}}");
	expect_apply(s, API_KV_RANGE, "{\"key\":\"Zm9v\"}",
		     "{\"count\":\"1\",\"header\":{\"revision\":\"3\"},\"kvs\":"
		     "[{\"create_revision\":\"2\",\"key\":\"Zm9v\","
		     "\"mod_revision\":\"3\",\"value\":\"YmF6\","
		     "\"version\":\"2\"}]}");
	/* A miss has no kvs (etcd omits empty fields) but a count. */
	expect_apply(s, API_KV_RANGE, "{\"key\":\"em9v\"}",
		     "{\"count\":\"0\",\"header\":{\"revision\":\"3\"}}");
	/* Old revision, as a number instead of a string (jsonpb accepts
	 * both), and camelCase names. */
	expect_apply(s, API_KV_RANGE,
		     "{\"key\":\"Zm9v\",\"revision\":2,\"keysOnly\":true}",
		     "{\"count\":\"1\",\"header\":{\"revision\":\"3\"},\"kvs\":"
		     "[{\"create_revision\":\"2\",\"key\":\"Zm9v\","
		     "\"mod_revision\":\"2\",\"version\":\"1\"}]}");
	expect_apply(s, API_KV_PUT, "{\"key\":\"Zm9w\",\"value\":\"\"}",
		     "{\"header\":{\"revision\":\"4\"}}");
	/* Prefix "fo" = [Zm8=, Zm9w) ... limit 1 says more. */
	expect_apply(s, API_KV_RANGE,
		     "{\"key\":\"Zm8=\",\"range_end\":\"Zm9w\",\"limit\":\"1\","
		     "\"count_only\":false}",
		     "{\"count\":\"1\",\"header\":{\"revision\":\"4\"},\"kvs\":"
		     "[{\"create_revision\":\"2\",\"key\":\"Zm9v\","
		     "\"mod_revision\":\"3\",\"value\":\"YmF6\","
		     "\"version\":\"2\"}]}");
	expect_apply(s, API_KV_RANGE,
		     "{\"key\":\"Zm8=\",\"range_end\":\"AA==\",\"limit\":\"1\"}",
		     "{\"count\":\"2\",\"header\":{\"revision\":\"4\"},\"kvs\":"
		     "[{\"create_revision\":\"2\",\"key\":\"Zm9v\","
		     "\"mod_revision\":\"3\",\"value\":\"YmF6\","
		     "\"version\":\"2\"}],\"more\":true}");
	expect_apply(s, API_KV_DELETE,
		     "{\"key\":\"Zm8=\",\"range_end\":\"AA==\"}",
		     "{\"deleted\":\"2\",\"header\":{\"revision\":\"5\"}}");
	expect_apply(s, API_KV_DELETE, "{\"key\":\"Zm9v\"}",
		     "{\"deleted\":\"0\",\"header\":{\"revision\":\"5\"}}");
	store_free(s);
}

static void test_txn(void **state)
{
	(void)state;
	struct store *s = store_create(NULL);
	expect_apply(s, API_KV_PUT, "{\"key\":\"Zm9v\",\"value\":\"YmFy\"}",
		     "{\"header\":{\"revision\":\"2\"}}");
	/* CAS on mod_revision, the linearizability driver's shape. */
	const char *cas = "{\"compare\":[{\"key\":\"Zm9v\",\"target\":\"MOD\","
			  "\"result\":\"EQUAL\",\"mod_revision\":\"2\"}],"
			  "\"success\":[{\"request_put\":{\"key\":\"Zm9v\","
			  "\"value\":\"YmF6\"}}],"
			  "\"failure\":[{\"request_range\":{\"key\":\"Zm9v\"}}]}";
	expect_apply(s, API_KV_TXN, cas,
		     "{\"header\":{\"revision\":\"3\"},\"responses\":[{"
		     "\"response_put\":{\"header\":{\"revision\":\"3\"}}}],"
		     "\"succeeded\":true}");
	/* Same txn again: mod_revision is now 3, the failure branch reads. */
	expect_apply(s, API_KV_TXN, cas,
		     "{\"header\":{\"revision\":\"3\"},\"responses\":[{"
		     "\"response_range\":{\"count\":\"1\",\"header\":{"
		     "\"revision\":\"3\"},\"kvs\":[{\"create_revision\":\"2\","
		     "\"key\":\"Zm9v\",\"mod_revision\":\"3\",\"value\":"
		     "\"YmF6\",\"version\":\"2\"}]}}],\"succeeded\":false}");
	/* Compare on value with numeric enums (VALUE=3, NOT_EQUAL=3), and
	 * a delete with prev_kv. */
	expect_apply(s, API_KV_TXN,
		     "{\"compare\":[{\"key\":\"Zm9v\",\"target\":3,\"result\":3,"
		     "\"value\":\"YmFy\"}],\"success\":[{"
		     "\"request_delete_range\":{\"key\":\"Zm9v\",\"prev_kv\":"
		     "true}}]}",
		     "{\"header\":{\"revision\":\"4\"},\"responses\":[{"
		     "\"response_delete_range\":{\"deleted\":\"1\",\"header\":{"
		     "\"revision\":\"4\"},\"prev_kvs\":[{\"create_revision\":"
		     "\"2\",\"key\":\"Zm9v\",\"mod_revision\":\"3\",\"value\":"
		     "\"YmF6\",\"version\":\"2\"}]}}],\"succeeded\":true}");
	/* Create-if-absent: version = 0 (the proto default target and
	 * result, so both may be omitted). */
	const char *create = "{\"compare\":[{\"key\":\"Zm9v\"}],\"success\":[{"
			     "\"request_put\":{\"key\":\"Zm9v\",\"value\":"
			     "\"YmFy\"}}]}";
	expect_apply(s, API_KV_TXN, create,
		     "{\"header\":{\"revision\":\"5\"},\"responses\":[{"
		     "\"response_put\":{\"header\":{\"revision\":\"5\"}}}],"
		     "\"succeeded\":true}");
	expect_apply(s, API_KV_TXN, create,
		     "{\"header\":{\"revision\":\"5\"},\"responses\":[],"
		     "\"succeeded\":false}");
	/* The store's txn rules surface with etcd's wording. */
	expect_apply(s, API_KV_TXN,
		     "{\"success\":[{\"request_put\":{\"key\":\"YQ==\"}},"
		     "{\"request_put\":{\"key\":\"YQ==\"}}]}",
		     "{\"code\":3,\"error\":\"etcdserver: duplicate key given "
		     "in txn request\",\"message\":\"etcdserver: duplicate key "
		     "given in txn request\"}");
	store_free(s);
}

/* Sort orders, revision filters and the limit applied after them, as
 * etcd: keys a(v1) b(v3) c(v2), so by version: a c b. */
static void test_range_sort_filter(void **state)
{
	(void)state;
	struct store *s = store_create(NULL);
	static const char *const puts[] = {
		"{\"key\":\"Yg==\",\"value\":\"MQ==\"}", /* b rev 2 */
		"{\"key\":\"Yw==\",\"value\":\"Mg==\"}", /* c rev 3 */
		"{\"key\":\"Yg==\",\"value\":\"Mw==\"}", /* b rev 4 */
		"{\"key\":\"YQ==\",\"value\":\"NA==\"}", /* a rev 5 */
		"{\"key\":\"Yg==\",\"value\":\"NQ==\"}", /* b rev 6 */
		"{\"key\":\"Yw==\",\"value\":\"Ng==\"}", /* c rev 7 */
	};
	for (size_t i = 0; i < 6; i++) {
		char *r = kv_apply(s, API_KV_PUT, puts[i]);
		free(r);
	}
	static const struct {
		const char *body;
		const char *keys; /* base64 keys in answer order, then more */
	} cases[] = {
		{"\"sort_order\":\"DESCEND\"", "Yw== Yg== YQ== "},
		{"\"sort_target\":\"VERSION\"", "YQ== Yw== Yg== "},
		{"\"sort_target\":\"VERSION\",\"sort_order\":\"DESCEND\","
		 "\"limit\":\"2\"", "Yg== Yw== more"},
		{"\"sort_target\":\"CREATE\",\"sort_order\":\"ASCEND\"",
		 "Yg== Yw== YQ== "},
		{"\"sort_target\":\"VALUE\",\"sort_order\":\"DESCEND\"",
		 "Yw== Yg== YQ== "},
		{"\"min_mod_revision\":\"6\"", "Yg== Yw== "},
		{"\"max_create_revision\":\"3\",\"limit\":1",
		 "Yg== more"},
		{"\"min_create_revision\":\"5\",\"max_mod_revision\":\"5\"",
		 "YQ== "},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char body[256], got[128] = "";
		snprintf(body, sizeof(body),
			 "{\"key\":\"YQ==\",\"range_end\":\"ZA==\",%s}",
			 cases[i].body);
		char *out = kv_apply(s, API_KV_RANGE, body);
		json_t *j = json_loads(out, 0, NULL);
		size_t k;
		json_t *kv;
		json_array_foreach(json_object_get(j, "kvs"), k, kv) {
			strcat(got, json_string_value(json_object_get(kv, "key")));
			strcat(got, " ");
		}
		if (json_is_true(json_object_get(j, "more")))
			strcat(got, "more");
		/* count is the range's, before filters and limit (etcd). */
		if (strcmp(got, cases[i].keys) != 0 ||
		    strcmp(json_string_value(json_object_get(j, "count")), "3"))
			fail_msg("case %zu %s: got \"%s\" from %s", i + 1, body,
				 got, out);
		json_decref(j);
		free(out);
	}
	store_free(s);
}

static void test_store_errors(void **state)
{
	(void)state;
	struct store_params sp = {.quota_bytes = 4096};
	struct store *s = store_create(&sp);
	expect_apply(s, API_KV_PUT, "{\"key\":\"YQ==\",\"value\":\"YQ==\"}",
		     "{\"header\":{\"revision\":\"2\"}}");
	expect_apply(s, API_KV_PUT, "{\"key\":\"YQ==\",\"value\":\"Yg==\"}",
		     "{\"header\":{\"revision\":\"3\"}}");
	expect_apply(s, API_KV_COMPACT, "{\"revision\":\"3\"}",
		     "{\"header\":{\"revision\":\"3\"}}");
	expect_apply(s, API_KV_RANGE, "{\"key\":\"YQ==\",\"revision\":\"2\"}",
		     "{\"code\":11,\"error\":\"etcdserver: mvcc: required "
		     "revision has been compacted\",\"message\":\"etcdserver: "
		     "mvcc: required revision has been compacted\"}");
	expect_apply(s, API_KV_RANGE, "{\"key\":\"YQ==\",\"revision\":\"9\"}",
		     "{\"code\":11,\"error\":\"etcdserver: mvcc: required "
		     "revision is a future revision\",\"message\":\"etcdserver: "
		     "mvcc: required revision is a future revision\"}");
	/* 6000 bytes of value over a 4096-byte quota. */
	char big[8300 + 64];
	strcpy(big, "{\"key\":\"Yg==\",\"value\":\"");
	size_t at = strlen(big);
	memset(big + at, 'A', 8000);
	strcpy(big + at + 8000, "\"}");
	expect_apply(s, API_KV_PUT, big,
		     "{\"code\":8,\"error\":\"etcdserver: mvcc: database space "
		     "exceeded\",\"message\":\"etcdserver: mvcc: database "
		     "space exceeded\"}");
	struct api_kv_err e;
	api_kv_err_from_store(STORE_ERR_NOSPACE, "", &e);
	assert_int_equal(e.http, 507);
	api_kv_err_from_store(STORE_ERR_LEASE_NOT_FOUND, "", &e);
	assert_int_equal(e.http, 404);
	assert_int_equal(e.grpc, 5);
	expect_apply(s, API_KV_LEASE_KEEPALIVE, "{\"ID\":\"99\"}",
		     "{\"code\":5,\"error\":\"etcdserver: requested lease not "
		     "found\",\"message\":\"etcdserver: requested lease not "
		     "found\"}");
	store_free(s);
}

static void test_lease(void **state)
{
	(void)state;
	struct store *s = store_create(NULL);
	expect_apply(s, API_KV_LEASE_GRANT, "{\"TTL\":\"30\"}",
		     "{\"ID\":\"7\",\"TTL\":\"30\",\"header\":{\"revision\":"
		     "\"1\"}}");
	/* etcd raises a TTL below its minimum to 2 s. */
	expect_apply(s, API_KV_LEASE_GRANT, "{\"TTL\":1,\"ID\":\"8\"}",
		     "{\"ID\":\"8\",\"TTL\":\"2\",\"header\":{\"revision\":"
		     "\"1\"}}");
	expect_apply(s, API_KV_PUT,
		     "{\"key\":\"YQ==\",\"value\":\"YQ==\",\"lease\":\"7\"}",
		     "{\"header\":{\"revision\":\"2\"}}");
	expect_apply(s, API_KV_RANGE, "{\"key\":\"YQ==\"}",
		     "{\"count\":\"1\",\"header\":{\"revision\":\"2\"},\"kvs\":"
		     "[{\"create_revision\":\"2\",\"key\":\"YQ==\",\"lease\":"
		     "\"7\",\"mod_revision\":\"2\",\"value\":\"YQ==\","
		     "\"version\":\"1\"}]}");
	expect_apply(s, API_KV_LEASE_KEEPALIVE, "{\"ID\":\"7\"}",
		     "{\"result\":{\"ID\":\"7\",\"TTL\":\"30\",\"header\":{"
		     "\"revision\":\"2\"}}}");
	expect_apply(s, API_KV_LEASE_REVOKE, "{\"ID\":\"7\"}",
		     "{\"header\":{\"revision\":\"3\"}}");
	expect_apply(s, API_KV_RANGE, "{\"key\":\"YQ==\"}",
		     "{\"count\":\"0\",\"header\":{\"revision\":\"3\"}}");
	store_free(s);
}

/* Numbered invalid requests: HTTP status, gRPC code, message. */
static void test_rejects(void **state)
{
	(void)state;
	static const struct {
		enum api_kv_ep ep;
		const char *body;
		int http, grpc;
		const char *msg;
	} cases[] = {
		/* 1 */ {API_KV_PUT, "{\"value\":\"YQ==\"}", 400, 3,
			 "etcdserver: key is not provided"},
		/* 2 */ {API_KV_PUT, "{\"key\":\"a!==\"}", 400, 3,
			 "key: illegal base64 data"},
		/* 3 */ {API_KV_PUT, "[1]", 400, 3,
			 "request body must be a JSON object"},
		/* 4 */ {API_KV_PUT, "{\"key\":", 400, 3, "invalid JSON"},
		/* 5 */ {API_KV_RANGE, "{\"key\":\"YQ==\",\"limit\":\"x\"}",
			 400, 3, "limit: invalid int64 \"x\""},
		/* 6 */ {API_KV_TXN,
			 "{\"compare\":[{\"key\":\"YQ==\",\"target\":\"MODD\"}]}",
			 400, 3, "compare[0].target: unknown value \"MODD\""},
		/* 7 */ {API_KV_TXN,
			 "{\"success\":[{\"request_put\":{\"key\":\"YQ==\"}},"
			 "{\"request_put\":{\"key\":7}}]}",
			 400, 3,
			 "success[1].request_put.key: expected a base64 string"},
		/* 8 */ {API_KV_TXN, "{\"success\":[{\"request_nope\":{}}]}",
			 400, 3, "success[0]: expected one of request_put"},
		/* 9 */ {API_KV_TXN,
			 "{\"failure\":[{\"request_range\":{\"key\":\"YQ==\","
			 "\"revision\":\"3\"}}]}",
			 400, 3, "failure[0].request_range.revision: a range "
				 "inside a txn"},
		/* 10 */ {API_KV_COMPACT, "{}", 400, 3,
			  "revision: must be positive"},
		/* 11 */ {API_KV_LEASE_REVOKE, "{\"ID\":\"0\"}", 400, 3,
			  "ID: must be a positive lease id"},
		/* 12 */ {API_KV_TXN,
			  "{\"success\":[{\"request_range\":{\"key\":\"YQ==\","
			  "\"sort_order\":\"DESCEND\"}}]}", 400, 3,
			  "success[0].request_range.sort_order: sorting"},
		/* 13 */ {API_KV_WATCH, "{\"cancel_request\":{}}", 400, 3,
			  "create_request: required"},
		/* 14 */ {API_KV_PUT, "{\"key\":\"YQ==\",\"key\":\"Yg==\"}",
			  400, 3, "invalid JSON"},
		/* 15 */ {API_KV_RANGE,
			  "{\"key\":\"YQ==\",\"revision\":\"99999999999999999999\"}",
			  400, 3, "revision: invalid int64"},
		/* 16 */ {API_KV_PUT, "{\"key\":\"YQ==\",\"prev_kv\":\"yes\"}",
			  400, 3, "prev_kv: expected a boolean"},
		/* 17 */ {API_KV_LEASE_GRANT, "{\"TTL\":\"99999999999\"}", 400,
			  3, "etcdserver: too large lease TTL"},
		/* 18 */ {API_KV_TXN,
			  "{\"success\":[{\"request_txn\":{}}]}", 400, 3,
			  "success[0].request_txn: nested txns"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct api_kv_req req;
		struct api_kv_err err;
		int rc = api_kv_decode(cases[i].ep, cases[i].body,
				       strlen(cases[i].body), &req, &err);
		if (rc != -1 || err.http != cases[i].http ||
		    err.grpc != cases[i].grpc ||
		    strncmp(err.msg, cases[i].msg, strlen(cases[i].msg)) != 0)
			fail_msg("case %zu: rc %d http %d grpc %d msg \"%s\"",
				 i + 1, rc, err.http, err.grpc, err.msg);
	}
	/* 129 ops in one branch: etcd's limit message. */
	json_t *ops = json_array();
	for (int i = 0; i < 129; i++)
		json_array_append_new(ops, json_pack("{s:{s:s}}", "request_range",
						     "key", "YQ=="));
	json_t *txn = json_pack("{s:o}", "success", ops);
	char *body = json_dumps(txn, JSON_COMPACT);
	struct api_kv_req req;
	struct api_kv_err err;
	assert_int_equal(api_kv_decode(API_KV_TXN, body, strlen(body), &req,
				       &err),
			 -1);
	assert_string_equal(err.msg,
			    "etcdserver: too many operations in txn request");
	free(body);
	json_decref(txn);
}

static void test_b64(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		const char *bytes; /* NULL: rejected */
		size_t n;
	} cases[] = {
		{"", "", 0},         {"Zg==", "f", 1},  {"Zg", "f", 1},
		{"Zm8=", "fo", 2},   {"Zm8", "fo", 2},  {"Zm9v", "foo", 3},
		{"-_8=", "\xfb\xff", 2}, {"+/8=", "\xfb\xff", 2},
		{"Z", NULL, 0},      {"Zh==", NULL, 0}, {"Zm9v!", NULL, 0},
		{"Zg=", NULL, 0},    {"=", NULL, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *out = NULL;
		size_t n = 0;
		int rc = api_kv_b64_decode(cases[i].text, strlen(cases[i].text),
					   &out, &n);
		if (cases[i].bytes == NULL) {
			if (rc == 0)
				fail_msg("case %zu \"%s\" accepted", i,
					 cases[i].text);
			continue;
		}
		if (rc != 0 || n != cases[i].n ||
		    memcmp(out, cases[i].bytes, n) != 0)
			fail_msg("case %zu \"%s\": rc %d n %zu", i,
				 cases[i].text, rc, n);
		char *back = api_kv_b64_encode(out, n);
		uint8_t *again;
		size_t n2;
		assert_int_equal(api_kv_b64_decode(back, strlen(back), &again,
						   &n2),
				 0);
		assert_int_equal(n2, n);
		assert_memory_equal(again, out, n);
		free(again);
		free(back);
		free(out);
	}
}

static void test_watch_decode(void **state)
{
	(void)state;
	struct api_kv_req req;
	struct api_kv_err err;
	const char *b = "{\"create_request\":{\"key\":\"YQ==\",\"range_end\":"
			"\"Yg==\",\"start_revision\":\"5\",\"prev_kv\":true,"
			"\"filters\":[\"NODELETE\"]}}";
	assert_int_equal(api_kv_decode(API_KV_WATCH, b, strlen(b), &req, &err),
			 0);
	assert_int_equal(req.watch.start_revision, 5);
	assert_int_equal(req.watch.key_len, 1);
	assert_memory_equal(req.watch.range_end, "b", 1);
	assert_true(req.watch.prev_kv);
	assert_true(req.watch_no_delete);
	assert_false(req.watch_no_put);
	api_kv_req_clear(&req);

	struct store_event ev = {
		.type = STORE_EVENT_DELETE,
		.revision = 9,
		.kv = {.key = (const uint8_t *)"a", .key_len = 1,
		       .mod_revision = 9},
	};
	json_t *j = api_kv_event_json(&ev, false);
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"kv\":{\"key\":\"YQ==\",\"mod_revision\":"
			       "\"9\"},\"type\":\"DELETE\"}");
	free(s);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_range),
		cmocka_unit_test(test_txn),
		cmocka_unit_test(test_range_sort_filter),
		cmocka_unit_test(test_store_errors),
		cmocka_unit_test(test_lease),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_b64),
		cmocka_unit_test(test_watch_decode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
