/*
 * store_snap: canonical snapshot encoding of the replicated store state.
 *
 * Layout (little-endian, see docs/store.md "Snapshot format"):
 *   header   u32 magic "SLST", u16 version, u16 reserved (0),
 *            u64 applied_index, i64 revision, i64 compact_revision
 *   leases   u32 count, then per lease (ascending id): i64 id, i64 ttl
 *   records  u64 count, then per record in (main, sub) order:
 *            i64 main, i64 sub, u8 flags (bit 0 tombstone),
 *            u32 key_len, key, u32 value_len, value,
 *            i64 create_revision, i64 version, i64 lease
 *   trailer  u32 CRC32C of every byte before it
 *
 * Restoring validates every invariant the MVCC core relies on (ordering,
 * per-key version chains, compaction shape, contiguous revisions above the
 * compact revision, live keys referencing existing leases), because a
 * snapshot arrives from another node over the network and the core trusts
 * its own state without re-checking.
 */
#include "store_snap.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define SNAP_MAGIC 0x54534c53u /* "SLST" read as little-endian u32 */
#define SNAP_VERSION 1u
#define SNAP_FLAG_TOMBSTONE 0x01u

static uint32_t store_snap_crc32c(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
	}
	return ~crc;
}

/* ------------------------------------------------------------- writing */

struct store_snap_w {
	uint8_t *p;
	size_t off;
};

static void store_snap_put_uint(struct store_snap_w *w, uint64_t v,
				size_t width)
{
	for (size_t i = 0; i < width; i++)
		w->p[w->off++] = (uint8_t)(v >> (8 * i));
}

static void store_snap_put_bytes(struct store_snap_w *w, const uint8_t *b,
				 size_t n)
{
	store_snap_put_uint(w, n, 4);
	if (n)
		memcpy(w->p + w->off, b, n);
	w->off += n;
}

int store_snapshot(struct store *s, uint8_t **out, size_t *out_len)
{
	if (s == NULL || out == NULL || out_len == NULL)
		return STORE_ERR_INVAL;
	/* Size first, then one allocation: the layout is fixed-width. */
	size_t size = 4 + 2 + 2 + 8 + 8 + 8 + 4 + s->n_leases * 16 + 8 + 4;
	for (size_t i = 0; i < s->n_log; i++)
		size += 8 + 8 + 1 + 4 + s->log[i]->key->len + 4 +
			s->log[i]->value_len + 24;
	struct store_snap_w w = {.p = store_malloc(size)};
	if (w.p == NULL) {
		store_set_err(s, "snapshot: out of memory (%zu bytes)", size);
		return STORE_ERR_NOMEM;
	}
	store_snap_put_uint(&w, SNAP_MAGIC, 4);
	store_snap_put_uint(&w, SNAP_VERSION, 2);
	store_snap_put_uint(&w, 0, 2);
	store_snap_put_uint(&w, s->applied_index, 8);
	store_snap_put_uint(&w, (uint64_t)s->rev, 8);
	store_snap_put_uint(&w, (uint64_t)s->compact_rev, 8);
	store_snap_put_uint(&w, s->n_leases, 4);
	for (size_t i = 0; i < s->n_leases; i++) {
		store_snap_put_uint(&w, (uint64_t)s->leases[i].id, 8);
		store_snap_put_uint(&w, (uint64_t)s->leases[i].ttl, 8);
	}
	store_snap_put_uint(&w, s->n_log, 8);
	for (size_t i = 0; i < s->n_log; i++) {
		const struct store_rec *r = s->log[i];
		store_snap_put_uint(&w, (uint64_t)r->main, 8);
		store_snap_put_uint(&w, (uint64_t)r->sub, 8);
		store_snap_put_uint(&w, r->tombstone ? SNAP_FLAG_TOMBSTONE : 0,
				    1);
		store_snap_put_bytes(&w, r->key->key, r->key->len);
		store_snap_put_bytes(&w, r->value, r->value_len);
		store_snap_put_uint(&w, (uint64_t)r->create_rev, 8);
		store_snap_put_uint(&w, (uint64_t)r->version, 8);
		store_snap_put_uint(&w, (uint64_t)r->lease, 8);
	}
	store_snap_put_uint(&w, store_snap_crc32c(w.p, w.off), 4);
	*out = w.p;
	*out_len = w.off;
	return STORE_OK;
}

/* ------------------------------------------------------------- reading */

struct store_snap_r {
	const uint8_t *p;
	size_t len, off;
	struct store *s; /* for errmsg */
	int bad;
};

