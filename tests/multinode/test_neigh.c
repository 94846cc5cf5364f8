/*
 * Unit tests of dp/neigh, the underlay neighbour table: insert (by
 * reference only; ARP never creates entries), resolution and refresh,
 * expiry (REACHABLE -> STALE -> FAILED after unanswered probes, and back),
 * probe pacing and the per-call probe budget, the bound on entries, and
 * slot reuse only after neigh_reap() (the grace period dp waits for).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "neigh.h"

static const struct neigh_params P = {
	.max = 4, .reachable_ms = 30000, .retrans_ms = 1000, .max_probes = 3,
};
static const uint8_t MAC1[6] = { 2, 0, 0, 0, 0x77, 2 };
static const uint8_t MAC2[6] = { 2, 0, 0, 0, 0x77, 3 };

static uint32_t ip4(unsigned a, unsigned b, unsigned c, unsigned d)
{
	uint8_t x[4] = { (uint8_t)a, (uint8_t)b, (uint8_t)c, (uint8_t)d };
	uint32_t v;
	memcpy(&v, x, 4);
	return v;
}

static void test_params(void **state)
{
	struct neigh_params p = P;
	(void)state;
	p.max = 0;
	assert_null(neigh_create(&p));
	p = P;
	p.max = 65537;
	assert_null(neigh_create(&p));
	p = P;
	p.retrans_ms = 0;
	assert_null(neigh_create(&p));
	assert_null(neigh_create(NULL));
	neigh_free(NULL);
}

static void test_insert_resolve_refresh(void **state)
{
	struct neigh *n = neigh_create(&P);
	uint32_t idx, ips[8];
	uint8_t mac[6];
	struct neigh_info info;
	uint32_t u2 = ip4(192, 168, 77, 2);
	(void)state;

	/* ARP alone creates nothing */
	assert_int_equal(neigh_learn(n, u2, MAC1, 0), -ENOENT);
	assert_int_equal(neigh_count(n), 0);
	/* bad addresses */
	assert_int_equal(neigh_ref(n, 0, &idx), -EINVAL);
	assert_int_equal(neigh_ref(n, 0xffffffffu, &idx), -EINVAL);
	assert_int_equal(neigh_ref(n, ip4(224, 0, 0, 1), &idx), -EINVAL);

	/* a route wants it: INCOMPLETE, unusable, probed at once */
	assert_int_equal(neigh_ref(n, u2, &idx), 0);
	assert_int_equal(neigh_count(n), 1);
	assert_int_equal(neigh_lookup(n, idx, mac), 0);
	assert_int_equal(neigh_get(n, idx, &info), 0);
	assert_int_equal(info.state, NEIGH_INCOMPLETE);
	assert_int_equal(neigh_tick(n, 100, ips, 8), 1);
	assert_int_equal(ips[0], u2);
	/* not again before retrans_ms */
	assert_int_equal(neigh_tick(n, 1099, ips, 8), 0);
	assert_int_equal(neigh_tick(n, 1100, ips, 8), 1);

	/* a multicast or zero MAC is refused */
	assert_int_equal(neigh_learn(n, u2, (const uint8_t *)"\x01\0\x5e\0\0\1", 1200), -EINVAL);
	assert_int_equal(neigh_learn(n, u2, (const uint8_t *)"\0\0\0\0\0\0", 1200), -EINVAL);
	/* the reply resolves it */
	assert_int_equal(neigh_learn(n, u2, MAC1, 1200), 0);
	assert_int_equal(neigh_lookup(n, idx, mac), 1);
	assert_memory_equal(mac, MAC1, 6);
	assert_int_equal(neigh_get(n, idx, &info), 0);
	assert_int_equal(info.state, NEIGH_REACHABLE);
	assert_int_equal(info.probes, 0);
	/* no probes while reachable */
	assert_int_equal(neigh_tick(n, 1200 + 29999, ips, 8), 0);

	/* refresh with a new MAC (the node's NIC changed): used at once */
	assert_int_equal(neigh_learn(n, u2, MAC2, 5000), 0);
	assert_int_equal(neigh_lookup(n, idx, mac), 1);
	assert_memory_equal(mac, MAC2, 6);

	/* a second route to the same node shares the entry */
	uint32_t idx2;
	assert_int_equal(neigh_ref(n, u2, &idx2), 0);
	assert_int_equal(idx2, idx);
	assert_int_equal(neigh_count(n), 1);
	neigh_free(n);
}

