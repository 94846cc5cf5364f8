/*
 * informer: a list + watch cache of one API resource over apic, for the
 * controllers (the client-go informer pattern, reduced).
 *
 * Threads. Each informer runs one watch thread with its own struct apic
 * (apic handles are per thread). The thread lists the collection, then
 * watches from the list's resourceVersion, resuming from the last
 * resourceVersion it saw whenever the stream ends or fails, and relisting
 * when the server answers 410 Expired (compacted). It never touches the
 * cache: it pushes what it read onto a queue shared by all the informers of
 * one orch, and the orch thread drains that queue into the caches
 * (informer_drain), so the caches and everything derived from them belong
 * to that one thread and need no locks. A relist arrives as one queue
 * entry holding all items, which the drain turns into the ADDED, MODIFIED
 * and DELETED notifications that bring the cache in line.
 *
 * Write-through. The orch thread applies the objects its own writes return
 * (informer_put_local / informer_del_local), so it does not act twice on a
 * state the watch has not delivered yet. A watch event older than what the
 * cache holds (lower resourceVersion) is dropped, and so is an event for a
 * key deleted locally at or after that version, so local writes are never
 * rolled back by the stream catching up.
 *
 * Keys are "namespace/name" ("name" for Node).
 * Errors (STYLE 9): constructors return NULL with errmsg; transport errors
 * are logged through the params' log function and retried with a backoff.
 */
#ifndef SLUICE_CTRL_INFORMER_H
#define SLUICE_CTRL_INFORMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "apic.h"

enum informer_event {
	INFORMER_ADDED = 0,
	INFORMER_MODIFIED = 1,
	INFORMER_DELETED = 2,
};

struct informer_queue;
struct informer;

struct informer_params {
	const char *name;        /* for logs: "pods" */
	const char *path;        /* collection, e.g. "/api/v1/pods" (copied) */
	struct apic_params api;  /* strings must outlive the informer */
	struct informer_queue *queue;
	void (*log)(void *data, const char *line); /* from the watch thread */
	void *log_data;
	unsigned backoff_ms;     /* after a failed list/watch; 0 = 500 */
};

/* Shared queue. informer_queue_free() after every informer on it stopped. */
struct informer_queue *informer_queue_create(void);
void informer_queue_free(struct informer_queue *q); /* accepts NULL */
/* Make a waiting informer_drain() return early (other work for the orch
 * thread arrived, e.g. a binding result). Any thread. */
void informer_queue_wake(struct informer_queue *q);

/* Start the watch thread. NULL with errmsg on failure. */
struct informer *informer_start(const struct informer_params *p, char *errmsg, size_t errlen);
/* Ask the thread to stop without waiting (stop several, then join each:
 * they wind down in parallel). Any thread. */
void informer_signal_stop(struct informer *inf);
/* Stop and join the thread (returns within ~200 ms), free the cache;
 * accepts NULL. Entries it left on the queue are discarded by the next
 * drain. Orch thread. */
void informer_stop(struct informer *inf);

/*
 * Orch thread: wait up to timeout_ms for entries (0 = don't wait), then
 * apply them all to their caches, calling cb for each change with the old
 * and new object (old NULL on ADDED, new NULL on DELETED; both borrowed for
 * the duration of the call). Returns the number of changes.
 */
typedef void (*informer_cb)(void *arg, struct informer *inf, enum informer_event ev,
			    const char *key, const json_t *old, const json_t *cur);
size_t informer_drain(struct informer_queue *q, int timeout_ms, informer_cb cb, void *arg);

/* Cache reads, orch thread. The object is borrowed until the next drain or
 * local write. */
const json_t *informer_get(const struct informer *inf, const char *key);
/* The whole cache: a JSON object key -> object (borrowed). */
const json_t *informer_items(const struct informer *inf);
/* The first list has been applied. */
bool informer_synced(const struct informer *inf);
const char *informer_name(const struct informer *inf);

/* Write-through of our own writes (the object as the server returned it;
 * copied); cb is called like a drain would. */
void informer_put_local(struct informer *inf, const json_t *obj, informer_cb cb, void *arg);
void informer_del_local(struct informer *inf, const char *key, int64_t rv, informer_cb cb,
			void *arg);

/* Counters for logs and benchmarks. */
struct informer_stats {
	uint64_t lists, watches, events, expired, errors;
};
void informer_stats(const struct informer *inf, struct informer_stats *out);

/* metadata.resourceVersion as a number (0 if absent or malformed). */
int64_t informer_rv(const json_t *obj);

#endif
