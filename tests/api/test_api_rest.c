/*
 * test_api_rest: the Kubernetes-shaped core (ctrl/api_rest.c): paths,
 * queries, selectors, create/update/status/binding transformations, and
 * the write txns applied to a real store: stale resourceVersion -> 409,
 * two schedulers binding one pod -> exactly one wins, watch events
 * filtered by selectors (an object leaving the selection is DELETED).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api_rest.h"
#include "store.h"
#include "store_cmd.h"
#include "store_watch.h"

/* ------------------------------------------------------------- paths */

static void test_paths(void **state)
{
	(void)state;
	static const struct {
		const char *path;
		int code; /* 0 = accepted */
		enum api_obj_kind kind;
		const char *ns, *name;
		enum api_rest_sub sub;
		const char *key;
	} cases[] = {
		/* 1 */ {"/api/v1/nodes", 0, API_OBJ_NODE, "", "", 0,
			 "/registry/nodes/"},
		/* 2 */ {"/api/v1/nodes/n1", 0, API_OBJ_NODE, "", "n1", 0,
			 "/registry/nodes/n1"},
		/* 3 */ {"/api/v1/nodes/n1/status", 0, API_OBJ_NODE, "", "n1",
			 API_REST_SUB_STATUS, "/registry/nodes/n1"},
		/* 4 */ {"/api/v1/namespaces/default/pods", 0, API_OBJ_POD,
			 "default", "", 0, "/registry/pods/default/"},
		/* 5 */ {"/api/v1/namespaces/d/pods/web/binding", 0,
			 API_OBJ_POD, "d", "web", API_REST_SUB_BINDING,
			 "/registry/pods/d/web"},
		/* 6 */ {"/api/v1/pods", 0, API_OBJ_POD, "", "", 0,
			 "/registry/pods/"},
		/* 7 */ {"/apis/apps/v1/namespaces/x/deployments/d1/status", 0,
			 API_OBJ_DEPLOYMENT, "x", "d1", API_REST_SUB_STATUS,
			 "/registry/deployments/x/d1"},
		/* 8 */ {"/apis/coordination.k8s.io/v1/namespaces/sluice-node-"
			 "lease/leases/n1", 0, API_OBJ_LEASE, "sluice-node-lease",
			 "n1", 0, "/registry/leases/sluice-node-lease/n1"},
		/* 9 */ {"/api/v1/namespaces/a/services/", 0, API_OBJ_SERVICE,
			 "a", "", 0, "/registry/services/a/"},
		/* 10 */ {"/api/v1/namespaces/a/endpoints/e", 0,
			  API_OBJ_ENDPOINTS, "a", "e", 0,
			  "/registry/endpoints/a/e"},
		/* 11 */ {"/api/v1/pods/web", 404, 0, NULL, NULL, 0, NULL},
		/* 12 */ {"/api/v1/namespaces/a/nodes", 404, 0, NULL, NULL, 0,
			  NULL},
		/* 13 */ {"/api/v1/namespaces/a/services/s/status", 404, 0,
			  NULL, NULL, 0, NULL},
		/* 14 */ {"/api/v1/nodes/n1/binding", 404, 0, NULL, NULL, 0,
			  NULL},
		/* 15 */ {"/api/v1/namespaces/A_B/pods", 400, 0, NULL, NULL, 0,
			  NULL},
		/* 16 */ {"/api/v1/namespaces/a/pods/..", 400, 0, NULL, NULL,
			  0, NULL},
		/* 17 */ {"/api/v2/pods", 404, 0, NULL, NULL, 0, NULL},
		/* 18 */ {"/api/v1/namespaces/a/pods/p/status/x", 404, 0, NULL,
			  NULL, 0, NULL},
		/* 19 */ {"/api/v1//pods", 404, 0, NULL, NULL, 0, NULL},
		/* 20 */ {"/apis/apps/v1/pods", 404, 0, NULL, NULL, 0, NULL},
		/* 21 */ {"/api/v1/namespaces/a/deployments", 404, 0, NULL,
			  NULL, 0, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct api_rest_path p;
		struct api_rest_err e = {0};
		int rc = api_rest_parse_path(cases[i].path, &p, &e);
		if (cases[i].code) {
			if (rc != -1 || e.code != cases[i].code)
				fail_msg("case %zu %s: rc %d code %d", i + 1,
					 cases[i].path, rc, e.code);
			continue;
		}
		char key[API_REST_KEY_MAX];
		if (rc != 0 || p.kind != cases[i].kind ||
		    strcmp(p.ns, cases[i].ns) || strcmp(p.name, cases[i].name) ||
		    p.sub != cases[i].sub ||
		    api_rest_key(&p, key, sizeof(key)) == 0 ||
		    strcmp(key, cases[i].key))
			fail_msg("case %zu %s: rc %d (%s) kind %d ns %s name %s "
				 "sub %d", i + 1, cases[i].path, rc, e.msg,
				 p.kind, p.ns, p.name, p.sub);
	}
}

/* --------------------------------------------------------- selectors */

static void test_selectors(void **state)
{
	(void)state;
	json_t *pod = json_loads(
		"{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"d\","
		"\"labels\":{\"app\":\"web\",\"tier\":\"fe\"}},\"spec\":{"
		"\"nodeName\":\"n1\"},\"status\":{\"phase\":\"Running\"}}",
		0, NULL);
	static const struct {
		const char *label, *field;
		int match; /* 1, 0, or -1 = rejected */
	} cases[] = {
		/* 1 */ {"app=web", NULL, 1},
		/* 2 */ {"app==web,tier=fe", NULL, 1},
		/* 3 */ {"app=web,tier=be", NULL, 0},
		/* 4 */ {"app!=db", NULL, 1},
		/* 5 */ {"env!=prod", NULL, 1}, /* absent label matches != */
		/* 6 */ {"app in (db, web)", NULL, 1},
		/* 7 */ {"app notin (web)", NULL, 0},
		/* 8 */ {"app", NULL, 1},
		/* 9 */ {"!app", NULL, 0},
		/* 10 */ {"!env", NULL, 1},
		/* 11 */ {"env in (a,b)", NULL, 0},
		/* 12 */ {NULL, "spec.nodeName=n1", 1},
		/* 13 */ {NULL, "spec.nodeName=", 0},
		/* 14 */ {NULL, "spec.nodeName!=,status.phase=Running", 1},
		/* 15 */ {"app=web", "metadata.name=web-1", 1},
		/* 16 */ {"app=web", "metadata.namespace==e", 0},
		/* 17 */ {NULL, "spec.hostname=x", -1},
		/* 18 */ {"app=we b", NULL, -1},
		/* 19 */ {"app in (web", NULL, -1},
		/* 20 */ {"a,,b", NULL, -1},
		/* 21 */ {"app within (x)", NULL, -1},
		/* 22 */ {NULL, "status.phase", -1},
		/* 23 */ {"", "", 1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct api_rest_sel *sel;
		struct api_rest_err e = {0};
		int rc = api_rest_sel_parse(cases[i].label, cases[i].field,
					    &sel, &e);
		if (cases[i].match < 0) {
			if (rc != -1 || e.code != 400 || e.msg[0] == 0)
				fail_msg("case %zu: accepted", i + 1);
			continue;
		}
		if (rc != 0)
			fail_msg("case %zu: rejected: %s", i + 1, e.msg);
		if (api_rest_sel_match(sel, pod) != (cases[i].match == 1))
			fail_msg("case %zu: match %d", i + 1,
				 !cases[i].match);
		api_rest_sel_free(sel);
	}
	json_decref(pod);
}

static const char *q_get(void *arg, const char *name)
{
	const char *const *kv = arg;
	for (; kv[0]; kv += 2)
		if (strcmp(kv[0], name) == 0)
			return kv[1];
	return NULL;
}

static void test_query(void **state)
{
	(void)state;
	struct api_rest_query q;
	struct api_rest_err e;
	const char *ok[] = {"watch", "1", "resourceVersion", "42",
			    "labelSelector", "app=web", "consistency",
			    "serializable", NULL};
	assert_int_equal(api_rest_parse_query(q_get, ok, &q, &e), 0);
	assert_true(q.watch);
	assert_true(q.serializable);
	assert_int_equal(q.rv, 42);
	assert_non_null(q.sel);
	api_rest_query_clear(&q);
	const char *bad_rv[] = {"resourceVersion", "-1", NULL};
	assert_int_equal(api_rest_parse_query(q_get, bad_rv, &q, &e), -1);
	assert_int_equal(e.code, 400);
	assert_non_null(strstr(e.msg, "resourceVersion"));
	const char *bad_w[] = {"watch", "yes", NULL};
	assert_int_equal(api_rest_parse_query(q_get, bad_w, &q, &e), -1);
	assert_non_null(strstr(e.msg, "watch"));
	const char *bad_c[] = {"consistency", "eventual", NULL};
	assert_int_equal(api_rest_parse_query(q_get, bad_c, &q, &e), -1);
}

/* ---------------------------------------------------- writes on a store */

static const char *pod_json(const char *name, const char *rv,
			    const char *node, const char *app)
{
	static char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{"
		 "\"name\":\"%s\"%s%s%s,\"labels\":{\"app\":\"%s\"}},\"spec\":{"
		 "\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]%s%s%s}}",
		 name, rv ? ",\"resourceVersion\":\"" : "", rv ? rv : "",
		 rv ? "\"" : "", app, node ? ",\"nodeName\":\"" : "",
		 node ? node : "", node ? "\"" : "");
	return buf;
}

/* Apply "if target == operand then put obj / delete" like the handler;
 * returns whether the txn succeeded, and the new revision. */
static bool apply_write(struct store *s, const char *key,
			enum store_cmp_target t, int64_t operand, json_t *obj,
			int64_t *rev)
{
	size_t len = 0;
	json_t *copy = obj ? json_deep_copy(obj) : NULL;
	char *val = copy ? api_rest_to_store(copy, &len) : NULL;
	struct api_rest_txn txn;
	uint8_t *cmd;
	size_t cmd_len;
	char msg[STORE_ERRMSG_SIZE];
	struct store_result res = {0};

	api_rest_txn_init(&txn, key, strlen(key), t, operand, val, len);
	assert_int_equal(store_cmd_encode(&txn.cmd, &cmd, &cmd_len, msg),
			 STORE_OK);
	assert_int_equal(store_apply(s, 0, cmd, cmd_len, &res), STORE_OK);
	bool ok = res.succeeded;
	*rev = res.revision;
	store_result_clear(&res);
	free(cmd);
	free(val);
	json_decref(copy);
	return ok;
}

/* The stored object at key, as a read gives it (with resourceVersion). */
static json_t *read_obj(struct store *s, const char *key)
{
	struct store_op get = {.type = STORE_OP_RANGE,
			       .key = (const uint8_t *)key,
			       .key_len = strlen(key)};
	struct store_op_result r;
	assert_int_equal(store_range(s, &get, &r), STORE_OK);
	json_t *o = r.n_kvs ? api_rest_from_store(r.kvs[0].value,
						  r.kvs[0].value_len,
						  r.kvs[0].mod_revision)
			    : NULL;
	store_op_result_clear(&r);
	return o;
}

static const char *field(const json_t *o, const char *a, const char *b)
{
	const char *s = json_string_value(json_object_get(
		json_object_get(o, a), b));
	return s ? s : "";
}

static void test_create_update(void **state)
{
	(void)state;
	struct store *s = store_create(NULL);
	struct api_rest_path p;
	struct api_rest_err e;
	int64_t rev;
	const char *key = "/registry/pods/d/web";
	const char *uid = "0d5e4a2c-3b1f-4e8a-9c6d-7f2a1b3c4d5e";

	assert_int_equal(api_rest_parse_path("/api/v1/namespaces/d/pods", &p,
					     &e), 0);
	const char *body = pod_json("web", "77", NULL, "web");
	json_t *o = api_rest_prepare_create(&p, body, strlen(body), uid,
					    "2026-01-01T00:00:00Z", &e);
	assert_non_null(o);
	assert_string_equal(field(o, "metadata", "namespace"), "d");
	assert_string_equal(field(o, "metadata", "uid"), uid);
	assert_string_equal(field(o, "status", "phase"), "Pending");
	assert_int_equal(api_rest_obj_rv(o), 0); /* a client rv is dropped */
	assert_true(apply_write(s, key, STORE_CMP_CREATE, 0, o, &rev));
	/* Create again: the compare create_revision == 0 fails. */
	assert_false(apply_write(s, key, STORE_CMP_CREATE, 0, o, &rev));
	json_decref(o);

	/* Namespace mismatch and invalid object. */
	body = "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":"
	       "\"x\",\"namespace\":\"other\"},\"spec\":{\"containers\":[{"
	       "\"name\":\"c\",\"image\":\"i\"}]}}";
	assert_null(api_rest_prepare_create(&p, body, strlen(body), uid, "t",
					    &e));
	assert_int_equal(e.code, 400);
	assert_non_null(strstr(e.msg, "namespace"));
	body = "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":"
	       "\"x\"},\"spec\":{\"containers\":[{\"name\":\"c\"}]}}";
	assert_null(api_rest_prepare_create(&p, body, strlen(body), uid, "t",
					    &e));
	assert_int_equal(e.code, 422);
	assert_string_equal(e.reason, "Invalid");
	assert_string_equal(e.msg, "Pod \"x\" is invalid: "
				   "spec.containers[0].image: Required value");

	/* Update at the current rv succeeds; uid survives; generation grows
	 * when spec changes. */
	assert_int_equal(api_rest_parse_path("/api/v1/namespaces/d/pods/web",
					     &p, &e), 0);
	json_t *cur = read_obj(s, key);
	char rvs[24];
	snprintf(rvs, sizeof(rvs), "%lld", (long long)api_rest_obj_rv(cur));
	body = pod_json("web", rvs, NULL, "web2");
	json_t *up = api_rest_prepare_update(&p, body, strlen(body), cur, &e);
	assert_non_null(up);
	assert_string_equal(field(up, "metadata", "uid"), uid);
	assert_string_equal(field(up, "status", "phase"), "Pending");
	int64_t rv_before = api_rest_obj_rv(cur);
	assert_true(apply_write(s, key, STORE_CMP_MOD, rv_before, up, &rev));
	json_decref(up);
	/* The same body again is stale now: 409 from the check... */
	json_decref(cur);
	cur = read_obj(s, key);
	assert_null(api_rest_prepare_update(&p, body, strlen(body), cur, &e));
	assert_int_equal(e.code, 409);
	assert_string_equal(e.reason, "Conflict");
	/* ...and from the txn when a write slips in between read and write. */
	assert_false(apply_write(s, key, STORE_CMP_MOD, rv_before, cur, &rev));
	/* No resourceVersion: 422; another name: 400; nodeName: 422. */
	body = pod_json("web", NULL, NULL, "web");
	assert_null(api_rest_prepare_update(&p, body, strlen(body), cur, &e));
	assert_int_equal(e.code, 422);
	snprintf(rvs, sizeof(rvs), "%lld", (long long)api_rest_obj_rv(cur));
	body = pod_json("other", rvs, NULL, "web");
	assert_null(api_rest_prepare_update(&p, body, strlen(body), cur, &e));
	assert_int_equal(e.code, 400);
	body = pod_json("web", rvs, "n1", "web");
	assert_null(api_rest_prepare_update(&p, body, strlen(body), cur, &e));
	assert_int_equal(e.code, 422);
	assert_non_null(strstr(e.msg, "spec.nodeName"));

	/* Status update: only .status changes, even if the body says more. */
	assert_int_equal(api_rest_parse_path(
				 "/api/v1/namespaces/d/pods/web/status", &p, &e),
			 0);
	char sbody[512];
	snprintf(sbody, sizeof(sbody),
		 "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{"
		 "\"name\":\"web\",\"resourceVersion\":\"%s\",\"labels\":{"
		 "\"app\":\"evil\"}},\"status\":{\"phase\":\"Running\","
		 "\"podIP\":\"10.0.0.5\"}}", rvs);
	up = api_rest_prepare_update(&p, sbody, strlen(sbody), cur, &e);
	if (up == NULL)
		fail_msg("status update: %d %s", e.code, e.msg);
	assert_string_equal(field(up, "status", "phase"), "Running");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_object_get(up,
								    "metadata"),
						    "labels"),
				    "app")),
			    "web2");
	json_decref(up);
	snprintf(sbody, sizeof(sbody),
		 "{\"metadata\":{\"name\":\"web\",\"resourceVersion\":\"%s\"},"
		 "\"status\":{\"phase\":\"Sleeping\"}}", rvs);
	assert_null(api_rest_prepare_update(&p, sbody, strlen(sbody), cur, &e));
	assert_int_equal(e.code, 422);
	assert_non_null(strstr(e.msg, "status.phase"));
	json_decref(cur);
	store_free(s);
}

