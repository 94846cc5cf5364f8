/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ct: conntrack control side: allocation, sweep, names and counters. The
 * table memory comes from aligned_alloc so the module (and its unit tests)
 * need no EAL; the dataplane integration may place it per NUMA socket
 * instead (docs/lb.md, "missing").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ct.h"
#include "ct_node.h"

static const char *const ct_state_names[CT_STATE_MAX] = {
#define CT_X_NAME(name, cls, tmo) [CT_##name] = #name,
	CT_STATE_LIST(CT_X_NAME)
#undef CT_X_NAME
};

static const uint32_t ct_default_timeout[CT_STATE_MAX] = {
#define CT_X_TMO(name, cls, tmo) [CT_##name] = tmo,
	CT_STATE_LIST(CT_X_TMO)
#undef CT_X_TMO
};

static const char *const ct_stat_names[CT_STAT_MAX] = {
#define CT_X_NAME(name) [CT_STAT_##name] = #name,
	CT_STAT_LIST(CT_X_NAME)
#undef CT_X_NAME
};

#define CT_HUGE_PAGE (2u << 20)

/*
 * Table memory. Large tables are 2 MiB aligned and advised onto transparent
 * huge pages: lookups touch random lines across the whole table, and with
 * 4 KiB pages nearly every one also misses the TLB (measured: perf/lb_bench,
 * docs/lb.md). Best effort; the advice may be refused.
 */
static void *
ct_table_alloc(size_t size)
{
	void *p;

	if (size < CT_HUGE_PAGE)
		return aligned_alloc(64, size);
	size = (size + CT_HUGE_PAGE - 1) & ~(size_t)(CT_HUGE_PAGE - 1);
	p = aligned_alloc(CT_HUGE_PAGE, size);
	if (p != NULL)
		(void)madvise(p, size, MADV_HUGEPAGE);
	return p;
}

const char *
ct_state_name(unsigned state)
{
	return state < CT_STATE_MAX ? ct_state_names[state] : "?";
}

const char *
ct_stat_name(unsigned stat)
{
	return stat < CT_STAT_MAX ? ct_stat_names[stat] : "?";
}

struct ct *
ct_create(const struct ct_params *p)
{
	struct ct *ct;
	uint32_t nb_buckets;

	if (p == NULL || p->capacity < CT_CAPACITY_MIN ||
	    p->capacity > CT_CAPACITY_MAX ||
	    (p->capacity & (p->capacity - 1)) != 0 || p->tsc_hz < 1000) {
		errno = EINVAL;
		return NULL;
	}
	for (unsigned s = 0; s < CT_STATE_MAX; s++) {
		if (p->timeout_ms[s] > CT_TIMEOUT_MAX_MS) {
			errno = EINVAL;
			return NULL;
		}
	}
	ct = aligned_alloc(64, sizeof(*ct));
	if (ct == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	memset(ct, 0, sizeof(*ct));
	nb_buckets = p->capacity / CT_WAYS;
	/* Capacity is a power of two >= 16, so nb_buckets is a power of two
	 * >= 2 and a mask indexes it (STYLE 15). */
	ct->buckets = ct_table_alloc(sizeof(struct ct_bucket) * nb_buckets);
	ct->entries = ct_table_alloc(sizeof(struct ct_entry) * p->capacity);
	if (ct->buckets == NULL || ct->entries == NULL) {
		ct_free(ct);
		errno = ENOMEM;
		return NULL;
	}
	/* Buckets must start empty (sig 0). Entries are written before they
	 * are first read, but zeroing them faults the pages in here, on the
	 * control side, rather than on the first burst. */
	memset(ct->buckets, 0, sizeof(struct ct_bucket) * nb_buckets);
	memset(ct->entries, 0, sizeof(struct ct_entry) * p->capacity);
	ct->bucket_mask = nb_buckets - 1;
	ct->capacity = p->capacity;
	ct->tsc_per_ms = p->tsc_hz / 1000;
	for (unsigned s = 0; s < CT_STATE_MAX; s++)
		ct->timeout_ms[s] = p->timeout_ms[s] ? p->timeout_ms[s]
						     : ct_default_timeout[s];
	return ct;
}

void
ct_free(struct ct *ct)
{
	if (ct == NULL)
		return;
	free(ct->buckets);
	free(ct->entries);
	free(ct);
}

uint32_t
ct_capacity(const struct ct *ct)
{
	return ct->capacity;
}

uint32_t
ct_count(const struct ct *ct)
{
	return ct->count;
}

void
ct_stats_get(const struct ct *ct, uint64_t out[CT_STAT_MAX])
{
	memcpy(out, ct->stats, sizeof(ct->stats));
}

unsigned
ct_sweep(struct ct *ct, const struct ct_sweep_req *req)
{
	struct ct_clock now;
	uint32_t nb_buckets = ct->bucket_mask + 1, todo;
	unsigned freed = 0;

	if (req == NULL)
		return 0;
	now = ct_clock_at(ct, req->now_tsc);
	todo = req->max_buckets == 0 || req->max_buckets > nb_buckets ? nb_buckets
								      : req->max_buckets;
	for (uint32_t n = 0; n < todo; n++) {
		uint32_t b = ct->sweep_cursor;
		struct ct_bucket *bk = &ct->buckets[b];

		ct->sweep_cursor = (b + 1) & ct->bucket_mask;
		for (uint32_t w = 0; w < CT_WAYS; w++) {
			uint32_t be;

			if (bk->sig[w] == 0)
				continue;
			if ((int32_t)(now.ms - bk->expire[w]) >= 0) {
				ct->stats[CT_STAT_SWEEP_EXPIRED]++;
			} else {
				be = ct->entries[b * CT_WAYS + w].backend;
				if (req->dead == NULL || be >= req->nb_dead_bits ||
				    !(req->dead[be / 64] & (1ULL << (be % 64))))
					continue;
				ct->stats[CT_STAT_SWEEP_BACKEND]++;
			}
			bk->sig[w] = 0;
			ct->count--;
			freed++;
		}
	}
	return freed;
}
