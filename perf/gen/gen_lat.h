/*
 * gen_lat: latency histogram for sluice-gen.
 *
 * One writer (the rx lcore) records latencies in nanoseconds; one reader
 * (the report thread) takes snapshots and asks for percentiles over the
 * whole run or over the interval since an earlier snapshot. Buckets are
 * linear (GEN_LAT_BUCKET_NS wide) because forwarding latencies over memif
 * live in a narrow band where a log scale would lose the p50/p99 spread;
 * everything above GEN_LAT_MAX_NS lands in one overflow bucket, while the
 * exact minimum and maximum are kept aside.
 */
#ifndef SLUICE_GEN_LAT_H
#define SLUICE_GEN_LAT_H

#include <stdint.h>

#define GEN_LAT_BUCKET_NS 100u
#define GEN_LAT_MAX_NS    10000000u /* 10 ms; beyond that is queueing, not forwarding */

struct gen_lat;

struct gen_lat_summary {
	uint64_t count;
	double min_us;
	double p50_us;
	double p99_us;
	double max_us;
};

/*
 * Allocate an empty histogram. Returns NULL and sets errno on failure.
 * Control thread only (it allocates).
 */
struct gen_lat *gen_lat_create(void);

/* Free a histogram; NULL is accepted. */
void gen_lat_free(struct gen_lat *h);

/*
 * Record n latencies (ns). Single writer: one lcore per histogram, no
 * allocation, no locks. Values are published with relaxed atomic stores
 * so that the report thread may read them concurrently.
 */
void gen_lat_record_burst(struct gen_lat *h, const uint64_t *ns, unsigned int n);

/*
 * Copy src into dst (a snapshot for later interval summaries). Any thread;
 * the copy is not a consistent cut but each counter is read atomically,
 * which is all a once-per-second report needs.
 */
void gen_lat_copy(struct gen_lat *dst, const struct gen_lat *src);

/*
 * Summarize h, or h minus since when since is not NULL (the interval
 * since that snapshot). Interval min/max have bucket resolution; whole-run
 * min/max (since == NULL) are exact. Any thread.
 */
void gen_lat_summarize(const struct gen_lat *h, const struct gen_lat *since,
		       struct gen_lat_summary *out);

#endif /* SLUICE_GEN_LAT_H */
