/*
 * api_watch: streams a store watcher (store_watch.h) to an HTTP client as
 * chunked JSON lines, for the etcd-shaped /v3/watch and the Kubernetes
 * watches (?watch=1). The formats differ; the pump is shared.
 *
 * Delivery: the store watcher is a cursor into the revision log, so every
 * event is delivered exactly once, in revision order, with nothing queued
 * here. The store's notify callback (called inside store_apply) only
 * schedules a drain on the loop; the drain polls the cursor and hands
 * batches of events to the format callback, which writes them.
 *
 * Slow clients (documented in docs/api.md "Watch"): the pump stops
 * polling while more than API_WATCH_MAX_PENDING bytes sit unsent in the
 * connection and looks again every API_WATCH_RETRY_MS; meanwhile the
 * client costs the history it has not read, which the quota and compaction
 * bound. If compaction overtakes it, the stream ends with the compacted
 * error (Kubernetes: an ERROR Status 410 line; etcd: canceled with
 * compact_revision) and the client relists. A client that goes away frees
 * its watcher at once (http close callback).
 *
 * Threading: the master's loop thread.
 */
#ifndef SLUICE_CTRL_API_WATCH_H
#define SLUICE_CTRL_API_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store_watch.h"

struct http_req;
struct http_stream;
struct master;
struct api_watch; /* opaque */

#define API_WATCH_MAX_PENDING (4u * 1024u * 1024u)
#define API_WATCH_RETRY_MS 20
#define API_WATCH_BATCH 256
#define API_WATCH_ROUNDS 16 /* batches per turn of the event loop */
/* Progress marks (Kubernetes BOOKMARK, etcd progress notification) at most
 * this often, and only when the watcher's resume point moved. */
#define API_WATCH_BOOKMARK_MS 2000

/* Write n events (n >= 1) to st. 0, or -1 when the client is gone. The
 * events point into the store: use them before returning. */
typedef int (*api_watch_deliver_fn)(void *arg, struct http_stream *st,
				    const struct store_event *evs, size_t n);
/* The watcher failed (STORE_ERR_COMPACTED with compact_rev, WATCH_SLOW,
 * WATCH_CANCELED): write the last line; the pump ends the stream. */
typedef void (*api_watch_fail_fn)(void *arg, struct http_stream *st,
				  int store_err, int64_t compact_rev);

struct api_watch_params {
	struct master *m;
	struct store_watch_params wp; /* notify and data are the pump's */
	api_watch_deliver_fn deliver;
	api_watch_fail_fn fail;
	/* Optional: write a progress mark saying every event up to rev has
	 * been delivered (rev is the watcher's resume point minus one, which
	 * moves past revisions the watcher's range or selector skips, so a
	 * client that resumes from it is not sent back to a compacted
	 * revision for writes it never cared about). 0, or -1 when the
	 * client is gone. */
	int (*bookmark)(void *arg, struct http_stream *st, int64_t rev);
	/* Called once when the watch ends for any reason (also when start
	 * fails after it took arg); frees arg. May be NULL. */
	void (*release)(void *arg);
	void *arg;
};

/*
 * Create the store watcher and start a 200 chunked stream on req. The
 * caller may write its first lines to *st right after (only then: later
 * the pump owns the stream). Returns 0; or -1 when the watcher cannot be
 * created, with req NOT answered and errmsg set (the caller replies 400)
 * and release not called; or 1 when the client went away (req answered,
 * release called, *st NULL).
 */
int api_watch_start(struct http_req *req, const struct api_watch_params *p,
		    struct http_stream **st, char *errmsg, size_t errlen);

/* POST /v3/watch: decode the body, answer an error or stream etcd
 * WatchResponse lines ({"result":{...}}). Answers req. */
void api_watch_kv(struct http_req *req, struct master *m, const char *body,
		  size_t len);

#endif /* SLUICE_CTRL_API_WATCH_H */
