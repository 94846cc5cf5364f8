/*
 * api_kv_http: the /v3 handlers (etcd 3.4 gateway shape) on the master's
 * HTTPS server. Translation is api_kv.c; this file only moves requests
 * between HTTP, Raft (master_propose) and the store (master_read).
 *
 * Routing: writes are flagged HTTP_ROUTE_FWD_WRITES, so a follower relays
 * them to the leader before we see them. /v3/kv/range is a POST whose
 * consistency is in the body ("serializable"), so it is not flagged: a
 * serializable range is served from the local store on any member, a
 * linearizable one goes through ReadIndex, and a follower forwards it
 * (master_read says NOTLEADER). A request forwarded to a master that lost
 * leadership in between gets 503 from http_forward (no forwarding loops).
 *
 * Each request in flight owns one struct api_kv_call (the caller-allocated
 * master_propose/master_read of master.h live in it); the callback answers
 * and frees it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "api_int.h"
#include "api_kv.h"
#include "api_watch.h"
#include "http.h"
#include "master.h"
#include "store_lease.h"

struct api_kv_call {
	struct master_propose prop;
	struct master_read rd;
	struct http_req *req;
	struct master *m;
	struct api_kv_req kv;
};

static void api_kv_call_free(struct api_kv_call *c)
{
	api_kv_req_clear(&c->kv);
	free(c);
}

static void api_kv_reply_err(struct http_req *req, const struct api_kv_err *e)
{
	http_reply_json(req, e->http, api_kv_err_json(e));
}

static void api_kv_reply_errf(struct http_req *req, int grpc, int http,
			      const char *msg)
{
	struct api_kv_err e;
	api_kv_errf(&e, grpc, http, "%s", msg);
	api_kv_reply_err(req, &e);
}

static void api_kv_header_fill(struct master *m, int64_t revision,
			       struct api_kv_header *h)
{
	struct master_status st;

	master_status_get(m, &st);
	memset(h, 0, sizeof(*h));
	h->member_id = st.self;
	h->raft_term = st.term;
	h->revision = revision;
}

static void api_kv_reply_body(struct http_req *req, json_t *body)
{
	if (body == NULL) {
		api_kv_reply_errf(req, API_KV_GRPC_RESOURCE_EXHAUSTED, 503,
				  "etcdserver: out of memory");
		return;
	}
	http_reply_json(req, 200, body);
}

/* What a master error means to an etcd client (rpctypes wording). IO and
 * the like: the command may or may not have been committed, which is
 * etcd's "request timed out". */
static void api_kv_reply_master_err(struct http_req *req, int status)
{
	const char *msg = "etcdserver: request timed out";

	if (status == MASTER_ERR_NOLEADER)
		msg = "etcdserver: no leader";
	else if (status == MASTER_ERR_LEADERSHIP_LOST)
		msg = "etcdserver: leader changed";
	else if (status == MASTER_ERR_BUSY)
		msg = "etcdserver: leadership transfer in progress";
	else if (status == MASTER_ERR_SHUTDOWN)
		msg = "etcdserver: server stopped";
	api_kv_reply_errf(req, API_KV_GRPC_UNAVAILABLE, 503, msg);
}

/* ------------------------------------------------------------ writes */

static void api_kv_proposed(struct master_propose *p, int status,
			    const struct store_result *res)
{
	struct api_kv_call *c = p->data;

	if (status != MASTER_OK) {
		api_kv_reply_master_err(c->req, status);
	} else if (res->err != STORE_OK) {
		struct api_kv_err e;
		api_kv_err_from_store(res->err, res->errmsg, &e);
		api_kv_reply_err(c->req, &e);
	} else {
		struct api_kv_header h;
		api_kv_header_fill(c->m, res->revision, &h);
		api_kv_reply_body(c->req, api_kv_result_json(&c->kv, res, &h));
	}
	api_kv_call_free(c);
}

/* A random positive lease id (etcd: the proposer picks one). */
static int64_t api_kv_lease_id(void)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
		v = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)clock();
	v &= (uint64_t)INT64_MAX;
	return v ? (int64_t)v : 1;
}

