/*
 * Allocation fault injection (STYLE 23): fail the Nth allocation of the
 * store, N = 1, 2, ..., transient and persistent, until the operation
 * succeeds. Every step must give a clean error and no leak (ASan):
 *  - apply: an allocation failure makes the store BROKEN (it cannot
 *    produce the outcome the other replicas produced), later applies are
 *    refused, and restoring a snapshot heals it;
 *  - restore: NOMEM and the store exactly as before;
 *  - snapshot, watch create, codec: NOMEM / NULL and nothing leaked.
 */
#include "store_test_util.h"

static struct store *preloaded(void)
{
	struct store *s = store_create(NULL);
	assert_non_null(s);
	tu_lease(s, STORE_CMD_LEASE_GRANT, 1, 10);
	tu_put(s, "/a/1", "x", 1);
	tu_put(s, "/a/2", "y", 0);
	tu_put(s, "/a/1", "z", 0);
	return s;
}

static uint8_t *txn_cmd(size_t *len)
{
	struct store_compare cmp = {.target = STORE_CMP_VERSION,
				    .result = STORE_CMP_GREATER,
				    .key = U8("/a/1"), .key_len = 4};
	struct store_op ops[] = {tu_put_op("/a/1", "new", 1),
				 tu_put_op("/b/new", "key", 0),
				 tu_del_op("/a/2", NULL),
				 tu_range_op("/", "0")};
	ops[0].prev_kv = true;
	ops[2].prev_kv = true;
	struct store_cmd c = {.type = STORE_CMD_TXN, .cmps = &cmp,
			      .n_cmps = 1, .success = ops, .n_success = 4};
	uint8_t *b;
	assert_int_equal(store_cmd_encode(&c, &b, len, NULL), STORE_OK);
	return b;
}

static void check_same(struct store *s, const uint8_t *snap, size_t len)
{
	size_t n;
	uint8_t *now = tu_snap(s, &n);
	assert_int_equal(n, len);
	assert_memory_equal(now, snap, len);
	free(now);
}

static void test_apply_faults(void **state)
{
	(void)state;
	size_t clen;
	uint8_t *cmd = txn_cmd(&clen);
	for (int repeat = 0; repeat >= -1; repeat--) {
		int n;
		for (n = 1; n < 1000; n++) {
			struct store *s = preloaded();
			size_t blen;
			uint8_t *before = tu_snap(s, &blen);
			/* Watchers must survive a broken apply too. */
			struct store_watch_params wp = {.key = U8("/"),
							.key_len = 1,
							.range_end = U8("0"),
							.range_end_len = 1};
			struct store_watcher *w = store_watch_create(s, &wp);
			assert_non_null(w);
			struct store_result res;
			store_alloc_fault(n, repeat);
			int rc = store_apply(s, 0, cmd, clen, &res);
			uint64_t fired = store_alloc_faults_fired();
			store_alloc_fault(0, 0);
			if (fired == 0) {
				assert_int_equal(rc, STORE_OK);
				assert_true(res.succeeded);
				store_result_clear(&res);
				store_watch_free(w);
				free(before);
				store_free(s);
				break;
			}
			assert_int_equal(rc, STORE_ERR_BROKEN);
			assert_int_equal(res.err, STORE_ERR_BROKEN);
			assert_int_equal(res.n_ops, 0);
			store_result_clear(&res);
			assert_int_equal(store_apply(s, 0, cmd, clen, NULL),
					 STORE_ERR_BROKEN);
			struct store_op_result r;
			assert_int_equal(tu_range(s, "/", "0", 0, &r),
					 STORE_ERR_BROKEN);
			struct store_event ev;
			bool got;
			assert_int_equal(store_watch_next(w, &ev, &got),
					 STORE_ERR_BROKEN);
			assert_false(got);
			/* Heal from a snapshot, then apply succeeds. */
			assert_int_equal(store_restore(s, before, blen),
					 STORE_OK);
			check_same(s, before, blen);
			assert_int_equal(store_apply(s, 0, cmd, clen, NULL),
					 STORE_OK);
			/* The watcher sees the whole txn once: put, put, del
			 * at one revision, nothing half-applied. */
			int64_t subs = 0;
			while (store_watch_next(w, &ev, &got) == STORE_OK &&
			       got) {
				assert_int_equal(ev.revision, 5);
				subs++;
			}
			assert_int_equal(subs, 3);
			store_watch_free(w);
			free(before);
			store_free(s);
		}
		assert_true(n > 1); /* at least one fault was exercised */
		assert_true(n < 1000);
	}
	free(cmd);
}

