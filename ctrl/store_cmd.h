/*
 * store_cmd: the deterministic binary encoding of every mutating store
 * request (put, delete range, txn, lease grant/revoke/keepalive, compact).
 * These bytes are what the leader proposes as a Raft log entry and what
 * every replica hands to store_apply().
 *
 * The encoding is canonical: one request has exactly one encoding, so
 * store_cmd_encode(store_cmd_decode(b)) == b for every b the decoder
 * accepts (the fuzz target checks this). The layout is specified in
 * docs/store.md ("Command encoding"). The decoder treats its input as
 * untrusted: every length is checked against the bytes present before it is
 * read, flags and reserved bits must be zero, counts are bounded, trailing
 * bytes are rejected.
 *
 * Threading: pure functions, any thread.
 */
#ifndef SLUICE_CTRL_STORE_CMD_H
#define SLUICE_CTRL_STORE_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define STORE_CMD_VERSION 1

enum store_cmd_type {
	STORE_CMD_PUT = 1,
	STORE_CMD_DELETE = 2,
	STORE_CMD_TXN = 3,
	STORE_CMD_LEASE_GRANT = 4,
	STORE_CMD_LEASE_REVOKE = 5,
	STORE_CMD_LEASE_KEEPALIVE = 6,
	STORE_CMD_COMPACT = 7,
};

/* What a txn compare looks at (etcd's Compare.Target). */
enum store_cmp_target {
	STORE_CMP_VERSION = 1,
	STORE_CMP_CREATE = 2,
	STORE_CMP_MOD = 3,
	STORE_CMP_VALUE = 4,
	STORE_CMP_LEASE = 5,
};

enum store_cmp_result {
	STORE_CMP_EQUAL = 1,
	STORE_CMP_NOT_EQUAL = 2,
	STORE_CMP_LESS = 3,
	STORE_CMP_GREATER = 4,
};

/* One compare. With a range_end it must hold for every key in the range;
 * a missing key compares as zero for numeric targets and fails a VALUE
 * compare (etcd cannot tell a missing value from an empty one otherwise). */
struct store_compare {
	enum store_cmp_target target;
	enum store_cmp_result result;
	const uint8_t *key;
	size_t key_len;
	const uint8_t *range_end;
	size_t range_end_len;
	int64_t operand; /* VERSION, CREATE, MOD, LEASE */
	const uint8_t *value; /* VALUE */
	size_t value_len;
};

/*
 * A decoded or to-be-encoded command. Byte pointers borrow from the input
 * of store_cmd_decode() (which must outlive the command) or from the caller
 * of store_cmd_encode(). The arrays of a decoded command are allocated by
 * the decoder and freed by store_cmd_clear().
 */
struct store_cmd {
	enum store_cmd_type type;
	struct store_op op; /* PUT (type PUT), DELETE (type DELETE) */
	struct store_compare *cmps; /* TXN */
	size_t n_cmps;
	struct store_op *success;
	size_t n_success;
	struct store_op *failure;
	size_t n_failure;
	int64_t lease_id;    /* LEASE_*: non-zero, chosen by the proposer */
	int64_t ttl;         /* LEASE_GRANT: seconds, 1..STORE_LEASE_MAX_TTL */
	int64_t compact_rev; /* COMPACT: > 0 */
	void *alloc_;        /* decoder's allocation; private */
};

/*
 * Decode len bytes into *cmd. Returns STORE_OK, STORE_ERR_MALFORMED (errmsg,
 * if non-NULL and STORE_ERRMSG_SIZE long, names what is wrong and where) or
 * STORE_ERR_NOMEM. On failure *cmd is cleared. Any thread.
 */
int store_cmd_decode(const uint8_t *buf, size_t len, struct store_cmd *cmd,
		     char *errmsg);

/*
 * Encode cmd into a malloc'ed buffer (*out, *out_len; ownership passes to
 * the caller on success). cmd is validated exactly as the decoder would:
 * STORE_ERR_INVAL with errmsg naming the field. Any thread.
 */
int store_cmd_encode(const struct store_cmd *cmd, uint8_t **out,
		     size_t *out_len, char *errmsg);

/* Free what a decoded command owns and zero it; accepts a zeroed command. */
void store_cmd_clear(struct store_cmd *cmd);

/* Validate one request op as a txn or top-level op would be (lengths,
 * range, limit); in_txn forbids a range revision. Returns STORE_OK or
 * STORE_ERR_INVAL with errmsg naming the field. Used by store_range(). */
int store_cmd_check_op(const struct store_op *op, int in_txn, char *errmsg);

#endif /* SLUICE_CTRL_STORE_CMD_H */
