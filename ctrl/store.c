/*
 * store: MVCC core (key index, revision log, range, put, delete, txn,
 * compaction, quota) and the command dispatcher store_apply().
 *
 * Writes go through a write transaction that owns the next main revision;
 * each write appends one record with the next sub revision to both the
 * key's history and the global log, and the store revision advances only if
 * at least one record was appended (etcd: a txn that writes nothing, or a
 * delete that matched nothing, does not create a revision).
 *
 * Every request is validated before the first mutation (compares evaluated,
 * intervals checked, leases looked up, quota charged), so a rejected
 * request leaves no trace. The only failure possible after the first
 * mutation is an allocation failure, which cannot be undone identically on
 * every replica, so it marks the store BROKEN (see store_apply()).
 */
#include "store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_cmd.h"
#include "store_int.h"
#include "store_watch.h"

static const char *const store_err_names[] = {
#define STORE_ERR_NAME(name, str) str,
	STORE_ERRORS(STORE_ERR_NAME)
#undef STORE_ERR_NAME
};

const char *store_strerror(int err)
{
	if (err < 0 ||
	    (size_t)err >= sizeof(store_err_names) / sizeof(store_err_names[0]))
		return "unknown store error";
	return store_err_names[err];
}

/* Countdown state of store_alloc_fault(); see store.h. */
static int store_fault_delay;
static int store_fault_repeat;
static uint64_t store_fault_fired;

void store_alloc_fault(int delay, int repeat)
{
	store_fault_delay = delay;
	store_fault_repeat = repeat;
	store_fault_fired = 0;
}

uint64_t store_alloc_faults_fired(void)
{
	return store_fault_fired;
}

static bool store_fault_now(void)
{
	if (store_fault_delay <= 0)
		return false;
	if (--store_fault_delay > 0)
		return false;
	/* This call fails; keep failing while repeats remain. */
	if (store_fault_repeat != 0) {
		store_fault_delay = 1;
		if (store_fault_repeat > 0)
			store_fault_repeat--;
	}
	store_fault_fired++;
	return true;
}

void *store_malloc(size_t n)
{
	return store_fault_now() ? NULL : malloc(n);
}

void *store_calloc(size_t n, size_t size)
{
	return store_fault_now() ? NULL : calloc(n, size);
}

void *store_realloc(void *p, size_t n)
{
	return store_fault_now() ? NULL : realloc(p, n);
}

void store_set_err(struct store *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
	va_end(ap);
}

