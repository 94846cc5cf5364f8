/*
 * store_watch: watch a key or range from a revision (etcd v3 Watch).
 *
 * A watcher registered at start revision R yields every event (PUT or
 * DELETE, with the new kv and optionally the previous kv) whose revision is
 * >= R and whose key is in its range, in (main, sub) revision order, exactly
 * once. A watcher holds no queue: it is a cursor into the store's history,
 * so delivery is exact across any number of writes between polls, and a
 * client that lost its watcher resumes exactly by watching again from the
 * revision after the last event it processed.
 *
 * Bounds and overflow (etcd's slow-watcher handling): the backlog of a
 * watcher is the store's history, itself bounded by the quota and by
 * compaction. etcd moves a watcher that cannot keep up to an "unsynced"
 * group that catches up from the backend, and cancels it with ErrCompacted
 * if the revision it needs has been compacted; this watcher behaves the
 * same: once its next revision is <= the compact revision, polling returns
 * STORE_ERR_COMPACTED with the compact revision, and the client must relist
 * (range at the current revision X) and watch again from X + 1. Optionally
 * max_lag bounds how far behind the head a watcher may fall: beyond it the
 * watcher is canceled with STORE_ERR_WATCH_SLOW (the server-side analogue
 * of etcd cancelling a watch whose send buffer is full); the client
 * re-watches from its last revision + 1 or relists. Both errors are sticky.
 *
 * Note: etcd accepts a watch from exactly the compact revision; here the
 * start revision must be > compact revision, because a tombstone written
 * at the compact revision is itself compacted away and could not be
 * delivered.
 *
 * Threading: same thread as the store.
 */
#ifndef SLUICE_CTRL_STORE_WATCH_H
#define SLUICE_CTRL_STORE_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct store_watcher; /* opaque */

struct store_watch_params {
	const uint8_t *key; /* copied; range semantics as struct store_op */
	size_t key_len;
	const uint8_t *range_end;
	size_t range_end_len;
	int64_t start_revision; /* 0 = only events after the current revision */
	bool prev_kv;           /* fill event.prev_kv */
	int64_t max_lag;        /* revisions behind the head; 0 = unbounded */
	/* Called (on the store's thread, from store_apply or the compaction
	 * in it) at most once per apply when the watcher has something new
	 * to poll: events or an error. Must not call store_apply. May be
	 * NULL for a purely polled watcher. */
	void (*notify)(struct store_watcher *w, void *data);
	void *data;
};

enum store_event_type {
	STORE_EVENT_PUT = 1,
	STORE_EVENT_DELETE = 2,
};

/* An event. kv and prev_kv point into the store and stay valid until the
 * next store_apply(), store_restore() or store_free() on it. For a DELETE,
 * kv has the key and mod_revision = the deleting revision, the rest 0. */
struct store_event {
	enum store_event_type type;
	int64_t revision; /* main revision of the write */
	struct store_kv kv;
	bool has_prev;
	struct store_kv prev_kv;
};

/*
 * Register a watcher. Returns NULL with errno set (EINVAL with the store's
 * errmsg naming the field, ENOMEM). A start revision already compacted is
 * accepted here and reported by the first poll, as etcd reports it on the
 * watch stream.
 */
struct store_watcher *store_watch_create(struct store *s,
					 const struct store_watch_params *p);

/* Unregister and free; accepts NULL. Works after the store was freed. */
void store_watch_free(struct store_watcher *w);

/*
 * Next event, if any. Returns STORE_OK with *got set to whether *ev was
 * filled; or the watcher's sticky error: STORE_ERR_COMPACTED (see
 * store_watch_compact_revision), STORE_ERR_WATCH_SLOW,
 * STORE_ERR_WATCH_CANCELED (store freed), STORE_ERR_INVAL (NULL args).
 * When a watcher turns COMPACTED or WATCH_SLOW, store_errmsg() of its
 * store says what to do ("relist, then watch from ...");
 * or, not sticky, STORE_ERR_BROKEN while the store is broken (see
 * store_apply): the watcher resumes from its cursor once it is restored.
 */
int store_watch_next(struct store_watcher *w, struct store_event *ev,
		     bool *got);

/* The compact revision reported with STORE_ERR_COMPACTED (0 otherwise). */
int64_t store_watch_compact_revision(const struct store_watcher *w);

/* The revision the next event will have at least (resume point). */
int64_t store_watch_next_revision(const struct store_watcher *w);

#endif /* SLUICE_CTRL_STORE_WATCH_H */
