/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lb_bench: figures for the load balancer's two core algorithms, on one core,
 * without EAL (the modules need none):
 *   1. Maglev rebuild time, 1000 backends, M = 65537 and 655373 (the paper's
 *      two sizes, §5.3), equal and unequal weights; lookup cycles.
 *   2. conntrack lookup cycles per established flow with 1M flows tracked
 *      (bursts of 32, keys in random order, rte_rdtsc).
 *   3. conntrack new-flow insert rate per core: into an empty table, and
 *      into a full one where every insert evicts (SYN flood steady state).
 * Prints the machine load before and after: these numbers mean little on a
 * loaded, shared box, so read them with the load figure.
 *
 * Usage: lb_bench [--quick]   (--quick: 1/8 of the flows, for a smoke run)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>

#include "ct.h"
#include "ct_node.h"
#include "maglev.h"
#include "maglev_node.h"

#define LB_BENCH_BURST 32u

static uint64_t lb_bench_rng_state = 1;

static uint64_t
lb_bench_rng(void)
{
	uint64_t z = (lb_bench_rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double
lb_bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void
lb_bench_load(const char *when)
{
	char buf[128] = "?";
	FILE *f = fopen("/proc/loadavg", "r");

	if (f != NULL) {
		if (fgets(buf, sizeof(buf), f) == NULL)
			strcpy(buf, "?\n");
		fclose(f);
	}
	printf("load %s: %s", when, buf);
}

/* TSC rate measured against CLOCK_MONOTONIC (no EAL here). */
static double
lb_bench_tsc_hz(void)
{
	double t0 = lb_bench_now(), t1;
	uint64_t c0 = rte_rdtsc(), c1;

	do {
		t1 = lb_bench_now();
	} while (t1 - t0 < 0.2);
	c1 = rte_rdtsc();
	return (double)(c1 - c0) / (t1 - t0);
}

static int
lb_bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
lb_bench_maglev(void)
{
	static const uint32_t sizes[] = { 65537, 655373 };
	enum { N = 1000, REPS = 11 };
	struct maglev_backend *b = calloc(N, sizeof(*b));

	if (b == NULL)
		return;
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (int weighted = 0; weighted < 2; weighted++) {
			double ms[REPS];
			struct maglev_params p = { sizes[s], b, N };
			struct maglev_table *t = NULL;

			lb_bench_rng_state = 3;
			for (uint32_t i = 0; i < N; i++) {
				memset(&b[i], 0, sizeof(b[i]));
				b[i].family = MAGLEV_AF_INET;
				b[i].addr[0] = 10;
				b[i].addr[1] = (uint8_t)(i >> 8);
				b[i].addr[2] = (uint8_t)i;
				b[i].addr[3] = 2;
				b[i].port = 8080;
				b[i].weight = weighted ? 1 + (uint32_t)(lb_bench_rng() % 100) : 1;
				b[i].id = i;
			}
			for (int r = 0; r < REPS; r++) {
				double t0 = lb_bench_now();

				maglev_free(t);
				t = maglev_build(&p);
				ms[r] = (lb_bench_now() - t0) * 1e3;
				if (t == NULL) {
					perror("maglev_build");
					free(b);
					return;
				}
			}
			qsort(ms, REPS, sizeof(ms[0]), lb_bench_cmp_double);
			printf("maglev build: N=%d M=%u weights=%s: median %.2f ms, min %.2f ms "
			       "(%d runs)\n", N, sizes[s], weighted ? "1..100" : "equal",
			       ms[REPS / 2], ms[0], REPS);
			if (s == 0 && !weighted) {
				enum { L = 1 << 20 };
				uint64_t *h = malloc(sizeof(*h) * L);
				uint32_t *ids = malloc(sizeof(*ids) * L);
				uint64_t c0, c1;

				if (h != NULL && ids != NULL) {
					for (uint32_t i = 0; i < L; i++)
						h[i] = lb_bench_rng();
					c0 = rte_rdtsc();
					maglev_lookup_bulk(t, h, L, ids);
					c1 = rte_rdtsc();
					printf("maglev lookup: %.1f cycles/lookup (M=%u, table in cache)\n",
					       (double)(c1 - c0) / L, sizes[s]);
				}
				free(h);
				free(ids);
			}
			maglev_free(t);
		}
	}
	free(b);
}

static void
lb_bench_key(struct ct_key *k, uint32_t i)
{
	memset(k, 0, sizeof(*k));
	k->family = 4;
	k->proto = 6;
	k->src[0] = 100;
	k->src[1] = (uint8_t)(i >> 24);
	k->src[2] = (uint8_t)(i >> 16);
	k->src[3] = (uint8_t)(i >> 8);
	k->sport = (uint16_t)(1024 + (i & 0xff));
	k->dst[0] = 10;
	k->dst[1] = 96;
	k->dst[3] = 1;
	k->dport = 443;
}

static void
lb_bench_ct(uint32_t flows, uint32_t capacity, double hz)
{
	struct ct_params p;
	struct ct *ct;
	struct ct_key *keys = malloc(sizeof(*keys) * flows);
	uint32_t *order = malloc(sizeof(*order) * flows);
	uint64_t hashes[LB_BENCH_BURST];
	uint32_t idx[LB_BENCH_BURST];
	struct ct_clock now;
	uint64_t c0, c1, hits = 0, lookups = 0, refused = 0;
	double t0, t1;

	memset(&p, 0, sizeof(p));
	p.capacity = capacity;
	p.tsc_hz = (uint64_t)hz;
	ct = ct_create(&p);
	if (ct == NULL || keys == NULL || order == NULL) {
		perror("ct bench setup");
		goto out;
	}
	for (uint32_t i = 0; i < flows; i++) {
		lb_bench_key(&keys[i], i);
		order[i] = i;
	}
	lb_bench_rng_state = 9;
	for (uint32_t i = flows - 1; i > 0; i--) {
		uint32_t j = (uint32_t)(lb_bench_rng() % (i + 1)), tmp = order[i];

		order[i] = order[j];
		order[j] = tmp;
	}

	/* 3a. insert rate into an empty table: hash + insert per new flow */
	now = ct_clock_at(ct, rte_rdtsc());
	t0 = lb_bench_now();
	c0 = rte_rdtsc();
	for (uint32_t i = 0; i < flows; i++) {
		uint32_t id;

		refused += ct_insert(ct, &keys[i], ct_hash(&keys[i]),
				     CT_TCP_ESTABLISHED, i & 1023, &now, &id) != 0;
	}
	c1 = rte_rdtsc();
	t1 = lb_bench_now();
	printf("ct insert (empty table, capacity %u): %u flows, %.1f cycles/insert, "
	       "%.2f M inserts/s/core, %" PRIu64 " refused, load %.2f\n",
	       capacity, flows, (double)(c1 - c0) / flows, flows / (t1 - t0) / 1e6,
	       refused, (double)ct_count(ct) / capacity);

	/* 3a'. the burst path for new flows: bulk lookup (misses, buckets now
	 * cached), then insert each miss with the hash the lookup returned */
	{
		struct ct *ct2 = ct_create(&p);
		struct ct_key burst[LB_BENCH_BURST];
		uint64_t cyc = 0;

		if (ct2 == NULL) {
			perror("ct_create");
			goto out;
		}
		refused = 0;
		t0 = lb_bench_now();
		for (uint32_t i = 0; i + LB_BENCH_BURST <= flows; i += LB_BENCH_BURST) {
			memcpy(burst, &keys[i], sizeof(burst));
			c0 = rte_rdtsc();
			ct_lookup_bulk(ct2, burst, LB_BENCH_BURST, &now, hashes, idx);
			for (uint32_t j = 0; j < LB_BENCH_BURST; j++) {
				uint32_t id;

				if (idx[j] == CT_MISS)
					refused += ct_insert(ct2, &burst[j], hashes[j],
							     CT_TCP_SYN_SENT, j, &now, &id) != 0;
			}
			c1 = rte_rdtsc();
			cyc += c1 - c0;
		}
		t1 = lb_bench_now();
		printf("ct new flows (burst path: lookup_bulk miss + insert, empty table): "
		       "%.1f cycles/flow, %.2f M flows/s/core, %" PRIu64 " refused\n",
		       (double)cyc / flows, flows / (t1 - t0) / 1e6, refused);
		ct_free(ct2);
	}

	/* 2. established lookups, random order, bursts of 32; the keys are
	 * gathered into a burst array first, as the parser would leave them */
	for (int pass = 0; pass < 2; pass++) {
		struct ct_key burst[LB_BENCH_BURST];
		uint64_t cyc = 0;

		hits = lookups = 0;
		for (uint32_t i = 0; i + LB_BENCH_BURST <= flows; i += LB_BENCH_BURST) {
			for (uint32_t j = 0; j < LB_BENCH_BURST; j++)
				burst[j] = keys[order[i + j]];
			c0 = rte_rdtsc();
			hits += ct_lookup_bulk(ct, burst, LB_BENCH_BURST, &now, hashes, idx);
			c1 = rte_rdtsc();
			cyc += c1 - c0;
			lookups += LB_BENCH_BURST;
		}
		printf("ct lookup (established, %u tracked, bursts of %u, random order, pass %d): "
		       "%.1f cycles/lookup, hits %" PRIu64 "/%" PRIu64 "\n",
		       ct_count(ct), LB_BENCH_BURST, pass + 1, (double)cyc / (double)lookups,
		       hits, lookups);
	}
	/* the same, one key per call: what the staged pipeline buys */
	{
		uint64_t cyc = 0, n = flows < (1u << 18) ? flows : (1u << 18);

		hits = 0;
		for (uint32_t i = 0; i < n; i++) {
			struct ct_key one = keys[order[i]];

			c0 = rte_rdtsc();
			hits += ct_lookup_bulk(ct, &one, 1, &now, hashes, idx);
			c1 = rte_rdtsc();
			cyc += c1 - c0;
		}
		printf("ct lookup (same, burst of 1, no overlap): %.1f cycles/lookup, hits %"
		       PRIu64 "/%" PRIu64 "\n", (double)cyc / (double)n, hits, n);
	}

	/* 3b. SYN flood steady state: fill the rest with embryonic flows, then
	 * every new SYN evicts the oldest embryonic one of its bucket pair */
	{
		uint32_t n = flows, flood0 = 0x80000000u;
		uint64_t evicted0, st[CT_STAT_MAX];

		for (uint32_t i = 0; ct_count(ct) < capacity && i < 4 * capacity; i++) {
			struct ct_key k;
			uint32_t id;

			lb_bench_key(&k, flood0 + i);
			(void)ct_insert(ct, &k, ct_hash(&k), CT_TCP_SYN_SENT, 0, &now, &id);
		}
		ct_stats_get(ct, st);
		evicted0 = st[CT_STAT_EVICT_EMBRYONIC];
		refused = 0;
		t0 = lb_bench_now();
		c0 = rte_rdtsc();
		for (uint32_t i = 0; i < n; i++) {
			struct ct_key k;
			uint32_t id;

			lb_bench_key(&k, flood0 + 4 * capacity + i);
			refused += ct_insert(ct, &k, ct_hash(&k), CT_TCP_SYN_SENT, 0,
					     &now, &id) != 0;
		}
		c1 = rte_rdtsc();
		t1 = lb_bench_now();
		ct_stats_get(ct, st);
		printf("ct insert (full table, SYN flood, %u established kept): %u SYNs, "
		       "%.1f cycles/insert incl. key build, %.2f M inserts/s/core, "
		       "%" PRIu64 " evictions, %" PRIu64 " refused\n",
		       flows, n, (double)(c1 - c0) / n, n / (t1 - t0) / 1e6,
		       st[CT_STAT_EVICT_EMBRYONIC] - evicted0, refused);
	}
out:
	ct_free(ct);
	free(keys);
	free(order);
}

int
main(int argc, char **argv)
{
	int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
	uint32_t flows = quick ? (1u << 17) : (1u << 20);
	double hz;

	setvbuf(stdout, NULL, _IOLBF, 0);
	lb_bench_load("before");
	hz = lb_bench_tsc_hz();
	printf("tsc: %.3f GHz (measured against CLOCK_MONOTONIC)\n", hz / 1e9);
	lb_bench_maglev();
	/* 1M flows in 2M slots: the two-choice table's comfortable load (it
	 * refuses its first insert near 88% full; docs/lb.md) */
	lb_bench_ct(flows, 2 * flows, hz);
	lb_bench_load("after");
	return 0;
}
