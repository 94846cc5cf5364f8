/*
 * api_rest_http: the Kubernetes-shaped resources of docs/api.md on the
 * master's HTTPS server: get, list, watch, create, update (with /status),
 * Pod /binding, delete. api_rest.c does the object work; this file moves
 * requests between HTTP, ReadIndex reads and Raft proposals.
 *
 * Concurrency: every write is one store txn whose compare carries the
 * rule, so it holds whatever else commits in between:
 *   create                create_revision(key) == 0, else 409 AlreadyExists
 *   update/status/delete  mod_revision(key) == the version read (which
 *                         equals the client's resourceVersion), else 409
 *   binding               the same, and the read saw spec.nodeName empty:
 *                         of two schedulers binding one pod, the second
 *                         txn fails its compare and gets 409 Conflict.
 *   Service create        also create_revision(/registry/serviceips/<IP>)
 *                         == 0, putting that key (its clusterIP's
 *                         reservation; allocated first when empty), else
 *                         422; a Service's delete drops its key.
 * The read before a write is a linearizable ReadIndex read on the leader
 * (routes are HTTP_ROUTE_LEADER, so followers forward writes and
 * linearizable reads; serializable reads and watches are served locally).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "api_int.h"
#include "api_rest.h"
#include "api_watch.h"
#include "ctlr_apisvc.h"
#include "http.h"
#include "master.h"

enum api_rest_verb {
	API_REST_GET,
	API_REST_LIST,
	API_REST_WATCH,
	API_REST_CREATE,
	API_REST_UPDATE, /* also /status and /binding */
	API_REST_DELETE,
};

struct api_rest_call {
	struct master_read rd;
	struct master_propose prop;
	struct http_req *req;
	struct master *m;
	enum api_rest_verb verb;
	struct api_rest_path path;
	struct api_rest_query q;
	char key[API_REST_KEY_MAX];
	size_t key_len;
	json_t *obj;      /* what a successful write answers with */
	int64_t del_rv;   /* delete precondition, 0 = none */
	/* A Service's clusterIP reservation, written in the same txn (created
	 * with it, deleted with it); ip_key_len 0 = none. */
	char ip_key[64];
	size_t ip_key_len;
	char ip_owner[API_REST_NS_MAX + API_REST_NAME_MAX];
};

static void api_rest_call_free(struct api_rest_call *c)
{
	api_rest_query_clear(&c->q);
	json_decref(c->obj);
	free(c);
}

static void api_rest_reply_err(struct http_req *req,
			       const struct api_rest_err *e)
{
	http_reply_status(req, e->code, e->reason, "%s", e->msg);
}

static void api_rest_reply_master_err(struct http_req *req, int status)
{
	if (status == MASTER_ERR_NOLEADER)
		http_reply_status(req, 503, "NoLeader", "no leader");
	else
		http_reply_status(req, 503, "ServiceUnavailable",
				  "%s; retry", master_strerror(status));
}

static void api_rest_reply_store_err(struct api_rest_call *c, int err,
				     const char *msg)
{
	if (err == STORE_ERR_NOSPACE)
		http_reply_status(c->req, 507, "InsufficientStorage",
				  "database space exceeded");
	else if (err == STORE_ERR_COMPACTED)
		http_reply_status(c->req, 410, "Expired",
				  "too old resource version: %lld",
				  (long long)c->q.rv);
	else if (err == STORE_ERR_FUTURE_REV)
		http_reply_status(c->req, 504, "Timeout",
				  "Too large resource version: %lld",
				  (long long)c->q.rv);
	else
		http_reply_status(c->req, 500, "InternalError", "store: %s",
				  msg && msg[0] ? msg : store_strerror(err));
}

static void api_rest_not_found(struct api_rest_call *c)
{
	http_reply_status(c->req, 404, "NotFound", "%s \"%s\" not found",
			  api_obj_kind_resource(c->path.kind), c->path.name);
}

/* ------------------------------------------------------------ writes */

/* c->key exists in the local store (after a failed create). */
static bool api_rest_exists(struct api_rest_call *c)
{
	struct store_op get = {.type = STORE_OP_RANGE,
			       .key = (const uint8_t *)c->key,
			       .key_len = c->key_len};
	struct store_op_result r;
	if (store_range(master_store(c->m), &get, &r) != STORE_OK)
		return true; /* cannot tell: the plain AlreadyExists answer */
	bool found = r.n_kvs > 0;
	store_op_result_clear(&r);
	return found;
}