struct store *store_create(const struct store_params *params)
{
	struct store *s = store_calloc(1, sizeof(*s));
	if (s == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	/* etcd's first revision is 1; 0 means "current" in requests. */
	s->rev = 1;
	s->quota = params ? params->quota_bytes : 0;
	return s;
}

void store_clear_data(struct store *s)
{
	for (size_t i = 0; i < s->n_log; i++) {
		free(s->log[i]->value);
		free(s->log[i]);
	}
	for (size_t i = 0; i < s->n_keys; i++) {
		free(s->keys[i]->key);
		free(s->keys[i]->revs);
		free(s->keys[i]);
	}
	free(s->log);
	free(s->keys);
	free(s->leases);
	s->log = NULL;
	s->keys = NULL;
	s->leases = NULL;
	s->n_log = s->cap_log = s->n_keys = s->cap_keys = 0;
	s->n_leases = s->cap_leases = 0;
	s->used = 0;
}

void store_free(struct store *s)
{
	if (s == NULL)
		return;
	store_watch_detach_all(s);
	store_clear_data(s);
	free(s);
}

const char *store_errmsg(const struct store *s)
{
	return s ? s->errmsg : "";
}

int64_t store_revision(const struct store *s)
{
	return s->rev;
}

int64_t store_compact_revision(const struct store *s)
{
	return s->compact_rev;
}

uint64_t store_applied_index(const struct store *s)
{
	return s->applied_index;
}

bool store_is_broken(const struct store *s)
{
	return s->broken;
}

uint64_t store_used_bytes(const struct store *s)
{
	return s->used;
}

/* ------------------------------------------------------------ key index */

int store_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;
	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

bool store_in_range(const uint8_t *k, size_t klen, const uint8_t *key0,
		    size_t key0_len, const uint8_t *end, size_t end_len)
{
	if (end_len == 0)
		return store_key_cmp(k, klen, key0, key0_len) == 0;
	if (store_key_cmp(k, klen, key0, key0_len) < 0)
		return false;
	/* etcd: a range_end of "\0" means every key >= key. */
	if (end_len == 1 && end[0] == 0)
		return true;
	return store_key_cmp(k, klen, end, end_len) < 0;
}

uint64_t store_rec_cost(size_t key_len, size_t value_len)
{
	return (uint64_t)key_len + (uint64_t)value_len + STORE_REC_OVERHEAD;
}

size_t store_key_find(const struct store *s, const uint8_t *k, size_t klen,
		      bool *found)
{
	size_t lo = 0, hi = s->n_keys;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = store_key_cmp(s->keys[mid]->key, s->keys[mid]->len, k,
				      klen);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < s->n_keys &&
		 store_key_cmp(s->keys[lo]->key, s->keys[lo]->len, k, klen) ==
			 0;
	return lo;
}

/* Latest record of key with main <= rev, or NULL. */
static struct store_rec *store_key_at(const struct store_key *key, int64_t rev)
{
	size_t lo = 0, hi = key->n_revs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (key->revs[mid]->main <= rev)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? key->revs[lo - 1] : NULL;
}

static struct store_rec *store_key_live(const struct store_key *key,
					int64_t rev)
{
	struct store_rec *r = store_key_at(key, rev);
	return r && !r->tombstone ? r : NULL;
}

size_t store_rec_pos(const struct store_rec *rec)
{
	const struct store_key *key = rec->key;
	size_t lo = 0, hi = key->n_revs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (key->revs[mid]->main < rec->main)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Iterate the keys of an etcd range: [*first, *last). */
static void store_range_bounds(const struct store *s, const uint8_t *k,
			       size_t klen, const uint8_t *end, size_t end_len,
			       size_t *first, size_t *last)
{
	bool found;
	size_t i = store_key_find(s, k, klen, &found);
	*first = i;
	if (end_len == 0) {
		*last = found ? i + 1 : i;
		return;
	}
	if (end_len == 1 && end[0] == 0) {
		*last = s->n_keys;
		return;
	}
	if (store_key_cmp(end, end_len, k, klen) <= 0) {
		*last = i;
		return;
	}
	*last = store_key_find(s, end, end_len, &found);
}

/* ---------------------------------------------------------- result copies */

static int store_kv_copy(struct store_kv *dst, const struct store_rec *r)
{
	size_t n = r->key->len + r->value_len;
	uint8_t *buf = store_malloc(n ? n : 1);
	if (buf == NULL)
		return STORE_ERR_NOMEM;
	memcpy(buf, r->key->key, r->key->len);
	if (r->value_len)
		memcpy(buf + r->key->len, r->value, r->value_len);
	dst->key = buf;
	dst->key_len = r->key->len;
	dst->value = buf + r->key->len;
	dst->value_len = r->value_len;
	dst->create_revision = r->create_rev;
	dst->mod_revision = r->main;
	dst->version = r->version;
	dst->lease = r->lease;
	return STORE_OK;
}

static int store_res_push(struct store_op_result *res,
			  const struct store_rec *r)
{
	/* Capacity is implicit: the array is reallocated to 2n whenever n
	 * reaches a power of two (1, 2, 4, ...), so no field is needed. */
	size_t n = res->n_kvs;
	if ((n & (n - 1)) == 0) {
		size_t cap = n ? n * 2 : 1;
		struct store_kv *nk = store_realloc(res->kvs, cap * sizeof(*nk));
		if (nk == NULL)
			return STORE_ERR_NOMEM;
		res->kvs = nk;
	}
	if (store_kv_copy(&res->kvs[n], r) != STORE_OK)
		return STORE_ERR_NOMEM;
	res->n_kvs = n + 1;
	return STORE_OK;
}

void store_op_result_clear(struct store_op_result *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_kvs; i++)
		free((void *)(uintptr_t)r->kvs[i].key);
	free(r->kvs);
	memset(r, 0, sizeof(*r));
}

void store_result_clear(struct store_result *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_ops; i++)
		store_op_result_clear(&r->ops[i]);
	free(r->ops);
	memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------------ read */

static int store_do_range(struct store *s, const struct store_op *op,
			  int64_t rev, struct store_op_result *out)
{
	size_t first, last;
	store_range_bounds(s, op->key, op->key_len, op->range_end,
			   op->range_end_len, &first, &last);
	out->type = STORE_OP_RANGE;
	for (size_t i = first; i < last; i++) {
		const struct store_rec *r = store_key_live(s->keys[i], rev);
		if (r == NULL)
			continue;
		out->count++;
		if (op->count_only)
			continue;
		if (op->limit && (int64_t)out->n_kvs >= op->limit) {
			out->more = true;
			continue;
		}
		if (store_res_push(out, r) != STORE_OK)
			return STORE_ERR_NOMEM;
	}
	return STORE_OK;
}

int store_range(struct store *s, const struct store_op *op,
		struct store_op_result *out)
{
	int rc;