/* Two schedulers read the same unbound pod and both try to bind it:
 * exactly one txn succeeds; a third binding, after, is refused up front. */
static void test_binding_cas(void **state)
{
	(void)state;
	struct store *s = store_create(NULL);
	struct api_rest_path p;
	struct api_rest_err e;
	int64_t rev;
	const char *key = "/registry/pods/d/web";

	assert_int_equal(api_rest_parse_path("/api/v1/namespaces/d/pods", &p,
					     &e), 0);
	const char *body = pod_json("web", NULL, NULL, "web");
	json_t *o = api_rest_prepare_create(
		&p, body, strlen(body), "0d5e4a2c-3b1f-4e8a-9c6d-7f2a1b3c4d5e",
		"2026-01-01T00:00:00Z", &e);
	assert_true(apply_write(s, key, STORE_CMP_CREATE, 0, o, &rev));
	json_decref(o);

	assert_int_equal(api_rest_parse_path(
				 "/api/v1/namespaces/d/pods/web/binding", &p,
				 &e), 0);
	json_t *cur_a = read_obj(s, key), *cur_b = read_obj(s, key);
	const char *ba = "{\"apiVersion\":\"v1\",\"kind\":\"Binding\","
			 "\"metadata\":{\"name\":\"web\"},\"target\":{"
			 "\"kind\":\"Node\",\"name\":\"n1\"}}";
	const char *bb = "{\"apiVersion\":\"v1\",\"kind\":\"Binding\","
			 "\"metadata\":{\"name\":\"web\"},\"target\":{"
			 "\"kind\":\"Node\",\"name\":\"n2\"}}";
	json_t *wa = api_rest_prepare_update(&p, ba, strlen(ba), cur_a, &e);
	json_t *wb = api_rest_prepare_update(&p, bb, strlen(bb), cur_b, &e);
	assert_non_null(wa);
	assert_non_null(wb);
	int64_t seen = api_rest_obj_rv(cur_a);
	bool ok_a = apply_write(s, key, STORE_CMP_MOD, seen, wa, &rev);
	bool ok_b = apply_write(s, key, STORE_CMP_MOD, seen, wb, &rev);
	assert_true(ok_a);
	assert_false(ok_b);
	json_t *now = read_obj(s, key);
	assert_string_equal(field(now, "spec", "nodeName"), "n1");
	/* Third binding sees the pod bound: 409 with the node named. */
	assert_null(api_rest_prepare_update(&p, bb, strlen(bb), now, &e));
	assert_int_equal(e.code, 409);
	assert_non_null(strstr(e.msg, "already assigned to node \"n1\""));
	/* Malformed bindings. */
	const char *bad[] = {
		"{\"target\":{}}",
		"{\"metadata\":{\"name\":\"other\"},\"target\":{\"name\":\"n\"}}",
		"{\"kind\":\"Pod\",\"target\":{\"name\":\"n\"}}",
		"[]",
	};
	const int codes[] = {422, 400, 400, 400};
	json_t *unbound = read_obj(s, key);
	json_object_set_new(json_object_get(unbound, "spec"), "nodeName",
			    json_string(""));
	for (size_t i = 0; i < 4; i++) {
		assert_null(api_rest_prepare_update(&p, bad[i], strlen(bad[i]),
						    unbound, &e));
		if (e.code != codes[i])
			fail_msg("bad binding %zu: %d %s", i, e.code, e.msg);
	}
	/* A binding with a stale resourceVersion is a conflict. */
	const char *stale = "{\"metadata\":{\"resourceVersion\":\"1\"},"
			    "\"target\":{\"name\":\"n3\"}}";
	assert_null(api_rest_prepare_update(&p, stale, strlen(stale), unbound,
					    &e));
	assert_int_equal(e.code, 409);
	json_decref(unbound);
	json_decref(now);
	json_decref(wa);
	json_decref(wb);
	json_decref(cur_a);
	json_decref(cur_b);
	store_free(s);
}

