/* SPDX-License-Identifier: Apache-2.0 */
/*
 * maglev: Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and
 * Reliable Software Network Load Balancer", NSDI 2016, §3.4), control side.
 *
 * The control thread builds a lookup table of prime size M from a weighted
 * backend set, aside from the one the workers read, and publishes it through
 * a maglev_holder (release store; the old table is freed after an
 * rte_rcu_qsbr grace period or handed to a caller-supplied retire callback).
 * Workers map a flow hash to a backend with maglev_lookup() in maglev_node.h.
 *
 * Determinism is the point of the design: every LB node that is given the
 * same backend set, in any order and with any local ids, builds a table with
 * byte-identical slots[] (ranks into the set sorted by backend key), because
 * routers spread one flow's packets over LB nodes by ECMP and every node must
 * pick the same backend for it without talking to the others (paper §3.3,
 * §3.4). The permutation hash is SipHash-2-4 with fixed, versioned keys, never
 * a per-process random seed. See docs/lb.md.
 */
#ifndef SLUICE_DP_MAGLEV_H
#define SLUICE_DP_MAGLEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rte_rcu_qsbr;

/* The paper's evaluation uses 65537 and 655373 (§5.3); M must be prime so
 * that every skip in [1, M-1] generates a full permutation of the slots. */
#define MAGLEV_M_DEFAULT 65537u
#define MAGLEV_M_MIN 3u
#define MAGLEV_M_MAX (1u << 24)
#define MAGLEV_BACKENDS_MAX 65536u
#define MAGLEV_WEIGHT_MAX 65535u
/* Bump when the hash keys or key serialization change: tables built by two
 * versions differ, so a mixed-version LB tier would break ECMP consistency. */
#define MAGLEV_HASH_VERSION 1u
/* maglev_lookup() result when no backend has a non-zero weight. */
#define MAGLEV_NO_BACKEND UINT32_MAX

/* Address families of the backend key. Our own values rather than AF_INET/
 * AF_INET6, whose numbers differ between operating systems and would make the
 * hash input, and so the table, depend on the LB node's OS. */
#define MAGLEV_AF_INET 4u
#define MAGLEV_AF_INET6 6u

struct maglev_backend {
	uint8_t family;   /* MAGLEV_AF_INET or MAGLEV_AF_INET6 */
	uint8_t addr[16]; /* IPv4 in addr[0..3] (network order), rest zero */
	uint16_t port;    /* host order; serialized big-endian for hashing */
	uint32_t weight;  /* 0 = draining: keeps its rank, gets no slots */
	uint32_t id;      /* caller's backend index, returned by lookups */
};

struct maglev_params {
	uint32_t table_size; /* prime M in [MAGLEV_M_MIN, MAGLEV_M_MAX]; 0 = default */
	const struct maglev_backend *backends; /* copied; any order */
	uint32_t nb_backends;
};

struct maglev_table;

/*
 * Build a table for params->backends (copied). Control thread only; may
 * allocate. Backends are sorted by (family, addr, port); slot i holds the
 * rank of its backend in that order, so equal sets give byte-identical slots.
 * Returns the table (caller owns it until it is published), or NULL with
 * errno = EINVAL (M not prime or out of range, duplicate key, bad family,
 * weight > MAGLEV_WEIGHT_MAX, more than MAGLEV_BACKENDS_MAX backends, more
 * backends with a non-zero weight than slots) or ENOMEM.
 */
struct maglev_table *maglev_build(const struct maglev_params *params);

/* Free a table that is not (or no longer) published. NULL is ok. */
void maglev_free(struct maglev_table *t);

/* Accessors. A table is immutable once built: any thread, lock-free, for as
 * long as the caller holds it (owns it, or is inside its RCU read side).
 * Returned pointers are owned by t. */
uint32_t maglev_table_size(const struct maglev_table *t);
uint32_t maglev_table_nb_backends(const struct maglev_table *t);
/* slots[0..M-1]: rank of each slot's backend, or MAGLEV_NO_BACKEND. Owned by t. */
const uint32_t *maglev_table_slots(const struct maglev_table *t);
/* The backend of a rank, as copied into t (sorted order). NULL if out of range. */
const struct maglev_backend *maglev_table_backend(const struct maglev_table *t,
						  uint32_t rank);
/* SipHash over M and every slot's backend key: nodes compare digests to
 * check that they hold the same table (e.g. in health reports). Control
 * thread; allocates 8 bytes per backend; returns 0 if that fails. */
uint64_t maglev_table_digest(const struct maglev_table *t);

/*
 * The bare fill of §3.4 Pseudocode 1, with weights: backend i (0 <= i < n)
 * walks the permutation offset[i], offset[i]+skip[i], ... (mod m) and takes
 * the next free slot on each of its turns; turns are handed out in rounds,
 * in index order, in proportion to weight[i] / max(weight) (see docs/lb.md).
 * slots[] (m entries) receives backend indices. Exposed so tests can check
 * the paper's hand-worked example. Any thread; no allocation beyond
 * 2*n u32 on the heap. Returns 0, -EINVAL (m not prime, offset >= m, skip
 * not in [1, m-1], weight > MAGLEV_WEIGHT_MAX, more weighted backends than
 * slots) or -ENOMEM.
 */
int maglev_fill(uint32_t m, uint32_t n, const uint32_t *offset,
		const uint32_t *skip, const uint32_t *weight, uint32_t *slots);

bool maglev_is_prime(uint32_t n);

/* SipHash-2-4 (Aumasson & Bernstein), 64-bit output. Any thread. */
uint64_t maglev_siphash24(const uint8_t key[16], const void *data, size_t len);

/* ---- publication ---- */

struct maglev_holder_params {
	/* Exactly one of these: a QSBR variable that every reader lcore of
	 * this holder reports quiescent states to (not owned)... */
	struct rte_rcu_qsbr *qsbr;
	/* ...or a retire callback that takes ownership of each replaced table
	 * and frees it (maglev_free) once no reader can hold it. */
	void (*retire)(void *ctx, struct maglev_table *old);
	void *retire_ctx;
};

struct maglev_holder;

/* NULL + errno EINVAL/ENOMEM. Control thread. Starts with no table. */
struct maglev_holder *maglev_holder_create(const struct maglev_holder_params *p);

/*
 * Publish t (may be NULL: no service) with a release store; ownership of t
 * passes to the holder. The replaced table is retired: with a QSBR variable
 * it is queued with a grace-period token and freed by a later
 * maglev_holder_reclaim(); with a callback it is handed over at once.
 * Control thread only (one writer). Returns 0, or -EINVAL if h is NULL.
 * Allocates nothing: the retire list is threaded through the tables.
 */
int maglev_holder_publish(struct maglev_holder *h, struct maglev_table *t);

/* Free retired tables whose grace period has ended; never blocks.
 * Control thread only. Returns how many were freed. */
unsigned maglev_holder_reclaim(struct maglev_holder *h);

/* Retired tables still waiting for their grace period. Control thread. */
unsigned maglev_holder_pending(const struct maglev_holder *h);

/* Free the holder, its current table and every retired one without waiting:
 * the caller guarantees no reader is left. NULL is ok. */
void maglev_holder_free(struct maglev_holder *h);

#endif /* SLUICE_DP_MAGLEV_H */