	if (s == NULL || out == NULL)
		return STORE_ERR_INVAL;
	memset(out, 0, sizeof(*out));
	if (s->broken) {
		/* A half-applied write may be visible; do not serve it. */
		store_set_err(s, "store is broken; restore a snapshot");
		return STORE_ERR_BROKEN;
	}
	if ((rc = store_cmd_check_op(op, 0, s->errmsg)) != STORE_OK)
		return rc;
	if (op->type != STORE_OP_RANGE) {
		store_set_err(s, "op.type: store_range takes a range");
		return STORE_ERR_INVAL;
	}
	int64_t rev = op->revision ? op->revision : s->rev;
	if (rev > s->rev) {
		store_set_err(s, "revision %lld > current %lld",
			      (long long)rev, (long long)s->rev);
		return STORE_ERR_FUTURE_REV;
	}
	/* etcd: reading below the compact revision is ErrCompacted; reading
	 * at it is fine because compaction keeps the latest record <= it. */
	if (rev < s->compact_rev) {
		store_set_err(s, "revision %lld < compact revision %lld",
			      (long long)rev, (long long)s->compact_rev);
		return STORE_ERR_COMPACTED;
	}
	if ((rc = store_do_range(s, op, rev, out)) != STORE_OK) {
		store_op_result_clear(out);
		store_set_err(s, "range: out of memory");
	}
	return rc;
}

/* ----------------------------------------------------------------- write */

struct store_wtx {
	int64_t main;
	int64_t sub;
	size_t log_from;
};

static void store_wtx_begin(struct store *s, struct store_wtx *w)
{
	w->main = s->rev + 1;
	w->sub = 0;
	w->log_from = s->n_log;
}

/* rc: how the writes went. Everything is validated before the first
 * write, so a failure here is an allocation failure after a partial write:
 * the store is BROKEN at once, and watchers are not told about a partial
 * revision. */
static void store_wtx_end(struct store *s, struct store_wtx *w, int rc)
{
	if (rc != STORE_OK)
		s->broken = true;
	if (w->sub == 0)
		return;
	s->rev = w->main;
	if (!s->broken)
		store_watch_notify(s, w->log_from);
}

static int store_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return STORE_OK;
	size_t ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	void *p = store_realloc(*arr, ncap * elem);
	if (p == NULL)
		return STORE_ERR_NOMEM;
	*arr = p;
	*cap = ncap;
	return STORE_OK;
}

static struct store_key *store_key_get_or_add(struct store *s,
					      const uint8_t *k, size_t klen)
{
	bool found;
	size_t i = store_key_find(s, k, klen, &found);
	if (found)
		return s->keys[i];
	if (store_grow((void **)&s->keys, &s->cap_keys, s->n_keys + 1,
		       sizeof(*s->keys)) != STORE_OK)
		return NULL;
	struct store_key *key = store_calloc(1, sizeof(*key));
	if (key == NULL)
		return NULL;
	key->key = store_malloc(klen);
	if (key->key == NULL) {
		free(key);
		return NULL;
	}
	memcpy(key->key, k, klen);
	key->len = klen;
	memmove(&s->keys[i + 1], &s->keys[i],
		(s->n_keys - i) * sizeof(*s->keys));
	s->keys[i] = key;
	s->n_keys++;
	return key;
}

