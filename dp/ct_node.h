/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ct_node: the fast path of ct.h, for the lcore that owns the table: flow
 * hash, bulk lookup, insert, per-packet state update, delete.
 *
 * Layout (docs/lb.md has the reasoning):
 *   buckets[nb_buckets]  one 64-byte line each: 8 signatures + 8 expiry times
 *   entries[capacity]    one 64-byte line each; entry i lives in bucket i / 8,
 *                        way i % 8, so the bucket needs no index field
 * A flow may live in either of two buckets (two-choice hashing): a lookup
 * reads two bucket lines and, on a signature match, one entry line. The low
 * 2 bits of a signature hold the entry's eviction class (0 = empty way), so
 * the insert picks a victim from the bucket lines alone.
 *
 * Entries are named by u32 index (STYLE 15); an index stays valid until the
 * entry is deleted, evicted or swept, i.e. within a burst on the owner lcore.
 */
#ifndef SLUICE_DP_CT_NODE_H
#define SLUICE_DP_CT_NODE_H

#include <stdint.h>
#include <string.h>

#include <rte_prefetch.h>

#include "ct.h"

#define CT_WAYS 8u
#define CT_MISS UINT32_MAX
/* Largest burst one ct_lookup_bulk() stage handles at once; longer arrays
 * are processed in chunks of this size. */
#define CT_BURST_MAX 64u

#define CT_DIR_ORIG 0u  /* client -> VIP */
#define CT_DIR_REPLY 1u /* backend -> client */

#define CT_TCP_FIN 0x01u
#define CT_TCP_SYN 0x02u
#define CT_TCP_RST 0x04u
#define CT_TCP_ACK 0x10u

_Static_assert(sizeof(struct ct_key) == 40, "ct_key is hashed as 5 u64 words");

struct ct_entry {
	struct ct_key key;
	uint32_t backend;  /* backend id from Maglev */
	uint32_t service;  /* VIP/service index, set by the caller */
	uint16_t nat_port; /* SNAT source port, network order; 0 = none */
	uint8_t state;     /* enum ct_state */
	uint8_t flags;     /* caller's */
	uint32_t pad;
	uint64_t last_seen; /* TSC of the last packet */
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct ct_entry) == 64, "one cache line per entry");

struct ct_bucket {
	uint32_t sig[CT_WAYS];    /* hash high bits | class; 0 = empty */
	uint32_t expire[CT_WAYS]; /* ms tick at which the way expires */
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct ct_bucket) == 64, "one cache line per bucket");

struct ct {
	struct ct_bucket *buckets;
	struct ct_entry *entries;
	uint32_t bucket_mask;
	uint32_t capacity;
	uint32_t count;
	uint32_t sweep_cursor;
	uint64_t tsc_per_ms;
	uint32_t timeout_ms[CT_STATE_MAX];
	uint64_t stats[CT_STAT_MAX];
} __attribute__((aligned(64)));

/* Time as the fast path sees it: the TSC for last_seen, and a u32
 * millisecond tick for expiry. Compute once per burst with ct_clock_at(). */
struct ct_clock {
	uint64_t tsc;
	uint32_t ms;
};

static inline struct ct_clock
ct_clock_at(const struct ct *ct, uint64_t tsc)
{
	struct ct_clock c = { tsc, (uint32_t)(tsc / ct->tsc_per_ms) };

	return c;
}

/*
 * 64-bit flow hash of a key: multiply-xorshift over the five words, then
 * MurmurHash3's fmix64 finalizer. The seed is fixed on purpose: the same
 * hash feeds maglev_lookup(), and every LB node must map a flow to the same
 * Maglev slot (assumes all LB nodes share byte order). Not keyed, so a
 * remote sender can aim flows at one bucket pair; the damage is bounded to
 * that pair's 16 ways and the eviction order still protects established
 * flows there (docs/lb.md, "hash flooding").
 */