static void test_restore_snapshot_faults(void **state)
{
	(void)state;
	struct store *src = preloaded();
	size_t len;
	uint8_t *snap = tu_snap(src, &len);
	for (int repeat = 0; repeat >= -1; repeat--) {
		int n;
		for (n = 1; n < 1000; n++) {
			struct store *t = store_create(NULL);
			tu_put(t, "keep", "me", 0);
			size_t blen;
			uint8_t *before = tu_snap(t, &blen);
			store_alloc_fault(n, repeat);
			int rc = store_restore(t, snap, len);
			uint64_t fired = store_alloc_faults_fired();
			store_alloc_fault(0, 0);
			if (fired == 0) {
				assert_int_equal(rc, STORE_OK);
				check_same(t, snap, len);
			} else {
				assert_int_equal(rc, STORE_ERR_NOMEM);
				check_same(t, before, blen);
			}
			free(before);
			store_free(t);
			if (fired == 0)
				break;
		}
		assert_true(n > 1);
	}
	/* Snapshot itself: one allocation. */
	uint8_t *out = NULL;
	size_t olen;
	store_alloc_fault(1, 0);
	assert_int_equal(store_snapshot(src, &out, &olen), STORE_ERR_NOMEM);
	assert_null(out);
	store_alloc_fault(0, 0);
	free(snap);
	store_free(src);
}

static void test_small_object_faults(void **state)
{
	(void)state;
	struct store *s = preloaded();
	struct store_watch_params wp = {.key = U8("k"), .key_len = 1};
	for (int n = 1; n <= 3; n++) {
		store_alloc_fault(n, 0);
		struct store_watcher *w = store_watch_create(s, &wp);
		bool fired = store_alloc_faults_fired() > 0;
		store_alloc_fault(0, 0);
		assert_true(fired ? w == NULL : w != NULL);
		store_watch_free(w);
	}
	size_t clen;
	uint8_t *cmd = txn_cmd(&clen);
	struct store_cmd d;
	char err[STORE_ERRMSG_SIZE];
	store_alloc_fault(1, 0);
	assert_int_equal(store_cmd_decode(cmd, clen, &d, err),
			 STORE_ERR_NOMEM);
	store_alloc_fault(0, 0);
	assert_int_equal(store_cmd_decode(cmd, clen, &d, err), STORE_OK);
	uint8_t *b = NULL;
	size_t blen;
	store_alloc_fault(1, -1);
	assert_int_equal(store_cmd_encode(&d, &b, &blen, err), STORE_ERR_NOMEM);
	assert_null(b);
	store_alloc_fault(0, 0);
	/* A range result allocation failure is a clean NOMEM. */
	struct store_op_result r;
	store_alloc_fault(1, 0);
	assert_int_equal(tu_range(s, "/", "0", 0, &r), STORE_ERR_NOMEM);
	assert_int_equal(r.n_kvs, 0);
	store_alloc_fault(0, 0);
	store_cmd_clear(&d);
	free(cmd);
	store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apply_faults),
		cmocka_unit_test(test_restore_snapshot_faults),
		cmocka_unit_test(test_small_object_faults),
	};
	return cmocka_run_group_tests_name("store_fault", tests, NULL, NULL);
}
