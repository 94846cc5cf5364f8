/*
 * tbl fast path: lock-free lookups for QSBR readers. Nothing here writes.
 */
#include <rte_byteorder.h>

#include "tables_priv.h"

void tbl_pod_lookup_bulk(const struct tbl *t, const uint32_t *ips, unsigned n,
			 const struct tbl_pod **out)
{
	const void *keys[TBL_BULK_MAX];
	void *data[TBL_BULK_MAX];
	uint64_t hits = 0;

	for (unsigned i = 0; i < n; i++)
		keys[i] = &ips[i];
	/* One bulk call pipelines the bucket prefetches across keys (STYLE 13). */
	if (n == 0 || rte_hash_lookup_bulk_data(t->pod_hash, keys, n, &hits, data) < 0)
		hits = 0;
	for (unsigned i = 0; i < n; i++)
		out[i] = (hits >> i) & 1 ? &t->pods[(uintptr_t)data[i]] : NULL;
}

const struct tbl_route *tbl_route_lookup(const struct tbl *t, uint32_t ip)
{
	uint32_t nh;
	if (rte_lpm_lookup(t->lpm, rte_be_to_cpu_32(ip), &nh) != 0)
		return NULL;
	return &t->routes[nh];
}