/* Append a record to key and log. value copied. */
static int store_append(struct store *s, struct store_wtx *w,
			struct store_key *key, const uint8_t *value,
			size_t value_len, int64_t lease, bool tombstone)
{
	struct store_rec *prev = key->n_revs ? key->revs[key->n_revs - 1]
					     : NULL;
	if (store_grow((void **)&key->revs, &key->cap_revs, key->n_revs + 1,
		       sizeof(*key->revs)) != STORE_OK ||
	    store_grow((void **)&s->log, &s->cap_log, s->n_log + 1,
		       sizeof(*s->log)) != STORE_OK)
		return STORE_ERR_NOMEM;
	struct store_rec *r = store_calloc(1, sizeof(*r));
	if (r == NULL)
		return STORE_ERR_NOMEM;
	if (value_len) {
		r->value = store_malloc(value_len);
		if (r->value == NULL) {
			free(r);
			return STORE_ERR_NOMEM;
		}
		memcpy(r->value, value, value_len);
		r->value_len = value_len;
	}
	r->main = w->main;
	r->sub = w->sub++;
	r->key = key;
	r->tombstone = tombstone;
	if (!tombstone) {
		bool live = prev && !prev->tombstone;
		r->create_rev = live ? prev->create_rev : w->main;
		r->version = live ? prev->version + 1 : 1;
		r->lease = lease;
	}
	key->revs[key->n_revs++] = r;
	s->log[s->n_log++] = r;
	s->used += store_rec_cost(key->len, value_len);
	return STORE_OK;
}

static int store_do_put(struct store *s, struct store_wtx *w,
			const struct store_op *op, struct store_op_result *res)
{
	struct store_key *key = store_key_get_or_add(s, op->key, op->key_len);
	if (key == NULL)
		return STORE_ERR_NOMEM;
	if (res) {
		res->type = STORE_OP_PUT;
		struct store_rec *prev = store_key_live(key, INT64_MAX);
		if (op->prev_kv && prev && store_res_push(res, prev))
			return STORE_ERR_NOMEM;
	}
	return store_append(s, w, key, op->value, op->value_len, op->lease,
			    false);
}

static int store_do_delete(struct store *s, struct store_wtx *w,
			   const uint8_t *k, size_t klen, const uint8_t *end,
			   size_t end_len, bool prev_kv, int64_t only_lease,
			   struct store_op_result *res)
{
	size_t first, last;
	store_range_bounds(s, k, klen, end, end_len, &first, &last);
	if (res)
		res->type = STORE_OP_DELETE;
	/* Appending records never changes s->keys, so the bounds hold. */
	for (size_t i = first; i < last; i++) {
		struct store_key *key = s->keys[i];
		struct store_rec *live = store_key_live(key, INT64_MAX);
		if (live == NULL || (only_lease && live->lease != only_lease))
			continue;
		if (res && prev_kv && store_res_push(res, live))
			return STORE_ERR_NOMEM;
		if (store_append(s, w, key, NULL, 0, 0, true) != STORE_OK)
			return STORE_ERR_NOMEM;
		if (res)
			res->deleted++;
	}
	return STORE_OK;
}

/* ------------------------------------------------------------------- txn */

static int store_cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b ? 1 : 0;
}

static bool store_cmp_holds(const struct store_compare *c,
			    const struct store_rec *r)
{
	int v;
	if (c->target == STORE_CMP_VALUE) {
		/* etcd: a value compare on a missing key always fails. */
		if (r == NULL)
			return false;
		v = store_key_cmp(r->value, r->value_len, c->value,
				  c->value_len);
	} else {
		int64_t have = 0;
		if (r) {
			switch (c->target) {
			case STORE_CMP_VERSION: have = r->version; break;
			case STORE_CMP_CREATE: have = r->create_rev; break;
			case STORE_CMP_MOD: have = r->main; break;
			case STORE_CMP_LEASE: have = r->lease; break;
			case STORE_CMP_VALUE: break;
			}
		}
		v = store_cmp_i64(have, c->operand);
	}
	switch (c->result) {
	case STORE_CMP_EQUAL: return v == 0;
	case STORE_CMP_NOT_EQUAL: return v != 0;
	case STORE_CMP_LESS: return v < 0;
	case STORE_CMP_GREATER: return v > 0;
	}
	return false;
}

