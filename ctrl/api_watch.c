/*
 * api_watch: the watch pump (see api_watch.h) and the etcd /v3/watch
 * format on top of it.
 *
 * Lifetime: a watch is torn down exactly once, either by the client going
 * away (http close callback) or by the pump ending the stream after a
 * watcher error. The close callback may run inside http_stream_write(),
 * i.e. inside our own drain; it then only marks the watch closed and the
 * drain frees it on the way out, so nothing is touched after free.
 */
#include "api_watch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "api_kv.h"
#include "http.h"
#include "master.h"

struct api_watch {
	struct api_watch_params p;
	struct store_watcher *sw;
	struct http_stream *st;
	struct event *ev;
	struct event *mark;    /* bookmark timer, NULL without p.bookmark */
	int64_t marked;        /* rev of the last bookmark (the pump does not
				* know which events a selector let through,
				* so events do not count) */
	bool draining;
	bool closed; /* client gone: the stream is freed */
	bool started;
};

static void api_watch_free(struct api_watch *w)
{
	store_watch_free(w->sw);
	if (w->ev)
		event_free(w->ev);
	if (w->mark)
		event_free(w->mark);
	if (w->p.release)
		w->p.release(w->p.arg);
	free(w);
}

static void api_watch_end(struct api_watch *w)
{
	if (!w->closed)
		http_stream_end(w->st);
	api_watch_free(w);
}

static void api_watch_retry(struct api_watch *w)
{
	struct timeval tv = {0, API_WATCH_RETRY_MS * 1000};
	event_add(w->ev, &tv);
}

static void api_watch_drain(evutil_socket_t fd, short what, void *arg)
{
	struct api_watch *w = arg;
	struct store_event evs[API_WATCH_BATCH];

	(void)fd;
	(void)what;
	w->draining = true;
	for (unsigned rounds = 0;; rounds++) {
		if (w->closed)
			break;
		/* A long backlog that the selector mostly filters out writes
		 * nothing and so never meets backpressure: yield to the loop
		 * every API_WATCH_ROUNDS batches all the same. */
		if (rounds == API_WATCH_ROUNDS) {
			event_active(w->ev, EV_TIMEOUT, 0);
			break;
		}
		/* Backpressure: leave the rest in the store's history. */
		if (http_stream_pending(w->st) > API_WATCH_MAX_PENDING) {
			api_watch_retry(w);
			break;
		}
		size_t n = 0;
		int rc = STORE_OK;
		bool got = true;
		while (n < API_WATCH_BATCH) {
			rc = store_watch_next(w->sw, &evs[n], &got);
			if (rc != STORE_OK || !got)
				break;
			n++;
		}
		if (n > 0 && w->p.deliver(w->p.arg, w->st, evs, n) < 0)
			break; /* closed is set, now or from the loop */
		if (w->closed)
			break;
		if (rc == STORE_ERR_BROKEN) {
			/* Not sticky: the store resumes after a restore. */
			api_watch_retry(w);
			break;
		}
		if (rc != STORE_OK) {
			w->p.fail(w->p.arg, w->st, rc,
				  store_watch_compact_revision(w->sw));
			w->draining = false;
			api_watch_end(w);
			return;
		}
		if (n < API_WATCH_BATCH)
			break;
	}
	w->draining = false;
	if (w->closed)
		api_watch_free(w);
}

static void api_watch_bookmark(evutil_socket_t fd, short what, void *arg)
{
	struct api_watch *w = arg;

	(void)fd;
	(void)what;
	/* The cursor passes an event only once it was handed to deliver,
	 * so cursor - 1 never covers an event the client has not been sent
	 * (the mark follows those events in the stream). A client with
	 * bytes still unsent is behind anyway: no marks pile up on it. */
	if (w->closed || http_stream_pending(w->st) > 0)
		return;
	int64_t rev = store_watch_next_revision(w->sw) - 1;
	if (rev <= w->marked)
		return;
	w->marked = rev;
	w->draining = true;
	w->p.bookmark(w->p.arg, w->st, rev);
	w->draining = false;
	if (w->closed)
		api_watch_free(w);
}

static void api_watch_notify(struct store_watcher *sw, void *data)
{
	struct api_watch *w = data;

	(void)sw;
	/* Inside store_apply: only schedule; the drain runs on the loop. */
	if (w->ev && !w->closed)
		event_active(w->ev, EV_TIMEOUT, 0);
}

static void api_watch_closed(struct http_stream *st, void *arg)
{
	struct api_watch *w = arg;

	(void)st;
	w->closed = true;
	if (!w->draining)
		api_watch_free(w);
}

int api_watch_start(struct http_req *req, const struct api_watch_params *p,
		    struct http_stream **st, char *errmsg, size_t errlen)
{
	struct api_watch *w = calloc(1, sizeof(*w));
	struct store *s = master_store(p->m);

