/*
 * Helpers for the store tests: build a command, encode it, apply it as the
 * next index, and return the result, so each test reads as a list of
 * requests and assertions. Header-only; every test file is one executable.
 */
#ifndef SLUICE_TESTS_STORE_UTIL_H
#define SLUICE_TESTS_STORE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store.h"
#include "store_cmd.h"
#include "store_lease.h"
#include "store_snap.h"
#include "store_watch.h"

#define U8(s) ((const uint8_t *)(s))

static inline struct store_op tu_put_op(const char *k, const char *v,
					int64_t lease)
{
	return (struct store_op){.type = STORE_OP_PUT, .key = U8(k),
				 .key_len = strlen(k), .value = U8(v),
				 .value_len = strlen(v), .lease = lease};
}

static inline struct store_op tu_del_op(const char *k, const char *end)
{
	return (struct store_op){.type = STORE_OP_DELETE, .key = U8(k),
				 .key_len = strlen(k), .range_end = U8(end),
				 .range_end_len = end ? strlen(end) : 0};
}

static inline struct store_op tu_range_op(const char *k, const char *end)
{
	return (struct store_op){.type = STORE_OP_RANGE, .key = U8(k),
				 .key_len = strlen(k), .range_end = U8(end),
				 .range_end_len = end ? strlen(end) : 0};
}

/* Encode and apply cmd as the next index; returns the error code. */
static inline int tu_apply(struct store *s, const struct store_cmd *cmd,
			   struct store_result *res)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char err[STORE_ERRMSG_SIZE] = "";
	int rc = store_cmd_encode(cmd, &buf, &len, err);
	if (rc != STORE_OK) {
		print_error("encode: %s\n", err);
		fail();
	}
	rc = store_apply(s, 0, buf, len, res);
	free(buf);
	return rc;
}

static inline int tu_put(struct store *s, const char *k, const char *v,
			 int64_t lease)
{
	struct store_cmd c = {.type = STORE_CMD_PUT,
			      .op = tu_put_op(k, v, lease)};
	return tu_apply(s, &c, NULL);
}

static inline int tu_del(struct store *s, const char *k, const char *end)
{
	struct store_cmd c = {.type = STORE_CMD_DELETE,
			      .op = tu_del_op(k, end)};
	return tu_apply(s, &c, NULL);
}

static inline int tu_lease(struct store *s, enum store_cmd_type t, int64_t id,
			   int64_t ttl)
{
	struct store_cmd c = {.type = t, .lease_id = id, .ttl = ttl};
	return tu_apply(s, &c, NULL);
}

static inline int tu_compact(struct store *s, int64_t rev)
{
	struct store_cmd c = {.type = STORE_CMD_COMPACT, .compact_rev = rev};
	return tu_apply(s, &c, NULL);
}

/* Range [k, end) at rev; returns rc and fills out (caller clears). */
static inline int tu_range(struct store *s, const char *k, const char *end,
			   int64_t rev, struct store_op_result *out)
{
	struct store_op op = tu_range_op(k, end);
	op.revision = rev;
	return store_range(s, &op, out);
}

/* Value of a single key at rev, or NULL if absent; static buffer. */
static inline const char *tu_get(struct store *s, const char *k, int64_t rev,
				 struct store_kv *kv_out)
{
	static char buf[256];
	struct store_op_result r;
	if (tu_range(s, k, NULL, rev, &r) != STORE_OK || r.n_kvs == 0) {
		store_op_result_clear(&r);
		return NULL;
	}
	size_t n = r.kvs[0].value_len < sizeof(buf) - 1 ? r.kvs[0].value_len
							: sizeof(buf) - 1;
	memcpy(buf, r.kvs[0].value, n);
	buf[n] = 0;
	if (kv_out) {
		*kv_out = r.kvs[0];
		kv_out->key = NULL;
		kv_out->value = NULL;
	}
	store_op_result_clear(&r);
	return buf;
}

/* Serialize s; caller frees. */
static inline uint8_t *tu_snap(struct store *s, size_t *len)
{
	uint8_t *b = NULL;
	assert_int_equal(store_snapshot(s, &b, len), STORE_OK);
	return b;
}

#endif /* SLUICE_TESTS_STORE_UTIL_H */