static inline uint64_t
ct_hash(const struct ct_key *k)
{
	uint64_t w[5], h = 0x736c756963652d63ULL;

	memcpy(w, k, sizeof(w));
	for (unsigned i = 0; i < 5; i++) {
		h ^= w[i];
		h *= 0x9e3779b97f4a7c15ULL;
		h ^= h >> 32;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* The two candidate buckets of a hash. */
static inline void
ct_buckets_of(const struct ct *ct, uint64_t hash, uint32_t *b1, uint32_t *b2)
{
	/* Two independent-ish bit ranges of the hash; forcing b2 != b1 keeps
	 * two distinct choices even in a 2-bucket table. */
	*b1 = (uint32_t)hash & ct->bucket_mask;
	*b2 = (uint32_t)(hash >> 20) & ct->bucket_mask;
	if (*b2 == *b1)
		*b2 = *b1 ^ 1u;
}

/* Prefetch both bucket lines of hash, one stage before a ct_insert() of a
 * key that was not looked up (e.g. a NAT reply key). Owner lcore. */
static inline void
ct_prefetch(const struct ct *ct, uint64_t hash)
{
	uint32_t b1, b2;

	ct_buckets_of(ct, hash, &b1, &b2);
	rte_prefetch0(&ct->buckets[b1]);
	rte_prefetch0(&ct->buckets[b2]);
}

/* Second stage before a ct_insert(): with both bucket lines of hash in
 * cache (looked up, or ct_prefetch()ed a stage earlier), prefetch the
 * entry line an insert would take in each bucket (its first free way):
 * the insert then writes a line that is already on its way. Owner lcore. */
static inline void
ct_prefetch_slot(const struct ct *ct, uint64_t hash)
{
	uint32_t b[2];

	ct_buckets_of(ct, hash, &b[0], &b[1]);
	for (unsigned j = 0; j < 2; j++) {
		const struct ct_bucket *bk = &ct->buckets[b[j]];
		for (uint32_t w = 0; w < CT_WAYS; w++)
			if (bk->sig[w] == 0) {
				rte_prefetch0(&ct->entries[b[j] * CT_WAYS + w]);
				break;
			}
	}
}

/* Entry by index, for reading the backend and NAT state or setting the
 * caller's fields (service, nat_port, flags). Owner lcore. */
static inline struct ct_entry *
ct_entry(struct ct *ct, uint32_t idx)
{
	return &ct->entries[idx];
}

/*
 * Look up n keys (any n; chunks of CT_BURST_MAX). For each i: hashes[i] =
 * ct_hash(&keys[i]) (reuse it for maglev_lookup() and ct_insert() on a
 * miss), idx[i] = entry index or CT_MISS. Expired entries are misses. The
 * lookup does not refresh the entry: call ct_update() for each packet
 * forwarded. Owner lcore; no allocation. Returns the number of hits.
 */
unsigned ct_lookup_bulk(struct ct *ct, const struct ct_key *keys, unsigned n,
			const struct ct_clock *now, uint64_t *hashes,
			uint32_t *idx);

/*
 * Insert key (hash = ct_hash(key)) in state, pinned to backend. Reuses the
 * key's expired entry if there is one; otherwise takes a free way in the
 * emptier of the two buckets, or evicts (expired, then embryonic, then
 * closing; oldest expiry first within a class). Owner lcore; no allocation.
 * Returns 0 and *idx, -EEXIST (live entry for key; *idx set to it),
 * -ENOSPC (both buckets hold only live established flows) or -EINVAL.
 */
int ct_insert(struct ct *ct, const struct ct_key *key, uint64_t hash,
	      unsigned state, uint32_t backend, const struct ct_clock *now,
	      uint32_t *idx);

/*
 * Account one packet of entry idx seen in direction dir (CT_DIR_*) with TCP
 * flags (ignored for UDP): advance the state, refresh last_seen and expiry.
 * Owner lcore. Returns the new state, or -EINVAL for a bad or free index.
 */
int ct_update(struct ct *ct, uint32_t idx, unsigned dir, uint8_t tcp_flags,
	      const struct ct_clock *now);

/* Free entry idx. Owner lcore. 0 or -EINVAL. */
int ct_delete(struct ct *ct, uint32_t idx);

/* The state machine alone (pure, any thread): next state of a flow in
 * state for one packet. Returns state unchanged when nothing applies. */
unsigned ct_state_next(unsigned state, unsigned dir, uint8_t tcp_flags);

#endif /* SLUICE_DP_CT_NODE_H */