static void api_kv_propose(struct api_kv_call *c)
{
	char errmsg[MASTER_ERRMSG_SIZE] = "";

	if (c->kv.ep == API_KV_LEASE_GRANT && c->kv.cmd.lease_id == 0)
		c->kv.cmd.lease_id = api_kv_lease_id();
	c->prop.data = c;
	int rc = master_propose(c->m, &c->prop, &c->kv.cmd, api_kv_proposed,
				errmsg, sizeof(errmsg));
	if (rc == MASTER_OK)
		return;
	if (rc == MASTER_ERR_NOTLEADER)
		http_forward(c->req);
	else if (rc == MASTER_ERR_INVAL)
		api_kv_reply_errf(c->req, API_KV_GRPC_INVALID_ARGUMENT, 400,
				  errmsg[0] ? errmsg : "invalid request");
	else
		api_kv_reply_master_err(c->req, rc);
	api_kv_call_free(c);
}

/* ------------------------------------------------------------- reads */

static void api_kv_range_now(struct api_kv_call *c, struct store *s)
{
	struct store_op_result out;
	struct api_kv_header h;
	int rc = store_range(s, &c->kv.range, &out);

	if (rc != STORE_OK) {
		struct api_kv_err e;
		api_kv_err_from_store(rc, store_errmsg(s), &e);
		api_kv_reply_err(c->req, &e);
		return;
	}
	/* etcd's header carries the store's current revision, not the one
	 * read at. */
	api_kv_header_fill(c->m, store_revision(s), &h);
	api_kv_reply_body(c->req, api_kv_range_json(&c->kv, &out, &h));
	store_op_result_clear(&out);
}

static void api_kv_lease_ttl_now(struct api_kv_call *c, struct store *s)
{
	int64_t id = c->kv.cmd.lease_id, ttl = 0, deadline = 0, left;
	struct api_kv_header h;
	struct store_op_result keys = {0};
	size_t n_keys = 0;

	api_kv_header_fill(c->m, store_revision(s), &h);
	if (store_lease_get(s, id, &ttl, &deadline) != STORE_OK) {
		/* etcd answers an unknown lease with TTL -1, not an error. */
		api_kv_reply_body(c->req, api_kv_lease_ttl_json(&h, id, 0, -1,
								NULL, 0));
		return;
	}
	left = ttl;
	if (deadline > 0) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		left = deadline > now ? (deadline - now + 999) / 1000 : 0;
	}
	if (c->kv.lease_keys) {
		/* The store has no lease -> keys index; scan every key
		 * ("\0" to "\0" is the whole key space). */
		static const uint8_t zero = 0;
		struct store_op all = {.type = STORE_OP_RANGE, .key = &zero,
				       .key_len = 1, .range_end = &zero,
				       .range_end_len = 1};
		if (store_range(s, &all, &keys) == STORE_OK) {
			/* Swap the lease's keys to the front; every kv still
			 * belongs to the result and is freed with it. */
			for (size_t i = 0; i < keys.n_kvs; i++)
				if (keys.kvs[i].lease == id) {
					struct store_kv t = keys.kvs[n_keys];
					keys.kvs[n_keys++] = keys.kvs[i];
					keys.kvs[i] = t;
				}
		}
	}
	api_kv_reply_body(c->req, api_kv_lease_ttl_json(&h, id, ttl, left,
							keys.kvs, n_keys));
	store_op_result_clear(&keys);
}

static void api_kv_read_done(struct master_read *r, int status,
			     struct store *s)
{
	struct api_kv_call *c = r->data;

	if (status != MASTER_OK)
		api_kv_reply_master_err(c->req, status);
	else if (c->kv.ep == API_KV_RANGE)
		api_kv_range_now(c, s);
	else
		api_kv_lease_ttl_now(c, s);
	api_kv_call_free(c);
}