/* --------------------------------------------------------------- watch */

static void put_pod(struct store *s, const char *name, const char *app)
{
	char key[128];
	int64_t rev;
	snprintf(key, sizeof(key), "/registry/pods/d/%s", name);
	const char *body = pod_json(name, NULL, NULL, app);
	json_t *o = json_loads(body, 0, NULL);
	json_t *cur = read_obj(s, key);
	int64_t at = cur ? api_rest_obj_rv(cur) : 0;
	assert_true(apply_write(s, key, cur ? STORE_CMP_MOD : STORE_CMP_CREATE,
				at, o, &rev));
	json_decref(cur);
	json_decref(o);
}

static void del_pod(struct store *s, const char *name)
{
	char key[128];
	int64_t rev;
	snprintf(key, sizeof(key), "/registry/pods/d/%s", name);
	json_t *cur = read_obj(s, key);
	assert_true(apply_write(s, key, STORE_CMP_MOD, api_rest_obj_rv(cur),
				NULL, &rev));
	json_decref(cur);
}

/* Drain w through the selector into "TYPE name rv;" tokens. */
static void drain(struct store_watcher *w, const struct api_rest_sel *sel,
		  char *out, size_t cap)
{
	struct store_event ev;
	bool got;
	out[0] = 0;
	while (store_watch_next(w, &ev, &got) == STORE_OK && got) {
		json_t *line;
		int rc = api_rest_watch_event(sel, &ev, &line);
		assert_true(rc >= 0);
		if (rc == 0)
			continue;
		json_t *obj = json_object_get(line, "object");
		size_t n = strlen(out);
		snprintf(out + n, cap - n, "%s %s %s %s;",
			 json_string_value(json_object_get(line, "type")),
			 field(obj, "metadata", "name"),
			 field(obj, "metadata", "resourceVersion"),
			 json_string_value(json_object_get(
				 json_object_get(json_object_get(obj,
								 "metadata"),
						 "labels"),
				 "app")));
		json_decref(line);
	}
}

