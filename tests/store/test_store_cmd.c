/*
 * Unit tests of the command codec: every command type round-trips to the
 * same bytes, and numbered malformed inputs are rejected with a message
 * naming what is wrong.
 */
#include "store_test_util.h"

static void roundtrip(const struct store_cmd *c)
{
	uint8_t *a, *b;
	size_t alen, blen;
	struct store_cmd d;
	char err[STORE_ERRMSG_SIZE];
	assert_int_equal(store_cmd_encode(c, &a, &alen, err), STORE_OK);
	assert_int_equal(store_cmd_decode(a, alen, &d, err), STORE_OK);
	assert_int_equal(d.type, c->type);
	assert_int_equal(store_cmd_encode(&d, &b, &blen, err), STORE_OK);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	store_cmd_clear(&d);
	free(a);
	free(b);
}

static void test_roundtrip_all_types(void **state)
{
	(void)state;
	struct store_cmd c = {.type = STORE_CMD_PUT,
			      .op = tu_put_op("key", "value", 5)};
	c.op.prev_kv = true;
	roundtrip(&c);
	c = (struct store_cmd){.type = STORE_CMD_DELETE,
			       .op = tu_del_op("a", "b")};
	roundtrip(&c);
	c = (struct store_cmd){.type = STORE_CMD_LEASE_GRANT, .lease_id = 9,
			       .ttl = 30};
	roundtrip(&c);
	c.type = STORE_CMD_LEASE_REVOKE;
	c.ttl = 0;
	roundtrip(&c);
	c.type = STORE_CMD_LEASE_KEEPALIVE;
	roundtrip(&c);
	c = (struct store_cmd){.type = STORE_CMD_COMPACT, .compact_rev = 42};
	roundtrip(&c);

	struct store_compare cmps[] = {
		{.target = STORE_CMP_MOD, .result = STORE_CMP_EQUAL,
		 .key = U8("k"), .key_len = 1, .operand = 7},
		{.target = STORE_CMP_VALUE, .result = STORE_CMP_NOT_EQUAL,
		 .key = U8("a"), .key_len = 1, .range_end = U8("b"),
		 .range_end_len = 1, .value = U8("v"), .value_len = 1},
	};
	struct store_op ok[] = {tu_put_op("k", "v", 0), tu_del_op("x", NULL)};
	struct store_op bad[] = {tu_range_op("k", "l")};
	bad[0].limit = 3;
	bad[0].count_only = true;
	c = (struct store_cmd){.type = STORE_CMD_TXN, .cmps = cmps,
			       .n_cmps = 2, .success = ok, .n_success = 2,
			       .failure = bad, .n_failure = 1};
	roundtrip(&c);
	/* Decoded fields match. */
	uint8_t *buf;
	size_t len;
	struct store_cmd d;
	assert_int_equal(store_cmd_encode(&c, &buf, &len, NULL), STORE_OK);
	assert_int_equal(store_cmd_decode(buf, len, &d, NULL), STORE_OK);
	assert_int_equal(d.n_cmps, 2);
	assert_int_equal(d.cmps[0].operand, 7);
	assert_memory_equal(d.cmps[1].value, "v", 1);
	assert_int_equal(d.n_failure, 1);
	assert_int_equal(d.failure[0].limit, 3);
	assert_true(d.failure[0].count_only);
	assert_int_equal(d.success[1].type, STORE_OP_DELETE);
	store_cmd_clear(&d);
	free(buf);
}

