/* SPDX-License-Identifier: Apache-2.0 */
/*
 * maglev_node: the fast-path side of maglev.h, for worker lcores.
 *
 * A worker loads the current table once per burst with maglev_holder_get()
 * (acquire), maps each new flow's hash to a backend with maglev_lookup(),
 * and reports a quiescent state to the holder's QSBR variable between
 * bursts, never while it still uses the table. Lookups only read; they
 * never allocate, lock or block.
 *
 * The layouts below are visible only so these functions can be inlined;
 * everything else goes through maglev.h.
 */
#ifndef SLUICE_DP_MAGLEV_NODE_H
#define SLUICE_DP_MAGLEV_NODE_H

#include <stdint.h>

#include "maglev.h"

struct maglev_table {
	uint32_t size;        /* prime M */
	uint32_t nb_backends;
	const uint32_t *slots; /* [size]: rank, or MAGLEV_NO_BACKEND */
	const uint32_t *ids;   /* [nb_backends]: rank -> caller's id */
	const struct maglev_backend *backends; /* [nb_backends], sorted */
	/* control side only: retire list of the holder */
	struct maglev_table *retired_next;
	uint64_t retired_token;
};

struct maglev_holder {
	struct maglev_table *cur; /* written with release, read with acquire */
	struct rte_rcu_qsbr *qsbr;
	void (*retire)(void *ctx, struct maglev_table *old);
	void *retire_ctx;
	struct maglev_table *retired_head; /* oldest first */
	struct maglev_table *retired_tail;
	unsigned nb_retired;
};

/* Current table, or NULL. Any lcore, lock-free; the result stays valid until
 * the calling lcore reports its next quiescent state. */
static inline const struct maglev_table *
maglev_holder_get(const struct maglev_holder *h)
{
	return __atomic_load_n(&h->cur, __ATOMIC_ACQUIRE);
}

/*
 * Backend id for a flow hash, or MAGLEV_NO_BACKEND when no backend has a
 * weight. Any lcore. The slot comes from the hash's high 32 bits by
 * multiply-shift (Lemire's fast range reduction) instead of a modulo by the
 * prime M: same uniformity, no division. Every LB node must use the same
 * flow hash and this same reduction (the flow hash of ct_hash() is fixed-seed
 * for this reason), or ECMP consistency is lost.
 */
static inline uint32_t
maglev_lookup(const struct maglev_table *t, uint64_t flow_hash)
{
	uint32_t slot = (uint32_t)(((flow_hash >> 32) * (uint64_t)t->size) >> 32);
	uint32_t rank = t->slots[slot];

	if (rank == MAGLEV_NO_BACKEND)
		return MAGLEV_NO_BACKEND;
	return t->ids[rank];
}

/* maglev_lookup() for n hashes into ids[]. Returns n. Any lcore. */
static inline unsigned
maglev_lookup_bulk(const struct maglev_table *t, const uint64_t *hashes,
		   unsigned n, uint32_t *ids)
{
	for (unsigned i = 0; i < n; i++)
		ids[i] = maglev_lookup(t, hashes[i]);
	return n;
}

#endif /* SLUICE_DP_MAGLEV_NODE_H */
