/*
 * Unit tests of leases: grant, attach, keepalive, revoke deleting attached
 * keys in one revision, leader-clock expiry and re-arming on promotion.
 */
#include "store_test_util.h"

static int setup(void **state)
{
	*state = store_create(NULL);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	store_free(*state);
	return 0;
}

static void test_grant_attach_revoke(void **state)
{
	struct store *s = *state;
	struct store_result res;
	struct store_cmd g = {.type = STORE_CMD_LEASE_GRANT, .lease_id = 7,
			      .ttl = 10};
	assert_int_equal(tu_apply(s, &g, &res), STORE_OK);
	assert_int_equal(res.lease_id, 7);
	assert_int_equal(res.ttl, 10);
	assert_int_equal(store_revision(s), 1); /* no key written */
	assert_int_equal(tu_apply(s, &g, NULL), STORE_ERR_LEASE_EXISTS);

	assert_int_equal(tu_put(s, "/l/a", "1", 7), STORE_OK); /* 2 */
	assert_int_equal(tu_put(s, "/l/b", "2", 7), STORE_OK); /* 3 */
	assert_int_equal(tu_put(s, "/l/c", "3", 0), STORE_OK); /* 4 */
	/* Re-put without the lease detaches it. */
	assert_int_equal(tu_put(s, "/l/d", "4", 7), STORE_OK); /* 5 */
	assert_int_equal(tu_put(s, "/l/d", "5", 0), STORE_OK); /* 6 */
	struct store_kv kv;
	tu_get(s, "/l/a", 0, &kv);
	assert_int_equal(kv.lease, 7);

	struct store_watch_params wp = {.key = U8("/l/"), .key_len = 3,
					.range_end = U8("/l0"),
					.range_end_len = 3};
	struct store_watcher *w = store_watch_create(s, &wp);
	assert_int_equal(tu_lease(s, STORE_CMD_LEASE_REVOKE, 7, 0), STORE_OK);
	/* Both attached keys deleted in one revision. */
	assert_int_equal(store_revision(s), 7);
	assert_null(tu_get(s, "/l/a", 0, NULL));
	assert_null(tu_get(s, "/l/b", 0, NULL));
	assert_string_equal(tu_get(s, "/l/c", 0, NULL), "3");
	assert_string_equal(tu_get(s, "/l/d", 0, NULL), "5");
	struct store_event ev;
	bool got;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(store_watch_next(w, &ev, &got), STORE_OK);
		assert_true(got);
		assert_int_equal(ev.type, STORE_EVENT_DELETE);
		assert_int_equal(ev.revision, 7);
	}
	assert_int_equal(store_watch_next(w, &ev, &got), STORE_OK);
	assert_false(got);
	store_watch_free(w);

	assert_int_equal(store_lease_count(s), 0);
	assert_int_equal(tu_lease(s, STORE_CMD_LEASE_REVOKE, 7, 0),
			 STORE_ERR_LEASE_NOT_FOUND);
	assert_int_equal(tu_lease(s, STORE_CMD_LEASE_KEEPALIVE, 7, 0),
			 STORE_ERR_LEASE_NOT_FOUND);
	assert_int_equal(tu_put(s, "/l/a", "1", 7), STORE_ERR_LEASE_NOT_FOUND);
	/* Revoking a lease with no keys creates no revision. */
	tu_lease(s, STORE_CMD_LEASE_GRANT, 8, 5);
	assert_int_equal(tu_lease(s, STORE_CMD_LEASE_REVOKE, 8, 0), STORE_OK);
	assert_int_equal(store_revision(s), 7);
}

static void test_expiry_with_leader_clock(void **state)
{
	struct store *s = *state;
	int64_t out[4];
	int64_t ttl, dl;
	tu_lease(s, STORE_CMD_LEASE_GRANT, 1, 10);
	tu_lease(s, STORE_CMD_LEASE_GRANT, 2, 20);
	/* First look arms deadlines from the leader clock: none expire. */
	assert_int_equal(store_lease_expired(s, 1000, out, 4), 0);
	assert_int_equal(store_lease_get(s, 1, &ttl, &dl), STORE_OK);
	assert_int_equal(ttl, 10);
	assert_int_equal(dl, 11000);
	assert_int_equal(store_lease_expired(s, 10999, out, 4), 0);
	assert_int_equal(store_lease_expired(s, 11000, out, 4), 1);
	assert_int_equal(out[0], 1);
	/* Keepalive: re-armed at the next check. */
	assert_int_equal(tu_lease(s, STORE_CMD_LEASE_KEEPALIVE, 1, 0),
			 STORE_OK);
	assert_int_equal(store_lease_expired(s, 12000, out, 4), 0);
	assert_int_equal(store_lease_expired(s, 21999, out, 4), 1);
	assert_int_equal(out[0], 2);
	assert_int_equal(store_lease_expired(s, 22000, out, 4), 2);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 2);
	/* cap smaller than the count: total returned, out truncated. */
	assert_int_equal(store_lease_expired(s, 22000, out, 1), 2);
	/* The leader revokes; the lease is gone. */
	assert_int_equal(tu_lease(s, STORE_CMD_LEASE_REVOKE, 1, 0), STORE_OK);
	assert_int_equal(store_lease_expired(s, 22000, out, 4), 1);
	assert_int_equal(store_lease_get(s, 1, NULL, NULL),
			 STORE_ERR_LEASE_NOT_FOUND);
}

static void test_failover_grants_full_ttl(void **state)
{
	struct store *old_leader = *state;
	int64_t out[2];
	tu_lease(old_leader, STORE_CMD_LEASE_GRANT, 5, 10);
	tu_put(old_leader, "k", "v", 5);
	store_lease_expired(old_leader, 0, out, 2); /* armed at 10000 */
	/* A follower got the state by snapshot (same as by log). */
	size_t len;
	uint8_t *snap = tu_snap(old_leader, &len);
	struct store *follower = store_create(NULL);
	assert_int_equal(store_restore(follower, snap, len), STORE_OK);
	free(snap);
	int64_t dl;
	/* Deadlines are local: the follower has none armed. */
	assert_int_equal(store_lease_get(follower, 5, NULL, &dl), STORE_OK);
	assert_int_equal(dl, 0);
	/* Old leader dies at t=9000; the new one promotes at t=50000 (its
	 * own clock) and grants a full TTL from then. */
	store_lease_promote(follower, 50000);
	assert_int_equal(store_lease_expired(follower, 59999, out, 2), 0);
	assert_int_equal(store_lease_expired(follower, 60000, out, 2), 1);
	assert_int_equal(out[0], 5);
	assert_int_equal(tu_lease(follower, STORE_CMD_LEASE_REVOKE, 5, 0),
			 STORE_OK);
	assert_null(tu_get(follower, "k", 0, NULL));
	store_free(follower);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_grant_attach_revoke,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry_with_leader_clock,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_failover_grants_full_ttl,
						setup, teardown),
	};
	return cmocka_run_group_tests_name("store_lease", tests, NULL, NULL);
}