static uint64_t store_snap_get(struct store_snap_r *r, size_t width,
			       const char *what)
{
	uint64_t v = 0;
	if (r->bad)
		return 0;
	if (r->len - r->off < width) {
		store_set_err(r->s, "snapshot: %s at offset %zu truncated",
			      what, r->off);
		r->bad = 1;
		return 0;
	}
	for (size_t i = 0; i < width; i++)
		v |= (uint64_t)r->p[r->off + i] << (8 * i);
	r->off += width;
	return v;
}

static const uint8_t *store_snap_get_bytes(struct store_snap_r *r, size_t *n,
					   size_t max, const char *what)
{
	size_t len = (size_t)store_snap_get(r, 4, what);
	*n = 0;
	if (r->bad)
		return NULL;
	if (len > max || r->len - r->off < len) {
		store_set_err(r->s, "snapshot: %s at offset %zu: length %zu "
				    "too long or truncated",
			      what, r->off - 4, len);
		r->bad = 1;
		return NULL;
	}
	const uint8_t *p = r->p + r->off;
	r->off += len;
	*n = len;
	return p;
}

/* A parsed record before the key index exists. */
struct store_snap_ent {
	struct store_rec *rec;
	const uint8_t *key;
	size_t key_len;
};

static int store_snap_ent_cmp(const void *a, const void *b)
{
	const struct store_snap_ent *x = a, *y = b;
	int c = store_key_cmp(x->key, x->key_len, y->key, y->key_len);
	if (c)
		return c;
	return x->rec->main < y->rec->main ? -1 : x->rec->main > y->rec->main;
}

/* Record a corruption message (fmt must be a literal) and yield the code. */
#define STORE_SNAP_BAD(s, ...) \
	(store_set_err((s), "snapshot: " __VA_ARGS__), STORE_ERR_CORRUPT)

/* Check one key's records (ascending main) against the MVCC invariants. */
static int store_snap_check_key(struct store *s, struct store_key *k,
				int64_t compact_rev)
{
	for (size_t i = 0; i < k->n_revs; i++) {
		const struct store_rec *r = k->revs[i];
		const struct store_rec *p = i ? k->revs[i - 1] : NULL;
		if (p && p->main == r->main)
			return STORE_SNAP_BAD(s, "key written twice at "
						 "revision %lld",
					      (long long)r->main);
		if (r->main <= compact_rev && (p || r->tombstone))
			return STORE_SNAP_BAD(s, "history below compact "
						 "revision %lld kept at %lld",
					      (long long)compact_rev,
					      (long long)r->main);
		if (r->tombstone)
			continue;
		int64_t want_ver = p && !p->tombstone ? p->version + 1 : 1;
		int64_t want_create = p && !p->tombstone ? p->create_rev
							 : r->main;
		/* The first kept record may have older history compacted. */
		if (p == NULL) {
			if (r->version < 1 || r->create_rev < 1 ||
			    r->create_rev > r->main ||
			    (r->version == 1) != (r->create_rev == r->main))
				return STORE_SNAP_BAD(s, "bad version %lld / create revision "
					   "%lld",
					(long long)r->version,
					(long long)r->create_rev);
		} else if (r->version != want_ver ||
			   r->create_rev != want_create) {
			return STORE_SNAP_BAD(s, "broken version chain at "
						 "revision %lld (version %lld)",
					      (long long)r->main,
					      (long long)r->version);
		}
	}
	return STORE_OK;
}

