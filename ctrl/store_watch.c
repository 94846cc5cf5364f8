/*
 * store_watch: watchers as cursors into the store's revision log.
 *
 * A cursor (main, sub) names the next record a watcher may deliver; polling
 * binary-searches the log for it and scans forward to the first record in
 * the watcher's range. Because the log is the history, no event is ever
 * queued, copied or dropped, and "exactly once, in order, resumable" holds
 * by construction. Compaction is the only thing that removes records from
 * below the head, so a cursor at or below the compact revision is the one
 * way to lose events, and it is reported (STORE_ERR_COMPACTED), never
 * silent. See store_watch.h for the overflow policy.
 */
#include "store_watch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

static uint8_t *store_watch_dup(const uint8_t *p, size_t n)
{
	uint8_t *d = store_malloc(n ? n : 1);
	if (d && n)
		memcpy(d, p, n);
	return d;
}

struct store_watcher *store_watch_create(struct store *s,
					 const struct store_watch_params *p)
{
	if (s == NULL || p == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (p->key_len == 0 || p->key == NULL || p->key_len > STORE_KEY_MAX) {
		store_set_err(s, "watch.key: empty or longer than %u",
			      STORE_KEY_MAX);
		errno = EINVAL;
		return NULL;
	}
	if (p->range_end_len > STORE_KEY_MAX ||
	    (p->range_end_len && p->range_end == NULL)) {
		store_set_err(s, "watch.range_end: NULL or longer than %u",
			      STORE_KEY_MAX);
		errno = EINVAL;
		return NULL;
	}
	if (p->start_revision < 0 || p->max_lag < 0) {
		store_set_err(s, "watch: negative start_revision or max_lag");
		errno = EINVAL;
		return NULL;
	}
	struct store_watcher *w = store_calloc(1, sizeof(*w));
	if (w == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	w->key = store_watch_dup(p->key, p->key_len);
	w->range_end = store_watch_dup(p->range_end, p->range_end_len);
	if (w->key == NULL || w->range_end == NULL) {
		free(w->key);
		free(w->range_end);
		free(w);
		errno = ENOMEM;
		return NULL;
	}
	w->key_len = p->key_len;
	w->range_end_len = p->range_end_len;
	w->prev_kv = p->prev_kv;
	w->max_lag = p->max_lag;
	w->notify = p->notify;
	w->data = p->data;
	w->cur_main = p->start_revision ? p->start_revision : s->rev + 1;
	w->store = s;
	w->next = s->watchers;
	s->watchers = w;
	return w;
}

void store_watch_free(struct store_watcher *w)
{
	if (w == NULL)
		return;
	if (w->store) {
		struct store_watcher **pp = &w->store->watchers;
		while (*pp && *pp != w)
			pp = &(*pp)->next;
		if (*pp)
			*pp = w->next;
	}
	free(w->key);
	free(w->range_end);
	free(w);
}

void store_watch_detach_all(struct store *s)
{
	for (struct store_watcher *w = s->watchers, *n; w; w = n) {
		n = w->next;
		w->store = NULL;
		w->next = NULL;
	}
	s->watchers = NULL;
}

static bool store_watch_match(const struct store_watcher *w,
			      const struct store_rec *r)
{
	return store_in_range(r->key->key, r->key->len, w->key, w->key_len,
			      w->range_end, w->range_end_len);
}

static bool store_watch_before(const struct store_rec *r, int64_t main,
			       int64_t sub)
{
	return r->main < main || (r->main == main && r->sub < sub);
}

/* Sticky error check; returns the error or STORE_OK. */
static int store_watch_check(struct store_watcher *w)
{
	struct store *s = w->store;
	if (w->err)
		return w->err;
	if (s == NULL) {
		w->err = STORE_ERR_WATCH_CANCELED;
	} else if (w->cur_main <= s->compact_rev) {
		w->err = STORE_ERR_COMPACTED;
		w->err_compact_rev = s->compact_rev;
		store_set_err(s, "watch: revision %lld compacted (compact "
				 "revision %lld): relist, then watch from the "
				 "list revision + 1",
			      (long long)w->cur_main,
			      (long long)s->compact_rev);
	} else if (w->max_lag && s->rev - w->cur_main + 1 > w->max_lag) {
		w->err = STORE_ERR_WATCH_SLOW;
		store_set_err(s, "watch: %lld revisions behind (max_lag "
				 "%lld): canceled; watch again from the last "
				 "revision + 1 or relist",
			      (long long)(s->rev - w->cur_main + 1),
			      (long long)w->max_lag);
	}
	return w->err;
}

static void store_watch_fill_kv(struct store_kv *kv, const struct store_rec *r)
{
	kv->key = r->key->key;
	kv->key_len = r->key->len;
	kv->value = r->value;
	kv->value_len = r->value_len;
	kv->create_revision = r->create_rev;
	kv->mod_revision = r->main;
	kv->version = r->version;
	kv->lease = r->lease;
}

int store_watch_next(struct store_watcher *w, struct store_event *ev,
		     bool *got)
{
	if (got)
		*got = false;
	if (w == NULL || ev == NULL || got == NULL)
		return STORE_ERR_INVAL;
	int rc = store_watch_check(w);
	if (rc != STORE_OK)
		return rc;
	struct store *s = w->store;
	/* A broken store may hold half a revision; deliver nothing until a
	 * restore heals it (not sticky: the cursor resumes afterwards). */
	if (store_is_broken(s))
		return STORE_ERR_BROKEN;
	size_t lo = 0, hi = s->n_log;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (store_watch_before(s->log[mid], w->cur_main, w->cur_sub))
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < s->n_log; i++) {
		const struct store_rec *r = s->log[i];
		if (!store_watch_match(w, r))
			continue;
		memset(ev, 0, sizeof(*ev));
		ev->type = r->tombstone ? STORE_EVENT_DELETE : STORE_EVENT_PUT;
		ev->revision = r->main;
		store_watch_fill_kv(&ev->kv, r);
		if (w->prev_kv) {
			/* Compaction keeps the latest record <= the compact
			 * revision, so the previous record of any event
			 * above it is still here (unless a tombstone). */
			size_t pos = store_rec_pos(r);
			const struct store_rec *p =
				pos ? r->key->revs[pos - 1] : NULL;
			if (p && !p->tombstone) {
				ev->has_prev = true;
				store_watch_fill_kv(&ev->prev_kv, p);
			}
		}
		w->cur_main = r->main;
		w->cur_sub = r->sub + 1;
		*got = true;
		return STORE_OK;
	}
	/* Nothing left: skip to the next revision, but never move a cursor
	 * that starts in the future backwards. */
	if (w->cur_main <= s->rev) {
		w->cur_main = s->rev + 1;
		w->cur_sub = 0;
	}
	return STORE_OK;
}

int64_t store_watch_compact_revision(const struct store_watcher *w)
{
	return w ? w->err_compact_rev : 0;
}

int64_t store_watch_next_revision(const struct store_watcher *w)
{
	return w ? w->cur_main : 0;
}

void store_watch_notify(struct store *s, size_t from)
{
	for (struct store_watcher *w = s->watchers; w; w = w->next) {
		w->notified = false;
		if (w->err)
			continue;
		/* Caught up = nothing unread before this write's records. */
		bool caught_up = from < s->n_log &&
				 w->cur_main >= s->log[from]->main;
		bool hit = false;
		for (size_t i = from; i < s->n_log && !hit; i++)
			hit = !store_watch_before(s->log[i], w->cur_main,
						  w->cur_sub) &&
			      store_watch_match(w, s->log[i]);
		if (hit) {
			w->notified = true;
		} else if (caught_up && w->cur_main <= s->rev) {
			/* An idle watcher that had read everything stays
			 * caught up, so max_lag counts only real backlog. */
			w->cur_main = s->rev + 1;
			w->cur_sub = 0;
		}
	}
	for (struct store_watcher *w = s->watchers, *n; w; w = n) {
		n = w->next;
		if (w->notified && w->notify)
			w->notify(w, w->data);
	}
}

void store_watch_compacted(struct store *s)
{
	for (struct store_watcher *w = s->watchers, *n; w; w = n) {
		n = w->next;
		if (!w->err && w->cur_main <= s->compact_rev && w->notify)
			w->notify(w, w->data);
	}
}