static void api_kv_read(struct api_kv_call *c, bool linearizable)
{
	if (!linearizable) {
		/* Serializable: this member's store as it is (etcd serves it
		 * locally on any member, possibly stale). */
		api_kv_read_done(&(struct master_read){.data = c}, MASTER_OK,
				 master_store(c->m));
		return;
	}
	c->rd.data = c;
	int rc = master_read(c->m, &c->rd, true, api_kv_read_done);
	if (rc == MASTER_OK)
		return;
	if (rc == MASTER_ERR_NOTLEADER)
		http_forward(c->req);
	else
		api_kv_reply_master_err(c->req, rc);
	api_kv_call_free(c);
}

/* ----------------------------------------------------------- handler */

/* Routes are exact paths, so the handler finds its endpoint by path and
 * the route argument is just the master (nothing to allocate or free). */
static const struct {
	const char *path;
	enum api_kv_ep ep;
	unsigned flags;
} api_kv_routes[] = {
	{"/v3/kv/put", API_KV_PUT, HTTP_ROUTE_FWD_WRITES},
	{"/v3/kv/range", API_KV_RANGE, 0},
	{"/v3/kv/deleterange", API_KV_DELETE, HTTP_ROUTE_FWD_WRITES},
	{"/v3/kv/txn", API_KV_TXN, HTTP_ROUTE_FWD_WRITES},
	{"/v3/kv/compaction", API_KV_COMPACT, HTTP_ROUTE_FWD_WRITES},
	{"/v3/lease/grant", API_KV_LEASE_GRANT, HTTP_ROUTE_FWD_WRITES},
	{"/v3/lease/revoke", API_KV_LEASE_REVOKE, HTTP_ROUTE_FWD_WRITES},
	{"/v3/kv/lease/revoke", API_KV_LEASE_REVOKE,
	 HTTP_ROUTE_FWD_WRITES},
	{"/v3/lease/keepalive", API_KV_LEASE_KEEPALIVE,
	 HTTP_ROUTE_FWD_WRITES},
	/* A POST that only reads: forwarded by master_read, like
	 * range, since the route flags would forward it as a write. */
	{"/v3/lease/timetolive", API_KV_LEASE_TTL, 0},
	{"/v3/kv/lease/timetolive", API_KV_LEASE_TTL, 0},
	{"/v3/watch", API_KV_WATCH, 0},
};
#define API_KV_NROUTES (sizeof(api_kv_routes) / sizeof(api_kv_routes[0]))

static void api_kv_handle(struct http_req *req, void *arg)
{
	struct master *m = arg;
	struct api_kv_err e;
	size_t len;
	const uint8_t *body = http_req_body(req, &len);
	enum api_kv_ep ep = 0;

	for (size_t i = 0; i < API_KV_NROUTES && !ep; i++)
		if (strcmp(http_req_path(req), api_kv_routes[i].path) == 0)
			ep = api_kv_routes[i].ep;
	if (ep == 0) {
		api_kv_reply_errf(req, API_KV_GRPC_UNIMPLEMENTED, 404,
				  "unknown endpoint");
		return;
	}
	if (ep == API_KV_WATCH) {
		api_watch_kv(req, m, (const char *)body, len);
		return;
	}
	struct api_kv_call *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		api_kv_reply_errf(req, API_KV_GRPC_RESOURCE_EXHAUSTED, 503,
				  "etcdserver: out of memory");
		return;
	}
	c->req = req;
	c->m = m;
	if (api_kv_decode(ep, (const char *)body, len, &c->kv, &e) < 0) {
		api_kv_reply_err(req, &e);
		free(c);
		return;
	}
	switch (ep) {
	case API_KV_RANGE:
		api_kv_read(c, !c->kv.serializable);
		break;
	case API_KV_LEASE_TTL:
		api_kv_read(c, true);
		break;
	default:
		api_kv_propose(c);
		break;
	}
}

int api_kv_register(struct http_server *srv, struct master *m, char *errmsg,
		    size_t errlen)
{
	for (size_t i = 0; i < API_KV_NROUTES; i++)
		if (http_route(srv, HTTP_POST, api_kv_routes[i].path,
			       HTTP_ROUTE_EXACT | api_kv_routes[i].flags,
			       api_kv_handle, m) < 0) {
			snprintf(errmsg, errlen, "api: route %s: %s",
				 api_kv_routes[i].path, strerror(errno));
			return -1;
		}
	return 0;
}
