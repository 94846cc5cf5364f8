/*
 * informer: list + watch cache of one resource (see informer.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sluice/errmsg.h>

#include "ctlr_util.h"
#include "informer.h"

#define INFORMER_PATH_MAX 512

enum informer_entry_type {
	INFORMER_E_LIST,  /* obj = items array */
	INFORMER_E_EVENT, /* obj = object, ev = type */
};

struct informer_entry {
	struct informer_entry *next;
	struct informer *inf;
	enum informer_entry_type type;
	enum informer_event ev;
	json_t *obj;
};

struct informer_queue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct informer_entry *head, *tail;
	bool woken;
};

struct informer {
	char name[64];
	char path[INFORMER_PATH_MAX];
	struct apic_params api;
	struct informer_queue *q;
	void (*log)(void *data, const char *line);
	void *log_data;
	unsigned backoff_ms;
	pthread_t thread;
	volatile int stop;
	/* Orch thread only. */
	json_t *cache;      /* key -> object */
	json_t *tombstones; /* key -> rv of a local delete */
	bool synced;
	/* Watch thread only, except stats (read racily for logs). */
	int64_t rv;
	unsigned fails;      /* failed lists/watches in a row */
	time_t last_fail_log;
	struct informer_stats stats;
};

/* ------------------------------------------------------------ queue */

struct informer_queue *informer_queue_create(void)
{
	struct informer_queue *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return NULL;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	return q;
}

static void informer_entry_free(struct informer_entry *e)
{
	json_decref(e->obj);
	free(e);
}

void informer_queue_free(struct informer_queue *q)
{
	if (q == NULL)
		return;
	struct informer_entry *e = q->head;
	while (e) {
		struct informer_entry *n = e->next;
		informer_entry_free(e);
		e = n;
	}
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	free(q);
}

