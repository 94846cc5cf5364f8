/*
 * gen_lat: linear latency histogram, one writer and one concurrent reader.
 * See gen_lat.h for the bucket choice. Counters are plain uint64_t touched
 * through relaxed __atomic builtins: the writer is the only one to modify
 * them, so load+store (not fetch_add) is enough and costs a plain add on
 * x86.
 */
#include "gen_lat.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define GEN_LAT_NBUCKETS (GEN_LAT_MAX_NS / GEN_LAT_BUCKET_NS + 1u) /* last = overflow */

struct gen_lat {
	uint64_t count;
	uint64_t min_ns;
	uint64_t max_ns;
	uint64_t bucket[GEN_LAT_NBUCKETS];
};

struct gen_lat *
gen_lat_create(void)
{
	struct gen_lat *h = calloc(1, sizeof(*h));

	if (h == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	h->min_ns = UINT64_MAX;
	return h;
}

void
gen_lat_free(struct gen_lat *h)
{
	free(h);
}

void
gen_lat_record_burst(struct gen_lat *h, const uint64_t *ns, unsigned int n)
{
	uint64_t mn = __atomic_load_n(&h->min_ns, __ATOMIC_RELAXED);
	uint64_t mx = __atomic_load_n(&h->max_ns, __ATOMIC_RELAXED);
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint64_t b = ns[i] / GEN_LAT_BUCKET_NS;

		if (b >= GEN_LAT_NBUCKETS)
			b = GEN_LAT_NBUCKETS - 1;
		__atomic_store_n(&h->bucket[b], h->bucket[b] + 1, __ATOMIC_RELAXED);
		if (ns[i] < mn)
			mn = ns[i];
		if (ns[i] > mx)
			mx = ns[i];
	}
	__atomic_store_n(&h->min_ns, mn, __ATOMIC_RELAXED);
	__atomic_store_n(&h->max_ns, mx, __ATOMIC_RELAXED);
	__atomic_store_n(&h->count, h->count + n, __ATOMIC_RELAXED);
}

void
gen_lat_copy(struct gen_lat *dst, const struct gen_lat *src)
{
	size_t i;

	dst->count = __atomic_load_n(&src->count, __ATOMIC_RELAXED);
	dst->min_ns = __atomic_load_n(&src->min_ns, __ATOMIC_RELAXED);
	dst->max_ns = __atomic_load_n(&src->max_ns, __ATOMIC_RELAXED);
	for (i = 0; i < GEN_LAT_NBUCKETS; i++)
		dst->bucket[i] = __atomic_load_n(&src->bucket[i], __ATOMIC_RELAXED);
}

/* Bucket midpoint in µs; the overflow bucket reports its lower edge. */
static double
gen_lat_bucket_us(size_t b)
{
	if (b == GEN_LAT_NBUCKETS - 1)
		return (double)GEN_LAT_MAX_NS / 1000.0;
	return ((double)b * GEN_LAT_BUCKET_NS + GEN_LAT_BUCKET_NS / 2.0) / 1000.0;
}

void
gen_lat_summarize(const struct gen_lat *h, const struct gen_lat *since,
		  struct gen_lat_summary *out)
{
	uint64_t total = 0, seen = 0, want50, want99;
	size_t i, first = GEN_LAT_NBUCKETS, last = 0;
	int have50 = 0, have99 = 0;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < GEN_LAT_NBUCKETS; i++) {
		uint64_t c = __atomic_load_n(&h->bucket[i], __ATOMIC_RELAXED);

		if (since != NULL)
			c -= since->bucket[i];
		if (c == 0)
			continue;
		total += c;
		if (first == GEN_LAT_NBUCKETS)
			first = i;
		last = i;
	}
	if (total == 0)
		return;

	/* Nearest-rank percentiles: the smallest value with >= p% at or below. */
	want50 = (total * 50 + 99) / 100;
	want99 = (total * 99 + 99) / 100;
	for (i = first; i <= last; i++) {
		uint64_t c = __atomic_load_n(&h->bucket[i], __ATOMIC_RELAXED);

		if (since != NULL)
			c -= since->bucket[i];
		seen += c;
		if (!have50 && seen >= want50) {
			out->p50_us = gen_lat_bucket_us(i);
			have50 = 1;
		}
		if (!have99 && seen >= want99) {
			out->p99_us = gen_lat_bucket_us(i);
			have99 = 1;
			break;
		}
	}
	out->count = total;
	if (since == NULL) {
		out->min_us = (double)__atomic_load_n(&h->min_ns, __ATOMIC_RELAXED) / 1000.0;
		out->max_us = (double)__atomic_load_n(&h->max_ns, __ATOMIC_RELAXED) / 1000.0;
	} else {
		out->min_us = (double)first * GEN_LAT_BUCKET_NS / 1000.0;
		out->max_us = gen_lat_bucket_us(last);
	}
}