	*st = NULL;
	if (w == NULL) {
		snprintf(errmsg, errlen, "out of memory");
		return -1;
	}
	w->p = *p;
	w->p.wp.notify = api_watch_notify;
	w->p.wp.data = w;
	w->ev = event_new(master_base(p->m), -1, 0, api_watch_drain, w);
	if (w->ev == NULL) {
		snprintf(errmsg, errlen, "out of memory");
		free(w);
		return -1;
	}
	w->sw = store_watch_create(s, &w->p.wp);
	if (w->sw == NULL) {
		snprintf(errmsg, errlen, "%s",
			 errno == EINVAL ? store_errmsg(s) : strerror(errno));
		event_free(w->ev);
		free(w);
		return -1;
	}
	w->st = http_stream_start(req, 200, "application/json",
				  api_watch_closed, w);
	if (w->st == NULL) {
		w->closed = true;
		api_watch_free(w);
		return 1;
	}
	*st = w->st;
	/* History from start_revision may already be there. */
	event_active(w->ev, EV_TIMEOUT, 0);
	w->marked = store_watch_next_revision(w->sw) - 1;
	if (p->bookmark) {
		struct timeval tv = {API_WATCH_BOOKMARK_MS / 1000,
				     API_WATCH_BOOKMARK_MS % 1000 * 1000};
		w->mark = event_new(master_base(p->m), -1, EV_PERSIST,
				    api_watch_bookmark, w);
		if (w->mark)
			event_add(w->mark, &tv);
	}
	return 0;
}

/* ------------------------------------------------------- etcd format */

struct api_watch_kv {
	struct master *m;
	struct api_kv_req kv;
};

static void api_watch_kv_release(void *arg)
{
	struct api_watch_kv *k = arg;
	api_kv_req_clear(&k->kv);
	free(k);
}

/* {"result":{"header":{...}, ...fields}} as one line. */
static int api_watch_kv_line(struct api_watch_kv *k, struct http_stream *st,
			     json_t *fields)
{
	struct master_status ms;
	struct api_kv_header h = {0};

	master_status_get(k->m, &ms);
	h.member_id = ms.self;
	h.raft_term = ms.term;
	h.revision = ms.revision;
	json_t *res = api_kv_header_json(&h);
	json_t *line = NULL;
	if (res) {
		json_t *hdr = res;
		res = json_object();
		if (res == NULL || json_object_set_new(res, "header", hdr) ||
		    json_object_update(res, fields)) {
			if (res == NULL)
				json_decref(hdr);
			json_decref(res);
			res = NULL;
		}
	}
	if (res)
		line = json_pack("{s:o}", "result", res);
	json_decref(fields);
	if (line == NULL)
		return 0; /* out of memory: drop the line, keep the stream */
	int rc = http_stream_json(st, line);
	json_decref(line);
	return rc;
}

static int api_watch_kv_deliver(void *arg, struct http_stream *st,
				const struct store_event *evs, size_t n)
{
	struct api_watch_kv *k = arg;
	json_t *arr = json_array();
	size_t kept = 0;

	if (arr == NULL)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if ((evs[i].type == STORE_EVENT_PUT && k->kv.watch_no_put) ||
		    (evs[i].type == STORE_EVENT_DELETE &&
		     k->kv.watch_no_delete))
			continue;
		json_array_append_new(arr, api_kv_event_json(
						   &evs[i], k->kv.watch.prev_kv));
		kept++;
	}
	if (kept == 0) {
		json_decref(arr);
		return 0;
	}
	return api_watch_kv_line(k, st, json_pack("{s:o}", "events", arr));
}

/* etcd's progress notification: a WatchResponse with a header and no
 * events; its header revision is what the client may resume after. */
static int api_watch_kv_progress(void *arg, struct http_stream *st,
				 int64_t rev)
{
	struct api_watch_kv *k = arg;
	(void)rev;
	return api_watch_kv_line(k, st, json_object());
}

static void api_watch_kv_fail(void *arg, struct http_stream *st, int err,
			      int64_t compact_rev)
{
	struct api_watch_kv *k = arg;
	struct api_kv_err e;

	api_kv_err_from_store(err, store_strerror(err), &e);
	json_t *f = json_pack("{s:b, s:s}", "canceled", 1, "cancel_reason",
			      e.msg);
	if (f && compact_rev > 0) {
		char buf[24];
		snprintf(buf, sizeof(buf), "%lld", (long long)compact_rev);
		json_object_set_new(f, "compact_revision", json_string(buf));
	}
	if (f)
		api_watch_kv_line(k, st, f);
}

void api_watch_kv(struct http_req *req, struct master *m, const char *body,
		  size_t len)
{
	struct api_watch_kv *k = calloc(1, sizeof(*k));
	struct api_kv_err e;
	char errmsg[STORE_ERRMSG_SIZE];
	struct http_stream *st;

	if (k == NULL) {
		api_kv_errf(&e, API_KV_GRPC_RESOURCE_EXHAUSTED, 503,
			    "etcdserver: out of memory");
		http_reply_json(req, e.http, api_kv_err_json(&e));
		return;
	}
	k->m = m;
	if (api_kv_decode(API_KV_WATCH, body, len, &k->kv, &e) < 0) {
		http_reply_json(req, e.http, api_kv_err_json(&e));
		free(k);
		return;
	}
	struct api_watch_params p = {
		.m = m,
		.wp = k->kv.watch,
		.deliver = api_watch_kv_deliver,
		.fail = api_watch_kv_fail,
		.bookmark = k->kv.watch_progress ? api_watch_kv_progress : NULL,
		.release = api_watch_kv_release,
		.arg = k,
	};
	int rc = api_watch_start(req, &p, &st, errmsg, sizeof(errmsg));
	if (rc < 0) {
		api_kv_errf(&e, API_KV_GRPC_INVALID_ARGUMENT, 400,
			    "etcdserver: %s", errmsg);
		http_reply_json(req, e.http, api_kv_err_json(&e));
		api_watch_kv_release(k);
		return;
	}
	if (rc == 0)
		api_watch_kv_line(k, st, json_pack("{s:b}", "created", 1));
}
