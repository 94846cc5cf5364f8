/*
 * store_cmd: canonical binary codec for store commands.
 *
 * All integers are little-endian with explicit widths; byte strings are a
 * u32 length followed by the bytes. Each op encodes only the fields its type
 * uses, and the validator rejects a request that sets a field its type does
 * not use, so there is exactly one encoding per request and nothing is
 * silently dropped. The decoder is a cursor that checks every length
 * against the bytes left before reading (WireGuard's prepare_skb_header
 * discipline); every rejection names the lie.
 *
 * 8< command-layout
 * command  u8 version (1), u8 type, u16 reserved (0), then by type:
 *   PUT, DELETE       op
 *   TXN               u16 n_compare, u16 n_success, u16 n_failure,
 *                     u16 reserved (0), compares, success ops, failure ops
 *                     (each count <= 128)
 *   LEASE_GRANT       i64 id (> 0), i64 ttl (1 .. 1 year, seconds)
 *   LEASE_REVOKE,
 *   LEASE_KEEPALIVE   i64 id (> 0)
 *   COMPACT           i64 revision (> 0)
 * op       u8 type (1 range, 2 put, 3 delete), u8 flags, bytes key, then
 *   range             bytes range_end, i64 limit, i64 revision (0 in a txn)
 *                     flags: 0x02 count_only
 *   put               bytes value, i64 lease          flags: 0x01 prev_kv
 *   delete            bytes range_end                 flags: 0x01 prev_kv
 * compare  u8 target (1 version, 2 create, 3 mod, 4 value, 5 lease),
 *          u8 result (1 =, 2 !=, 3 <, 4 >), bytes key, bytes range_end,
 *          then bytes value (target value) or i64 operand (others)
 * bytes    u32 length, then that many bytes (key <= 4 KiB, value <= 1 MiB)
 * >8 command-layout
 */
#include "store_cmd.h"
#include "store_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OP_FLAG_PREV_KV 0x01u
#define OP_FLAG_COUNT_ONLY 0x02u

