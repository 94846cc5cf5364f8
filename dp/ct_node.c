/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ct_node: conntrack fast path (see ct_node.h). Burst functions only: no
 * allocation, locks, syscalls or logging; counters instead (STYLE 11, 14).
 *
 * The bulk lookup works in stages over the whole burst, the rte_hash bulk
 * way (STYLE 13): stage 1 hashes every key and prefetches both candidate
 * bucket lines; stage 2 matches signatures in the (now cached) buckets and
 * prefetches the candidate entry line; stage 3 compares full keys and checks
 * expiry. Each stage's memory requests are issued one stage before they are
 * needed, so a burst pays roughly one memory latency per stage instead of
 * three per packet.
 */
#include <errno.h>
#include <stdbool.h>

#include <rte_prefetch.h>

#include "ct.h"
#include "ct_node.h"

static const uint8_t ct_class_of[CT_STATE_MAX] = {
#define CT_X_CLASS(name, cls, tmo) [CT_##name] = cls,
	CT_STATE_LIST(CT_X_CLASS)
#undef CT_X_CLASS
};

enum ct_class
ct_state_class(unsigned state)
{
	return state < CT_STATE_MAX ? (enum ct_class)ct_class_of[state]
				    : CT_CLASS_EMPTY;
}

/* Signature without the class bits. */
static inline uint32_t
ct_sig_of(uint64_t hash)
{
	return (uint32_t)(hash >> 32) & ~3u;
}

/* Expired when now has reached expire; signed difference survives the u32
 * wrap (valid within 2^31 ms, see CT_TIMEOUT_MAX_MS). */
static inline bool
ct_expired(uint32_t expire, uint32_t now_ms)
{
	return (int32_t)(now_ms - expire) >= 0;
}