static bool store_compare(const struct store *s, const struct store_compare *c)
{
	size_t first, last;
	store_range_bounds(s, c->key, c->key_len, c->range_end,
			   c->range_end_len, &first, &last);
	bool any = false;
	for (size_t i = first; i < last; i++) {
		const struct store_rec *r = store_key_live(s->keys[i],
							   INT64_MAX);
		if (r == NULL)
			continue;
		any = true;
		if (!store_cmp_holds(c, r))
			return false;
	}
	/* No live key: compare against the zero kv, as etcd does. */
	return any ? true : store_cmp_holds(c, NULL);
}

/*
 * etcd's checkIntervals: within one op list a key may be put at most once
 * and may not be both put and deleted, because one revision can hold only
 * one record per key. Checked on both lists, whichever runs, as etcd does.
 */
static int store_check_intervals(struct store *s, const struct store_op *ops,
				 size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (ops[i].type != STORE_OP_PUT)
			continue;
		for (size_t j = 0; j < n; j++) {
			if (j == i)
				continue;
			const struct store_op *o = &ops[j];
			if (o->type == STORE_OP_PUT && j > i &&
			    store_key_cmp(o->key, o->key_len, ops[i].key,
					  ops[i].key_len) == 0) {
				store_set_err(s, "txn: key put twice (ops %zu "
						 "and %zu)",
					      i, j);
				return STORE_ERR_DUPLICATE_KEY;
			}
			if (o->type == STORE_OP_DELETE &&
			    store_in_range(ops[i].key, ops[i].key_len, o->key,
					   o->key_len, o->range_end,
					   o->range_end_len)) {
				store_set_err(s, "txn: op %zu puts a key that "
						 "op %zu deletes",
					      i, j);
				return STORE_ERR_DUPLICATE_KEY;
			}
		}
	}
	return STORE_OK;
}

/* Lease and quota checks for ops that are about to run. */
static int store_check_puts(struct store *s, const struct store_op *ops,
			    size_t n)
{
	uint64_t cost = 0;
	for (size_t i = 0; i < n; i++) {
		if (ops[i].type != STORE_OP_PUT)
			continue;
		if (ops[i].lease && store_lease_find(s, ops[i].lease) == NULL) {
			store_set_err(s, "op %zu: lease %lld not found", i,
				      (long long)ops[i].lease);
			return STORE_ERR_LEASE_NOT_FOUND;
		}
		cost += store_rec_cost(ops[i].key_len, ops[i].value_len);
	}
	if (cost && s->quota && s->used + cost > s->quota) {
		store_set_err(s, "put of %llu bytes over quota (%llu of %llu "
				 "used)",
			      (unsigned long long)cost,
			      (unsigned long long)s->used,
			      (unsigned long long)s->quota);
		return STORE_ERR_NOSPACE;
	}
	return STORE_OK;
}

static int store_run_ops(struct store *s, struct store_wtx *w,
			 const struct store_op *ops, size_t n,
			 struct store_result *res)
{
	if (res && n) {
		res->ops = store_calloc(n, sizeof(*res->ops));
		if (res->ops == NULL)
			return STORE_ERR_NOMEM;
		res->n_ops = n;
	}
	for (size_t i = 0; i < n; i++) {
		struct store_op_result *r = res ? &res->ops[i] : NULL;
		int rc = STORE_OK;
		switch (ops[i].type) {
		case STORE_OP_RANGE:
			/* Reads inside a txn see the txn's earlier writes. */
			if (r)
				rc = store_do_range(s, &ops[i], w->main, r);
			break;
		case STORE_OP_PUT:
			rc = store_do_put(s, w, &ops[i], r);
			break;
		case STORE_OP_DELETE:
			rc = store_do_delete(s, w, ops[i].key, ops[i].key_len,
					     ops[i].range_end,
					     ops[i].range_end_len,
					     ops[i].prev_kv, 0, r);
			break;
		}
		if (rc != STORE_OK)
			return rc;
	}
	return STORE_OK;
}