static void test_encode_rejects_invalid(void **state)
{
	(void)state;
	uint8_t *buf;
	size_t len;
	char err[STORE_ERRMSG_SIZE];
	static const struct {
		struct store_cmd cmd;
		const char *msg;
	} cases[] = {
		/* 1 */ {{.type = STORE_CMD_PUT,
			  .op = {.type = STORE_OP_PUT, .key_len = 0}},
			 "op.key"},
		/* 2 */ {{.type = STORE_CMD_PUT,
			  .op = {.type = STORE_OP_DELETE, .key = U8("k"),
				 .key_len = 1}},
			 "op.type"},
		/* 3 */ {{.type = STORE_CMD_DELETE,
			  .op = {.type = STORE_OP_DELETE, .key = U8("k"),
				 .key_len = 1, .lease = 3}},
			 "delete"},
		/* 4 */ {{.type = STORE_CMD_LEASE_GRANT, .lease_id = 1,
			  .ttl = 0},
			 "lease.ttl"},
		/* 5 */ {{.type = STORE_CMD_LEASE_REVOKE, .lease_id = 0},
			 "lease.id"},
		/* 6 */ {{.type = STORE_CMD_COMPACT, .compact_rev = -1},
			 "compact.revision"},
		/* 7 */ {{.type = STORE_CMD_PUT,
			  .op = {.type = STORE_OP_PUT, .key = U8("k"),
				 .key_len = STORE_KEY_MAX + 1}},
			 "op.key"},
		/* 8 */ {{.type = (enum store_cmd_type)99}, "type"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = 0;
		if (store_cmd_encode(&cases[i].cmd, &buf, &len, err) !=
		    STORE_ERR_INVAL)
			fail_msg("case %zu accepted", i + 1);
		if (strstr(err, cases[i].msg) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i + 1, err,
				 cases[i].msg);
	}
}

static void test_decode_rejects_malformed(void **state)
{
	(void)state;
	/* PUT k=v lease 0 as reference: hdr(4) op(2) key(4+1) val(4+1) l(8) */
	static const uint8_t good[] = {1, 1, 0, 0, 2, 0, 1, 0, 0, 0, 'k',
				       1, 0, 0, 0, 'v', 0, 0, 0, 0, 0, 0,
				       0, 0};
	struct store_cmd d;
	char err[STORE_ERRMSG_SIZE];
	assert_int_equal(store_cmd_decode(good, sizeof(good), &d, err),
			 STORE_OK);
	store_cmd_clear(&d);
	static const struct {
		size_t at; /* byte to patch, or SIZE_MAX for none */
		uint8_t val;
		size_t len; /* bytes of the patched input to decode */
		const char *msg;
	} cases[] = {
		/* 1 empty */ {SIZE_MAX, 0, 0, "version"},
		/* 2 version */ {0, 2, sizeof(good), "version"},
		/* 3 type */ {1, 8, sizeof(good), "type"},
		/* 4 reserved */ {2, 1, sizeof(good), "reserved"},
		/* 5 op type */ {4, 9, sizeof(good), "op.type"},
		/* 6 op/cmd mismatch */ {4, 3, sizeof(good), "trailing"},
		/* 7 count_only on put */ {5, 2, sizeof(good), "op.flags"},
		/* 8 key length lies */ {6, 0x20, sizeof(good), "op.key"},
		/* 9 huge key length */ {9, 0x80, sizeof(good), "exceeds"},
		/* 10 truncated */ {SIZE_MAX, 0, sizeof(good) - 3, "op.lease"},
		/* 11 empty key */ {6, 0, sizeof(good), ""},
		/* 12 negative lease */ {23, 0x80, sizeof(good), "negative"},
	};
	uint8_t buf[sizeof(good) + 1];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(buf, good, sizeof(good));
		if (cases[i].at != SIZE_MAX)
			buf[cases[i].at] = cases[i].val;
		err[0] = 0;
		if (store_cmd_decode(buf, cases[i].len, &d, err) !=
		    STORE_ERR_MALFORMED)
			fail_msg("case %zu accepted", i + 1);
		if (strstr(err, cases[i].msg) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i + 1, err,
				 cases[i].msg);
		assert_null(d.alloc_);
	}
	/* Trailing bytes. */
	memcpy(buf, good, sizeof(good));
	buf[sizeof(good)] = 0;
	assert_int_equal(store_cmd_decode(buf, sizeof(buf), &d, err),
			 STORE_ERR_MALFORMED);
	assert_non_null(strstr(err, "trailing"));
	/* A txn claiming more ops than allowed. */
	static const uint8_t txn[] = {1, 3, 0, 0, 0, 0, 129, 0, 0, 0, 0, 0};
	assert_int_equal(store_cmd_decode(txn, sizeof(txn), &d, err),
			 STORE_ERR_MALFORMED);
	/* A txn claiming ops that are not there. */
	static const uint8_t txn2[] = {1, 3, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0};
	assert_int_equal(store_cmd_decode(txn2, sizeof(txn2), &d, err),
			 STORE_ERR_MALFORMED);
	assert_non_null(strstr(err, "op.type"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_all_types),
		cmocka_unit_test(test_encode_rejects_invalid),
		cmocka_unit_test(test_decode_rejects_malformed),
	};
	return cmocka_run_group_tests_name("store_cmd", tests, NULL, NULL);
}