static void api_rest_proposed(struct master_propose *p, int status,
			      const struct store_result *res)
{
	struct api_rest_call *c = p->data;

	if (status != MASTER_OK) {
		api_rest_reply_master_err(c->req, status);
	} else if (res->err != STORE_OK) {
		api_rest_reply_store_err(c, res->err, res->errmsg);
	} else if (!res->succeeded && c->verb == API_REST_CREATE &&
		   c->ip_key_len > 0 && !api_rest_exists(c)) {
		/* Of the two compares it was the reservation's that failed. */
		http_reply_status(c->req, 422, "Invalid",
				  "Service \"%s\" is invalid: spec.clusterIP: "
				  "Invalid value: \"%s\": provided IP is already "
				  "allocated", c->path.name,
				  c->ip_key + strlen(API_REST_SVC_IP_PREFIX));
	} else if (!res->succeeded && c->verb == API_REST_CREATE) {
		http_reply_status(c->req, 409, "AlreadyExists",
				  "%s \"%s\" already exists",
				  api_obj_kind_resource(c->path.kind),
				  c->path.name);
	} else if (!res->succeeded) {
		http_reply_status(c->req, 409, "Conflict",
				  "Operation cannot be fulfilled on %s "
				  "\"%s\": the object has been modified; "
				  "please apply your changes to the latest "
				  "version and try again",
				  api_obj_kind_resource(c->path.kind),
				  c->path.name);
	} else if (c->path.sub == API_REST_SUB_BINDING) {
		json_t *st = http_status_json(201, "", "");
		json_object_set_new(st, "status", json_string("Success"));
		json_object_del(st, "reason");
		json_object_del(st, "message");
		http_reply_json(c->req, 201, st);
	} else {
		/* A delete answers with the last state, at its own rv. */
		if (c->verb != API_REST_DELETE)
			api_rest_set_rv(c->obj, res->revision);
		http_reply_json(c->req, c->verb == API_REST_CREATE ? 201 : 200,
				json_incref(c->obj));
	}
	api_rest_call_free(c);
}

/* Propose "if compare then op" for c->key; op is a put of c->obj (without
 * its resourceVersion, which the reply re-adds) or a delete. */
static void api_rest_propose(struct api_rest_call *c, enum store_cmp_target t,
			     int64_t operand)
{
	char errmsg[MASTER_ERRMSG_SIZE] = "";
	size_t len = 0;
	char *val = NULL;

	if (c->verb != API_REST_DELETE) {
		val = api_rest_to_store(c->obj, &len);
		if (val == NULL) {
			http_reply_status(c->req, 500, "InternalError",
					  "out of memory");
			api_rest_call_free(c);
			return;
		}
	}
	struct api_rest_txn txn;
	api_rest_txn_init(&txn, c->key, c->key_len, t, operand, val, len);
	/* The clusterIP reservation rides in the same txn: a create also
	 * requires the address key to be new, a delete drops it. */
	struct store_compare cmps[2];
	struct store_op ops[2];
	if (c->ip_key_len > 0) {
		cmps[0] = txn.cmp;
		ops[0] = txn.op;
		cmps[1] = (struct store_compare){
			.target = STORE_CMP_CREATE, .result = STORE_CMP_EQUAL,
			.key = (const uint8_t *)c->ip_key,
			.key_len = c->ip_key_len};
		ops[1] = (struct store_op){
			.type = val ? STORE_OP_PUT : STORE_OP_DELETE,
			.key = (const uint8_t *)c->ip_key,
			.key_len = c->ip_key_len};
		if (val) {
			ops[1].value = (const uint8_t *)c->ip_owner;
			ops[1].value_len = strlen(c->ip_owner);
		}
		txn.cmd.cmps = cmps;
		txn.cmd.n_cmps = val ? 2 : 1;
		txn.cmd.success = ops;
		txn.cmd.n_success = 2;
	}
	c->prop.data = c;
	int rc = master_propose(c->m, &c->prop, &txn.cmd, api_rest_proposed,
				errmsg, sizeof(errmsg));
	free(val); /* master_propose encoded it */
	if (rc == MASTER_OK)
		return;
	if (rc == MASTER_ERR_NOTLEADER)
		http_forward(c->req);
	else if (rc == MASTER_ERR_INVAL)
		/* The codec's limits: a key or value too long. */
		http_reply_status(c->req, 413, "RequestEntityTooLarge", "%s",
				  errmsg);
	else
		api_rest_reply_master_err(c->req, rc);
	api_rest_call_free(c);
}

