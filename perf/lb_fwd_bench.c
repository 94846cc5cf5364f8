/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lb_fwd_bench: the LB stage of sluice-dp (lb_fwd_burst: conntrack, Maglev,
 * full NAT with checksum updates) alone on one core, without EAL, I/O or
 * memif: bursts of 32 packets in stack mbufs.
 *
 *   new flows:   bursts of 32 first packets of new UDP flows towards one
 *                VIP with 32 backends, until `flows` are tracked (two
 *                conntrack entries each): cycles per new flow, new flows/s;
 *   established: bursts of 32 packets of tracked flows picked at random
 *                among all of them (so conntrack lines come from the whole
 *                table, as with 1M live clients): cycles per packet.
 *
 * Each burst is timed with rte_rdtsc around lb_fwd_burst() only (rebuilding
 * the 32 frames, which NAT rewrites in place, is outside the window); the
 * figure is the median burst / 32, because on a shared machine a preempted
 * burst counts another job's time (mean printed too). Compare with
 * perf/lb-bench.sh, which measures the whole dataplane over memif.
 *
 * Usage: lb_fwd_bench [flows]   (default 1048576)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include "dp_stats.h"
#include "lb_fwd.h"
#include "lb_svc.h"
#include "pkt.h"

#define B 32u
#define NB_BE 32u
#define VIP 0x0a00600au /* 10.96.0.10 in memory order */

static uint64_t rng_state = 7;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* 64-byte UDP frame of flow i: client 10.(i>>16).(i>>8).(i) : a port from i
 * -> VIP:5001, with valid checksums. */
static void mk_frame(uint8_t *f, uint32_t i)
{
	static const uint8_t tmpl[42] = {
		2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0xaa, 1, 0x08, 0x00,
		0x45, 0, 0, 46, 0x12, 0x34, 0, 0, 64, 17, 0, 0,
		10, 0, 0, 0, 10, 96, 0, 10,
		0x04, 0x00, 0x13, 0x89, 0, 26, 0, 0,
	};
	memcpy(f, tmpl, sizeof(tmpl));
	memset(f + 42, 0x5a, 18);
	f[27] = (uint8_t)(i >> 16);
	f[28] = (uint8_t)(i >> 8);
	f[29] = (uint8_t)i;
	/* ephemeral-looking client ports, as real clients have (the SNAT
	 * port tries the client's own first) */
	uint16_t sp = (uint16_t)(1024u + (uint32_t)(((uint64_t)i * 2654435761u) >> 16) % 64000u);
	f[34] = (uint8_t)(sp >> 8);
	f[35] = (uint8_t)sp;
	uint16_t c = pkt_csum(f + 14, 20);
	f[24] = (uint8_t)(c >> 8);
	f[25] = (uint8_t)c;
	/* UDP checksum 0 (none): NAT leaves it, the cost is the IP side */
}

struct burst {
	uint8_t frame[B][64];
	struct rte_mbuf m[B];
	struct rte_mbuf *pkts[B];
	struct pkt_info pi[B];
	uint8_t idx[B], kidx[B];
	uint32_t keys[B];
};

static void prep(struct burst *b, const uint32_t *flow)
{
	for (unsigned k = 0; k < B; k++) {
		mk_frame(b->frame[k], flow[k]);
		memset(&b->m[k], 0, sizeof(b->m[k]));
		b->m[k].buf_addr = b->frame[k];
		b->m[k].data_len = 60;
		b->m[k].pkt_len = 60;
		b->m[k].buf_len = 64;
		b->m[k].nb_segs = 1;
		b->pkts[k] = &b->m[k];
		b->idx[k] = (uint8_t)k;
		(void)pkt_parse(b->frame[k], 60, &b->pi[k]);
	}
}

/* TSC frequency without EAL: TSC ticks over 200 ms of CLOCK_MONOTONIC. */
static uint64_t tsc_hz(void)
{
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	uint64_t t0 = rte_rdtsc();
	do
		clock_gettime(CLOCK_MONOTONIC, &b);
	while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 200000000L);
	uint64_t t1 = rte_rdtsc();
	double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
	return (uint64_t)((double)(t1 - t0) / s);
}

