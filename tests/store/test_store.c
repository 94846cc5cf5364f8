/*
 * Unit tests of the MVCC core: revisions and versions, reads at old
 * revisions, ranges, txn compares, compaction, quota and the apply index.
 */
#include "store_test_util.h"

#include <stdio.h>

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

static void test_revisions_and_versions(void **state)
{
	struct store *s = *state;
	struct store_kv kv;

	assert_int_equal(store_revision(s), 1);
	assert_int_equal(tu_put(s, "a", "1", 0), STORE_OK);
	assert_int_equal(store_revision(s), 2);
	assert_string_equal(tu_get(s, "a", 0, &kv), "1");
	assert_int_equal(kv.create_revision, 2);
	assert_int_equal(kv.mod_revision, 2);
	assert_int_equal(kv.version, 1);

	assert_int_equal(tu_put(s, "a", "2", 0), STORE_OK);
	assert_string_equal(tu_get(s, "a", 0, &kv), "2");
	assert_int_equal(kv.create_revision, 2);
	assert_int_equal(kv.mod_revision, 3);
	assert_int_equal(kv.version, 2);

	assert_int_equal(tu_put(s, "b", "x", 0), STORE_OK); /* rev 4 */
	assert_int_equal(tu_del(s, "a", NULL), STORE_OK);   /* rev 5 */
	assert_int_equal(store_revision(s), 5);
	assert_null(tu_get(s, "a", 0, NULL));

	/* etcd: deleting nothing creates no revision. */
	assert_int_equal(tu_del(s, "nope", NULL), STORE_OK);
	assert_int_equal(store_revision(s), 5);

	/* A new incarnation restarts version and create_revision. */
	assert_int_equal(tu_put(s, "a", "3", 0), STORE_OK); /* rev 6 */
	assert_string_equal(tu_get(s, "a", 0, &kv), "3");
	assert_int_equal(kv.create_revision, 6);
	assert_int_equal(kv.version, 1);
}