/* RFC 4122 version 4 uid. */
static void api_rest_uid(char out[37])
{
	uint8_t b[16];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		for (size_t i = 0; i < 16; i++)
			b[i] = (uint8_t)((uint64_t)ts.tv_nsec >> (i % 4 * 8) ^
					 (uint64_t)rand());
	}
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* The reservation key of addr for the Service c is about. */
static void api_rest_ip_key(struct api_rest_call *c, const char *addr)
{
	c->ip_key_len = (size_t)snprintf(c->ip_key, sizeof(c->ip_key), "%s%s",
					 API_REST_SVC_IP_PREFIX, addr);
	snprintf(c->ip_owner, sizeof(c->ip_owner), "%s/%s", c->path.ns,
		 c->path.name);
}

/*
 * A new Service's clusterIP: allocate one when spec.clusterIP is empty or
 * absent, and name the reservation key to create with it. The addresses
 * in use are read from the local store, which may lag the log by a write
 * in flight: the txn's compare on the key catches that (422, try again).
 * 0, or -1 after replying.
 */
static int api_rest_svc_alloc(struct api_rest_call *c)
{
	json_t *spec = json_object_get(c->obj, "spec");
	const char *ip = json_string_value(json_object_get(spec, "clusterIP"));
	char pick[INET_ADDRSTRLEN];

	if (ip == NULL || ip[0] == '\0') {
		static const char prefix[] = API_REST_SVC_IP_PREFIX;
		char end[sizeof(prefix)];
		memcpy(end, prefix, sizeof(prefix));
		end[sizeof(prefix) - 2]++; /* the prefix range: '/' + 1 */
		struct store_op op = {
			.type = STORE_OP_RANGE,
			.key = (const uint8_t *)prefix, .key_len = sizeof(prefix) - 1,
			.range_end = (const uint8_t *)end, .range_end_len = sizeof(prefix) - 1,
		};
		struct store_op_result r;
		json_t *taken = json_object();
		int rc = taken ? store_range(master_store(c->m), &op, &r) : STORE_ERR_NOMEM;
		if (rc != STORE_OK) {
			json_decref(taken);
			api_rest_reply_store_err(c, rc, "reading the allocated service IPs");
			return -1;
		}
		for (size_t i = 0; i < r.n_kvs; i++) {
			char k[64];
			size_t kl = r.kvs[i].key_len - (sizeof(prefix) - 1);
			if (kl < sizeof(k)) {
				memcpy(k, r.kvs[i].key + sizeof(prefix) - 1, kl);
				k[kl] = '\0';
				json_object_set_new(taken, k, json_true());
			}
		}
		store_op_result_clear(&r);
		/* The first address is default/kubernetes's, even before the
		 * masters' controller has created it (ctlr_apisvc.h). */
		json_object_set_new(taken, APISVC_CLUSTER_IP, json_true());
		rc = api_rest_svc_ip_pick(API_REST_SERVICE_CIDR, taken, pick, sizeof(pick));
		json_decref(taken);
		if (rc != 0) {
			http_reply_status(c->req, 422, "Invalid",
					  "Service \"%s\" is invalid: spec.clusterIP: "
					  "Internal error: no address left in the "
					  "service CIDR %s", c->path.name,
					  API_REST_SERVICE_CIDR);
			return -1;
		}
		if (json_object_set_new(spec, "clusterIP", json_string(pick))) {
			http_reply_status(c->req, 500, "InternalError", "out of memory");
			return -1;
		}
	}
	ip = api_rest_svc_ip(c->obj);
	if (ip != NULL && strcmp(ip, APISVC_CLUSTER_IP) == 0 &&
	    (strcmp(c->path.ns, APISVC_NAMESPACE) != 0 || strcmp(c->path.name, APISVC_NAME) != 0)) {
		http_reply_status(c->req, 422, "Invalid",
				  "Service \"%s\" is invalid: spec.clusterIP: Invalid value: \"%s\": "
				  "reserved for the Service " APISVC_KEY, c->path.name, ip);
		return -1;
	}
	if (ip != NULL)
		api_rest_ip_key(c, ip);
	return 0;
}