static void report(const char *what, uint64_t *d, size_t n, uint64_t hz)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += d[i];
	qsort(d, n, sizeof(*d), cmp_u64);
	double med = (double)d[n / 2] / B, mean = (double)sum / (double)n / B;
	printf("%s: median %.1f cycles/packet (mean %.1f) = %.2f M/s per core at the median\n", what,
	       med, mean, (double)hz / med / 1e6);
}

int main(int argc, char **argv)
{
	uint32_t flows = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : (1u << 20);
	uint64_t hz = tsc_hz();
	static uint64_t drop[DP_DROP_MAX];
	size_t qsz = rte_rcu_qsbr_get_memsize(1);
	struct rte_rcu_qsbr *q = aligned_alloc(64, (qsz + 63) & ~(size_t)63);
	struct burst *b = aligned_alloc(64, (sizeof(*b) + 63) & ~(size_t)63);
	char load[128] = "?";
	FILE *lf = fopen("/proc/loadavg", "r");

	if (flows < B || flows > (1u << 24) || q == NULL || b == NULL || rte_rcu_qsbr_init(q, 1) != 0) {
		fprintf(stderr, "usage: lb_fwd_bench [flows 32..16777216]\n");
		return 2;
	}
	if (lf != NULL) {
		if (fgets(load, sizeof(load), lf) == NULL)
			strcpy(load, "?");
		fclose(lf);
	}
	uint32_t cap = 1;
	while (cap < flows * 4u) /* two entries per flow, load <= 1/2 */
		cap <<= 1;
	struct lb_params p = { .qsbr = q, .n_workers = 1, .ct_capacity = cap,
			       .snat_ip = 0x01014d0a /* 10.77.1.1 */, .tsc_hz = hz };
	struct lb *lb = lb_create(&p);
	if (lb == NULL || lb_svc_add(lb, 1, VIP, 5001, 17, 0, 1) != 0) {
		fprintf(stderr, "lb_fwd_bench: cannot create the LB\n");
		return 1;
	}
	for (uint32_t i = 0; i < NB_BE; i++)
		if (lb_backend_add(lb, 1, i + 1, 0x00014d0au | (100u + i) << 24, 5001, 1, 1) != 0)
			return 1;
	printf("lb_fwd_bench: %u flows, %u backends, conntrack %u entries (%.0f MB), TSC %.3f GHz, load %s",
	       flows, NB_BE, cap, (double)cap * 72 / 1e6, (double)hz / 1e9, load);

	size_t nb = flows / B;
	uint64_t *d = malloc(sizeof(*d) * (nb > 200000 ? nb : 200000));
	uint32_t fl[B];
	unsigned long long ok = 0;
	for (size_t i = 0; i < nb; i++) {
		for (unsigned k = 0; k < B; k++)
			fl[k] = (uint32_t)(i * B + k);
		prep(b, fl);
		uint64_t t0 = rte_rdtsc();
		ok += lb_fwd_burst(lb, 0, b->pkts, b->pi, b->idx, B, b->keys, b->kidx, drop);
		d[i] = rte_rdtsc() - t0;
	}
	printf("new flows: %llu of %zu forwarded, conntrack holds %" PRIu32 " entries\n", ok, nb * B,
	       ct_count(lb->lc[0]->ct));
	report("new flow (ct miss, Maglev, 2 inserts, NAT)", d, nb, hz);

	size_t ne = 200000;
	uint64_t new0 = lb->lc[0]->ev[LB_EV_NEW_FLOW];
	ok = 0;
	for (size_t i = 0; i < ne; i++) {
		for (unsigned k = 0; k < B; k++)
			fl[k] = (uint32_t)(rng() % (nb * B));
		prep(b, fl);
		uint64_t t0 = rte_rdtsc();
		ok += lb_fwd_burst(lb, 0, b->pkts, b->pi, b->idx, B, b->keys, b->kidx, drop);
		d[i] = rte_rdtsc() - t0;
	}
	printf("established: %llu of %zu forwarded, %" PRIu64 " of them new flows\n", ok, ne * B,
	       lb->lc[0]->ev[LB_EV_NEW_FLOW] - new0);
	report("established (ct hit, 2 updates, NAT)", d, ne, hz);
	lb_free(lb);
	free(d);
	free(b);
	free(q);
	return 0;
}