static void test_watch_filter(void **state)
{
	(void)state;
	struct store *s = store_create(NULL);
	struct api_rest_sel *sel;
	struct api_rest_err e;
	char got[1024];
	const char *prefix = "/registry/pods/";
	struct store_watch_params wp = {
		.key = (const uint8_t *)prefix, .key_len = strlen(prefix),
		.range_end = (const uint8_t *)"/registry/pods0",
		.range_end_len = strlen(prefix), .prev_kv = true,
	};
	struct store_watcher *all = store_watch_create(s, &wp);
	struct store_watcher *web = store_watch_create(s, &wp);
	assert_int_equal(api_rest_sel_parse("app=web", NULL, &sel, &e), 0);

	put_pod(s, "a", "web");   /* rev 2: ADDED */
	put_pod(s, "b", "db");    /* rev 3: not selected */
	put_pod(s, "a", "web");   /* rev 4: MODIFIED */
	put_pod(s, "a", "db");    /* rev 5: leaves the selection: DELETED */
	put_pod(s, "a", "web");   /* rev 6: back: ADDED */
	del_pod(s, "a");          /* rev 7: DELETED */
	put_pod(s, "a", "web");   /* rev 8: re-created: ADDED */
	del_pod(s, "b");          /* rev 9: never selected */

	drain(web, sel, got, sizeof(got));
	assert_string_equal(got, "ADDED a 2 web;MODIFIED a 4 web;"
				 "DELETED a 5 web;ADDED a 6 web;"
				 "DELETED a 7 web;ADDED a 8 web;");
	drain(all, NULL, got, sizeof(got));
	assert_string_equal(got, "ADDED a 2 web;ADDED b 3 db;MODIFIED a 4 web;"
				 "MODIFIED a 5 db;MODIFIED a 6 web;"
				 "DELETED a 7 web;ADDED a 8 web;"
				 "DELETED b 9 db;");
	/* Resume after rv 5: exactly the events from 6 on. */
	wp.start_revision = 6;
	struct store_watcher *resumed = store_watch_create(s, &wp);
	drain(resumed, sel, got, sizeof(got));
	assert_string_equal(got, "ADDED a 6 web;DELETED a 7 web;"
				 "ADDED a 8 web;");
	store_watch_free(resumed);
	api_rest_sel_free(sel);
	store_watch_free(all);
	store_watch_free(web);
	store_free(s);
}

