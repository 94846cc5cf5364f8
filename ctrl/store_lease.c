/*
 * store_lease: the lease table (sorted by id so that snapshots and expiry
 * listings are in a deterministic order) and the leader-side expiry clock.
 * Grant, keepalive and revoke are applied by store_apply() in store.c; this
 * file owns the table and the local deadlines (see store_lease.h for why a
 * deadline is local and re-armed on promotion).
 */
#include "store_lease.h"

#include <stdlib.h>
#include <string.h>

#include "store_int.h"

static size_t store_lease_pos(const struct store *s, int64_t id)
{
	size_t lo = 0, hi = s->n_leases;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->leases[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct store_lease_ent *store_lease_find(struct store *s, int64_t id)
{
	size_t i = store_lease_pos(s, id);
	return i < s->n_leases && s->leases[i].id == id ? &s->leases[i] : NULL;
}

int store_lease_insert(struct store *s, int64_t id, int64_t ttl)
{
	size_t i = store_lease_pos(s, id);
	if (s->n_leases == s->cap_leases) {
		size_t cap = s->cap_leases ? s->cap_leases * 2 : 16;
		struct store_lease_ent *n = store_realloc(s->leases,
						    cap * sizeof(*n));
		if (n == NULL)
			return STORE_ERR_NOMEM;
		s->leases = n;
		s->cap_leases = cap;
	}
	memmove(&s->leases[i + 1], &s->leases[i],
		(s->n_leases - i) * sizeof(*s->leases));
	s->leases[i] = (struct store_lease_ent){.id = id, .ttl = ttl};
	s->n_leases++;
	return STORE_OK;
}

void store_lease_remove(struct store *s, int64_t id)
{
	size_t i = store_lease_pos(s, id);
	if (i >= s->n_leases || s->leases[i].id != id)
		return;
	memmove(&s->leases[i], &s->leases[i + 1],
		(s->n_leases - i - 1) * sizeof(*s->leases));
	s->n_leases--;
}

static int64_t store_lease_deadline(int64_t now_ms, int64_t ttl)
{
	/* ttl <= STORE_LEASE_MAX_TTL keeps ttl * 1000 far from overflow;
	 * a clock near INT64_MAX saturates instead of wrapping. */
	int64_t d = ttl * 1000;
	if (now_ms > INT64_MAX - d)
		return INT64_MAX;
	/* 0 means "not armed"; a deadline never lands on it. */
	return now_ms + d == 0 ? 1 : now_ms + d;
}

void store_lease_promote(struct store *s, int64_t now_ms)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_leases; i++)
		s->leases[i].deadline_ms =
			store_lease_deadline(now_ms, s->leases[i].ttl);
}

size_t store_lease_expired(struct store *s, int64_t now_ms, int64_t *out,
			   size_t cap)
{
	size_t n = 0;
	if (s == NULL)
		return 0;
	for (size_t i = 0; i < s->n_leases; i++) {
		struct store_lease_ent *l = &s->leases[i];
		if (l->deadline_ms == 0) {
			l->deadline_ms = store_lease_deadline(now_ms, l->ttl);
			continue;
		}
		if (l->deadline_ms > now_ms)
			continue;
		if (out && n < cap)
			out[n] = l->id;
		n++;
	}
	return n;
}

int store_lease_get(struct store *s, int64_t id, int64_t *ttl,
		    int64_t *deadline_ms)
{
	struct store_lease_ent *l = s ? store_lease_find(s, id) : NULL;
	if (l == NULL)
		return STORE_ERR_LEASE_NOT_FOUND;
	if (ttl)
		*ttl = l->ttl;
	if (deadline_ms)
		*deadline_ms = l->deadline_ms;
	return STORE_OK;
}

size_t store_lease_count(const struct store *s)
{
	return s ? s->n_leases : 0;
}