static int store_apply_txn(struct store *s, const struct store_cmd *cmd,
			   struct store_result *res)
{
	int rc;
	if ((rc = store_check_intervals(s, cmd->success, cmd->n_success)) ||
	    (rc = store_check_intervals(s, cmd->failure, cmd->n_failure)))
		return rc;
	bool ok = true;
	for (size_t i = 0; i < cmd->n_cmps && ok; i++)
		ok = store_compare(s, &cmd->cmps[i]);
	const struct store_op *ops = ok ? cmd->success : cmd->failure;
	size_t n = ok ? cmd->n_success : cmd->n_failure;
	if ((rc = store_check_puts(s, ops, n)) != STORE_OK)
		return rc;
	if (res)
		res->succeeded = ok;
	struct store_wtx w;
	store_wtx_begin(s, &w);
	rc = store_run_ops(s, &w, ops, n, res);
	store_wtx_end(s, &w, rc);
	return rc;
}

/* ------------------------------------------------------------ compaction */

static int store_compact(struct store *s, int64_t rev)
{
	if (rev > s->rev) {
		store_set_err(s, "compact to %lld > current revision %lld",
			      (long long)rev, (long long)s->rev);
		return STORE_ERR_FUTURE_REV;
	}
	if (rev <= s->compact_rev) {
		store_set_err(s, "compact to %lld <= compact revision %lld",
			      (long long)rev, (long long)s->compact_rev);
		return STORE_ERR_COMPACTED;
	}
	/* etcd keyIndex.compact: keep the latest record <= rev (it answers
	 * reads at rev) unless it is a tombstone, and everything above. */
	size_t nk = 0;
	for (size_t i = 0; i < s->n_keys; i++) {
		struct store_key *key = s->keys[i];
		size_t keep = 0;
		while (keep < key->n_revs && key->revs[keep]->main <= rev)
			keep++;
		if (keep > 0) {
			keep--;
			if (key->revs[keep]->tombstone)
				keep++;
		}
		for (size_t j = 0; j < keep; j++) {
			key->revs[j]->dropped = true;
			s->used -= store_rec_cost(key->len,
						  key->revs[j]->value_len);
		}
		memmove(key->revs, key->revs + keep,
			(key->n_revs - keep) * sizeof(*key->revs));
		key->n_revs -= keep;
		if (key->n_revs == 0) {
			free(key->key);
			free(key->revs);
			free(key);
		} else {
			s->keys[nk++] = key;
		}
	}
	s->n_keys = nk;
	size_t nl = 0;
	for (size_t i = 0; i < s->n_log; i++) {
		struct store_rec *r = s->log[i];
		if (r->dropped) {
			/* r->key may be freed already; charged above. */
			free(r->value);
			free(r);
		} else {
			s->log[nl++] = r;
		}
	}
	s->n_log = nl;
	s->compact_rev = rev;
	store_watch_compacted(s);
	return STORE_OK;
}

/* ----------------------------------------------------------------- apply */

static int store_apply_cmd(struct store *s, const struct store_cmd *cmd,
			   struct store_result *res)
{
	struct store_wtx w;
	int rc;