static void test_objects_lease_taints(void **state)
{
	(void)state;
	struct api_obj_error e;
	const char *lease = "{\"apiVersion\":\"coordination.k8s.io/v1\","
			    "\"kind\":\"Lease\",\"metadata\":{\"name\":\"n1\","
			    "\"namespace\":\"sluice-node-lease\"},\"spec\":{"
			    "\"holderIdentity\":\"n1\",\"leaseDurationSeconds\":"
			    "40,\"renewTime\":\"2026-01-01T00:00:00.123456Z\"}}";
	struct api_obj *o = api_obj_decode(lease, strlen(lease), API_OBJ_ANY,
					   &e);
	assert_non_null(o);
	assert_int_equal(api_obj_kind(o), API_OBJ_LEASE);
	char key[128];
	api_obj_store_key(o, key, sizeof(key));
	assert_string_equal(key, "/registry/leases/sluice-node-lease/n1");
	api_obj_free(o);
	static const struct {
		const char *json;
		const char *msg;
	} bad[] = {
		{"{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\","
		 "\"metadata\":{\"name\":\"n1\"},\"spec\":{"
		 "\"leaseDurationSeconds\":0}}",
		 "Lease \"n1\" is invalid: spec.leaseDurationSeconds: Invalid "
		 "value: 0"},
		{"{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\","
		 "\"metadata\":{\"name\":\"n1\"},\"spec\":{\"renewTime\":"
		 "\"yesterday\"}}",
		 "Lease \"n1\" is invalid: spec.renewTime: Invalid value"},
		{"{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{"
		 "\"name\":\"n1\"},\"spec\":{\"taints\":[{\"key\":\"k\","
		 "\"effect\":\"Sometimes\"}]}}",
		 "Node \"n1\" is invalid: spec.taints[0].effect: Unsupported "
		 "value"},
		{"{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{"
		 "\"name\":\"n1\"},\"spec\":{\"taints\":[{\"key\":\"k\","
		 "\"effect\":\"NoSchedule\"},{\"key\":\"k\",\"value\":\"v\","
		 "\"effect\":\"NoSchedule\"}]}}",
		 "Node \"n1\" is invalid: spec.taints[1]: Duplicate value"},
		{"{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{"
		 "\"name\":\"n1\"},\"spec\":{\"taints\":[{\"effect\":"
		 "\"NoSchedule\"}]}}",
		 "Node \"n1\" is invalid: spec.taints[0].key: Required value"},
		{"{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{"
		 "\"name\":\"n1\"},\"spec\":{\"unschedulable\":\"yes\"}}",
		 "spec.unschedulable: expected boolean"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = api_obj_decode(bad[i].json, strlen(bad[i].json),
				   API_OBJ_ANY, &e);
		if (o != NULL || strncmp(e.errmsg, bad[i].msg,
					 strlen(bad[i].msg)) != 0)
			fail_msg("bad object %zu: %s", i + 1,
				 o ? "accepted" : e.errmsg);
	}
	const char *ok = "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":"
			 "{\"name\":\"n1\"},\"spec\":{\"unschedulable\":true,"
			 "\"taints\":[{\"key\":\"node.kubernetes.io/"
			 "unreachable\",\"effect\":\"NoExecute\",\"timeAdded\":"
			 "\"2026-01-01T00:00:00Z\"},{\"key\":\"node.kubernetes."
			 "io/unreachable\",\"effect\":\"NoSchedule\"}]}}";
	o = api_obj_decode(ok, strlen(ok), API_OBJ_NODE, &e);
	if (o == NULL)
		fail_msg("cordoned, tainted node rejected: %s", e.errmsg);
	api_obj_free(o);
}

/* ---------------------------------------------- Service clusterIPs */

/* Numbered cases of the allocator's pick, the reservation address of a
 * Service, and the immutability of spec.clusterIP on update. */
static void test_service_cluster_ip(void **state)
{
	(void)state;
	static const struct {
		int num;
		const char *cidr, *taken, *want; /* want NULL: -1 */
	} picks[] = {
		{1, "10.96.0.0/16", "{}", "10.96.0.1"},
		{2, "10.96.0.0/16", "{\"10.96.0.1\":1,\"10.96.0.2\":1}", "10.96.0.3"},
		{3, "10.96.0.0/16", "{\"10.96.0.1\":1,\"10.96.0.3\":1}", "10.96.0.2"},
		{4, "10.96.0.0/30", "{\"10.96.0.1\":1}", "10.96.0.2"},
		{5, "10.96.0.0/30", "{\"10.96.0.1\":1,\"10.96.0.2\":1}", NULL}, /* .3 is broadcast */
		{6, "10.96.1.0/24", "{\"10.96.0.1\":1}", "10.96.1.1"},
		{7, "10.96.0.0", "{}", NULL},
		{8, "fd00::/108", "{}", NULL},
		{9, "10.96.0.0/31", "{}", NULL},
	};
	for (size_t i = 0; i < sizeof(picks) / sizeof(picks[0]); i++) {
		char out[16] = "";
		json_t *taken = json_loads(picks[i].taken, 0, NULL);
		int rc = api_rest_svc_ip_pick(picks[i].cidr, taken, out, sizeof(out));
		json_decref(taken);
		if (picks[i].want == NULL) {
			if (rc != -1)
				fail_msg("pick case %d: got %s, want -1", picks[i].num, out);
		} else if (rc != 0 || strcmp(out, picks[i].want) != 0) {
			fail_msg("pick case %d: rc %d %s, want %s", picks[i].num, rc, out,
				 picks[i].want);
		}
	}

	static const struct {
		const char *ip, *want;
	} ips[] = {{"10.96.0.10", "10.96.0.10"}, {"", NULL}, {"None", NULL}, {"fd00::10", NULL}};
	for (size_t i = 0; i < sizeof(ips) / sizeof(ips[0]); i++) {
		json_t *svc = json_pack("{s:{s:s}}", "spec", "clusterIP", ips[i].ip);
		const char *got = api_rest_svc_ip(svc);
		if (ips[i].want == NULL)
			assert_null(got);
		else
			assert_string_equal(got, ips[i].want);
		json_decref(svc);
	}

	/* Update: omitting clusterIP keeps it; changing it is 422. */
	struct api_rest_path p;
	struct api_rest_err e;
	assert_int_equal(api_rest_parse_path("/api/v1/namespaces/d/services/web", &p, &e), 0);
	json_t *cur = json_loads("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{"
				 "\"name\":\"web\",\"namespace\":\"d\",\"uid\":\"u\",\"resourceVersion\":\"5\"},"
				 "\"spec\":{\"clusterIP\":\"10.96.0.7\",\"ports\":[{\"port\":80}]}}", 0, NULL);
	assert_non_null(cur);
	const char *keep = "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\","
			   "\"resourceVersion\":\"5\"},\"spec\":{\"ports\":[{\"port\":81}]}}";
	json_t *up = api_rest_prepare_update(&p, keep, strlen(keep), cur, &e);
	assert_non_null(up);
	assert_string_equal(field(up, "spec", "clusterIP"), "10.96.0.7");
	json_decref(up);
	const char *same = "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\","
			   "\"resourceVersion\":\"5\"},\"spec\":{\"clusterIP\":\"10.96.0.7\",\"ports\":[{\"port\":81}]}}";
	up = api_rest_prepare_update(&p, same, strlen(same), cur, &e);
	assert_non_null(up);
	json_decref(up);
	const char *moved = "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\","
			    "\"resourceVersion\":\"5\"},\"spec\":{\"clusterIP\":\"10.96.0.8\",\"ports\":[{\"port\":80}]}}";
	assert_null(api_rest_prepare_update(&p, moved, strlen(moved), cur, &e));
	assert_int_equal(e.code, 422);
	assert_string_equal(e.msg, "Service \"web\" is invalid: spec.clusterIP: Invalid value: "
				   "\"10.96.0.8\": field is immutable");
	json_decref(cur);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_selectors),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_create_update),
		cmocka_unit_test(test_binding_cas),
		cmocka_unit_test(test_watch_filter),
		cmocka_unit_test(test_objects_lease_taints),
		cmocka_unit_test(test_service_cluster_ip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
