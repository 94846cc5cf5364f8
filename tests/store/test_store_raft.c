/*
 * Unit tests of the raft_fsm adapter, driven directly (no cluster): apply
 * hands the store result to the proposer, snapshot/restore move ownership
 * of raft-heap buffers as raft.h specifies and reproduce the state, and the
 * leader tick re-arms leases on promotion before reporting expiries.
 */
#include "store_test_util.h"

#include "store_raft.h"

static void apply(struct raft_fsm *fsm, const struct store_cmd *c,
		  const struct store_result **res)
{
	struct raft_buffer b;
	void *out = NULL;
	assert_int_equal(store_raft_encode(c, &b, NULL), STORE_OK);
	assert_int_equal(fsm->apply(fsm, &b, &out), 0);
	raft_heap_free(b.base);
	*res = out;
}

static void test_fsm_apply_snapshot_restore(void **state)
{
	(void)state;
	struct store *a = store_create(NULL), *b = store_create(NULL);
	struct store_raft_params pa = {.store = a}, pb = {.store = b};
	struct store_raft *ra = store_raft_create(&pa);
	struct store_raft *rb = store_raft_create(&pb);
	assert_non_null(ra);
	assert_non_null(rb);
	struct raft_fsm *fa = store_raft_fsm(ra), *fb = store_raft_fsm(rb);

	const struct store_result *res;
	struct store_cmd c = {.type = STORE_CMD_PUT,
			      .op = tu_put_op("k", "v", 0)};
	apply(fa, &c, &res);
	assert_non_null(res);
	assert_int_equal(res->err, STORE_OK);
	assert_int_equal(res->revision, 2);
	/* A request error is a result, not a raft status. */
	c.op.lease = 42;
	apply(fa, &c, &res);
	assert_int_equal(res->err, STORE_ERR_LEASE_NOT_FOUND);
	assert_int_equal(store_applied_index(a), 2);
	/* Malformed bytes are consumed too, identically everywhere. */
	uint8_t junk[3] = {9, 9, 9};
	struct raft_buffer jb = {.base = junk, .len = sizeof(junk)};
	void *out;
	assert_int_equal(fa->apply(fa, &jb, &out), 0);
	assert_int_equal(((const struct store_result *)out)->err,
			 STORE_ERR_MALFORMED);

	struct raft_buffer snap;
	assert_int_equal(fa->snapshot(fa, &snap), 0);
	/* restore takes ownership of the buffer on success. */
	assert_int_equal(fb->restore(fb, &snap), 0);
	assert_null(snap.base);
	assert_string_equal(tu_get(b, "k", 0, NULL), "v");
	assert_int_equal(store_applied_index(b), 3);

	/* A bad snapshot is refused and stays the caller's to free. */
	struct raft_buffer bad = {.base = raft_heap_malloc(8), .len = 8};
	memset(bad.base, 0, 8);
	assert_int_equal(fb->restore(fb, &bad), RAFT_CORRUPT);
	assert_non_null(bad.base);
	raft_heap_free(bad.base);
	assert_string_equal(tu_get(b, "k", 0, NULL), "v");

	store_raft_free(ra);
	store_raft_free(rb);
	store_free(a);
	store_free(b);
}

static void test_leader_tick(void **state)
{
	(void)state;
	struct store *s = store_create(NULL);
	struct store_raft_params p = {.store = s};
	struct store_raft *sr = store_raft_create(&p);
	int64_t out[2];
	tu_lease(s, STORE_CMD_LEASE_GRANT, 3, 5);
	/* Follower: never lists anything. */
	assert_int_equal(store_raft_leader_tick(sr, false, 100000, out, 2), 0);
	/* Becomes leader at t=1000: full TTL from now. */
	assert_int_equal(store_raft_leader_tick(sr, true, 1000, out, 2), 0);
	assert_int_equal(store_raft_leader_tick(sr, true, 5999, out, 2), 0);
	assert_int_equal(store_raft_leader_tick(sr, true, 6000, out, 2), 1);
	assert_int_equal(out[0], 3);
	/* Loses and regains leadership at t=7000: re-armed to 12000. */
	store_raft_leader_tick(sr, false, 6500, out, 2);
	assert_int_equal(store_raft_leader_tick(sr, true, 7000, out, 2), 0);
	assert_int_equal(store_raft_leader_tick(sr, true, 11999, out, 2), 0);
	assert_int_equal(store_raft_leader_tick(sr, true, 12000, out, 2), 1);
	assert_null(store_raft_create(NULL));
	store_raft_free(sr);
	store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fsm_apply_snapshot_restore),
		cmocka_unit_test(test_leader_tick),
	};
	return cmocka_run_group_tests_name("store_raft", tests, NULL, NULL);
}