static void test_expiry(void **state)
{
	struct neigh *n = neigh_create(&P);
	uint32_t idx, ips[8];
	uint8_t mac[6];
	struct neigh_info info;
	uint32_t u2 = ip4(192, 168, 77, 2);
	(void)state;

	assert_int_equal(neigh_ref(n, u2, &idx), 0);
	assert_int_equal(neigh_learn(n, u2, MAC1, 0), 0);
	/* reachable_ms later: STALE, still used, re-probed */
	assert_int_equal(neigh_tick(n, 30000, ips, 8), 1);
	assert_int_equal(neigh_get(n, idx, &info), 0);
	assert_int_equal(info.state, NEIGH_STALE);
	assert_int_equal(neigh_lookup(n, idx, mac), 1);
	/* probes 2 and 3, one retrans apart; still used meanwhile */
	assert_int_equal(neigh_tick(n, 31000, ips, 8), 1);
	assert_int_equal(neigh_tick(n, 32000, ips, 8), 1);
	assert_int_equal(neigh_lookup(n, idx, mac), 1);
	/* the third probe gets its retrans_ms to be answered */
	assert_int_equal(neigh_tick(n, 32999, ips, 8), 0);
	assert_int_equal(neigh_lookup(n, idx, mac), 1);
	/* unanswered: FAILED, no longer used, but still probed */
	assert_int_equal(neigh_tick(n, 33000, ips, 8), 1);
	assert_int_equal(neigh_get(n, idx, &info), 0);
	assert_int_equal(info.state, NEIGH_FAILED);
	assert_int_equal(neigh_lookup(n, idx, mac), 0);
	assert_int_equal(neigh_tick(n, 34000, ips, 8), 1);
	/* the node answers again: back in use */
	assert_int_equal(neigh_learn(n, u2, MAC1, 34500), 0);
	assert_int_equal(neigh_lookup(n, idx, mac), 1);
	/* a STALE entry answered in time never fails */
	assert_int_equal(neigh_tick(n, 34500 + 30000, ips, 8), 1);
	assert_int_equal(neigh_learn(n, u2, MAC1, 65000), 0);
	assert_int_equal(neigh_get(n, idx, &info), 0);
	assert_int_equal(info.state, NEIGH_REACHABLE);
	neigh_free(n);
}

static void test_bounded_and_reap(void **state)
{
	struct neigh *n = neigh_create(&P);
	uint32_t idx[5], ips[8], i;
	uint8_t mac[6];
	(void)state;

	for (i = 0; i < 4; i++)
		assert_int_equal(neigh_ref(n, ip4(192, 168, 77, 10 + i), &idx[i]), 0);
	assert_int_equal(neigh_ref(n, ip4(192, 168, 77, 20), &idx[4]), -ENOSPC);
	assert_int_equal(neigh_count(n), 4);

	/* the probe budget per call: 4 due, 3 now, 1 on the next call */
	assert_int_equal(neigh_tick(n, 0, ips, 3), 3);
	assert_int_equal(neigh_tick(n, 0, ips, 3), 1);

	/* two references on one entry: it lives until both are gone */
	uint32_t again;
	assert_int_equal(neigh_ref(n, ip4(192, 168, 77, 10), &again), 0);
	assert_int_equal(neigh_learn(n, ip4(192, 168, 77, 10), MAC1, 0), 0);
	neigh_unref(n, idx[0]);
	assert_int_equal(neigh_lookup(n, idx[0], mac), 1);
	neigh_unref(n, idx[0]);
	/* dead: unusable at once, not learnable, slot not reusable yet */
	assert_int_equal(neigh_lookup(n, idx[0], mac), 0);
	assert_int_equal(neigh_learn(n, ip4(192, 168, 77, 10), MAC1, 0), -ENOENT);
	assert_int_equal(neigh_count(n), 3);
	assert_int_equal(neigh_dead(n), 1);
	assert_int_equal(neigh_ref(n, ip4(192, 168, 77, 20), &idx[4]), -ENOSPC);
	/* a dead entry is not probed */
	assert_int_equal(neigh_tick(n, 5000, ips, 8), 3);
	for (i = 0; i < 3; i++)
		assert_int_not_equal(ips[i], ip4(192, 168, 77, 10));
	/* after the grace period the slot is free again */
	neigh_reap(n);
	assert_int_equal(neigh_dead(n), 0);
	assert_int_equal(neigh_ref(n, ip4(192, 168, 77, 20), &idx[4]), 0);
	assert_int_equal(idx[4], idx[0]);
	assert_int_equal(neigh_lookup(n, idx[4], mac), 0); /* fresh, unresolved */
	/* unref of a free or out-of-range slot is ignored */
	neigh_unref(n, 999);
	assert_int_equal(neigh_lookup(n, 999, mac), 0);
	neigh_free(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_insert_resolve_refresh),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_bounded_and_reap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
