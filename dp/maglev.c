/* SPDX-License-Identifier: Apache-2.0 */
/*
 * maglev: table build and publication (control side). See maglev.h for the
 * contract and docs/lb.md for the method, the weighting scheme and the
 * measured balance and disruption figures.
 *
 * Build cost is O(M log M) expected for equal weights (§3.4: the fill is a
 * coupon-collector walk over the permutations), plus O(N) per round when
 * weights are unequal, since every backend is visited in every round even if
 * its credit earns no turn. The build never runs on a worker lcore.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_rcu_qsbr.h>

#include "maglev.h"
#include "maglev_node.h"

/* Fixed hash keys ("sluice-maglev o1" etc.): versioned with
 * MAGLEV_HASH_VERSION. They are not secret: Maglev needs the same
 * permutation on every node (§3.4), and a backend set is operator input,
 * not attacker input. */
static const uint8_t maglev_key_offset[16] = "sluice-maglev o1";
static const uint8_t maglev_key_skip[16] = "sluice-maglev s1";
static const uint8_t maglev_key_digest[16] = "sluice-maglev d1";

/* ---- SipHash-2-4, written from the paper's specification ---- */

static inline uint64_t
maglev_rotl(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

static inline uint64_t
maglev_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

#define MAGLEV_SIPROUND(v0, v1, v2, v3)                                        \
	do {                                                                   \
		v0 += v1; v1 = maglev_rotl(v1, 13); v1 ^= v0;                  \
		v0 = maglev_rotl(v0, 32);                                      \
		v2 += v3; v3 = maglev_rotl(v3, 16); v3 ^= v2;                  \
		v0 += v3; v3 = maglev_rotl(v3, 21); v3 ^= v0;                  \
		v2 += v1; v1 = maglev_rotl(v1, 17); v1 ^= v2;                  \
		v2 = maglev_rotl(v2, 32);                                      \
	} while (0)

uint64_t
maglev_siphash24(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t k0 = maglev_le64(key), k1 = maglev_le64(key + 8);
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
	uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
	uint64_t v3 = k1 ^ 0x7465646279746573ULL;
	size_t full = len & ~(size_t)7;
	uint64_t m;

	for (size_t i = 0; i < full; i += 8) {
		m = maglev_le64(in + i);
		v3 ^= m;
		MAGLEV_SIPROUND(v0, v1, v2, v3);
		MAGLEV_SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	/* last block: the remaining bytes, length mod 256 in the top byte */
	m = (uint64_t)(len & 0xff) << 56;
	for (size_t i = 0; i < (len & 7); i++)
		m |= (uint64_t)in[full + i] << (8 * i);
	v3 ^= m;
	MAGLEV_SIPROUND(v0, v1, v2, v3);
	MAGLEV_SIPROUND(v0, v1, v2, v3);
	v0 ^= m;
	v2 ^= 0xff;
	for (int r = 0; r < 4; r++)
		MAGLEV_SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

bool
maglev_is_prime(uint32_t n)
{
	if (n < 2)
		return false;
	if (n % 2 == 0)
		return n == 2;
	for (uint32_t d = 3; (uint64_t)d * d <= n; d += 2)
		if (n % d == 0)
			return false;
	return true;
}

/* ---- the fill (§3.4, Pseudocode 1, with weighted turns) ---- */

int
maglev_fill(uint32_t m, uint32_t n, const uint32_t *offset,
	    const uint32_t *skip, const uint32_t *weight, uint32_t *slots)
{
	uint32_t wmax = 0, active = 0, filled = 0;
	uint32_t *next, *credit;

	if (!maglev_is_prime(m) || m > MAGLEV_M_MAX || slots == NULL ||
	    (n > 0 && (offset == NULL || skip == NULL || weight == NULL)))
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		if (offset[i] >= m || skip[i] == 0 || skip[i] >= m ||
		    weight[i] > MAGLEV_WEIGHT_MAX)
			return -EINVAL;
		if (weight[i] > 0)
			active++;
		if (weight[i] > wmax)
			wmax = weight[i];
	}
	/* Each weighted backend must be able to own a slot, or the ones that
	 * sort last would silently get none. */
	if (active > m)
		return -EINVAL;
	for (uint32_t s = 0; s < m; s++)
		slots[s] = MAGLEV_NO_BACKEND;
	if (active == 0)
		return 0;

	next = malloc(sizeof(*next) * n);
	credit = calloc(n, sizeof(*credit));
	if (next == NULL || credit == NULL) {
		free(next);
		free(credit);
		return -ENOMEM;
	}
	memcpy(next, offset, sizeof(*next) * n);

	/* 8< maglev-fill (docs/lb.md pulls this region) */
	/*
	 * Rounds over the backends in index (rank) order. Each visit adds the
	 * backend's weight to its credit; a credit of wmax buys one turn. A
	 * backend of weight wmax so takes exactly one turn per round, which is
	 * the paper's unweighted loop verbatim, and one of weight w takes a
	 * turn in w/wmax of the rounds, evenly spread. Every turn fills exactly
	 * one slot, so a backend's slot count is its turn count and shares
	 * follow weights to within about one turn (bound in docs/lb.md).
	 */
	for (;;) {
		for (uint32_t i = 0; i < n; i++) {
			uint32_t c;

			if (weight[i] == 0)
				continue;
			credit[i] += weight[i];
			if (credit[i] < wmax)
				continue;
			credit[i] -= wmax;
			/* m prime, skip in [1, m-1]: the walk visits every slot,
			 * so it finds a free one while filled < m. */
			c = next[i];
			while (slots[c] != MAGLEV_NO_BACKEND) {
				c += skip[i];
				if (c >= m)
					c -= m;
			}
			slots[c] = i;
			c += skip[i];
			next[i] = c >= m ? c - m : c;
			if (++filled == m)
				goto done;
		}
	}
	/* >8 maglev-fill */
done:
	free(next);
	free(credit);
	return 0;
}

/* ---- build ---- */

/* Canonical hash input: family, address (4 or 16 bytes), port big-endian.
 * Explicit byte order so that nodes of either endianness agree. */
static size_t
maglev_key_bytes(const struct maglev_backend *b, uint8_t out[19])
{
	size_t alen = b->family == MAGLEV_AF_INET ? 4 : 16;

	out[0] = b->family;
	memcpy(out + 1, b->addr, alen);
	out[1 + alen] = (uint8_t)(b->port >> 8);
	out[2 + alen] = (uint8_t)(b->port & 0xff);
	return 3 + alen;
}

static int
maglev_backend_cmp(const void *pa, const void *pb)
{
	const struct maglev_backend *a = pa, *b = pb;
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(a->addr, b->addr, sizeof(a->addr));
	if (c != 0)
		return c;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return 0;
}

static bool
maglev_backend_valid(const struct maglev_backend *b)
{
	static const uint8_t zero[12];

	if (b->weight > MAGLEV_WEIGHT_MAX)
		return false;
	if (b->family == MAGLEV_AF_INET6)
		return true;
	/* IPv4 keys hash 4 address bytes but sort on 16: stray bytes would
	 * let two equal backends sort apart, so they must be zero. */
	return b->family == MAGLEV_AF_INET &&
	       memcmp(b->addr + 4, zero, sizeof(zero)) == 0;
}

static size_t
maglev_align64(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

struct maglev_table *
maglev_build(const struct maglev_params *params)
{
	struct maglev_table *t = NULL;
	struct maglev_backend *bk;
	uint32_t *slots, *ids, *offset = NULL, *skip = NULL, *weight = NULL;
	uint32_t m, n, active = 0;
	size_t off_slots, off_ids, off_bk, total;
	int rc;

	if (params == NULL) {
		errno = EINVAL;
		return NULL;
	}
	m = params->table_size ? params->table_size : MAGLEV_M_DEFAULT;
	n = params->nb_backends;
	if (m < MAGLEV_M_MIN || m > MAGLEV_M_MAX || !maglev_is_prime(m) ||
	    n > MAGLEV_BACKENDS_MAX || (n > 0 && params->backends == NULL)) {
		errno = EINVAL;
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (!maglev_backend_valid(&params->backends[i])) {
			errno = EINVAL;
			return NULL;
		}
		active += params->backends[i].weight > 0;
	}
	if (active > m) {
		errno = EINVAL;
		return NULL;
	}

	/* one block: header | slots | ids | backends, each 64-byte aligned */
	off_slots = maglev_align64(sizeof(*t));
	off_ids = off_slots + maglev_align64(sizeof(uint32_t) * m);
	off_bk = off_ids + maglev_align64(sizeof(uint32_t) * n);
	total = off_bk + maglev_align64(sizeof(struct maglev_backend) * n);
	t = aligned_alloc(64, total);
	if (t == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	memset(t, 0, sizeof(*t));
	slots = (uint32_t *)((uint8_t *)t + off_slots);
	ids = (uint32_t *)((uint8_t *)t + off_ids);
	bk = (struct maglev_backend *)(void *)((uint8_t *)t + off_bk);
	t->size = m;
	t->nb_backends = n;
	t->slots = slots;
	t->ids = ids;
	t->backends = bk;

	if (n > 0) {
		memcpy(bk, params->backends, sizeof(*bk) * n);
		/* Ranks follow the stable key order, not the caller's order:
		 * this is what makes the table input-order independent. Keys
		 * are unique (checked next), so qsort's instability is moot. */
		qsort(bk, n, sizeof(*bk), maglev_backend_cmp);
		for (uint32_t i = 1; i < n; i++) {
			if (maglev_backend_cmp(&bk[i - 1], &bk[i]) == 0) {
				errno = EINVAL;
				goto fail;
			}
		}
		offset = malloc(sizeof(*offset) * n);
		skip = malloc(sizeof(*skip) * n);
		weight = malloc(sizeof(*weight) * n);
		if (offset == NULL || skip == NULL || weight == NULL) {
			errno = ENOMEM;
			goto fail;
		}
		for (uint32_t i = 0; i < n; i++) {
			uint8_t kb[19];
			size_t kl = maglev_key_bytes(&bk[i], kb);

			/* §3.4: offset = h1(name) mod M,
			 * skip = h2(name) mod (M - 1) + 1 */
			offset[i] = (uint32_t)(maglev_siphash24(maglev_key_offset, kb, kl) % m);
			skip[i] = (uint32_t)(maglev_siphash24(maglev_key_skip, kb, kl) % (m - 1)) + 1;
			weight[i] = bk[i].weight;
			ids[i] = bk[i].id;
		}
	}
	rc = maglev_fill(m, n, offset, skip, weight, slots);
	if (rc < 0) {
		errno = -rc;
		goto fail;
	}
	free(offset);
	free(skip);
	free(weight);
	return t;
fail:
	free(offset);
	free(skip);
	free(weight);
	free(t);
	return NULL;
}

void
maglev_free(struct maglev_table *t)
{
	free(t);
}

uint32_t
maglev_table_size(const struct maglev_table *t)
{
	return t->size;
}

uint32_t
maglev_table_nb_backends(const struct maglev_table *t)
{
	return t->nb_backends;
}

const uint32_t *
maglev_table_slots(const struct maglev_table *t)
{
	return t->slots;
}

const struct maglev_backend *
maglev_table_backend(const struct maglev_table *t, uint32_t rank)
{
	return rank < t->nb_backends ? &t->backends[rank] : NULL;
}

uint64_t
maglev_table_digest(const struct maglev_table *t)
{
	uint64_t acc = maglev_siphash24(maglev_key_digest, &t->size, sizeof(t->size));
	uint64_t *kh = malloc(sizeof(*kh) * (t->nb_backends + 1));

	if (kh == NULL)
		return 0;
	/* Hash keys, not ranks or ids: the digest names backends. */
	for (uint32_t r = 0; r < t->nb_backends; r++) {
		uint8_t kb[19];
		size_t kl = maglev_key_bytes(&t->backends[r], kb);

		kh[r] = maglev_siphash24(maglev_key_digest, kb, kl);
	}
	/* Chain slot by slot so the digest is order-sensitive; the control
	 * side can afford M SipHash calls on 16 bytes. */
	for (uint32_t s = 0; s < t->size; s++) {
		uint64_t blk[2];
		uint32_t r = t->slots[s];

		blk[0] = acc;
		blk[1] = r == MAGLEV_NO_BACKEND ? 0 : kh[r];
		acc = maglev_siphash24(maglev_key_digest, blk, sizeof(blk));
	}
	free(kh);
	return acc;
}

/* ---- publication ---- */

struct maglev_holder *
maglev_holder_create(const struct maglev_holder_params *p)
{
	struct maglev_holder *h;

	if (p == NULL || (p->qsbr == NULL) == (p->retire == NULL)) {
		errno = EINVAL;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	h->qsbr = p->qsbr;
	h->retire = p->retire;
	h->retire_ctx = p->retire_ctx;
	return h;
}

int
maglev_holder_publish(struct maglev_holder *h, struct maglev_table *t)
{
	struct maglev_table *old;

	if (h == NULL)
		return -EINVAL;
	old = h->cur; /* single writer: plain read of our own store */
	/* Release: a reader that sees t also sees its filled slots. Never free
	 * old right here: a worker may be mid-burst on it (the VPP lb.c
	 * counter-example in STYLE 16). */
	__atomic_store_n(&h->cur, t, __ATOMIC_RELEASE);
	if (old == NULL)
		return 0;
	if (h->retire != NULL) {
		h->retire(h->retire_ctx, old);
		return 0;
	}
	/* The token must be taken after the store above: a reader that reports
	 * quiescent after the token can no longer see old. */
	old->retired_token = rte_rcu_qsbr_start(h->qsbr);
	old->retired_next = NULL;
	if (h->retired_tail != NULL)
		h->retired_tail->retired_next = old;
	else
		h->retired_head = old;
	h->retired_tail = old;
	h->nb_retired++;
	return 0;
}

unsigned
maglev_holder_reclaim(struct maglev_holder *h)
{
	unsigned freed = 0;

	if (h == NULL || h->qsbr == NULL)
		return 0;
	/* Tokens grow with publication order, so the first one that is not
	 * done yet ends the scan. */
	while (h->retired_head != NULL &&
	       rte_rcu_qsbr_check(h->qsbr, h->retired_head->retired_token,
				  false) == 1) {
		struct maglev_table *t = h->retired_head;

		h->retired_head = t->retired_next;
		if (h->retired_head == NULL)
			h->retired_tail = NULL;
		h->nb_retired--;
		maglev_free(t);
		freed++;
	}
	return freed;
}

unsigned
maglev_holder_pending(const struct maglev_holder *h)
{
	return h == NULL ? 0 : h->nb_retired;
}

void
maglev_holder_free(struct maglev_holder *h)
{
	if (h == NULL)
		return;
	while (h->retired_head != NULL) {
		struct maglev_table *t = h->retired_head;

		h->retired_head = t->retired_next;
		maglev_free(t);
	}
	maglev_free(h->cur);
	free(h);
}