static inline bool
ct_key_eq(const struct ct_key *a, const struct ct_key *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* Full scan of both buckets for key; CT_MISS if absent. The slow path when
 * the first signature match was a different key (p ~ 16 / 2^30). */
static uint32_t
ct_find(const struct ct *ct, const struct ct_key *key, uint32_t want,
	uint32_t b1, uint32_t b2)
{
	uint32_t b[2] = { b1, b2 };

	for (unsigned j = 0; j < 2; j++) {
		const struct ct_bucket *bk = &ct->buckets[b[j]];

		for (uint32_t w = 0; w < CT_WAYS; w++) {
			uint32_t i = b[j] * CT_WAYS + w;

			if (bk->sig[w] != 0 && (bk->sig[w] & ~3u) == want &&
			    ct_key_eq(&ct->entries[i].key, key))
				return i;
		}
	}
	return CT_MISS;
}

static inline uint32_t
ct_first_sig_match(const struct ct_bucket *bk, uint32_t bidx, uint32_t want)
{
	for (uint32_t w = 0; w < CT_WAYS; w++)
		if (bk->sig[w] != 0 && (bk->sig[w] & ~3u) == want)
			return bidx * CT_WAYS + w;
	return CT_MISS;
}

static unsigned
ct_lookup_chunk(struct ct *ct, const struct ct_key *keys, unsigned n,
		const struct ct_clock *now, uint64_t *hashes, uint32_t *idx)
{
	uint32_t b1[CT_BURST_MAX], b2[CT_BURST_MAX];
	unsigned hits = 0;

	/* stage 1: hash, prefetch both bucket lines */
	for (unsigned i = 0; i < n; i++) {
		hashes[i] = ct_hash(&keys[i]);
		ct_buckets_of(ct, hashes[i], &b1[i], &b2[i]);
		rte_prefetch0(&ct->buckets[b1[i]]);
		rte_prefetch0(&ct->buckets[b2[i]]);
	}
	/* stage 2: signature match, prefetch the candidate entry line */
	for (unsigned i = 0; i < n; i++) {
		uint32_t want = ct_sig_of(hashes[i]);
		uint32_t c = ct_first_sig_match(&ct->buckets[b1[i]], b1[i], want);

		if (c == CT_MISS)
			c = ct_first_sig_match(&ct->buckets[b2[i]], b2[i], want);
		if (c != CT_MISS)
			rte_prefetch0(&ct->entries[c]);
		idx[i] = c;
	}
	/* stage 3: full key compare, expiry */
	for (unsigned i = 0; i < n; i++) {
		uint32_t c = idx[i];

		if (c == CT_MISS) {
			ct->stats[CT_STAT_LOOKUP_MISS]++;
			continue;
		}
		if (!ct_key_eq(&ct->entries[c].key, &keys[i]))
			c = ct_find(ct, &keys[i], ct_sig_of(hashes[i]), b1[i], b2[i]);
		if (c != CT_MISS &&
		    ct_expired(ct->buckets[c / CT_WAYS].expire[c % CT_WAYS], now->ms)) {
			ct->stats[CT_STAT_LOOKUP_EXPIRED]++;
			c = CT_MISS;
		}
		idx[i] = c;
		if (c == CT_MISS) {
			ct->stats[CT_STAT_LOOKUP_MISS]++;
		} else {
			ct->stats[CT_STAT_LOOKUP_HIT]++;
			hits++;
		}
	}
	return hits;
}

unsigned
ct_lookup_bulk(struct ct *ct, const struct ct_key *keys, unsigned n,
	       const struct ct_clock *now, uint64_t *hashes, uint32_t *idx)
{
	unsigned hits = 0;

	for (unsigned base = 0; base < n; base += CT_BURST_MAX) {
		unsigned len = n - base < CT_BURST_MAX ? n - base : CT_BURST_MAX;

		hits += ct_lookup_chunk(ct, keys + base, len, now, hashes + base,
					idx + base);
	}
	return hits;
}

static void
ct_fill(struct ct *ct, uint32_t i, const struct ct_key *key, uint32_t want,
	unsigned state, uint32_t backend, const struct ct_clock *now)
{
	struct ct_entry *e = &ct->entries[i];
	struct ct_bucket *bk = &ct->buckets[i / CT_WAYS];

	e->key = *key;
	e->backend = backend;
	e->service = 0;
	e->nat_port = 0;
	e->state = (uint8_t)state;
	e->flags = 0;
	e->pad = 0;
	e->last_seen = now->tsc;
	bk->sig[i % CT_WAYS] = want | ct_class_of[state];
	bk->expire[i % CT_WAYS] = now->ms + ct->timeout_ms[state];
}

/* 8< ct-evict (docs/lb.md pulls this region) */
/* Victim rank of an occupied way: lower is evicted first; 3 = never. */
static inline unsigned
ct_victim_rank(const struct ct_bucket *bk, uint32_t w, uint32_t now_ms)
{
	if (ct_expired(bk->expire[w], now_ms))
		return 0;
	switch (bk->sig[w] & 3u) {
	case CT_CLASS_EMBRYONIC:
		return 1;
	case CT_CLASS_CLOSING:
		return 2;
	default:
		return 3;
	}
}
/* >8 ct-evict */

int
ct_insert(struct ct *ct, const struct ct_key *key, uint64_t hash,
	  unsigned state, uint32_t backend, const struct ct_clock *now,
	  uint32_t *idx)
{
	static const enum ct_stat evict_stat[3] = {
		CT_STAT_EVICT_EXPIRED, CT_STAT_EVICT_EMBRYONIC,
		CT_STAT_EVICT_CLOSING,
	};
	uint32_t want = ct_sig_of(hash), b1, b2, c;
	uint32_t best = CT_MISS, best_rank = 3;
	int32_t best_left = 0;
	unsigned empties[2] = { 0, 0 };
	uint32_t first_empty[2] = { CT_MISS, CT_MISS };

	if (state >= CT_STATE_MAX || idx == NULL)
		return -EINVAL;
	ct_buckets_of(ct, hash, &b1, &b2);

	c = ct_find(ct, key, want, b1, b2);
	if (c != CT_MISS) {
		if (!ct_expired(ct->buckets[c / CT_WAYS].expire[c % CT_WAYS], now->ms)) {
			ct->stats[CT_STAT_INSERT_EXISTS]++;
			*idx = c;
			return -EEXIST;
		}
		/* Same flow came back after its timeout: refill in place so the
		 * key never has two entries. */
		ct_fill(ct, c, key, want, state, backend, now);
		ct->stats[CT_STAT_INSERT_REUSE]++;
		*idx = c;
		return 0;
	}

	for (unsigned j = 0; j < 2; j++) {
		uint32_t bi = j == 0 ? b1 : b2;
		const struct ct_bucket *bk = &ct->buckets[bi];

		for (uint32_t w = 0; w < CT_WAYS; w++) {
			unsigned r;
			int32_t left;

			if (bk->sig[w] == 0) {
				if (empties[j]++ == 0)
					first_empty[j] = bi * CT_WAYS + w;
				continue;
			}
			r = ct_victim_rank(bk, w, now->ms);
			/* within a rank, the way closest to (or longest past) its
			 * expiry: for one state that is the least recently seen */
			left = (int32_t)(bk->expire[w] - now->ms);
			if (r < best_rank || (r == best_rank && r < 3 && left < best_left)) {
				best = bi * CT_WAYS + w;
				best_rank = r;
				best_left = left;
			}
		}
	}

	/* Two-choice placement: the emptier bucket, which keeps bucket loads
	 * near the mean and overflow rare (docs/lb.md). */
	if (empties[0] > 0 || empties[1] > 0) {
		c = empties[1] > empties[0] ? first_empty[1] : first_empty[0];
	} else if (best_rank < 3) {
		c = best;
		ct->stats[evict_stat[best_rank]]++;
		ct->count--;
	} else {
		/* Only live established flows here: refuse the new flow rather
		 * than break a connection in progress. */
		ct->stats[CT_STAT_INSERT_FULL]++;
		return -ENOSPC;
	}
	ct_fill(ct, c, key, want, state, backend, now);
	ct->count++;
	ct->stats[CT_STAT_INSERT]++;
	*idx = c;
	return 0;
}

unsigned
ct_state_next(unsigned state, unsigned dir, uint8_t f)
{
	if (state == CT_UDP_NEW)
		return dir == CT_DIR_REPLY ? CT_UDP_REPLIED : CT_UDP_NEW;
	if (state == CT_UDP_REPLIED || state >= CT_STATE_MAX)
		return state;

	/* RFC 793 §3.4: a reset ends the connection in any state. */
	if (f & CT_TCP_RST)
		return CT_TCP_CLOSE;
	if (f & CT_TCP_SYN) {
		if (dir == CT_DIR_REPLY && (f & CT_TCP_ACK) && state == CT_TCP_SYN_SENT)
			return CT_TCP_SYN_RECV;
		/* A new SYN from the client on a finished connection: the
		 * 4-tuple is being reused (RFC 793 TIME-WAIT reuse). */
		if (dir == CT_DIR_ORIG && !(f & CT_TCP_ACK) &&
		    (state == CT_TCP_TIME_WAIT || state == CT_TCP_CLOSE ||
		     state == CT_TCP_MIDSTREAM))
			return CT_TCP_SYN_SENT;
		return state;
	}
	if (f & CT_TCP_FIN) {
		switch (state) {
		case CT_TCP_SYN_RECV:
		case CT_TCP_ESTABLISHED:
		case CT_TCP_MIDSTREAM:
			return dir == CT_DIR_ORIG ? CT_TCP_FIN_WAIT : CT_TCP_CLOSE_WAIT;
		case CT_TCP_FIN_WAIT:
			return dir == CT_DIR_REPLY ? CT_TCP_TIME_WAIT : state;
		case CT_TCP_CLOSE_WAIT:
			return dir == CT_DIR_ORIG ? CT_TCP_TIME_WAIT : state;
		default:
			return state;
		}
	}
	if ((f & CT_TCP_ACK) && dir == CT_DIR_ORIG &&
	    (state == CT_TCP_SYN_SENT || state == CT_TCP_SYN_RECV))
		/* The client's ACK completes the handshake. From SYN_SENT it
		 * means the SYN-ACK bypassed us (DSR or asymmetric return
		 * path): we track the client side only, like IPVS in DR mode. */
		return CT_TCP_ESTABLISHED;
	/* A mid-stream flow is real once the backend answers it. */
	if ((f & CT_TCP_ACK) && dir == CT_DIR_REPLY && state == CT_TCP_MIDSTREAM)
		return CT_TCP_ESTABLISHED;
	return state;
}

int
ct_update(struct ct *ct, uint32_t idx, unsigned dir, uint8_t tcp_flags,
	  const struct ct_clock *now)
{
	struct ct_entry *e;
	struct ct_bucket *bk;
	unsigned ns;
	uint32_t w = idx % CT_WAYS;

	if (idx >= ct->capacity)
		return -EINVAL;
	bk = &ct->buckets[idx / CT_WAYS];
	if (bk->sig[w] == 0)
		return -EINVAL;
	e = &ct->entries[idx];
	ns = ct_state_next(e->state, dir, tcp_flags);
	e->state = (uint8_t)ns;
	e->last_seen = now->tsc;
	bk->sig[w] = (bk->sig[w] & ~3u) | ct_class_of[ns];
	bk->expire[w] = now->ms + ct->timeout_ms[ns];
	return (int)ns;
}

int
ct_delete(struct ct *ct, uint32_t idx)
{
	struct ct_bucket *bk;

	if (idx >= ct->capacity)
		return -EINVAL;
	bk = &ct->buckets[idx / CT_WAYS];
	if (bk->sig[idx % CT_WAYS] == 0)
		return -EINVAL;
	bk->sig[idx % CT_WAYS] = 0;
	ct->count--;
	ct->stats[CT_STAT_DELETE]++;
	return 0;
}