	switch (cmd->type) {
	case STORE_CMD_PUT:
		if ((rc = store_check_puts(s, &cmd->op, 1)) != STORE_OK)
			return rc;
		/* fall through */
	case STORE_CMD_DELETE:
		store_wtx_begin(s, &w);
		rc = store_run_ops(s, &w, &cmd->op, 1, res);
		store_wtx_end(s, &w, rc);
		return rc;
	case STORE_CMD_TXN:
		return store_apply_txn(s, cmd, res);
	case STORE_CMD_LEASE_GRANT:
		if (res)
			res->lease_id = cmd->lease_id;
		if (store_lease_find(s, cmd->lease_id)) {
			store_set_err(s, "lease %lld already exists",
				      (long long)cmd->lease_id);
			return STORE_ERR_LEASE_EXISTS;
		}
		if (s->quota && s->used + STORE_LEASE_COST > s->quota) {
			store_set_err(s, "lease grant over quota");
			return STORE_ERR_NOSPACE;
		}
		if (store_lease_insert(s, cmd->lease_id, cmd->ttl))
			return STORE_ERR_NOMEM;
		s->used += STORE_LEASE_COST;
		if (res)
			res->ttl = cmd->ttl;
		return STORE_OK;
	case STORE_CMD_LEASE_KEEPALIVE: {
		struct store_lease_ent *l = store_lease_find(s, cmd->lease_id);
		if (res)
			res->lease_id = cmd->lease_id;
		if (l == NULL) {
			store_set_err(s, "lease %lld not found",
				      (long long)cmd->lease_id);
			return STORE_ERR_LEASE_NOT_FOUND;
		}
		/* Re-armed from the leader's clock at its next check. */
		l->deadline_ms = 0;
		if (res)
			res->ttl = l->ttl;
		return STORE_OK;
	}
	case STORE_CMD_LEASE_REVOKE: {
		if (res)
			res->lease_id = cmd->lease_id;
		if (store_lease_find(s, cmd->lease_id) == NULL) {
			store_set_err(s, "lease %lld not found",
				      (long long)cmd->lease_id);
			return STORE_ERR_LEASE_NOT_FOUND;
		}
		/* etcd: all attached keys go in one revision. */
		static const uint8_t all[1] = {0};
		store_wtx_begin(s, &w);
		rc = store_do_delete(s, &w, all, 1, all, 1, false,
				     cmd->lease_id, NULL);
		store_wtx_end(s, &w, rc);
		if (rc != STORE_OK)
			return rc;
		store_lease_remove(s, cmd->lease_id);
		s->used -= STORE_LEASE_COST;
		return STORE_OK;
	}
	case STORE_CMD_COMPACT:
		return store_compact(s, cmd->compact_rev);
	}
	return STORE_ERR_MALFORMED;
}

int store_apply(struct store *s, uint64_t index, const uint8_t *cmd,
		size_t len, struct store_result *result)
{
	struct store_result local;
	struct store_result *res = result ? result : &local;
	struct store_cmd c;
	int rc;

	memset(res, 0, sizeof(*res));
	if (s == NULL) {
		res->err = STORE_ERR_INVAL;
		return res->err;
	}
	s->errmsg[0] = 0;
	if (s->broken) {
		rc = STORE_ERR_BROKEN;
		store_set_err(s, "store is broken; restore a snapshot");
		goto out;
	}
	/* "Next" after UINT64_MAX would wrap to 0 and replay history. */
	if (index == 0 && s->applied_index < UINT64_MAX)
		index = s->applied_index + 1;
	if (index <= s->applied_index) {
		rc = STORE_ERR_STALE_INDEX;
		store_set_err(s, "index %llu <= applied %llu",
			      (unsigned long long)index,
			      (unsigned long long)s->applied_index);
		goto out;
	}
	s->applied_index = index;
	rc = store_cmd_decode(cmd, len, &c, s->errmsg);
	if (rc == STORE_OK) {
		rc = store_apply_cmd(s, &c, result ? res : NULL);
		store_cmd_clear(&c);
	}
	if (rc == STORE_ERR_NOMEM) {
		s->broken = true;
		store_set_err(s, "out of memory while applying index %llu",
			      (unsigned long long)index);
		rc = STORE_ERR_BROKEN;
	}
out:
	if (result == NULL) {
		store_result_clear(res);
	} else {
		if (rc != STORE_OK) {
			/* A rejected request returns no partial results. */
			for (size_t i = 0; i < res->n_ops; i++)
				store_op_result_clear(&res->ops[i]);
			free(res->ops);
			res->ops = NULL;
			res->n_ops = 0;
			res->succeeded = false;
		}
		res->err = rc;
		snprintf(res->errmsg, sizeof(res->errmsg), "%s", s->errmsg);
		res->revision = s->rev;
	}
	return rc;
}