static void api_rest_create(struct api_rest_call *c)
{
	struct api_rest_err e;
	char uid[37], now[32];
	size_t len;
	const uint8_t *body = http_req_body(c->req, &len);
	time_t t = time(NULL);
	struct tm tm;

	api_rest_uid(uid);
	gmtime_r(&t, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	c->obj = api_rest_prepare_create(&c->path, (const char *)body, len,
					 uid, now, &e);
	if (c->obj == NULL) {
		api_rest_reply_err(c->req, &e);
		api_rest_call_free(c);
		return;
	}
	/* The name comes from the body; the key follows it. */
	snprintf(c->path.name, sizeof(c->path.name), "%s",
		 json_string_value(json_object_get(
			 json_object_get(c->obj, "metadata"), "name")));
	c->key_len = api_rest_key(&c->path, c->key, sizeof(c->key));
	if (c->path.kind == API_OBJ_SERVICE && api_rest_svc_alloc(c) < 0) {
		api_rest_call_free(c);
		return;
	}
	api_rest_propose(c, STORE_CMP_CREATE, 0);
}

/* Update, status, binding or delete, once the current object is read. */
static void api_rest_modify(struct api_rest_call *c, struct store *s)
{
	struct store_op get = {
		.type = STORE_OP_RANGE,
		.key = (const uint8_t *)c->key, .key_len = c->key_len,
	};
	struct store_op_result r;
	struct api_rest_err e;
	int rc = store_range(s, &get, &r);

	if (rc != STORE_OK) {
		api_rest_reply_store_err(c, rc, store_errmsg(s));
		api_rest_call_free(c);
		return;
	}
	if (r.n_kvs == 0) {
		store_op_result_clear(&r);
		api_rest_not_found(c);
		api_rest_call_free(c);
		return;
	}
	int64_t cur_rev = r.kvs[0].mod_revision;
	json_t *cur = api_rest_from_store(r.kvs[0].value, r.kvs[0].value_len,
					  cur_rev);
	store_op_result_clear(&r);
	if (cur == NULL) {
		http_reply_status(c->req, 500, "InternalError",
				  "stored %s is not a JSON object", c->key);
		api_rest_call_free(c);
		return;
	}
	if (c->verb == API_REST_DELETE) {
		if (c->del_rv && c->del_rv != cur_rev) {
			json_decref(cur);
			http_reply_status(c->req, 409, "Conflict",
					  "Operation cannot be fulfilled on "
					  "%s \"%s\": the object has been "
					  "modified",
					  api_obj_kind_resource(c->path.kind),
					  c->path.name);
			api_rest_call_free(c);
			return;
		}
		c->obj = cur;
		/* Release the clusterIP with the Service, if the key is its. */
		const char *ip = c->path.kind == API_OBJ_SERVICE ? api_rest_svc_ip(cur) : NULL;
		if (ip != NULL) {
			api_rest_ip_key(c, ip);
			struct store_op kget = {.type = STORE_OP_RANGE,
						.key = (const uint8_t *)c->ip_key,
						.key_len = c->ip_key_len};
			if (store_range(s, &kget, &r) == STORE_OK) {
				if (r.n_kvs != 1 || r.kvs[0].value_len != strlen(c->ip_owner) ||
				    memcmp(r.kvs[0].value, c->ip_owner, r.kvs[0].value_len) != 0)
					c->ip_key_len = 0; /* made before the allocator: not ours */
				store_op_result_clear(&r);
			} else {
				c->ip_key_len = 0;
			}
		}
	} else {
		size_t len;
		const uint8_t *body = http_req_body(c->req, &len);
		c->obj = api_rest_prepare_update(&c->path, (const char *)body,
						 len, cur, &e);
		json_decref(cur);
		if (c->obj == NULL) {
			api_rest_reply_err(c->req, &e);
			api_rest_call_free(c);
			return;
		}
	}
	api_rest_propose(c, STORE_CMP_MOD, cur_rev);
}

/* ------------------------------------------------------------- reads */

static void api_rest_get(struct api_rest_call *c, struct store *s)
{
	struct store_op get = {
		.type = STORE_OP_RANGE,
		.key = (const uint8_t *)c->key, .key_len = c->key_len,
	};
	struct store_op_result r;
	int rc = store_range(s, &get, &r);

	if (rc != STORE_OK) {
		api_rest_reply_store_err(c, rc, store_errmsg(s));
		return;
	}
	if (r.n_kvs == 0) {
		api_rest_not_found(c);
	} else {
		json_t *o = api_rest_from_store(r.kvs[0].value,
						r.kvs[0].value_len,
						r.kvs[0].mod_revision);
		if (o)
			http_reply_json(c->req, 200, o);
		else
			http_reply_status(c->req, 500, "InternalError",
					  "stored %s is not a JSON object",
					  c->key);
	}
	store_op_result_clear(&r);
}

/* The end of the prefix range: the prefix with its last byte ('/')
 * incremented. */
static void api_rest_prefix_end(const char *key, size_t len, char *end)
{
	memcpy(end, key, len);
	end[len - 1]++;
}

static void api_rest_list_now(struct api_rest_call *c, struct store *s)
{
	char end[API_REST_KEY_MAX];
	api_rest_prefix_end(c->key, c->key_len, end);
	struct store_op op = {
		.type = STORE_OP_RANGE,
		.key = (const uint8_t *)c->key, .key_len = c->key_len,
		.range_end = (const uint8_t *)end, .range_end_len = c->key_len,
		.revision = c->q.rv,
	};
	struct store_op_result r;
	int rc = store_range(s, &op, &r);

	if (rc != STORE_OK) {
		api_rest_reply_store_err(c, rc, store_errmsg(s));
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; items && i < r.n_kvs; i++) {
		json_t *o = api_rest_from_store(r.kvs[i].value,
						r.kvs[i].value_len,
						r.kvs[i].mod_revision);
		if (o && api_rest_sel_match(c->q.sel, o))
			json_array_append(items, o);
		json_decref(o);
	}
	store_op_result_clear(&r);
	json_t *list = items ? api_rest_list(c->path.kind,
					     c->q.rv ? c->q.rv
						     : store_revision(s),
					     items)
			     : NULL;
	if (list == NULL)
		http_reply_status(c->req, 500, "InternalError",
				  "out of memory");
	else
		http_reply_json(c->req, 200, list);
}

static void api_rest_read_done(struct master_read *rd, int status,
			       struct store *s)
{
	struct api_rest_call *c = rd->data;

	if (status != MASTER_OK) {
		api_rest_reply_master_err(c->req, status);
		api_rest_call_free(c);
		return;
	}
	switch (c->verb) {
	case API_REST_GET:
		api_rest_get(c, s);
		break;
	case API_REST_LIST:
		api_rest_list_now(c, s);
		break;
	default:
		api_rest_modify(c, s); /* frees c */
		return;
	}
	api_rest_call_free(c);
}

static void api_rest_read(struct api_rest_call *c, bool linearizable)
{
	if (!linearizable) {
		api_rest_read_done(&(struct master_read){.data = c}, MASTER_OK,
				   master_store(c->m));
		return;
	}
	c->rd.data = c;
	int rc = master_read(c->m, &c->rd, true, api_rest_read_done);
	if (rc == MASTER_OK)
		return;
	if (rc == MASTER_ERR_NOTLEADER)
		http_forward(c->req);
	else
		api_rest_reply_master_err(c->req, rc);
	api_rest_call_free(c);
}

/* ------------------------------------------------------------- watch */

struct api_rest_watch {
	struct api_rest_sel *sel;
	int64_t rv; /* as asked, for the 410 message */
	enum api_obj_kind kind;
};

static void api_rest_watch_release(void *arg)
{
	struct api_rest_watch *w = arg;
	api_rest_sel_free(w->sel);
	free(w);
}

static int api_rest_watch_deliver(void *arg, struct http_stream *st,
				  const struct store_event *evs, size_t n)
{
	struct api_rest_watch *w = arg;

	for (size_t i = 0; i < n; i++) {
		json_t *line;
		if (api_rest_watch_event(w->sel, &evs[i], &line) <= 0)
			continue;
		int rc = http_stream_json(st, line);
		json_decref(line);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* {"type":"BOOKMARK","object":{"kind","apiVersion","metadata":{
 * "resourceVersion"}}}: every event up to rev was sent (or filtered). */
static int api_rest_watch_bookmark(void *arg, struct http_stream *st,
				   int64_t rev)
{
	struct api_rest_watch *w = arg;
	char buf[24];

	snprintf(buf, sizeof(buf), "%lld", (long long)rev);
	json_t *line = json_pack("{s:s, s:{s:s, s:s, s:{s:s}}}", "type",
				 "BOOKMARK", "object", "kind",
				 api_obj_kind_name(w->kind), "apiVersion",
				 api_obj_kind_api_version(w->kind), "metadata",
				 "resourceVersion", buf);
	int rc = line ? http_stream_json(st, line) : 0;
	json_decref(line);
	return rc;
}

static void api_rest_watch_fail(void *arg, struct http_stream *st, int err,
				int64_t compact_rev)
{
	struct api_rest_watch *w = arg;
	char msg[160];

	if (err == STORE_ERR_WATCH_CANCELED)
		return; /* shutting down: the client reconnects elsewhere */
	if (err == STORE_ERR_COMPACTED)
		snprintf(msg, sizeof(msg),
			 "too old resource version: %lld (%lld)",
			 (long long)w->rv, (long long)compact_rev);
	else
		snprintf(msg, sizeof(msg), "watch ended: %s; relist",
			 store_strerror(err));
	json_t *status = http_status_json(410, "Expired", msg);
	json_t *line = json_pack("{s:s, s:o}", "type", "ERROR", "object",
				 status);
	if (line)
		http_stream_json(st, line);
	json_decref(line);
}

static void api_rest_watch(struct api_rest_call *c)
{
	struct api_rest_watch *w = calloc(1, sizeof(*w));
	char end[API_REST_KEY_MAX], errmsg[STORE_ERRMSG_SIZE];
	struct http_stream *st;

	if (w == NULL) {
		http_reply_status(c->req, 500, "InternalError",
				  "out of memory");
		return;
	}
	w->sel = c->q.sel;
	c->q.sel = NULL;
	w->rv = c->q.rv;
	w->kind = c->path.kind;
	struct api_watch_params p = {
		.m = c->m,
		.wp = {
			.key = (const uint8_t *)c->key, .key_len = c->key_len,
			/* Events after rv N start at N + 1; without one,
			 * from now (start 0). */
			.start_revision = c->q.rv ? c->q.rv + 1 : 0,
			.prev_kv = true,
		},
		.deliver = api_rest_watch_deliver,
		.fail = api_rest_watch_fail,
		.bookmark = api_rest_watch_bookmark,
		.release = api_rest_watch_release,
		.arg = w,
	};
	if (c->path.name[0] == 0) {
		api_rest_prefix_end(c->key, c->key_len, end);
		p.wp.range_end = (const uint8_t *)end;
		p.wp.range_end_len = c->key_len;
	}
	if (api_watch_start(c->req, &p, &st, errmsg, sizeof(errmsg)) < 0) {
		http_reply_status(c->req, 400, "BadRequest", "watch: %s",
				  errmsg);
		api_rest_watch_release(w);
	}
}

/* ----------------------------------------------------------- handler */

static const char *api_rest_query_get(void *arg, const char *name)
{
	return http_req_query(arg, name);
}

/* Which verb a method and path make; -1 with a 405 answered. */
static int api_rest_verb_of(struct api_rest_call *c)
{
	const struct api_rest_path *p = &c->path;
	bool named = p->name[0] != 0;
	bool ns_ok = p->ns[0] || !api_obj_kind_namespaced(p->kind);

	switch (http_req_method(c->req)) {
	case HTTP_GET:
		if (p->sub == API_REST_SUB_BINDING)
			break;
		return c->q.watch ? API_REST_WATCH
		       : named    ? API_REST_GET
				  : API_REST_LIST;
	case HTTP_POST:
		if (!named && ns_ok)
			return API_REST_CREATE;
		if (p->sub == API_REST_SUB_BINDING)
			return API_REST_UPDATE;
		break;
	case HTTP_PUT:
		if (named && p->sub != API_REST_SUB_BINDING)
			return API_REST_UPDATE;
		break;
	case HTTP_DELETE:
		if (named && p->sub == API_REST_SUB_NONE)
			return API_REST_DELETE;
		break;
	default:
		break;
	}
	http_reply_status(c->req, 405, "MethodNotAllowed",
			  "the server does not allow this method on the "
			  "requested resource (%s %s)",
			  http_req_method_name(c->req), http_req_path(c->req));
	return -1;
}

/* DELETE preconditions: ?resourceVersion=N or a DeleteOptions body with
 * preconditions.resourceVersion. */
static int api_rest_delete_rv(struct api_rest_call *c,
			      struct api_rest_err *e)
{
	size_t len;
	const uint8_t *body = http_req_body(c->req, &len);

	c->del_rv = c->q.rv;
	if (len == 0)
		return 0;
	json_t *b = json_loadb((const char *)body, len, 0, NULL);
	json_t *rv = json_object_get(json_object_get(b, "preconditions"),
				     "resourceVersion");
	int rc = 0;
	if (!json_is_object(b)) {
		api_rest_errf(e, 400, "BadRequest",
			      "DeleteOptions: expected a JSON object");
		rc = -1;
	} else if (json_is_string(rv)) {
		json_t *tmp = json_pack("{s:{s:O}}", "metadata",
					"resourceVersion", rv);
		c->del_rv = tmp ? api_rest_obj_rv(tmp) : 0;
		json_decref(tmp);
		if (c->del_rv == 0) {
			api_rest_errf(e, 400, "BadRequest",
				      "preconditions.resourceVersion: must be "
				      "a decimal revision");
			rc = -1;
		}
	}
	json_decref(b);
	return rc;
}

static void api_rest_handle(struct http_req *req, void *arg)
{
	struct api_rest_err e;
	struct api_rest_call *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		http_reply_status(req, 500, "InternalError", "out of memory");
		return;
	}
	c->req = req;
	c->m = arg;
	if (api_rest_parse_path(http_req_path(req), &c->path, &e) < 0 ||
	    api_rest_parse_query(api_rest_query_get, req, &c->q, &e) < 0) {
		api_rest_reply_err(req, &e);
		api_rest_call_free(c);
		return;
	}
	int verb = api_rest_verb_of(c);
	if (verb < 0) {
		api_rest_call_free(c);
		return;
	}
	c->verb = (enum api_rest_verb)verb;
	c->key_len = api_rest_key(&c->path, c->key, sizeof(c->key));
	if (c->key_len == 0) {
		http_reply_status(req, 400, "BadRequest", "path too long");
		api_rest_call_free(c);
		return;
	}
	switch (c->verb) {
	case API_REST_WATCH:
		api_rest_watch(c);
		api_rest_call_free(c);
		break;
	case API_REST_CREATE:
		api_rest_create(c);
		break;
	case API_REST_DELETE:
		if (api_rest_delete_rv(c, &e) < 0) {
			api_rest_reply_err(req, &e);
			api_rest_call_free(c);
			break;
		}
		api_rest_read(c, true);
		break;
	case API_REST_UPDATE:
		api_rest_read(c, true);
		break;
	default:
		/* GET and LIST; the route forwarded a linearizable one to
		 * the leader already if we are a follower. */
		api_rest_read(c, !c->q.serializable);
		break;
	}
}

int api_rest_register(struct http_server *srv, struct master *m,
		      char *errmsg, size_t errlen)
{
	static const char *const prefixes[] = {
		"/api/v1", "/apis/apps/v1", "/apis/coordination.k8s.io/v1"};

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (http_route(srv, HTTP_ANY_METHOD, prefixes[i],
			       HTTP_ROUTE_LEADER, api_rest_handle, m) < 0) {
			snprintf(errmsg, errlen, "api: route %s: %s",
				 prefixes[i], strerror(errno));
			return -1;
		}
	return 0;
}