static void store_cmd_err(char *errmsg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void store_cmd_err(char *errmsg, const char *fmt, ...)
{
	if (errmsg == NULL)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errmsg, STORE_ERRMSG_SIZE, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------ validation */

static int store_cmd_check_bytes(const uint8_t *p, size_t len, size_t max,
				 const char *what, char *errmsg)
{
	if (len > max) {
		store_cmd_err(errmsg, "%s: length %zu exceeds %zu", what, len,
			      max);
		return STORE_ERR_INVAL;
	}
	if (len > 0 && p == NULL) {
		store_cmd_err(errmsg, "%s: NULL with length %zu", what, len);
		return STORE_ERR_INVAL;
	}
	return STORE_OK;
}

int store_cmd_check_op(const struct store_op *op, int in_txn, char *errmsg)
{
	int rc;

	if (op == NULL) {
		store_cmd_err(errmsg, "op: NULL");
		return STORE_ERR_INVAL;
	}
	if (op->type != STORE_OP_RANGE && op->type != STORE_OP_PUT &&
	    op->type != STORE_OP_DELETE) {
		store_cmd_err(errmsg, "op.type: unknown %d", (int)op->type);
		return STORE_ERR_INVAL;
	}
	/* etcd: "key is not provided" */
	if (op->key_len == 0) {
		store_cmd_err(errmsg, "op.key: empty");
		return STORE_ERR_INVAL;
	}
	if ((rc = store_cmd_check_bytes(op->key, op->key_len, STORE_KEY_MAX,
					"op.key", errmsg)) != STORE_OK)
		return rc;
	if ((rc = store_cmd_check_bytes(op->range_end, op->range_end_len,
					STORE_KEY_MAX, "op.range_end",
					errmsg)) != STORE_OK)
		return rc;
	if ((rc = store_cmd_check_bytes(op->value, op->value_len,
					STORE_VALUE_MAX, "op.value",
					errmsg)) != STORE_OK)
		return rc;
	if (op->lease < 0 || op->limit < 0 || op->revision < 0) {
		store_cmd_err(errmsg, "op: negative lease, limit or revision");
		return STORE_ERR_INVAL;
	}
	/* A field the type does not use must be unset: the encoding has no
	 * room for it, and accepting it would silently drop it. */
	switch (op->type) {
	case STORE_OP_RANGE:
		if (op->value_len || op->lease || op->prev_kv) {
			store_cmd_err(errmsg,
				      "op: value, lease or prev_kv on a range");
			return STORE_ERR_INVAL;
		}
		if (in_txn && op->revision != 0) {
			store_cmd_err(errmsg,
				      "op.revision: a range inside a txn reads "
				      "the txn's own state");
			return STORE_ERR_INVAL;
		}
		break;
	case STORE_OP_PUT:
		if (op->range_end_len || op->limit || op->count_only ||
		    op->revision) {
			store_cmd_err(errmsg, "op: range_end, limit, count_only "
					      "or revision on a put");
			return STORE_ERR_INVAL;
		}
		break;
	case STORE_OP_DELETE:
		if (op->value_len || op->lease || op->limit ||
		    op->count_only || op->revision) {
			store_cmd_err(errmsg, "op: value, lease, limit, "
					      "count_only or revision on a "
					      "delete");
			return STORE_ERR_INVAL;
		}
		break;
	}
	return STORE_OK;
}

static int store_cmd_check_cmp(const struct store_compare *c, char *errmsg)
{
	int rc;

	if (c->target < STORE_CMP_VERSION || c->target > STORE_CMP_LEASE) {
		store_cmd_err(errmsg, "compare.target: unknown %d",
			      (int)c->target);
		return STORE_ERR_INVAL;
	}
	if (c->result < STORE_CMP_EQUAL || c->result > STORE_CMP_GREATER) {
		store_cmd_err(errmsg, "compare.result: unknown %d",
			      (int)c->result);
		return STORE_ERR_INVAL;
	}
	if (c->key_len == 0) {
		store_cmd_err(errmsg, "compare.key: empty");
		return STORE_ERR_INVAL;
	}
	if ((rc = store_cmd_check_bytes(c->key, c->key_len, STORE_KEY_MAX,
					"compare.key", errmsg)) != STORE_OK)
		return rc;
	if ((rc = store_cmd_check_bytes(c->range_end, c->range_end_len,
					STORE_KEY_MAX, "compare.range_end",
					errmsg)) != STORE_OK)
		return rc;
	if ((rc = store_cmd_check_bytes(c->value, c->value_len,
					STORE_VALUE_MAX, "compare.value",
					errmsg)) != STORE_OK)
		return rc;
	if (c->target == STORE_CMP_VALUE ? c->operand != 0
					 : c->value_len != 0) {
		store_cmd_err(errmsg, "compare: operand and value mixed up "
				      "for the target");
		return STORE_ERR_INVAL;
	}
	return STORE_OK;
}

static int store_cmd_check(const struct store_cmd *cmd, char *errmsg)
{
	int rc;

	switch (cmd->type) {
	case STORE_CMD_PUT:
	case STORE_CMD_DELETE:
		if ((rc = store_cmd_check_op(&cmd->op, 0, errmsg)) != STORE_OK)
			return rc;
		if ((cmd->type == STORE_CMD_PUT) !=
		    (cmd->op.type == STORE_OP_PUT) ||
		    cmd->op.type == STORE_OP_RANGE) {
			store_cmd_err(errmsg, "op.type: does not match the "
					      "command type");
			return STORE_ERR_INVAL;
		}
		return STORE_OK;
	case STORE_CMD_TXN:
		if (cmd->n_cmps > STORE_TXN_MAX_OPS ||
		    cmd->n_success > STORE_TXN_MAX_OPS ||
		    cmd->n_failure > STORE_TXN_MAX_OPS) {
			store_cmd_err(errmsg, "txn: more than %u compares or "
					      "ops in a list",
				      STORE_TXN_MAX_OPS);
			return STORE_ERR_INVAL;
		}
		if ((cmd->n_cmps && !cmd->cmps) ||
		    (cmd->n_success && !cmd->success) ||
		    (cmd->n_failure && !cmd->failure)) {
			store_cmd_err(errmsg, "txn: NULL list with a count");
			return STORE_ERR_INVAL;
		}
		for (size_t i = 0; i < cmd->n_cmps; i++)
			if ((rc = store_cmd_check_cmp(&cmd->cmps[i], errmsg)))
				return rc;
		for (size_t i = 0; i < cmd->n_success; i++)
			if ((rc = store_cmd_check_op(&cmd->success[i], 1,
						     errmsg)))
				return rc;
		for (size_t i = 0; i < cmd->n_failure; i++)
			if ((rc = store_cmd_check_op(&cmd->failure[i], 1,
						     errmsg)))
				return rc;
		return STORE_OK;
	case STORE_CMD_LEASE_GRANT:
		if (cmd->ttl < 1 || cmd->ttl > STORE_LEASE_MAX_TTL) {
			store_cmd_err(errmsg, "lease.ttl: %lld out of [1, %lld]",
				      (long long)cmd->ttl,
				      (long long)STORE_LEASE_MAX_TTL);
			return STORE_ERR_INVAL;
		}
		/* fall through */
	case STORE_CMD_LEASE_REVOKE:
	case STORE_CMD_LEASE_KEEPALIVE:
		/* The proposer picks the id so every replica agrees on it. */
		if (cmd->lease_id <= 0) {
			store_cmd_err(errmsg, "lease.id: must be > 0");
			return STORE_ERR_INVAL;
		}
		return STORE_OK;
	case STORE_CMD_COMPACT:
		if (cmd->compact_rev <= 0) {
			store_cmd_err(errmsg, "compact.revision: must be > 0");
			return STORE_ERR_INVAL;
		}
		return STORE_OK;
	}
	store_cmd_err(errmsg, "type: unknown %d", (int)cmd->type);
	return STORE_ERR_INVAL;
}

/* --------------------------------------------------------------- encoder */

struct store_cmd_wbuf {
	uint8_t *p;
	size_t len, cap;
	int err;
};

static void store_cmd_put(struct store_cmd_wbuf *w, const void *src, size_t n)
{
	if (w->err || n == 0)
		return;
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 64;
		while (cap < w->len + n)
			cap *= 2;
		uint8_t *np = store_realloc(w->p, cap);
		if (np == NULL) {
			w->err = STORE_ERR_NOMEM;
			return;
		}
		w->p = np;
		w->cap = cap;
	}
	memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void store_cmd_put_u8(struct store_cmd_wbuf *w, unsigned v)
{
	uint8_t b = (uint8_t)v;
	store_cmd_put(w, &b, 1);
}

static void store_cmd_put_u16(struct store_cmd_wbuf *w, size_t v)
{
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	store_cmd_put(w, b, 2);
}

static void store_cmd_put_u64(struct store_cmd_wbuf *w, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	store_cmd_put(w, b, 8);
}

static void store_cmd_put_bytes(struct store_cmd_wbuf *w, const uint8_t *p,
				size_t n)
{
	uint8_t b[4];
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(n >> (8 * i));
	store_cmd_put(w, b, 4);
	store_cmd_put(w, p, n);
}

static void store_cmd_put_op(struct store_cmd_wbuf *w,
			     const struct store_op *op)
{
	unsigned flags = (op->prev_kv ? OP_FLAG_PREV_KV : 0) |
			 (op->count_only ? OP_FLAG_COUNT_ONLY : 0);
	store_cmd_put_u8(w, (unsigned)op->type);
	store_cmd_put_u8(w, flags);
	store_cmd_put_bytes(w, op->key, op->key_len);
	switch (op->type) {
	case STORE_OP_RANGE:
		store_cmd_put_bytes(w, op->range_end, op->range_end_len);
		store_cmd_put_u64(w, (uint64_t)op->limit);
		store_cmd_put_u64(w, (uint64_t)op->revision);
		break;
	case STORE_OP_PUT:
		store_cmd_put_bytes(w, op->value, op->value_len);
		store_cmd_put_u64(w, (uint64_t)op->lease);
		break;
	case STORE_OP_DELETE:
		store_cmd_put_bytes(w, op->range_end, op->range_end_len);
		break;
	}
}

int store_cmd_encode(const struct store_cmd *cmd, uint8_t **out,
		     size_t *out_len, char *errmsg)
{
	struct store_cmd_wbuf w = {0};
	int rc;

	if (cmd == NULL || out == NULL || out_len == NULL) {
		store_cmd_err(errmsg, "encode: NULL argument");
		return STORE_ERR_INVAL;
	}
	if ((rc = store_cmd_check(cmd, errmsg)) != STORE_OK)
		return rc;
	store_cmd_put_u8(&w, STORE_CMD_VERSION);
	store_cmd_put_u8(&w, (unsigned)cmd->type);
	store_cmd_put_u16(&w, 0); /* reserved */
	switch (cmd->type) {
	case STORE_CMD_PUT:
	case STORE_CMD_DELETE:
		store_cmd_put_op(&w, &cmd->op);
		break;
	case STORE_CMD_TXN:
		store_cmd_put_u16(&w, cmd->n_cmps);
		store_cmd_put_u16(&w, cmd->n_success);
		store_cmd_put_u16(&w, cmd->n_failure);
		store_cmd_put_u16(&w, 0); /* reserved */
		for (size_t i = 0; i < cmd->n_cmps; i++) {
			const struct store_compare *c = &cmd->cmps[i];
			store_cmd_put_u8(&w, (unsigned)c->target);
			store_cmd_put_u8(&w, (unsigned)c->result);
			store_cmd_put_bytes(&w, c->key, c->key_len);
			store_cmd_put_bytes(&w, c->range_end, c->range_end_len);
			if (c->target == STORE_CMP_VALUE)
				store_cmd_put_bytes(&w, c->value, c->value_len);
			else
				store_cmd_put_u64(&w, (uint64_t)c->operand);
		}
		for (size_t i = 0; i < cmd->n_success; i++)
			store_cmd_put_op(&w, &cmd->success[i]);
		for (size_t i = 0; i < cmd->n_failure; i++)
			store_cmd_put_op(&w, &cmd->failure[i]);
		break;
	case STORE_CMD_LEASE_GRANT:
		store_cmd_put_u64(&w, (uint64_t)cmd->lease_id);
		store_cmd_put_u64(&w, (uint64_t)cmd->ttl);
		break;
	case STORE_CMD_LEASE_REVOKE:
	case STORE_CMD_LEASE_KEEPALIVE:
		store_cmd_put_u64(&w, (uint64_t)cmd->lease_id);
		break;
	case STORE_CMD_COMPACT:
		store_cmd_put_u64(&w, (uint64_t)cmd->compact_rev);
		break;
	}
	if (w.err) {
		free(w.p);
		store_cmd_err(errmsg, "encode: out of memory");
		return w.err;
	}
	*out = w.p;
	*out_len = w.len;
	return STORE_OK;
}

/* --------------------------------------------------------------- decoder */

struct store_cmd_rbuf {
	const uint8_t *p;
	size_t len, off;
	char *errmsg;
	int bad; /* sticky: the first failure wins the message */
};

static int store_cmd_need(struct store_cmd_rbuf *r, size_t n, const char *what)
{
	if (r->bad)
		return 0;
	if (r->len - r->off < n) {
		/* The input claims more bytes than it carries. */
		store_cmd_err(r->errmsg, "%s at offset %zu: needs %zu bytes, "
					 "%zu left",
			      what, r->off, n, r->len - r->off);
		r->bad = 1;
		return 0;
	}
	return 1;
}

static uint64_t store_cmd_get_uint(struct store_cmd_rbuf *r, size_t width,
				   const char *what)
{
	uint64_t v = 0;
	if (!store_cmd_need(r, width, what))
		return 0;
	for (size_t i = 0; i < width; i++)
		v |= (uint64_t)r->p[r->off + i] << (8 * i);
	r->off += width;
	return v;
}

static int64_t store_cmd_get_i64(struct store_cmd_rbuf *r, const char *what)
{
	return (int64_t)store_cmd_get_uint(r, 8, what);
}

static const uint8_t *store_cmd_get_bytes(struct store_cmd_rbuf *r,
					  size_t *n, size_t max,
					  const char *what)
{
	size_t len = (size_t)store_cmd_get_uint(r, 4, what);
	*n = 0;
	if (r->bad)
		return NULL;
	/* Check the bound before the presence so a huge claim gets the
	 * clearer message. */
	if (len > max) {
		store_cmd_err(r->errmsg, "%s at offset %zu: length %zu exceeds "
					 "%zu",
			      what, r->off - 4, len, max);
		r->bad = 1;
		return NULL;
	}
	if (!store_cmd_need(r, len, what))
		return NULL;
	const uint8_t *p = len ? r->p + r->off : NULL;
	r->off += len;
	*n = len;
	return p;
}

static void store_cmd_get_op(struct store_cmd_rbuf *r, struct store_op *op)
{
	memset(op, 0, sizeof(*op));
	unsigned type = (unsigned)store_cmd_get_uint(r, 1, "op.type");
	unsigned flags = (unsigned)store_cmd_get_uint(r, 1, "op.flags");
	if (r->bad)
		return;
	if (type < STORE_OP_RANGE || type > STORE_OP_DELETE) {
		store_cmd_err(r->errmsg, "op.type at offset %zu: unknown %u",
			      r->off - 2, type);
		r->bad = 1;
		return;
	}
	op->type = (enum store_op_type)type;
	/* Only the flag the type uses may be set: one encoding per op. */
	unsigned allowed = type == STORE_OP_RANGE ? OP_FLAG_COUNT_ONLY
						  : OP_FLAG_PREV_KV;
	if (flags & ~allowed) {
		store_cmd_err(r->errmsg, "op.flags at offset %zu: 0x%x not "
					 "valid for the op type",
			      r->off - 1, flags);
		r->bad = 1;
		return;
	}
	op->prev_kv = (flags & OP_FLAG_PREV_KV) != 0;
	op->count_only = (flags & OP_FLAG_COUNT_ONLY) != 0;
	op->key = store_cmd_get_bytes(r, &op->key_len, STORE_KEY_MAX,
				      "op.key");
	switch (op->type) {
	case STORE_OP_RANGE:
		op->range_end = store_cmd_get_bytes(r, &op->range_end_len,
						    STORE_KEY_MAX,
						    "op.range_end");
		op->limit = store_cmd_get_i64(r, "op.limit");
		op->revision = store_cmd_get_i64(r, "op.revision");
		break;
	case STORE_OP_PUT:
		op->value = store_cmd_get_bytes(r, &op->value_len,
						STORE_VALUE_MAX, "op.value");
		op->lease = store_cmd_get_i64(r, "op.lease");
		break;
	case STORE_OP_DELETE:
		op->range_end = store_cmd_get_bytes(r, &op->range_end_len,
						    STORE_KEY_MAX,
						    "op.range_end");
		break;
	}
}

void store_cmd_clear(struct store_cmd *cmd)
{
	if (cmd == NULL)
		return;
	free(cmd->alloc_);
	memset(cmd, 0, sizeof(*cmd));
}

int store_cmd_decode(const uint8_t *buf, size_t len, struct store_cmd *cmd,
		     char *errmsg)
{
	struct store_cmd_rbuf r = {.p = buf, .len = len, .errmsg = errmsg};
	int rc;

	if (cmd == NULL) {
		store_cmd_err(errmsg, "decode: NULL command");
		return STORE_ERR_INVAL;
	}
	memset(cmd, 0, sizeof(*cmd));
	if (buf == NULL && len > 0) {
		store_cmd_err(errmsg, "decode: NULL buffer");
		return STORE_ERR_MALFORMED;
	}
	unsigned version = (unsigned)store_cmd_get_uint(&r, 1, "version");
	unsigned type = (unsigned)store_cmd_get_uint(&r, 1, "type");
	unsigned reserved = (unsigned)store_cmd_get_uint(&r, 2, "reserved");
	if (r.bad)
		return STORE_ERR_MALFORMED;
	if (version != STORE_CMD_VERSION) {
		store_cmd_err(errmsg, "version: %u, expected %u", version,
			      STORE_CMD_VERSION);
		return STORE_ERR_MALFORMED;
	}
	if (reserved != 0) {
		store_cmd_err(errmsg, "reserved: must be zero");
		return STORE_ERR_MALFORMED;
	}
	if (type < STORE_CMD_PUT || type > STORE_CMD_COMPACT) {
		store_cmd_err(errmsg, "type: unknown %u", type);
		return STORE_ERR_MALFORMED;
	}
	cmd->type = (enum store_cmd_type)type;
	switch (cmd->type) {
	case STORE_CMD_PUT:
	case STORE_CMD_DELETE:
		store_cmd_get_op(&r, &cmd->op);
		break;
	case STORE_CMD_TXN: {
		size_t nc = (size_t)store_cmd_get_uint(&r, 2, "txn.n_compare");
		size_t ns = (size_t)store_cmd_get_uint(&r, 2, "txn.n_success");
		size_t nf = (size_t)store_cmd_get_uint(&r, 2, "txn.n_failure");
		unsigned res = (unsigned)store_cmd_get_uint(&r, 2,
							    "txn.reserved");
		if (r.bad)
			break;
		if (res != 0 || nc > STORE_TXN_MAX_OPS ||
		    ns > STORE_TXN_MAX_OPS || nf > STORE_TXN_MAX_OPS) {
			store_cmd_err(errmsg, "txn: reserved set or more than "
					      "%u entries in a list",
				      STORE_TXN_MAX_OPS);
			r.bad = 1;
			break;
		}
		/* Bounded by STORE_TXN_MAX_OPS above, so no overflow. */
		size_t sz = nc * sizeof(struct store_compare) +
			    (ns + nf) * sizeof(struct store_op);
		cmd->alloc_ = store_calloc(1, sz ? sz : 1);
		if (cmd->alloc_ == NULL) {
			store_cmd_err(errmsg, "decode: out of memory");
			return STORE_ERR_NOMEM;
		}
		cmd->cmps = nc ? cmd->alloc_ : NULL;
		struct store_op *ops =
			(struct store_op *)((char *)cmd->alloc_ +
					    nc * sizeof(struct store_compare));
		cmd->success = ns ? ops : NULL;
		cmd->failure = nf ? ops + ns : NULL;
		cmd->n_cmps = nc;
		cmd->n_success = ns;
		cmd->n_failure = nf;
		for (size_t i = 0; i < nc && !r.bad; i++) {
			struct store_compare *c = &cmd->cmps[i];
			c->target = (enum store_cmp_target)store_cmd_get_uint(
				&r, 1, "compare.target");
			c->result = (enum store_cmp_result)store_cmd_get_uint(
				&r, 1, "compare.result");
			c->key = store_cmd_get_bytes(&r, &c->key_len,
						     STORE_KEY_MAX,
						     "compare.key");
			c->range_end = store_cmd_get_bytes(
				&r, &c->range_end_len, STORE_KEY_MAX,
				"compare.range_end");
			if (c->target == STORE_CMP_VALUE)
				c->value = store_cmd_get_bytes(
					&r, &c->value_len, STORE_VALUE_MAX,
					"compare.value");
			else
				c->operand = store_cmd_get_i64(
					&r, "compare.operand");
		}
		for (size_t i = 0; i < ns && !r.bad; i++)
			store_cmd_get_op(&r, &cmd->success[i]);
		for (size_t i = 0; i < nf && !r.bad; i++)
			store_cmd_get_op(&r, &cmd->failure[i]);
		break;
	}
	case STORE_CMD_LEASE_GRANT:
		cmd->lease_id = store_cmd_get_i64(&r, "lease.id");
		cmd->ttl = store_cmd_get_i64(&r, "lease.ttl");
		break;
	case STORE_CMD_LEASE_REVOKE:
	case STORE_CMD_LEASE_KEEPALIVE:
		cmd->lease_id = store_cmd_get_i64(&r, "lease.id");
		break;
	case STORE_CMD_COMPACT:
		cmd->compact_rev = store_cmd_get_i64(&r, "compact.revision");
		break;
	}
	if (!r.bad && r.off != r.len) {
		/* A command is exactly its fields; extra bytes mean the
		 * sender and we disagree on the layout. */
		store_cmd_err(errmsg, "trailing %zu bytes at offset %zu",
			      r.len - r.off, r.off);
		r.bad = 1;
	}
	if (!r.bad && (rc = store_cmd_check(cmd, errmsg)) != STORE_OK)
		r.bad = 1;
	if (r.bad) {
		store_cmd_clear(cmd);
		return STORE_ERR_MALFORMED;
	}
	return STORE_OK;
}
