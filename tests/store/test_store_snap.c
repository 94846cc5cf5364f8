/*
 * Unit tests of snapshots and of determinism: byte-identical round trip,
 * numbered corruptions rejected without touching the target, and two
 * stores applying the same seeded random command sequence (one of them
 * restored from a mid-sequence snapshot) ending byte-identical.
 */
#include "store_test_util.h"

#include <stdio.h>

static uint32_t crc32c(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
	}
	return ~crc;
}

static void fix_crc(uint8_t *b, size_t len)
{
	uint32_t c = crc32c(b, len - 4);
	for (int i = 0; i < 4; i++)
		b[len - 4 + (size_t)i] = (uint8_t)(c >> (8 * i));
}

static void assert_same_state(struct store *a, struct store *b)
{
	size_t la, lb;
	uint8_t *sa = tu_snap(a, &la), *sb = tu_snap(b, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(sa, sb, la);
	free(sa);
	free(sb);
}

static void test_roundtrip_identical(void **state)
{
	(void)state;
	struct store *s = store_create(NULL);
	tu_lease(s, STORE_CMD_LEASE_GRANT, 3, 60);
	tu_lease(s, STORE_CMD_LEASE_GRANT, 1, 5);
	tu_put(s, "a", "1", 3);
	tu_put(s, "b", "", 0);
	tu_put(s, "a", "2", 1);
	tu_del(s, "b", NULL);
	tu_put(s, "c", "x", 0);
	tu_compact(s, 4);
	tu_put(s, "a", "3", 0);
	size_t len, len2;
	uint8_t *snap = tu_snap(s, &len);
	struct store *r = store_create(NULL);
	tu_put(r, "junk", "replaced by restore", 0);
	assert_int_equal(store_restore(r, snap, len), STORE_OK);
	uint8_t *snap2 = tu_snap(r, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(snap, snap2, len);
	assert_int_equal(store_revision(r), store_revision(s));
	assert_int_equal(store_compact_revision(r), 4);
	assert_int_equal(store_applied_index(r), store_applied_index(s));
	assert_int_equal(store_used_bytes(r), store_used_bytes(s));
	assert_int_equal(store_lease_count(r), 2);
	assert_null(tu_get(r, "junk", 0, NULL));
	/* History since compaction answers old reads identically. */
	assert_string_equal(tu_get(r, "a", 4, NULL), "2");
	assert_string_equal(tu_get(r, "a", 0, NULL), "3");
	struct store_op_result o;
	assert_int_equal(tu_range(r, "a", NULL, 3, &o), STORE_ERR_COMPACTED);
	/* Both continue identically. */
	tu_put(s, "d", "y", 3);
	tu_put(r, "d", "y", 3);
	assert_same_state(s, r);
	free(snap);
	free(snap2);
	store_free(s);
	store_free(r);
}

static void test_corrupt_rejected(void **state)
{
	(void)state;
	struct store *s = store_create(NULL);
	tu_lease(s, STORE_CMD_LEASE_GRANT, 1, 10);
	tu_put(s, "k", "v", 1); /* 2 */
	tu_put(s, "k", "w", 0); /* 3 */
	size_t len;
	uint8_t *good = tu_snap(s, &len);
	assert_int_equal(len, 166);
	static const struct {
		size_t at;
		uint8_t val;
		const char *msg;
	} cases[] = {
		/* 1 revision below records */ {16, 2, "out of order"},
		/* 2 compact > revision */ {24, 5, "out of order"},
		/* 3 lease id 0 */ {36, 0, "lease"},
		/* 4 lease ttl 0 */ {44, 0, "lease"},
		/* 5 unknown record flag */ {76, 2, "flags"},
		/* 6 version chain */ {146, 5, "version chain"},
		/* 7 create revision chain */ {138, 3, "version chain"},
		/* 8 live key on missing lease */ {154, 9, "missing lease"},
		/* 9 sub not from 0 */ {119, 1, "gap"},
		/* 10 revision skipped */ {60, 3, "gap"},
		/* 11 tombstone with value */ {76, 1, "tombstone"},
		/* 12 record count lies */ {52, 3, "record count"},
		/* 13 magic */ {0, 0, "magic"},
		/* 14 empty key */ {77, 0, ""},
	};
	struct store *t = store_create(NULL);
	tu_put(t, "keep", "me", 0);
	size_t tlen;
	uint8_t *before = tu_snap(t, &tlen);
	uint8_t *b = malloc(len);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(b, good, len);
		b[cases[i].at] = cases[i].val;
		fix_crc(b, len);
		if (store_restore(t, b, len) != STORE_ERR_CORRUPT)
			fail_msg("case %zu accepted", i + 1);
		if (strstr(store_errmsg(t), cases[i].msg) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i + 1,
				 store_errmsg(t), cases[i].msg);
	}
	/* Any single flipped byte fails the checksum; so does truncation. */
	for (size_t i = 0; i < len; i++) {
		memcpy(b, good, len);
		b[i] ^= 0x40;
		assert_int_equal(store_restore(t, b, len), STORE_ERR_CORRUPT);
	}
	for (size_t n = 0; n < len; n++)
		assert_int_equal(store_restore(t, good, n), STORE_ERR_CORRUPT);
	/* The target never changed. */
	size_t alen;
	uint8_t *after = tu_snap(t, &alen);
	assert_int_equal(alen, tlen);
	assert_memory_equal(before, after, tlen);
	free(after);
	free(before);
	free(b);
	free(good);
	store_free(t);
	store_free(s);
}

/* ------------------------------------------------ seeded random sequence */

static uint64_t rng_state;
static uint32_t rnd(uint32_t n)
{
	/* xorshift64*: fixed, platform-independent sequence per seed. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ull) >> 33) % n;
}

static const char *const keys[] = {"/a/1", "/a/2", "/a/3", "/b/1",
				   "/b/2", "/c",   "/c/x", "/d"};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static struct store_op rand_op(char *vbuf, bool allow_range)
{
	const char *k = keys[rnd(NKEYS)];
	uint32_t t = rnd(allow_range ? 10 : 8);
	if (t < 5) {
		snprintf(vbuf, 32, "v%u", rnd(1000));
		struct store_op op = tu_put_op(k, vbuf, rnd(4) ? 0 : 1 + rnd(4));
		op.prev_kv = rnd(2);
		return op;
	}
	if (t < 8) {
		static const char *const ends[] = {NULL, "/b", "/c", "/z"};
		struct store_op op = tu_del_op(k, ends[rnd(4)]);
		op.prev_kv = rnd(2);
		return op;
	}
	struct store_op op = tu_range_op(k, "/z");
	op.limit = rnd(3);
	return op;
}

/* Encode the i-th command of the sequence into *buf. */
static void rand_cmd(struct store *s, uint8_t **buf, size_t *len)
{
	char v[8][32];
	struct store_op succ[3], fail_ops[3];
	struct store_compare cmp;
	struct store_cmd c = {0};
	uint32_t t = rnd(100);
	if (t < 35) {
		c.type = STORE_CMD_PUT;
		do
			c.op = rand_op(v[0], false);
		while (c.op.type != STORE_OP_PUT);
	} else if (t < 45) {
		c.type = STORE_CMD_DELETE;
		do
			c.op = rand_op(v[0], false);
		while (c.op.type != STORE_OP_DELETE);
	} else if (t < 75) {
		c.type = STORE_CMD_TXN;
		const char *k = keys[rnd(NKEYS)];
		cmp = (struct store_compare){
			.target = (enum store_cmp_target)(1 + rnd(4)),
			.result = (enum store_cmp_result)(1 + rnd(4)),
			.key = U8(k), .key_len = strlen(k)};
		if (cmp.target == STORE_CMP_VALUE) {
			snprintf(v[6], 32, "v%u", rnd(1000));
			cmp.value = U8(v[6]);
			cmp.value_len = strlen(v[6]);
		} else {
			cmp.operand = rnd((uint32_t)store_revision(s) + 2);
		}
		c.cmps = &cmp;
		c.n_cmps = 1;
		c.success = succ;
		c.failure = fail_ops;
		c.n_success = rnd(4);
		c.n_failure = rnd(3);
		for (size_t i = 0; i < c.n_success; i++)
			succ[i] = rand_op(v[i], true);
		for (size_t i = 0; i < c.n_failure; i++)
			fail_ops[i] = rand_op(v[3 + i], true);
	} else if (t < 85) {
		c.type = STORE_CMD_LEASE_GRANT;
		c.lease_id = 1 + rnd(4);
		c.ttl = 1 + rnd(100);
	} else if (t < 90) {
		c.type = STORE_CMD_LEASE_REVOKE;
		c.lease_id = 1 + rnd(4);
	} else if (t < 95) {
		c.type = STORE_CMD_LEASE_KEEPALIVE;
		c.lease_id = 1 + rnd(4);
	} else {
		c.type = STORE_CMD_COMPACT;
		int64_t lo = store_compact_revision(s);
		int64_t span = store_revision(s) - lo;
		/* Mostly valid targets, sometimes stale ones. */
		c.compact_rev = lo + (span > 0 ? (int64_t)rnd((uint32_t)span)
					       : 0) + 1;
	}
	assert_int_equal(store_cmd_encode(&c, buf, len, NULL), STORE_OK);
}

static void test_determinism(void **state)
{
	(void)state;
	enum { N = 3000 };
	struct store_params p = {.quota_bytes = 64 * 1024};
	for (uint64_t seed = 1; seed <= 3; seed++) {
		struct store *a = store_create(&p), *b = store_create(&p);
		struct store *c = store_create(&p);
		uint8_t **cmds = calloc(N, sizeof(*cmds));
		size_t *lens = calloc(N, sizeof(*lens));
		rng_state = seed * 0x9e3779b97f4a7c15ull;
		/* The sequence depends on a's state (revision) but is then
		 * fixed bytes, exactly like a Raft log. */
		int errs = 0;
		for (size_t i = 0; i < N; i++) {
			rand_cmd(a, &cmds[i], &lens[i]);
			struct store_result ra;
			int rc = store_apply(a, i + 1, cmds[i], lens[i], &ra);
			assert_int_not_equal(rc, STORE_ERR_BROKEN);
			errs += rc != STORE_OK;
			store_result_clear(&ra);
		}
		/* The sequence exercises failures and writes. */
		assert_true(errs > 0);
		assert_true(store_revision(a) > N / 4);
		for (size_t i = 0; i < N; i++)
			store_apply(b, i + 1, cmds[i], lens[i], NULL);
		assert_same_state(a, b);

		/* c: restore from a snapshot of b-like state at N/2. */
		struct store *mid = store_create(&p);
		for (size_t i = 0; i < N / 2; i++)
			store_apply(mid, i + 1, cmds[i], lens[i], NULL);
		size_t len;
		uint8_t *snap = tu_snap(mid, &len);
		assert_int_equal(store_restore(c, snap, len), STORE_OK);
		assert_int_equal(store_applied_index(c), N / 2);
		for (size_t i = N / 2; i < N; i++)
			store_apply(c, i + 1, cmds[i], lens[i], NULL);
		assert_same_state(a, c);
		/* And the whole key space reads the same. */
		struct store_op_result ra, rc;
		assert_int_equal(tu_range(a, "/", "/z", 0, &ra), STORE_OK);
		assert_int_equal(tu_range(c, "/", "/z", 0, &rc), STORE_OK);
		assert_int_equal(ra.count, rc.count);
		store_op_result_clear(&ra);
		store_op_result_clear(&rc);

		free(snap);
		for (size_t i = 0; i < N; i++)
			free(cmds[i]);
		free(cmds);
		free(lens);
		store_free(a);
		store_free(b);
		store_free(c);
		store_free(mid);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_identical),
		cmocka_unit_test(test_corrupt_rejected),
		cmocka_unit_test(test_determinism),
	};
	return cmocka_run_group_tests_name("store_snap", tests, NULL, NULL);
}
