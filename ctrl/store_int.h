/*
 * store_int: the private layout shared by the store's files (store.c MVCC
 * core, store_lease.c, store_watch.c, store_snap.c). Not for other modules.
 *
 * Layout, after etcd's mvcc (a key index over a revision-ordered backend):
 *  - log: every kept revision record, ordered by (main, sub). It is both the
 *    history that watchers replay and the order in which a snapshot is
 *    written, which is what makes snapshots canonical.
 *  - keys: one entry per key that has any kept record, sorted bytewise, each
 *    with its records in ascending revision order (etcd's keyIndex). Within
 *    one main revision a key has at most one record, because a txn may not
 *    write the same key twice.
 *  - leases: sorted by id. Keys attached to a lease are those whose latest
 *    record is live and carries the lease id; revoke finds them by a scan,
 *    which keeps the attachment set derived rather than a second truth.
 */
#ifndef SLUICE_CTRL_STORE_INT_H
#define SLUICE_CTRL_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "store_watch.h"

struct store_key;

struct store_rec {
	int64_t main;
	int64_t sub;
	struct store_key *key;
	uint8_t *value;
	size_t value_len;
	int64_t create_rev; /* 0 for a tombstone */
	int64_t version;    /* 0 for a tombstone */
	int64_t lease;      /* 0 for a tombstone */
	bool tombstone;
	bool dropped; /* compaction mark */
};

struct store_key {
	uint8_t *key;
	size_t len;
	struct store_rec **revs; /* ascending main */
	size_t n_revs, cap_revs;
};

struct store_lease_ent {
	int64_t id;
	int64_t ttl;         /* seconds; replicated */
	int64_t deadline_ms; /* local leader clock; 0 = not armed; NOT replicated */
};

struct store_watcher {
	struct store *store; /* NULL once the store is freed */
	struct store_watcher *next;
	uint8_t *key;
	size_t key_len;
	uint8_t *range_end;
	size_t range_end_len;
	bool prev_kv;
	int64_t max_lag;
	int64_t cur_main, cur_sub; /* next event to deliver is >= this */
	int err;                   /* sticky: the watcher is canceled */
	int64_t err_compact_rev;
	bool notified;
	void (*notify)(struct store_watcher *w, void *data);
	void *data;
};

struct store {
	int64_t rev;
	int64_t compact_rev;
	uint64_t applied_index;
	uint64_t quota;
	uint64_t used;
	bool broken;

	struct store_rec **log;
	size_t n_log, cap_log;
	struct store_key **keys;
	size_t n_keys, cap_keys;
	struct store_lease_ent *leases;
	size_t n_leases, cap_leases;

	struct store_watcher *watchers;
	char errmsg[STORE_ERRMSG_SIZE];
};

/* store.c: allocation goes through these so tests can fail the Nth call
 * (store_alloc_fault); memory is libc's and is released with free(). */
void *store_malloc(size_t n);
void *store_calloc(size_t n, size_t size);
void *store_realloc(void *p, size_t n);

/* store.c */
void store_set_err(struct store *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int store_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);
/* Does key lie in the etcd range (key0, range_end)? */
bool store_in_range(const uint8_t *k, size_t klen, const uint8_t *key0,
		    size_t key0_len, const uint8_t *end, size_t end_len);
uint64_t store_rec_cost(size_t key_len, size_t value_len);
/* Index of rec in its key's revs (rec must be there). */
size_t store_rec_pos(const struct store_rec *rec);
/* Release all data (log, keys, leases) but not the struct or watchers. */
void store_clear_data(struct store *s);
/* Find index of key in s->keys, or insertion point with *found = false. */
size_t store_key_find(const struct store *s, const uint8_t *k, size_t klen,
		      bool *found);

/* store_lease.c */
struct store_lease_ent *store_lease_find(struct store *s, int64_t id);
int store_lease_insert(struct store *s, int64_t id, int64_t ttl);
void store_lease_remove(struct store *s, int64_t id);

/* store_watch.c: after a write txn appended log[from..n_log) */
void store_watch_notify(struct store *s, size_t from);
void store_watch_detach_all(struct store *s);
/* Is the store broken (store.c)? Watchers deliver nothing meanwhile. */
bool store_is_broken(const struct store *s);
/* after compaction: notify watchers whose cursor it passed */
void store_watch_compacted(struct store *s);

#endif /* SLUICE_CTRL_STORE_INT_H */