void informer_queue_wake(struct informer_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->woken = true;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

/* Takes ownership of obj. */
static void informer_push(struct informer *inf, enum informer_entry_type type,
			  enum informer_event ev, json_t *obj)
{
	struct informer_entry *e = calloc(1, sizeof(*e));
	if (e == NULL) {
		/* Dropping an event would leave the cache wrong for good:
		 * force a relist instead. */
		json_decref(obj);
		inf->rv = 0;
		return;
	}
	e->inf = inf;
	e->type = type;
	e->ev = ev;
	e->obj = obj;
	struct informer_queue *q = inf->q;
	pthread_mutex_lock(&q->lock);
	if (q->tail)
		q->tail->next = e;
	else
		q->head = e;
	q->tail = e;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

/* ------------------------------------------------------------ watch thread */

__attribute__((format(printf, 2, 3))) static void informer_logf(struct informer *inf,
								const char *fmt, ...)
{
	char line[768];
	va_list ap;
	va_start(ap, fmt);
	int n = snprintf(line, sizeof(line), "informer %s: ", inf->name);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (inf->log)
		inf->log(inf->log_data, line);
	else
		fprintf(stderr, "sluice-ctrl: %s\n", line);
}

int64_t informer_rv(const json_t *obj)
{
	const char *s = json_string_value(
		json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
	if (s == NULL)
		return 0;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	return errno || *end || end == s || v < 0 ? 0 : (int64_t)v;
}

/* Sleep in 50 ms steps so a stop is noticed quickly. */
static void informer_sleep(struct informer *inf, unsigned ms)
{
	for (unsigned t = 0; t < ms && !inf->stop; t += 50) {
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

static bool informer_list(struct informer *inf, struct apic *c, char *err, size_t errlen)
{
	struct apic_resp r = {0};
	int rc = apic_request(c, "GET", inf->path, NULL, &r);
	bool ok = false;
	json_t *items = json_object_get(r.body, "items");
	int64_t rv = informer_rv(r.body);
	if (rc != APIC_OK) {
		snprintf(err, errlen, "list %.160s: %.300s", inf->path, r.errmsg);
	} else if (r.status != 200) {
		snprintf(err, errlen, "list %.160s: HTTP %ld: %.300s", inf->path, r.status, r.errmsg);
	} else if (!json_is_array(items) || rv <= 0) {
		/* A list without items or metadata.resourceVersion cannot
		 * anchor a watch. */
		snprintf(err, errlen, "list %.160s: answer lacks items or metadata.resourceVersion",
			 inf->path);
	} else {
		/* Count before pushing: the queue's lock publishes the count
		 * with the items, so whoever sees them also sees the list. */
		inf->stats.lists++;
		inf->rv = rv;
		informer_push(inf, INFORMER_E_LIST, INFORMER_ADDED, json_incref(items));
		ok = true;
	}
	apic_resp_clear(&r);
	return ok;
}

static bool informer_on_event(void *arg, const char *type, json_t *obj)
{
	struct informer *inf = arg;
	enum informer_event ev;
	if (strcmp(type, "ERROR") == 0) {
		json_t *code = json_object_get(obj, "code");
		if (json_is_integer(code) && json_integer_value(code) == 410) {
			inf->stats.expired++;
			informer_logf(inf, "resourceVersion %lld expired: relisting",
				      (long long)inf->rv);
		} else {
			inf->stats.errors++;
			const char *msg = json_string_value(json_object_get(obj, "message"));
			informer_logf(inf, "watch error event: %s", msg ? msg : "(no message)");
		}
		inf->rv = 0; /* relist */
		return false;
	}
	int64_t rv = informer_rv(obj);
	if (!json_is_object(obj) || rv <= 0) {
		/* Without a resourceVersion we cannot resume after it: the
		 * only safe move is a relist. */
		informer_logf(inf, "watch %s event without metadata.resourceVersion: relisting",
			      type);
		inf->rv = 0;
		return false;
	}
	if (strcmp(type, "BOOKMARK") == 0) {
		inf->rv = rv;
		return true;
	}
	if (strcmp(type, "ADDED") == 0)
		ev = INFORMER_ADDED;
	else if (strcmp(type, "MODIFIED") == 0)
		ev = INFORMER_MODIFIED;
	else if (strcmp(type, "DELETED") == 0)
		ev = INFORMER_DELETED;
	else {
		informer_logf(inf, "watch event type \"%.32s\" unknown: relisting", type);
		inf->rv = 0;
		return false;
	}
	informer_push(inf, INFORMER_E_EVENT, ev, json_incref(obj));
	/* A delete carries the object's last version, which can be lower
	 * than the revision we are at: never go backwards. */
	if (rv > inf->rv)
		inf->rv = rv;
	inf->stats.events++;
	return true;
}

/* A failed list or watch: log the first of a streak and then at most
 * every 30 s (a master down for a minute must not flood the log), and back
 * off exponentially from backoff_ms to 16 times it. */
static void informer_fail(struct informer *inf, const char *what)
{
	time_t now = time(NULL);
	inf->stats.errors++;
	if (inf->fails == 0 || now - inf->last_fail_log >= 30) {
		informer_logf(inf, "%s%s", what, inf->fails ? " (still failing)" : "");
		inf->last_fail_log = now;
	}
	unsigned shift = inf->fails < 4 ? inf->fails : 4;
	inf->fails++;
	informer_sleep(inf, inf->backoff_ms << shift);
}

static void informer_ok(struct informer *inf)
{
	if (inf->fails > 0)
		informer_logf(inf, "back after %u failed attempt(s)", inf->fails);
	inf->fails = 0;
}

static void *informer_main(void *arg)
{
	struct informer *inf = arg;
	char err[APIC_ERRMSG_SIZE];
	struct apic *c = apic_create(&inf->api, err, sizeof(err));
	if (c == NULL) {
		informer_logf(inf, "%s", err);
		return NULL;
	}
	char path[INFORMER_PATH_MAX + 64];
	const char *sep = strchr(inf->path, '?') ? "&" : "?";
	struct timespec last_list = {0, 0};
	while (!inf->stop) {
		if (inf->rv == 0) {
			/* Relisting again within a second (watches refused as
			 * expired each time) would hammer the server: pace it. */
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (inf->stats.lists > 0 && now.tv_sec - last_list.tv_sec < 1)
				informer_sleep(inf, inf->backoff_ms);
			clock_gettime(CLOCK_MONOTONIC, &last_list);
			if (!informer_list(inf, c, err, sizeof(err))) {
				informer_fail(inf, err);
				continue;
			}
			informer_ok(inf);
		}
		snprintf(path, sizeof(path), "%s%swatch=1&resourceVersion=%lld", inf->path, sep,
			 (long long)inf->rv);
		long status = 0;
		int64_t before = inf->rv;
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		inf->stats.watches++;
		int rc = apic_watch(c, path, informer_on_event, inf, &inf->stop, &status, err,
				    sizeof(err));
		if (rc == APIC_ERR_STOPPED || inf->stop)
			break;
		if (rc == APIC_OK)
			continue; /* we ended it (relist) */
		if (status == 410) {
			inf->stats.expired++;
			inf->rv = 0;
			continue;
		}
		/* A stream the server ended (its watch timeout) is normal:
		 * resume at once, pausing briefly only if it ended at once
		 * with nothing in it, so a server that hangs up on every watch
		 * is not spun on. Anything else is a failure: log, back off. */
		clock_gettime(CLOCK_MONOTONIC, &t1);
		bool quick = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 1000;
		if (status == 200) {
			informer_ok(inf);
			if (quick && inf->rv == before)
				informer_sleep(inf, 100);
		} else if (inf->rv == before) {
			char what[APIC_ERRMSG_SIZE + 32];
			if (status != 0)
				snprintf(what, sizeof(what), "watch: HTTP %ld: %s", status, err);
			else
				snprintf(what, sizeof(what), "watch: %s", err);
			informer_fail(inf, what);
		} else {
			informer_ok(inf);
		}
	}
	apic_free(c);
	return NULL;
}

struct informer *informer_start(const struct informer_params *p, char *errmsg, size_t errlen)
{
	if (p->queue == NULL || p->path == NULL || strlen(p->path) >= INFORMER_PATH_MAX ||
	    p->path[0] != '/') {
		sluice_errf(-1, errmsg, errlen, "informer: path must be an API path under %d bytes",
			    INFORMER_PATH_MAX);
		return NULL;
	}
	struct informer *inf = calloc(1, sizeof(*inf));
	if (inf == NULL) {
		sluice_errf(-1, errmsg, errlen, "informer: out of memory");
		return NULL;
	}
	snprintf(inf->name, sizeof(inf->name), "%.63s", p->name ? p->name : p->path);
	snprintf(inf->path, sizeof(inf->path), "%s", p->path);
	inf->api = p->api;
	inf->q = p->queue;
	inf->log = p->log;
	inf->log_data = p->log_data;
	inf->backoff_ms = p->backoff_ms ? p->backoff_ms : 500;
	inf->cache = json_object();
	inf->tombstones = json_object();
	if (inf->cache == NULL || inf->tombstones == NULL) {
		sluice_errf(-1, errmsg, errlen, "informer: out of memory");
		goto fail;
	}
	int rc = pthread_create(&inf->thread, NULL, informer_main, inf);
	if (rc != 0) {
		sluice_errf(-1, errmsg, errlen, "informer %s: thread: %s", inf->name, strerror(rc));
		goto fail;
	}
	return inf;
fail:
	json_decref(inf->cache);
	json_decref(inf->tombstones);
	free(inf);
	return NULL;
}

void informer_signal_stop(struct informer *inf)
{
	if (inf)
		inf->stop = 1;
}

void informer_stop(struct informer *inf)
{
	if (inf == NULL)
		return;
	inf->stop = 1;
	pthread_join(inf->thread, NULL);
	/* Drop what it left on the queue: the entries point at it. */
	struct informer_queue *q = inf->q;
	pthread_mutex_lock(&q->lock);
	struct informer_entry **pp = &q->head, *last = NULL;
	while (*pp) {
		struct informer_entry *e = *pp;
		if (e->inf == inf) {
			*pp = e->next;
			informer_entry_free(e);
		} else {
			last = e;
			pp = &e->next;
		}
	}
	q->tail = last;
	pthread_mutex_unlock(&q->lock);
	json_decref(inf->cache);
	json_decref(inf->tombstones);
	free(inf);
}

/* ------------------------------------------------------------ orch thread */

static bool informer_key(const json_t *obj, char *buf, size_t cap)
{
	return ctlr_name(obj)[0] && ctlr_key(obj, buf, cap);
}

/* Drop key from the cache and say so (no-op if absent). key may point into
 * the cache itself, so it is copied first. */
static void informer_remove(struct informer *inf, const char *key, informer_cb cb, void *arg)
{
	char k[512];
	snprintf(k, sizeof(k), "%s", key);
	json_t *old = json_object_get(inf->cache, k);
	if (old == NULL)
		return;
	json_incref(old);
	json_object_del(inf->cache, k);
	if (cb)
		cb(arg, inf, INFORMER_DELETED, k, old, NULL);
	json_decref(old);
}

/* Apply one object to the cache; takes a reference to obj when kept. */
static void informer_apply(struct informer *inf, enum informer_event ev, json_t *obj,
			   informer_cb cb, void *arg)
{
	char key[512];
	if (!informer_key(obj, key, sizeof(key)))
		return; /* nameless: nothing to key it by */
	int64_t rv = informer_rv(obj);
	json_t *old = json_object_get(inf->cache, key);
	json_t *tomb = json_object_get(inf->tombstones, key);
	if (ev == INFORMER_DELETED) {
		json_object_del(inf->tombstones, key);
		informer_remove(inf, key, cb, arg);
		return;
	}
	/* Older than what we hold, or than our own delete: stale. */
	if ((old && rv < informer_rv(old)) || (tomb && rv <= json_integer_value(tomb)))
		return;
	if (old && rv == informer_rv(old) && json_equal(old, obj))
		return;
	json_incref(old);
	json_object_set(inf->cache, key, obj);
	if (cb)
		cb(arg, inf, old ? INFORMER_MODIFIED : INFORMER_ADDED, key, old, obj);
	json_decref(old);
}

static void informer_relist(struct informer *inf, json_t *items, informer_cb cb, void *arg)
{
	json_t *seen = json_object();
	size_t i;
	json_t *o;
	char key[512];
	json_object_clear(inf->tombstones);
	json_array_foreach(items, i, o) {
		if (!informer_key(o, key, sizeof(key)))
			continue;
		if (seen)
			json_object_set_new(seen, key, json_true());
		/* A relist is the truth: replace even at a lower version. */
		json_t *old = json_object_get(inf->cache, key);
		if (old && informer_rv(o) < informer_rv(old))
			json_object_del(inf->cache, key);
		informer_apply(inf, INFORMER_MODIFIED, o, cb, arg);
	}
	/* Whatever the list does not hold was deleted meanwhile. */
	const char *k;
	void *tmp;
	json_object_foreach_safe(inf->cache, tmp, k, o) {
		if (seen && json_object_get(seen, k) == NULL)
			informer_remove(inf, k, cb, arg);
	}
	json_decref(seen);
	inf->synced = true;
}

size_t informer_drain(struct informer_queue *q, int timeout_ms, informer_cb cb, void *arg)
{
	pthread_mutex_lock(&q->lock);
	if (q->head == NULL && timeout_ms > 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += timeout_ms / 1000;
		ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (q->head == NULL && !q->woken)
			if (pthread_cond_timedwait(&q->cond, &q->lock, &ts) == ETIMEDOUT)
				break;
	}
	q->woken = false;
	struct informer_entry *e = q->head;
	q->head = q->tail = NULL;
	pthread_mutex_unlock(&q->lock);
	size_t n = 0;
	while (e) {
		struct informer_entry *next = e->next;
		if (e->type == INFORMER_E_LIST)
			informer_relist(e->inf, e->obj, cb, arg);
		else
			informer_apply(e->inf, e->ev, e->obj, cb, arg);
		n++;
		informer_entry_free(e);
		e = next;
	}
	return n;
}

const json_t *informer_get(const struct informer *inf, const char *key)
{
	return json_object_get(inf->cache, key);
}

const json_t *informer_items(const struct informer *inf)
{
	return inf->cache;
}

bool informer_synced(const struct informer *inf)
{
	return inf->synced;
}

const char *informer_name(const struct informer *inf)
{
	return inf->name;
}

void informer_put_local(struct informer *inf, const json_t *obj, informer_cb cb, void *arg)
{
	json_t *copy = json_deep_copy(obj);
	if (copy == NULL)
		return;
	informer_apply(inf, INFORMER_MODIFIED, copy, cb, arg);
	json_decref(copy);
}

void informer_del_local(struct informer *inf, const char *key, int64_t rv, informer_cb cb,
			void *arg)
{
	json_t *old = json_object_get(inf->cache, key);
	if (old && rv < informer_rv(old))
		rv = informer_rv(old);
	/* Even when the cache has not seen the object yet: its ADDED may
	 * still be on its way and must not bring it back. */
	json_object_set_new(inf->tombstones, key, json_integer(rv));
	informer_remove(inf, key, cb, arg);
}

void informer_stats(const struct informer *inf, struct informer_stats *out)
{
	*out = inf->stats;
}