static void test_range_at_old_revisions(void **state)
{
	struct store *s = *state;
	/* rev 2: a=1, 3: a=2, 4: b=x, 5: del a, 6: a=3 */
	tu_put(s, "a", "1", 0);
	tu_put(s, "a", "2", 0);
	tu_put(s, "b", "x", 0);
	tu_del(s, "a", NULL);
	tu_put(s, "a", "3", 0);
	static const struct {
		int64_t rev;
		const char *a, *b;
		int64_t a_ver;
	} cases[] = {
		{1, NULL, NULL, 0}, {2, "1", NULL, 1}, {3, "2", NULL, 2},
		{4, "2", "x", 2},   {5, NULL, "x", 0}, {6, "3", "x", 1},
		{0, "3", "x", 1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct store_kv kv;
		const char *a = tu_get(s, "a", cases[i].rev, &kv);
		if (cases[i].a == NULL) {
			assert_null(a);
		} else {
			assert_non_null(a);
			assert_string_equal(a, cases[i].a);
			assert_int_equal(kv.version, cases[i].a_ver);
		}
		const char *b = tu_get(s, "b", cases[i].rev, NULL);
		if (cases[i].b == NULL)
			assert_null(b);
		else
			assert_string_equal(b, cases[i].b);
	}
	struct store_op_result r;
	assert_int_equal(tu_range(s, "a", NULL, 7, &r), STORE_ERR_FUTURE_REV);
	assert_int_equal(r.n_kvs, 0);
}

static void test_range_prefix_limit_count(void **state)
{
	struct store *s = *state;
	struct store_op_result r;
	tu_put(s, "/a/2", "2", 0);
	tu_put(s, "/a/1", "1", 0);
	tu_put(s, "/a/3", "3", 0);
	tu_put(s, "/b/1", "b", 0);
	tu_put(s, "/a", "p", 0);

	/* Prefix "/a/" is [/a/, /a0). Results come in key order. */
	assert_int_equal(tu_range(s, "/a/", "/a0", 0, &r), STORE_OK);
	assert_int_equal(r.count, 3);
	assert_int_equal(r.n_kvs, 3);
	assert_false(r.more);
	assert_memory_equal(r.kvs[0].key, "/a/1", 4);
	assert_memory_equal(r.kvs[2].key, "/a/3", 4);
	store_op_result_clear(&r);

	struct store_op op = tu_range_op("/a/", "/a0");
	op.limit = 2;
	assert_int_equal(store_range(s, &op, &r), STORE_OK);
	assert_int_equal(r.count, 3);
	assert_int_equal(r.n_kvs, 2);
	assert_true(r.more);
	store_op_result_clear(&r);

	op.limit = 0;
	op.count_only = true;
	assert_int_equal(store_range(s, &op, &r), STORE_OK);
	assert_int_equal(r.count, 3);
	assert_int_equal(r.n_kvs, 0);
	store_op_result_clear(&r);

	/* range_end "\0": every key >= key. */
	op = tu_range_op("/a/3", NULL);
	op.range_end = U8("");
	op.range_end_len = 1;
	assert_int_equal(store_range(s, &op, &r), STORE_OK);
	assert_int_equal(r.count, 2); /* /a/3, /b/1 */
	store_op_result_clear(&r);

	/* An end before the key selects nothing. */
	assert_int_equal(tu_range(s, "/b", "/a", 0, &r), STORE_OK);
	assert_int_equal(r.count, 0);
	store_op_result_clear(&r);

	/* Bad requests name the field. */
	op = tu_range_op("x", NULL);
	op.key_len = 0;
	assert_int_equal(store_range(s, &op, &r), STORE_ERR_INVAL);
	assert_non_null(strstr(store_errmsg(s), "op.key"));
	op = tu_range_op("x", NULL);
	op.limit = -1;
	assert_int_equal(store_range(s, &op, &r), STORE_ERR_INVAL);
}

/* k: created at 2 ("v1"), modified at 3 ("v2"): version 2. */
static void test_txn_compares(void **state)
{
	struct store *s = *state;
	tu_put(s, "k", "v1", 0);
	tu_put(s, "k", "v2", 0);
	static const struct {
		const char *key;
		enum store_cmp_target target;
		enum store_cmp_result result;
		int64_t operand;
		const char *value;
		bool want;
	} cases[] = {
		/* 1 */ {"k", STORE_CMP_VERSION, STORE_CMP_EQUAL, 2, NULL, true},
		/* 2 */ {"k", STORE_CMP_VERSION, STORE_CMP_EQUAL, 1, NULL, false},
		/* 3 */ {"k", STORE_CMP_CREATE, STORE_CMP_EQUAL, 2, NULL, true},
		/* 4 */ {"k", STORE_CMP_MOD, STORE_CMP_EQUAL, 3, NULL, true},
		/* 5 */ {"k", STORE_CMP_MOD, STORE_CMP_LESS, 3, NULL, false},
		/* 6 */ {"k", STORE_CMP_MOD, STORE_CMP_LESS, 4, NULL, true},
		/* 7 */ {"k", STORE_CMP_MOD, STORE_CMP_GREATER, 2, NULL, true},
		/* 8 */ {"k", STORE_CMP_MOD, STORE_CMP_NOT_EQUAL, 3, NULL, false},
		/* 9 */ {"k", STORE_CMP_VALUE, STORE_CMP_EQUAL, 0, "v2", true},
		/* 10 */ {"k", STORE_CMP_VALUE, STORE_CMP_EQUAL, 0, "v1", false},
		/* 11 */ {"k", STORE_CMP_VALUE, STORE_CMP_GREATER, 0, "v1", true},
		/* 12 */ {"k", STORE_CMP_VALUE, STORE_CMP_LESS, 0, "v3", true},
		/* 13 */ {"k", STORE_CMP_LEASE, STORE_CMP_EQUAL, 0, NULL, true},
		/* missing key compares as zero; value compare fails */
		/* 14 */ {"m", STORE_CMP_VERSION, STORE_CMP_EQUAL, 0, NULL, true},
		/* 15 */ {"m", STORE_CMP_CREATE, STORE_CMP_EQUAL, 0, NULL, true},
		/* 16 */ {"m", STORE_CMP_VALUE, STORE_CMP_EQUAL, 0, "", false},
		/* 17 */ {"m", STORE_CMP_VALUE, STORE_CMP_NOT_EQUAL, 0, "x",
			  false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct store_compare cmp = {
			.target = cases[i].target,
			.result = cases[i].result,
			.key = U8(cases[i].key),
			.key_len = strlen(cases[i].key),
			.operand = cases[i].operand,
			.value = U8(cases[i].value),
			.value_len = cases[i].value ? strlen(cases[i].value)
						    : 0,
		};
		struct store_op ok = tu_range_op("k", NULL);
		struct store_op bad = tu_range_op("k", NULL);
		struct store_cmd c = {.type = STORE_CMD_TXN,
				      .cmps = &cmp, .n_cmps = 1,
				      .success = &ok, .n_success = 1,
				      .failure = &bad, .n_failure = 1};
		struct store_result res;
		int64_t rev = store_revision(s);
		assert_int_equal(tu_apply(s, &c, &res), STORE_OK);
		if (res.succeeded != cases[i].want)
			fail_msg("case %zu: succeeded=%d", i + 1,
				 res.succeeded);
		/* Read-only txns do not create a revision. */
		assert_int_equal(store_revision(s), rev);
		assert_int_equal(res.n_ops, 1);
		assert_int_equal(res.ops[0].n_kvs, 1);
		store_result_clear(&res);
	}
}

static void test_txn_one_revision(void **state)
{
	struct store *s = *state;
	tu_put(s, "d1", "x", 0);
	tu_put(s, "d2", "x", 0); /* rev 3 */
	struct store_compare cmp = {.target = STORE_CMP_MOD,
				    .result = STORE_CMP_EQUAL,
				    .key = U8("d2"), .key_len = 2,
				    .operand = 3};
	struct store_op ops[] = {
		tu_put_op("p1", "a", 0),
		tu_put_op("p2", "b", 0),
		tu_del_op("d", "e"),
		tu_range_op("p", "q"),
	};
	ops[2].prev_kv = true;
	struct store_cmd c = {.type = STORE_CMD_TXN, .cmps = &cmp,
			      .n_cmps = 1, .success = ops, .n_success = 4};
	struct store_result res;
	assert_int_equal(tu_apply(s, &c, &res), STORE_OK);
	assert_true(res.succeeded);
	assert_int_equal(res.revision, 4);
	assert_int_equal(store_revision(s), 4);
	assert_int_equal(res.ops[2].deleted, 2);
	assert_int_equal(res.ops[2].n_kvs, 2); /* prev kvs */
	/* The range sees the txn's own writes, at the txn's revision. */
	assert_int_equal(res.ops[3].count, 2);
	assert_int_equal(res.ops[3].kvs[0].mod_revision, 4);
	assert_int_equal(res.ops[3].kvs[1].mod_revision, 4);
	store_result_clear(&res);

	/* Same compare now fails (d2 deleted): failure branch is empty. */
	assert_int_equal(tu_apply(s, &c, &res), STORE_OK);
	assert_false(res.succeeded);
	assert_int_equal(store_revision(s), 4);
	store_result_clear(&res);
}

static void test_txn_rejects_overlaps(void **state)
{
	struct store *s = *state;
	struct store_op twice[] = {tu_put_op("k", "1", 0),
				   tu_put_op("k", "2", 0)};
	struct store_cmd c = {.type = STORE_CMD_TXN, .success = twice,
			      .n_success = 2};
	struct store_result res;
	assert_int_equal(tu_apply(s, &c, &res), STORE_ERR_DUPLICATE_KEY);
	assert_int_equal(res.err, STORE_ERR_DUPLICATE_KEY);
	assert_non_null(strstr(res.errmsg, "twice"));
	store_result_clear(&res);

	/* Checked on the branch that does not run too, as etcd does. */
	struct store_op putdel[] = {tu_put_op("k/1", "1", 0),
				    tu_del_op("k/", "k0")};
	c = (struct store_cmd){.type = STORE_CMD_TXN, .failure = putdel,
			       .n_failure = 2};
	assert_int_equal(tu_apply(s, &c, NULL), STORE_ERR_DUPLICATE_KEY);
	assert_int_equal(store_revision(s), 1);
	assert_null(tu_get(s, "k", 0, NULL));
}

static void test_prev_kv(void **state)
{
	struct store *s = *state;
	tu_put(s, "k", "old", 0);
	struct store_op op = tu_put_op("k", "new", 0);
	op.prev_kv = true;
	struct store_cmd c = {.type = STORE_CMD_PUT, .op = op};
	struct store_result res;
	assert_int_equal(tu_apply(s, &c, &res), STORE_OK);
	assert_int_equal(res.n_ops, 1);
	assert_int_equal(res.ops[0].n_kvs, 1);
	assert_memory_equal(res.ops[0].kvs[0].value, "old", 3);
	assert_int_equal(res.ops[0].kvs[0].mod_revision, 2);
	store_result_clear(&res);

	c = (struct store_cmd){.type = STORE_CMD_DELETE,
			       .op = tu_del_op("k", NULL)};
	c.op.prev_kv = true;
	assert_int_equal(tu_apply(s, &c, &res), STORE_OK);
	assert_int_equal(res.ops[0].deleted, 1);
	assert_memory_equal(res.ops[0].kvs[0].value, "new", 3);
	store_result_clear(&res);
}

static void test_compaction(void **state)
{
	struct store *s = *state;
	for (int i = 0; i < 5; i++) {
		char v[8];
		snprintf(v, sizeof(v), "%d", i);
		tu_put(s, "k", v, 0); /* revs 2..6 */
	}
	tu_put(s, "gone", "x", 0); /* 7 */
	tu_del(s, "gone", NULL);   /* 8 */
	uint64_t used = store_used_bytes(s);
	assert_int_equal(tu_compact(s, 9), STORE_ERR_FUTURE_REV);
	assert_int_equal(tu_compact(s, 8), STORE_OK);
	assert_int_equal(store_compact_revision(s), 8);
	assert_true(store_used_bytes(s) < used);
	/* Only k@6 is left: 1 record. */
	assert_int_equal(store_used_bytes(s),
			 1 + 1 + STORE_REC_OVERHEAD);

	struct store_op_result r;
	assert_int_equal(tu_range(s, "k", NULL, 7, &r), STORE_ERR_COMPACTED);
	assert_non_null(strstr(store_errmsg(s), "compact"));
	/* Reading at the compact revision still works. */
	assert_string_equal(tu_get(s, "k", 8, NULL), "4");
	assert_null(tu_get(s, "gone", 8, NULL));
	assert_int_equal(tu_compact(s, 8), STORE_ERR_COMPACTED);

	/* Version chain continues after compaction. */
	struct store_kv kv;
	tu_put(s, "k", "5", 0);
	tu_get(s, "k", 0, &kv);
	assert_int_equal(kv.version, 6);
	assert_int_equal(kv.create_revision, 2);
}

static void test_quota(void **state)
{
	(void)state;
	/* Room for exactly three 1-byte keys with 10-byte values. */
	uint64_t per = 1 + 10 + STORE_REC_OVERHEAD;
	struct store_params p = {.quota_bytes = 3 * per};
	struct store *s = store_create(&p);
	assert_non_null(s);
	assert_int_equal(tu_put(s, "a", "0123456789", 0), STORE_OK);
	assert_int_equal(tu_put(s, "b", "0123456789", 0), STORE_OK);
	assert_int_equal(tu_put(s, "c", "0123456789", 0), STORE_OK);
	struct store_cmd c = {.type = STORE_CMD_PUT,
			      .op = tu_put_op("d", "0123456789", 0)};
	struct store_result res;
	assert_int_equal(tu_apply(s, &c, &res), STORE_ERR_NOSPACE);
	assert_string_equal(store_strerror(res.err), "database space exceeded");
	assert_non_null(strstr(res.errmsg, "quota"));
	assert_int_equal(res.revision, 4);
	store_result_clear(&res);
	assert_null(tu_get(s, "d", 0, NULL));
	/* A lease grant costs space too. */
	assert_int_equal(tu_lease(s, STORE_CMD_LEASE_GRANT, 1, 10),
			 STORE_ERR_NOSPACE);

	/* Deletes work over quota; compaction then frees space. */
	assert_int_equal(tu_del(s, "a", NULL), STORE_OK);
	assert_int_equal(tu_del(s, "b", NULL), STORE_OK);
	assert_int_equal(tu_put(s, "d", "0123456789", 0), STORE_ERR_NOSPACE);
	assert_int_equal(tu_compact(s, store_revision(s)), STORE_OK);
	assert_int_equal(store_used_bytes(s), per);
	assert_int_equal(tu_put(s, "d", "0123456789", 0), STORE_OK);
	store_free(s);
}

static void test_apply_index_and_malformed(void **state)
{
	struct store *s = *state;
	uint8_t *buf;
	size_t len;
	struct store_cmd c = {.type = STORE_CMD_PUT,
			      .op = tu_put_op("k", "v", 0)};
	assert_int_equal(store_cmd_encode(&c, &buf, &len, NULL), STORE_OK);
	assert_int_equal(store_apply(s, 10, buf, len, NULL), STORE_OK);
	assert_int_equal(store_applied_index(s), 10);
	assert_int_equal(store_revision(s), 2);
	/* A replayed index is refused without effect. */
	assert_int_equal(store_apply(s, 10, buf, len, NULL),
			 STORE_ERR_STALE_INDEX);
	assert_int_equal(store_revision(s), 2);
	/* A malformed command consumes its index and changes nothing. */
	struct store_result res;
	assert_int_equal(store_apply(s, 12, buf, len - 1, &res),
			 STORE_ERR_MALFORMED);
	assert_non_null(strstr(res.errmsg, "op.lease"));
	assert_int_equal(store_applied_index(s), 12);
	assert_int_equal(store_revision(s), 2);
	store_result_clear(&res);
	free(buf);
	/* Put with an unknown lease. */
	assert_int_equal(tu_put(s, "k", "v", 77), STORE_ERR_LEASE_NOT_FOUND);
	assert_int_equal(store_applied_index(s), 13);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_revisions_and_versions,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_range_at_old_revisions,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_range_prefix_limit_count,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn_compares, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_txn_one_revision, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_txn_rejects_overlaps,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_prev_kv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compaction, setup,
						teardown),
		cmocka_unit_test(test_quota),
		cmocka_unit_test_setup_teardown(test_apply_index_and_malformed,
						setup, teardown),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
