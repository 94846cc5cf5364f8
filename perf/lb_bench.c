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
	/* the weighted fill's worst case: one heavy backend, the rest light,
	 * so ~M rounds each visit all N backends (docs/lb.md) */
	{
		struct maglev_params p = { 65537, b, N };
		struct maglev_table *t;
		double t0;

		for (uint32_t i = 0; i < N; i++)
			b[i].weight = i == 0 ? MAGLEV_WEIGHT_MAX : 1;
		t0 = lb_bench_now();
		t = maglev_build(&p);
		printf("maglev build: N=%d M=65537 weights=1x%u + %dx1 (worst case): %.1f ms\n",
		       N, MAGLEV_WEIGHT_MAX, N - 1, (lb_bench_now() - t0) * 1e3);
		maglev_free(t);
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

/*
 * Per-burst cycle counts, summarized by the median: on a shared machine a
 * burst that was preempted counts the other job's time, and the median
 * ignores those while the mean does not. Both are printed.
 */
struct lb_bench_acc {
	uint64_t *d;
	size_t n, cap;
	double wall0;
};

static int
lb_bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
lb_bench_acc_init(struct lb_bench_acc *a, size_t cap)
{
	a->d = malloc(sizeof(*a->d) * cap);
	a->n = 0;
	a->cap = a->d != NULL ? cap : 0;
	a->wall0 = lb_bench_now();
}

static void
lb_bench_acc_add(struct lb_bench_acc *a, uint64_t cycles)
{
	if (a->n < a->cap)
		a->d[a->n++] = cycles;
}

/* Print "median, mean cycles per op; ops per second by wall clock". */
static void
lb_bench_acc_print(struct lb_bench_acc *a, const char *what, unsigned per, uint64_t ops)
{
	double wall = lb_bench_now() - a->wall0, sum = 0;

	for (size_t i = 0; i < a->n; i++)
		sum += (double)a->d[i];
	qsort(a->d, a->n, sizeof(*a->d), lb_bench_cmp_u64);
	printf("%s: median %.1f, mean %.1f cycles/op; %.2f M ops/s/core wall-clock "
	       "(%" PRIu64 " ops)\n", what,
	       a->n ? (double)a->d[a->n / 2] / per : 0.0,
	       a->n ? sum / (double)a->n / per : 0.0, (double)ops / wall / 1e6, ops);
	free(a->d);
}

static void
lb_bench_ct(uint32_t flows, uint32_t capacity, uint32_t ops, double hz)
{
	struct ct_params p;
	struct ct *ct = NULL, *ct2 = NULL;
	struct ct_key *keys = malloc(sizeof(*keys) * flows);
	uint32_t *order = malloc(sizeof(*order) * flows);
	struct ct_key burst[LB_BENCH_BURST];
	uint64_t hashes[LB_BENCH_BURST];
	uint32_t idx[LB_BENCH_BURST];
	struct ct_clock now;
	struct lb_bench_acc acc;
	uint64_t c0, hits, refused;
	char what[160];

	memset(&p, 0, sizeof(p));
	p.capacity = capacity;
	p.tsc_hz = (uint64_t)hz;
	ct = ct_create(&p);
	ct2 = ct_create(&p);
	if (ct == NULL || ct2 == NULL || keys == NULL || order == NULL) {
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
	now = ct_clock_at(ct, rte_rdtsc());
	printf("-- conntrack: %u flows in a %u-entry table (%.0f MB) --\n", flows,
	       capacity, capacity * 72.0 / 1e6);

	/* 3a. new flows, insert alone: hash + insert, no lookup first */
	refused = 0;
	lb_bench_acc_init(&acc, flows / LB_BENCH_BURST + 1);
	for (uint32_t i = 0; i + LB_BENCH_BURST <= flows; i += LB_BENCH_BURST) {
		c0 = rte_rdtsc();
		for (uint32_t j = i; j < i + LB_BENCH_BURST; j++) {
			uint32_t id;

			refused += ct_insert(ct, &keys[j], ct_hash(&keys[j]),
					     CT_TCP_ESTABLISHED, j & 1023, &now, &id) != 0;
		}
		lb_bench_acc_add(&acc, rte_rdtsc() - c0);
	}
	snprintf(what, sizeof(what), "ct insert alone, empty table (%" PRIu64 " refused)",
		 refused);
	lb_bench_acc_print(&acc, what, LB_BENCH_BURST, flows);

	/* 3a'. new flows, burst path: bulk lookup (misses; buckets now cached),
	 * then insert each miss with the hash the lookup returned */
	refused = 0;
	lb_bench_acc_init(&acc, flows / LB_BENCH_BURST + 1);
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
		lb_bench_acc_add(&acc, rte_rdtsc() - c0);
	}
	snprintf(what, sizeof(what),
		 "ct new flow, burst path (lookup_bulk miss + insert) (%" PRIu64 " refused)",
		 refused);
	lb_bench_acc_print(&acc, what, LB_BENCH_BURST, flows);

	/* 2. established lookups, keys in random order, bursts of 32, gathered
	 * into a burst array first as the parser would leave them */
	hits = 0;
	lb_bench_acc_init(&acc, ops / LB_BENCH_BURST + 1);
	for (uint32_t done = 0; done + LB_BENCH_BURST <= ops; done += LB_BENCH_BURST) {
		uint32_t base = done % (flows - flows % LB_BENCH_BURST);

		for (uint32_t j = 0; j < LB_BENCH_BURST; j++)
			burst[j] = keys[order[base + j]];
		c0 = rte_rdtsc();
		hits += ct_lookup_bulk(ct, burst, LB_BENCH_BURST, &now, hashes, idx);
		lb_bench_acc_add(&acc, rte_rdtsc() - c0);
	}
	snprintf(what, sizeof(what), "ct lookup, established, bursts of %u (hits %" PRIu64 ")",
		 LB_BENCH_BURST, hits);
	lb_bench_acc_print(&acc, what, LB_BENCH_BURST, ops - ops % LB_BENCH_BURST);

	/* the same one key per call: what the staged pipeline buys */
	hits = 0;
	lb_bench_acc_init(&acc, ops / 4);
	for (uint32_t i = 0; i < ops / 4; i++) {
		struct ct_key one = keys[order[i % flows]];

		c0 = rte_rdtsc();
		hits += ct_lookup_bulk(ct, &one, 1, &now, hashes, idx);
		lb_bench_acc_add(&acc, rte_rdtsc() - c0);
	}
	snprintf(what, sizeof(what), "ct lookup, established, one key per call (hits %" PRIu64 ")",
		 hits);
	lb_bench_acc_print(&acc, what, 1, ops / 4);

	/* 3b. SYN flood steady state: fill the free half with embryonic flows,
	 * then every new SYN evicts the oldest embryonic one of its pair */
	{
		const uint32_t flood0 = 0x80000000u;
		uint32_t i = 0;
		uint64_t ev0, st[CT_STAT_MAX];

		for (; ct_count(ct) < capacity && i < 4 * capacity; i++) {
			struct ct_key k;
			uint32_t id;

			lb_bench_key(&k, flood0 + i);
			(void)ct_insert(ct, &k, ct_hash(&k), CT_TCP_SYN_SENT, 0, &now, &id);
		}
		ct_stats_get(ct, st);
		ev0 = st[CT_STAT_EVICT_EMBRYONIC];
		refused = 0;
		lb_bench_acc_init(&acc, ops / LB_BENCH_BURST + 1);
		for (uint32_t done = 0; done + LB_BENCH_BURST <= ops; done += LB_BENCH_BURST) {
			for (uint32_t j = 0; j < LB_BENCH_BURST; j++)
				lb_bench_key(&burst[j], flood0 + i++);
			c0 = rte_rdtsc();
			for (uint32_t j = 0; j < LB_BENCH_BURST; j++) {
				uint32_t id;

				refused += ct_insert(ct, &burst[j], ct_hash(&burst[j]),
						     CT_TCP_SYN_SENT, 0, &now, &id) != 0;
			}
			lb_bench_acc_add(&acc, rte_rdtsc() - c0);
		}
		ct_stats_get(ct, st);
		snprintf(what, sizeof(what),
			 "ct insert, full table under SYN flood (%" PRIu64 " evictions, %" PRIu64
			 " refused, %u established kept)",
			 st[CT_STAT_EVICT_EMBRYONIC] - ev0, refused, flows);
		lb_bench_acc_print(&acc, what, LB_BENCH_BURST, ops - ops % LB_BENCH_BURST);
	}
out:
	ct_free(ct);
	ct_free(ct2);
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
	lb_bench_ct(flows, 2 * flows, flows, hz);
	/* the compute floor: the same with a table that fits in L2 */
	lb_bench_ct(4096, 8192, flows, hz);
	lb_bench_load("after");
	return 0;
}