int store_restore(struct store *s, const uint8_t *buf, size_t len)
{
	struct store t = {0};
	struct store_snap_r r = {.p = buf, .len = len, .s = s};
	struct store_snap_ent *ents = NULL;
	int rc = STORE_ERR_CORRUPT;

	if (s == NULL || (buf == NULL && len > 0))
		return STORE_ERR_INVAL;
	/* A fuzzer cannot forge a CRC; fuzz builds skip it to reach the
	 * validation below (the standard libFuzzer convention). */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	const bool check_crc = false;
#else
	const bool check_crc = true;
#endif
	if (len < 4 || (check_crc && store_snap_crc32c(buf, len - 4) !=
			       ((uint32_t)buf[len - 4] |
				(uint32_t)buf[len - 3] << 8 |
				(uint32_t)buf[len - 2] << 16 |
				(uint32_t)buf[len - 1] << 24))) {
		store_set_err(s, "snapshot: checksum mismatch or truncated");
		return STORE_ERR_CORRUPT;
	}
	r.len = len - 4;
	uint64_t magic = store_snap_get(&r, 4, "magic");
	uint64_t version = store_snap_get(&r, 2, "version");
	uint64_t reserved = store_snap_get(&r, 2, "reserved");
	t.applied_index = store_snap_get(&r, 8, "applied_index");
	t.rev = (int64_t)store_snap_get(&r, 8, "revision");
	t.compact_rev = (int64_t)store_snap_get(&r, 8, "compact_revision");
	if (r.bad)
		goto fail;
	if (magic != SNAP_MAGIC || version != SNAP_VERSION || reserved) {
		store_set_err(s, "snapshot: bad magic, version or reserved");
		goto fail;
	}
	if (t.rev < 1 || t.compact_rev < 0 || t.compact_rev > t.rev) {
		rc = STORE_SNAP_BAD(s, "revision %lld / compact revision %lld "
				       "out of order",
				    (long long)t.rev,
				    (long long)t.compact_rev);
		goto fail;
	}
	size_t nl = (size_t)store_snap_get(&r, 4, "lease count");
	/* Each lease is 16 bytes: a count the input cannot hold is a lie. */
	if (r.bad || nl > (r.len - r.off) / 16) {
		store_set_err(s, "snapshot: lease count exceeds the input");
		goto fail;
	}
	t.leases = store_calloc(nl ? nl : 1, sizeof(*t.leases));
	if (t.leases == NULL)
		goto nomem;
	t.cap_leases = nl ? nl : 1;
	for (size_t i = 0; i < nl; i++) {
		int64_t id = (int64_t)store_snap_get(&r, 8, "lease.id");
		int64_t ttl = (int64_t)store_snap_get(&r, 8, "lease.ttl");
		if (id <= 0 || ttl < 1 || ttl > STORE_LEASE_MAX_TTL ||
		    (i && id <= t.leases[i - 1].id)) {
			rc = STORE_SNAP_BAD(s, "lease %lld (ttl %lld) invalid "
					       "or out of order",
					    (long long)id, (long long)ttl);
			goto fail;
		}
		t.leases[i] = (struct store_lease_ent){.id = id, .ttl = ttl};
		t.n_leases++;
	}
	t.used = (uint64_t)nl * STORE_LEASE_COST;
	uint64_t nr64 = store_snap_get(&r, 8, "record count");
	/* The smallest record is 49 bytes. */
	if (r.bad || nr64 > (r.len - r.off) / 49) {
		store_set_err(s, "snapshot: record count exceeds the input");
		goto fail;
	}
	size_t nr = (size_t)nr64;
	t.log = store_calloc(nr ? nr : 1, sizeof(*t.log));
	ents = store_calloc(nr ? nr : 1, sizeof(*ents));
	if (t.log == NULL || ents == NULL)
		goto nomem;
	t.cap_log = nr ? nr : 1;
	int64_t lo_main = t.compact_rev > 1 ? t.compact_rev : 1;
	int64_t pm = 0, ps = -1;
	for (size_t i = 0; i < nr; i++) {
		struct store_rec *rec = store_calloc(1, sizeof(*rec));
		if (rec == NULL)
			goto nomem;
		t.log[t.n_log++] = rec;
		rec->main = (int64_t)store_snap_get(&r, 8, "record.main");
		rec->sub = (int64_t)store_snap_get(&r, 8, "record.sub");
		unsigned flags = (unsigned)store_snap_get(&r, 1,
							  "record.flags");
		const uint8_t *k = store_snap_get_bytes(
			&r, &ents[i].key_len, STORE_KEY_MAX, "record.key");
		size_t vlen;
		const uint8_t *v = store_snap_get_bytes(
			&r, &vlen, STORE_VALUE_MAX, "record.value");
		rec->create_rev = (int64_t)store_snap_get(&r, 8,
							  "record.create");
		rec->version = (int64_t)store_snap_get(&r, 8,
						       "record.version");
		rec->lease = (int64_t)store_snap_get(&r, 8, "record.lease");
		if (r.bad)
			goto fail;
		ents[i].rec = rec;
		ents[i].key = k;
		rec->tombstone = flags & SNAP_FLAG_TOMBSTONE;
		if ((flags & ~SNAP_FLAG_TOMBSTONE) || ents[i].key_len == 0) {
			rc = STORE_SNAP_BAD(s, "record %zu: bad flags or "
					       "empty key",
					    i);
			goto fail;
		}
		if (rec->main < 1 || rec->main > t.rev || rec->sub < 0 ||
		    rec->main < pm || (rec->main == pm && rec->sub <= ps)) {
			rc = STORE_SNAP_BAD(s, "record revision %lld.%lld out "
					       "of order",
					    (long long)rec->main,
					    (long long)rec->sub);
			goto fail;
		}
		/* Above the compact revision nothing was dropped, so main
		 * revisions are contiguous from the first write (revision 2,
		 * or the one after the compact revision) and subs count
		 * from 0. */
		if (rec->main > t.compact_rev) {
			bool ok;
			if (rec->main == pm)
				ok = rec->sub == ps + 1;
			else
				ok = rec->sub == 0 &&
				     rec->main == (pm > t.compact_rev
							   ? pm + 1
							   : lo_main + 1);
			if (!ok) {
				rc = STORE_SNAP_BAD(s, "gap before revision "
						       "%lld.%lld",
						    (long long)rec->main,
						    (long long)rec->sub);
				goto fail;
			}
		}
		pm = rec->main;
		ps = rec->sub;
		if (rec->tombstone ? (vlen || rec->create_rev ||
				      rec->version || rec->lease)
				   : rec->lease < 0) {
			rc = STORE_SNAP_BAD(s, "record %lld.%lld: bad "
					       "tombstone or lease",
					    (long long)rec->main,
					    (long long)rec->sub);
			goto fail;
		}
		if (vlen) {
			rec->value = store_malloc(vlen);
			if (rec->value == NULL)
				goto nomem;
			memcpy(rec->value, v, vlen);
			rec->value_len = vlen;
		}
		t.used += store_rec_cost(ents[i].key_len, vlen);
	}
	if (r.off != r.len) {
		store_set_err(s, "snapshot: %zu trailing bytes", r.len - r.off);
		goto fail;
	}
	/* The head revision's records cannot be compacted unless it is the
	 * compact revision itself, so a head with no record is a lie. */
	if (t.rev > lo_main && pm != t.rev) {
		rc = STORE_SNAP_BAD(s, "revision %lld has no record (last "
				       "%lld)",
				    (long long)t.rev, (long long)pm);
		goto fail;
	}
	/* Build the key index: sort by (key, main) and group. */
	qsort(ents, nr, sizeof(*ents), store_snap_ent_cmp);
	t.keys = store_calloc(nr ? nr : 1, sizeof(*t.keys));
	if (t.keys == NULL)
		goto nomem;
	t.cap_keys = nr ? nr : 1;
	for (size_t i = 0; i < nr;) {
		size_t j = i;
		while (j < nr && store_key_cmp(ents[j].key, ents[j].key_len,
					       ents[i].key,
					       ents[i].key_len) == 0)
			j++;
		struct store_key *key = store_calloc(1, sizeof(*key));
		if (key == NULL)
			goto nomem;
		t.keys[t.n_keys++] = key;
		key->key = store_malloc(ents[i].key_len);
		key->revs = store_calloc(j - i, sizeof(*key->revs));
		if (key->key == NULL || key->revs == NULL)
			goto nomem;
		memcpy(key->key, ents[i].key, ents[i].key_len);
		key->len = ents[i].key_len;
		key->cap_revs = j - i;
		for (size_t m = i; m < j; m++) {
			ents[m].rec->key = key;
			key->revs[key->n_revs++] = ents[m].rec;
		}
		if ((rc = store_snap_check_key(s, key, t.compact_rev)))
			goto fail;
		const struct store_rec *last = key->revs[key->n_revs - 1];
		if (!last->tombstone && last->lease &&
		    store_lease_find(&t, last->lease) == NULL) {
			rc = STORE_SNAP_BAD(s, "live key at revision %lld "
					       "attached to missing lease %lld",
					    (long long)last->main,
					    (long long)last->lease);
			goto fail;
		}
		i = j;
	}
	free(ents);
	/* Commit: swap the new data in; watchers and params stay. */
	store_clear_data(s);
	s->rev = t.rev;
	s->compact_rev = t.compact_rev;
	s->applied_index = t.applied_index;
	s->used = t.used;
	s->log = t.log;
	s->n_log = t.n_log;
	s->cap_log = t.cap_log;
	s->keys = t.keys;
	s->n_keys = t.n_keys;
	s->cap_keys = t.cap_keys;
	s->leases = t.leases;
	s->n_leases = t.n_leases;
	s->cap_leases = t.cap_leases;
	s->broken = false;
	s->errmsg[0] = 0;
	store_watch_compacted(s);
	return STORE_OK;
nomem:
	store_set_err(s, "snapshot: out of memory");
	rc = STORE_ERR_NOMEM;
fail:
	/* Records not yet attached to a key are freed through the log;
	 * clear_data frees both without double-freeing. */
	store_clear_data(&t);
	free(ents);
	if (rc == STORE_OK)
		rc = STORE_ERR_CORRUPT;
	return rc;
}
