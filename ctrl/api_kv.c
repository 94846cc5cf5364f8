/*
 * api_kv: translation between etcd 3.4 grpc-gateway JSON and store
 * requests/results (see api_kv.h).
 *
 * Decoding walks the JSON with a field path (compare[0].target) so every
 * rejection names the field. Byte fields are base64-decoded into buffers
 * the request owns, so the store_op/store_compare pointers stay valid for
 * as long as the request lives. Proto3 semantics apply: an absent field is
 * its zero value (EQUAL, VERSION, 0, false, empty bytes), which is what an
 * etcd client relies on when it omits them.
 */
#include "api_kv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- errors */

void api_kv_errf(struct api_kv_err *err, int grpc, int http, const char *fmt,
		 ...)
{
	va_list ap;

	if (err == NULL)
		return;
	err->grpc = grpc;
	err->http = http;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

void api_kv_err_from_store(int store_err, const char *detail,
			   struct api_kv_err *err)
{
	const char *d = detail && detail[0] ? detail : store_strerror(store_err);

	/* etcd's wording for the errors etcd has (rpctypes/error.go); the
	 * store's own message otherwise, so the field stays named. */
	switch (store_err) {
	case STORE_ERR_COMPACTED:
		api_kv_errf(err, API_KV_GRPC_OUT_OF_RANGE, 400,
			    "etcdserver: mvcc: required revision has been compacted");
		break;
	case STORE_ERR_FUTURE_REV:
		api_kv_errf(err, API_KV_GRPC_OUT_OF_RANGE, 400,
			    "etcdserver: mvcc: required revision is a future revision");
		break;
	case STORE_ERR_NOSPACE:
		api_kv_errf(err, API_KV_GRPC_RESOURCE_EXHAUSTED, 507,
			    "etcdserver: mvcc: database space exceeded");
		break;
	case STORE_ERR_LEASE_NOT_FOUND:
		api_kv_errf(err, API_KV_GRPC_NOT_FOUND, 404,
			    "etcdserver: requested lease not found");
		break;
	case STORE_ERR_LEASE_EXISTS:
		api_kv_errf(err, API_KV_GRPC_FAILED_PRECONDITION, 409,
			    "etcdserver: lease already exists");
		break;
	case STORE_ERR_DUPLICATE_KEY:
		api_kv_errf(err, API_KV_GRPC_INVALID_ARGUMENT, 400,
			    "etcdserver: duplicate key given in txn request");
		break;
	case STORE_ERR_INVAL:
	case STORE_ERR_MALFORMED:
		api_kv_errf(err, API_KV_GRPC_INVALID_ARGUMENT, 400,
			    "etcdserver: %s", d);
		break;
	case STORE_ERR_NOMEM:
		api_kv_errf(err, API_KV_GRPC_RESOURCE_EXHAUSTED, 503,
			    "etcdserver: out of memory");
		break;
	default:
		/* BROKEN, WATCH_*, STALE_INDEX: this replica cannot answer;
		 * another master can. */
		api_kv_errf(err, API_KV_GRPC_UNAVAILABLE, 503,
			    "etcdserver: %s", d);
		break;
	}
}

json_t *api_kv_err_json(const struct api_kv_err *err)
{
	return json_pack("{s:s, s:i, s:s}", "error", err->msg, "code",
			 err->grpc, "message", err->msg);
}

/* ---------------------------------------------------------------- base64 */

static const char api_kv_b64_std[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int api_kv_b64_val(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

int api_kv_b64_decode(const char *in, size_t in_len, uint8_t **out,
		      size_t *out_len)
{
	size_t n = in_len;

	/* Padding is optional (jsonpb tries StdEncoding then URLEncoding and
	 * their Raw variants); when present it must complete a quantum. */
	if (n % 4 == 0 && n > 0 && in[n - 1] == '=') {
		n--;
		if (in[n - 1] == '=')
			n--;
	}
	if (n % 4 == 1)
		return -EINVAL;
	uint8_t *buf = malloc(n / 4 * 3 + 3);
	if (buf == NULL)
		return -ENOMEM;
	size_t o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = api_kv_b64_val(in[i]);
		if (v < 0) {
			free(buf);
			return -EINVAL;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1u;
		}
	}
	/* Leftover bits must be zero, or two texts would decode alike. */
	if (acc != 0) {
		free(buf);
		return -EINVAL;
	}
	*out = buf;
	*out_len = o;
	return 0;
}

char *api_kv_b64_encode(const uint8_t *in, size_t len)
{
	char *s = malloc((len + 2) / 3 * 4 + 1);
	size_t o = 0;

	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		s[o++] = api_kv_b64_std[(v >> 18) & 63];
		s[o++] = api_kv_b64_std[(v >> 12) & 63];
		s[o++] = i + 1 < len ? api_kv_b64_std[(v >> 6) & 63] : '=';
		s[o++] = i + 2 < len ? api_kv_b64_std[v & 63] : '=';
	}
	s[o] = 0;
	return s;
}

/* --------------------------------------------------------------- decoding */

struct api_kv_ctx {
	struct api_kv_req *req;
	struct api_kv_err *err;
	char path[96];
	bool failed;
};

static void api_kv_bad(struct api_kv_ctx *c, const char *field,
		       const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* 400 InvalidArgument naming path.field. */
static void api_kv_bad(struct api_kv_ctx *c, const char *field,
		       const char *fmt, ...)
{
	char reason[200];
	va_list ap;

	if (c->failed)
		return;
	c->failed = true;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	api_kv_errf(c->err, API_KV_GRPC_INVALID_ARGUMENT, 400, "%s%s%s: %s",
		    c->path, c->path[0] && field[0] ? "." : "", field, reason);
}

/* etcd's own argument errors (no field path), 400 InvalidArgument. */
static void api_kv_etcd_bad(struct api_kv_ctx *c, const char *msg)
{
	if (c->failed)
		return;
	c->failed = true;
	api_kv_errf(c->err, API_KV_GRPC_INVALID_ARGUMENT, 400, "%s", msg);
}

static int api_kv_keep(struct api_kv_req *req, void *buf)
{
	if (req->n_bufs_ == req->cap_bufs_) {
		size_t cap = req->cap_bufs_ ? req->cap_bufs_ * 2 : 16;
		void **b = realloc(req->bufs_, cap * sizeof(*b));
		if (b == NULL)
			return -1;
		req->bufs_ = b;
		req->cap_bufs_ = cap;
	}
	req->bufs_[req->n_bufs_++] = buf;
	return 0;
}

static void api_kv_nomem(struct api_kv_ctx *c)
{
	if (c->failed)
		return;
	c->failed = true;
	api_kv_errf(c->err, API_KV_GRPC_RESOURCE_EXHAUSTED, 503,
		    "etcdserver: out of memory");
}

static void *api_kv_alloc(struct api_kv_ctx *c, size_t n)
{
	void *p = c->failed ? NULL : calloc(1, n ? n : 1);
	if (p == NULL || api_kv_keep(c->req, p) < 0) {
		free(p);
		api_kv_nomem(c);
		return NULL;
	}
	return p;
}

/* jsonpb accepts the proto name and the lowerCamelCase JSON name. */
static json_t *api_kv_field(const json_t *obj, const char *name)
{
	json_t *v = json_object_get(obj, name);
	if (v != NULL || strchr(name, '_') == NULL)
		return json_is_null(v) ? NULL : v;
	char camel[64];
	size_t o = 0;
	for (const char *p = name; *p && o + 1 < sizeof(camel); p++) {
		if (*p == '_' && p[1]) {
			p++;
			camel[o++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		} else {
			camel[o++] = *p;
		}
	}
	camel[o] = 0;
	v = json_object_get(obj, camel);
	return json_is_null(v) ? NULL : v;
}

static void api_kv_bytes(struct api_kv_ctx *c, const json_t *obj,
			 const char *name, const uint8_t **p, size_t *n)
{
	json_t *v = c->failed ? NULL : api_kv_field(obj, name);

	*p = NULL;
	*n = 0;
	if (v == NULL)
		return;
	if (!json_is_string(v)) {
		api_kv_bad(c, name, "expected a base64 string");
		return;
	}
	uint8_t *buf;
	size_t len;
	int rc = api_kv_b64_decode(json_string_value(v), json_string_length(v),
				   &buf, &len);
	if (rc == -EINVAL) {
		api_kv_bad(c, name, "illegal base64 data");
		return;
	}
	if (rc < 0 || api_kv_keep(c->req, buf) < 0) {
		if (rc == 0)
			free(buf);
		api_kv_nomem(c);
		return;
	}
	*p = buf;
	*n = len;
}

/* int64: a JSON string of decimal digits (what etcd emits) or an integer. */
static int64_t api_kv_int64(struct api_kv_ctx *c, const json_t *obj,
			    const char *name)
{
	json_t *v = c->failed ? NULL : api_kv_field(obj, name);

	if (v == NULL)
		return 0;
	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (!json_is_string(v)) {
		api_kv_bad(c, name, "expected an int64 (string or integer)");
		return 0;
	}
	const char *s = json_string_value(v);
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (s[0] == 0 || *end != 0 || errno == ERANGE || s[0] == ' ' ||
	    s[0] == '+') {
		api_kv_bad(c, name, "invalid int64 \"%.32s\"", s);
		return 0;
	}
	return (int64_t)x;
}

static bool api_kv_bool(struct api_kv_ctx *c, const json_t *obj,
			const char *name)
{
	json_t *v = c->failed ? NULL : api_kv_field(obj, name);

	if (v == NULL)
		return false;
	if (!json_is_boolean(v)) {
		api_kv_bad(c, name, "expected a boolean");
		return false;
	}
	return json_is_true(v);
}

/* An enum by name or by number; names[i] is value i. */
static int api_kv_enum(struct api_kv_ctx *c, const json_t *obj,
		       const char *name, const char *const *names, int n)
{
	json_t *v = c->failed ? NULL : api_kv_field(obj, name);

	if (v == NULL)
		return 0;
	if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);
		if (x >= 0 && x < n)
			return (int)x;
		api_kv_bad(c, name, "unknown value %lld", (long long)x);
		return 0;
	}
	if (json_is_string(v)) {
		for (int i = 0; i < n; i++)
			if (strcmp(json_string_value(v), names[i]) == 0)
				return i;
		api_kv_bad(c, name, "unknown value \"%.32s\"",
			   json_string_value(v));
		return 0;
	}
	api_kv_bad(c, name, "expected an enum name or number");
	return 0;
}

static const json_t *api_kv_object(struct api_kv_ctx *c, const json_t *obj,
				   const char *name)
{
	json_t *v = c->failed ? NULL : api_kv_field(obj, name);
	if (v != NULL && !json_is_object(v)) {
		api_kv_bad(c, name, "expected an object");
		return NULL;
	}
	return v;
}

static const json_t *api_kv_array(struct api_kv_ctx *c, const json_t *obj,
				  const char *name)
{
	json_t *v = c->failed ? NULL : api_kv_field(obj, name);
	if (v != NULL && !json_is_array(v)) {
		api_kv_bad(c, name, "expected an array");
		return NULL;
	}
	return v;
}

static size_t api_kv_path_push(struct api_kv_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static size_t api_kv_path_push(struct api_kv_ctx *c, const char *fmt, ...)
{
	size_t mark = strlen(c->path);
	va_list ap;

	if (mark && mark + 1 < sizeof(c->path) && fmt[0] != '[')
		c->path[mark] = '.', c->path[mark + 1] = 0;
	size_t at = strlen(c->path);
	va_start(ap, fmt);
	vsnprintf(c->path + at, sizeof(c->path) - at, fmt, ap);
	va_end(ap);
	return mark;
}

static void api_kv_path_pop(struct api_kv_ctx *c, size_t mark)
{
	c->path[mark] = 0;
}

/* etcd rejects an empty key in every request (ErrGRPCEmptyKey). */
static void api_kv_need_key(struct api_kv_ctx *c, size_t key_len)
{
	if (key_len == 0)
		api_kv_etcd_bad(c, "etcdserver: key is not provided");
}

static void api_kv_dec_range(struct api_kv_ctx *c, const json_t *o,
			     struct store_op *op, bool *keys_only, bool in_txn)
{
	static const char *const orders[] = {"NONE", "ASCEND", "DESCEND"};
	static const char *const targets[] = {"KEY", "VERSION", "CREATE",
					      "MOD", "VALUE"};

	op->type = STORE_OP_RANGE;
	api_kv_bytes(c, o, "key", &op->key, &op->key_len);
	api_kv_bytes(c, o, "range_end", &op->range_end, &op->range_end_len);
	op->limit = api_kv_int64(c, o, "limit");
	op->revision = api_kv_int64(c, o, "revision");
	op->count_only = api_kv_bool(c, o, "count_only");
	*keys_only = api_kv_bool(c, o, "keys_only");
	if (!in_txn)
		c->req->serializable = api_kv_bool(c, o, "serializable");
	int order = api_kv_enum(c, o, "sort_order", orders, 3);
	int target = api_kv_enum(c, o, "sort_target", targets, 5);
	static const char *const bounds[] = {
		"min_mod_revision", "max_mod_revision", "min_create_revision",
		"max_create_revision"};
	int64_t b[4];
	bool filtered = false;
	for (size_t i = 0; i < 4; i++) {
		b[i] = api_kv_int64(c, o, bounds[i]);
		filtered |= b[i] != 0;
	}
	/* etcd: a target other than KEY with order NONE sorts ascending. */
	if (order == 0 && target != 0)
		order = 1;
	bool post = filtered || (order != 0 && !(order == 1 && target == 0));
	if (post && in_txn) {
		api_kv_bad(c, filtered ? "min_mod_revision" : "sort_order",
			   "sorting and revision filters are not supported "
			   "inside a txn");
	} else if (post) {
		/* The store returns keys ascending; sorting or filtering
		 * needs the whole range, then the limit (etcd does the same:
		 * the limit applies after sort and filters). */
		struct api_kv_req *req = c->req;
		req->post = true;
		req->sort_order = order;
		req->sort_target = target;
		memcpy(req->rev_bounds, b, sizeof(b));
		req->post_limit = op->limit;
		op->limit = 0;
	}
	if (op->limit < 0 || c->req->post_limit < 0)
		api_kv_bad(c, "limit", "must not be negative");
	if (op->revision < 0)
		api_kv_bad(c, "revision", "must not be negative");
	if (in_txn && op->revision != 0)
		api_kv_bad(c, "revision", "a range inside a txn reads the "
					  "txn's revision; must be 0");
	api_kv_need_key(c, op->key_len);
}

static void api_kv_dec_put(struct api_kv_ctx *c, const json_t *o,
			   struct store_op *op)
{
	op->type = STORE_OP_PUT;
	api_kv_bytes(c, o, "key", &op->key, &op->key_len);
	api_kv_bytes(c, o, "value", &op->value, &op->value_len);
	op->lease = api_kv_int64(c, o, "lease");
	op->prev_kv = api_kv_bool(c, o, "prev_kv");
	if (api_kv_bool(c, o, "ignore_value"))
		api_kv_bad(c, "ignore_value", "not supported");
	if (api_kv_bool(c, o, "ignore_lease"))
		api_kv_bad(c, "ignore_lease", "not supported");
	if (op->lease < 0)
		api_kv_bad(c, "lease", "must not be negative");
	api_kv_need_key(c, op->key_len);
}

static void api_kv_dec_delete(struct api_kv_ctx *c, const json_t *o,
			      struct store_op *op)
{
	op->type = STORE_OP_DELETE;
	api_kv_bytes(c, o, "key", &op->key, &op->key_len);
	api_kv_bytes(c, o, "range_end", &op->range_end, &op->range_end_len);
	op->prev_kv = api_kv_bool(c, o, "prev_kv");
	api_kv_need_key(c, op->key_len);
}

static void api_kv_dec_compare(struct api_kv_ctx *c, const json_t *o,
			       struct store_compare *cmp)
{
	static const char *const results[] = {"EQUAL", "GREATER", "LESS",
					      "NOT_EQUAL"};
	static const char *const targets[] = {"VERSION", "CREATE", "MOD",
					      "VALUE", "LEASE"};
	static const enum store_cmp_result res_map[] = {
		STORE_CMP_EQUAL, STORE_CMP_GREATER, STORE_CMP_LESS,
		STORE_CMP_NOT_EQUAL};
	static const enum store_cmp_target tgt_map[] = {
		STORE_CMP_VERSION, STORE_CMP_CREATE, STORE_CMP_MOD,
		STORE_CMP_VALUE, STORE_CMP_LEASE};

	cmp->result = res_map[api_kv_enum(c, o, "result", results, 4)];
	cmp->target = tgt_map[api_kv_enum(c, o, "target", targets, 5)];
	api_kv_bytes(c, o, "key", &cmp->key, &cmp->key_len);
	api_kv_bytes(c, o, "range_end", &cmp->range_end, &cmp->range_end_len);
	switch (cmp->target) {
	case STORE_CMP_VERSION:
		cmp->operand = api_kv_int64(c, o, "version");
		break;
	case STORE_CMP_CREATE:
		cmp->operand = api_kv_int64(c, o, "create_revision");
		break;
	case STORE_CMP_MOD:
		cmp->operand = api_kv_int64(c, o, "mod_revision");
		break;
	case STORE_CMP_LEASE:
		cmp->operand = api_kv_int64(c, o, "lease");
		break;
	case STORE_CMP_VALUE:
		api_kv_bytes(c, o, "value", &cmp->value, &cmp->value_len);
		break;
	}
	api_kv_need_key(c, cmp->key_len);
}

static void api_kv_dec_ops(struct api_kv_ctx *c, const json_t *root,
			   const char *name, struct store_op **ops, size_t *n,
			   bool *keys_only)
{
	const json_t *arr = api_kv_array(c, root, name);
	size_t i;
	json_t *el;

	*ops = NULL;
	*n = 0;
	if (arr == NULL || json_array_size(arr) == 0)
		return;
	if (json_array_size(arr) > API_KV_MAX_OPS) {
		api_kv_etcd_bad(c, "etcdserver: too many operations in txn "
				   "request");
		return;
	}
	*ops = api_kv_alloc(c, json_array_size(arr) * sizeof(**ops));
	if (*ops == NULL)
		return;
	*n = json_array_size(arr);
	json_array_foreach(arr, i, el) {
		size_t mark = api_kv_path_push(c, "%s[%zu]", name, i);
		const json_t *r;
		if (!json_is_object(el))
			api_kv_bad(c, "", "expected an object");
		else if ((r = api_kv_object(c, el, "request_put")) != NULL) {
			size_t m2 = api_kv_path_push(c, "request_put");
			api_kv_dec_put(c, r, &(*ops)[i]);
			api_kv_path_pop(c, m2);
		} else if ((r = api_kv_object(c, el, "request_range")) != NULL) {
			size_t m2 = api_kv_path_push(c, "request_range");
			api_kv_dec_range(c, r, &(*ops)[i], &keys_only[i], true);
			api_kv_path_pop(c, m2);
		} else if ((r = api_kv_object(c, el,
					      "request_delete_range")) != NULL) {
			size_t m2 = api_kv_path_push(c, "request_delete_range");
			api_kv_dec_delete(c, r, &(*ops)[i]);
			api_kv_path_pop(c, m2);
		} else if (api_kv_field(el, "request_txn") != NULL) {
			api_kv_bad(c, "request_txn", "nested txns are not "
						     "supported");
		} else {
			api_kv_bad(c, "", "expected one of request_put, "
					  "request_range, "
					  "request_delete_range");
		}
		api_kv_path_pop(c, mark);
		if (c->failed)
			return;
	}
}

static void api_kv_dec_txn(struct api_kv_ctx *c, const json_t *root)
{
	struct store_cmd *cmd = &c->req->cmd;
	const json_t *cmps = api_kv_array(c, root, "compare");
	size_t i;
	json_t *el;

	cmd->type = STORE_CMD_TXN;
	if (cmps && json_array_size(cmps) > API_KV_MAX_OPS)
		api_kv_etcd_bad(c, "etcdserver: too many operations in txn "
				   "request");
	if (cmps && json_array_size(cmps) > 0 && !c->failed) {
		cmd->cmps = api_kv_alloc(c, json_array_size(cmps) *
						    sizeof(*cmd->cmps));
		if (cmd->cmps == NULL)
			return;
		cmd->n_cmps = json_array_size(cmps);
		json_array_foreach(cmps, i, el) {
			size_t mark = api_kv_path_push(c, "compare[%zu]", i);
			if (!json_is_object(el))
				api_kv_bad(c, "", "expected an object");
			else
				api_kv_dec_compare(c, el, &cmd->cmps[i]);
			api_kv_path_pop(c, mark);
		}
	}
	const json_t *s = api_kv_array(c, root, "success");
	const json_t *f = api_kv_array(c, root, "failure");
	size_t ns = s ? json_array_size(s) : 0;
	size_t nf = f ? json_array_size(f) : 0;
	c->req->txn_keys_only = api_kv_alloc(c, (ns + nf) * sizeof(bool));
	if (c->req->txn_keys_only == NULL)
		return;
	api_kv_dec_ops(c, root, "success", &cmd->success, &cmd->n_success,
		       c->req->txn_keys_only);
	api_kv_dec_ops(c, root, "failure", &cmd->failure, &cmd->n_failure,
		       c->req->txn_keys_only + ns);
}

static void api_kv_dec_watch(struct api_kv_ctx *c, const json_t *root)
{
	static const char *const filters[] = {"NOPUT", "NODELETE"};
	struct api_kv_req *req = c->req;
	const json_t *cr = api_kv_object(c, root, "create_request");

	if (cr == NULL) {
		if (!c->failed)
			api_kv_bad(c, "create_request", "required (cancel and "
				   "progress requests need a bidirectional "
				   "stream, which HTTP/1.1 cannot carry)");
		return;
	}
	size_t mark = api_kv_path_push(c, "create_request");
	api_kv_bytes(c, cr, "key", &req->watch.key, &req->watch.key_len);
	api_kv_bytes(c, cr, "range_end", &req->watch.range_end,
		     &req->watch.range_end_len);
	req->watch.start_revision = api_kv_int64(c, cr, "start_revision");
	req->watch.prev_kv = api_kv_bool(c, cr, "prev_kv");
	req->watch_progress = api_kv_bool(c, cr, "progress_notify");
	const json_t *fl = api_kv_array(c, cr, "filters");
	size_t i;
	json_t *el;
	if (fl) {
		json_array_foreach(fl, i, el) {
			json_t *wrap = json_pack("{s:O}", "f", el);
			size_t m2 = api_kv_path_push(c, "filters[%zu]", i);
			int v = wrap ? api_kv_enum(c, wrap, "f", filters, 2) : 0;
			api_kv_path_pop(c, m2);
			json_decref(wrap);
			if (v == 0)
				req->watch_no_put = true;
			else
				req->watch_no_delete = true;
		}
	}
	if (req->watch.start_revision < 0)
		api_kv_bad(c, "start_revision", "must not be negative");
	api_kv_need_key(c, req->watch.key_len);
	api_kv_path_pop(c, mark);
}

int api_kv_decode(enum api_kv_ep ep, const char *body, size_t len,
		  struct api_kv_req *req, struct api_kv_err *err)
{
	struct api_kv_ctx c = {.req = req, .err = err};
	json_error_t jerr;
	struct api_kv_err scratch;

	if (err == NULL)
		c.err = &scratch;
	memset(req, 0, sizeof(*req));
	req->ep = ep;
	json_t *root = json_loadb(body ? body : "", body ? len : 0,
				  JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		api_kv_errf(c.err, API_KV_GRPC_INVALID_ARGUMENT, 400,
			    "invalid JSON at line %d column %d: %s", jerr.line,
			    jerr.column, jerr.text);
		return -1;
	}
	if (!json_is_object(root)) {
		api_kv_errf(c.err, API_KV_GRPC_INVALID_ARGUMENT, 400,
			    "request body must be a JSON object");
		json_decref(root);
		return -1;
	}
	switch (ep) {
	case API_KV_PUT:
		req->cmd.type = STORE_CMD_PUT;
		api_kv_dec_put(&c, root, &req->cmd.op);
		break;
	case API_KV_RANGE:
		api_kv_dec_range(&c, root, &req->range, &req->keys_only, false);
		break;
	case API_KV_DELETE:
		req->cmd.type = STORE_CMD_DELETE;
		api_kv_dec_delete(&c, root, &req->cmd.op);
		break;
	case API_KV_TXN:
		api_kv_dec_txn(&c, root);
		break;
	case API_KV_COMPACT:
		req->cmd.type = STORE_CMD_COMPACT;
		req->cmd.compact_rev = api_kv_int64(&c, root, "revision");
		(void)api_kv_bool(&c, root, "physical");
		if (!c.failed && req->cmd.compact_rev <= 0)
			api_kv_bad(&c, "revision", "must be positive");
		break;
	case API_KV_LEASE_GRANT:
		req->cmd.type = STORE_CMD_LEASE_GRANT;
		req->cmd.ttl = api_kv_int64(&c, root, "TTL");
		req->cmd.lease_id = api_kv_int64(&c, root, "ID");
		if (!c.failed && req->cmd.ttl > STORE_LEASE_MAX_TTL)
			api_kv_etcd_bad(&c, "etcdserver: too large lease TTL");
		/* etcd raises a TTL below its minimum (1.5 election
		 * timeouts, 2 s by default) to that minimum. */
		if (req->cmd.ttl < 2)
			req->cmd.ttl = 2;
		if (req->cmd.lease_id < 0)
			api_kv_bad(&c, "ID", "must not be negative");
		break;
	case API_KV_LEASE_REVOKE:
	case API_KV_LEASE_KEEPALIVE:
	case API_KV_LEASE_TTL:
		req->cmd.type = ep == API_KV_LEASE_REVOKE
					? STORE_CMD_LEASE_REVOKE
					: STORE_CMD_LEASE_KEEPALIVE;
		req->cmd.lease_id = api_kv_int64(&c, root, "ID");
		if (ep == API_KV_LEASE_TTL)
			req->lease_keys = api_kv_bool(&c, root, "keys");
		if (!c.failed && req->cmd.lease_id <= 0)
			api_kv_bad(&c, "ID", "must be a positive lease id");
		break;
	case API_KV_WATCH:
		api_kv_dec_watch(&c, root);
		break;
	default:
		api_kv_errf(c.err, API_KV_GRPC_UNIMPLEMENTED, 404,
			    "unknown endpoint");
		c.failed = true;
		break;
	}
	json_decref(root);
	if (c.failed) {
		api_kv_req_clear(req);
		return -1;
	}
	return 0;
}

void api_kv_req_clear(struct api_kv_req *req)
{
	if (req == NULL)
		return;
	for (size_t i = 0; i < req->n_bufs_; i++)
		free(req->bufs_[i]);
	free(req->bufs_);
	memset(req, 0, sizeof(*req));
}

/* --------------------------------------------------------------- encoding */

/* int64 as a JSON string, jsonpb's mapping. Digits and base64 are ASCII,
 * so the strings skip jansson's UTF-8 check (a third of a range's cost). */
static int api_kv_set_i64(json_t *o, const char *name, int64_t v)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%lld", (long long)v);
	return json_object_set_new_nocheck(
		o, name, json_stringn_nocheck(buf, (size_t)n));
}

static int api_kv_set_u64(json_t *o, const char *name, uint64_t v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return json_object_set_new(o, name, json_string(buf));
}

static int api_kv_set_b64(json_t *o, const char *name, const uint8_t *p,
			  size_t n)
{
	char *s = api_kv_b64_encode(p, n);
	if (s == NULL)
		return -1;
	int rc = json_object_set_new_nocheck(o, name,
					     json_stringn_nocheck(s, (n + 2) / 3 * 4));
	free(s);
	return rc;
}

json_t *api_kv_header_json(const struct api_kv_header *h)
{
	json_t *o = json_object();
	int rc = 0;

	if (o == NULL)
		return NULL;
	if (h->cluster_id)
		rc |= api_kv_set_u64(o, "cluster_id", h->cluster_id);
	if (h->member_id)
		rc |= api_kv_set_u64(o, "member_id", h->member_id);
	if (h->revision)
		rc |= api_kv_set_i64(o, "revision", h->revision);
	if (h->raft_term)
		rc |= api_kv_set_u64(o, "raft_term", h->raft_term);
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* A response object holding only "header". */
static json_t *api_kv_with_header(const struct api_kv_header *h)
{
	json_t *hdr = api_kv_header_json(h);
	json_t *o = hdr ? json_object() : NULL;
	if (o == NULL || json_object_set_new(o, "header", hdr)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *api_kv_kv_json(const struct store_kv *kv, bool keys_only)
{
	json_t *o = json_object();
	int rc = 0;

	if (o == NULL)
		return NULL;
	/* etcd (jsonpb without EmitDefaults) leaves zero fields out; the
	 * value is kept even when empty so a reader needs no default. */
	rc |= api_kv_set_b64(o, "key", kv->key, kv->key_len);
	if (kv->create_revision)
		rc |= api_kv_set_i64(o, "create_revision", kv->create_revision);
	if (kv->mod_revision)
		rc |= api_kv_set_i64(o, "mod_revision", kv->mod_revision);
	if (kv->version)
		rc |= api_kv_set_i64(o, "version", kv->version);
	if (!keys_only && kv->version)
		rc |= api_kv_set_b64(o, "value", kv->value, kv->value_len);
	if (kv->lease)
		rc |= api_kv_set_i64(o, "lease", kv->lease);
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int api_kv_set_kvs(json_t *o, const char *name,
			  const struct store_kv *kvs, size_t n, bool keys_only)
{
	json_t *arr = json_array();
	if (arr == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(arr, api_kv_kv_json(&kvs[i],
							      keys_only))) {
			json_decref(arr);
			return -1;
		}
	return json_object_set_new(o, name, arr);
}

/* The body of one op's response (RangeResponse, PutResponse,
 * DeleteRangeResponse) into o, which already has its header. */
static int api_kv_op_fields(json_t *o, const struct store_op_result *r,
			    bool keys_only)
{
	int rc = 0;

	switch (r->type) {
	case STORE_OP_RANGE:
		if (r->n_kvs)
			rc |= api_kv_set_kvs(o, "kvs", r->kvs, r->n_kvs,
					     keys_only);
		if (r->more)
			rc |= json_object_set_new(o, "more", json_true());
		rc |= api_kv_set_i64(o, "count", r->count);
		break;
	case STORE_OP_PUT:
		if (r->n_kvs)
			rc |= json_object_set_new(o, "prev_kv",
						  api_kv_kv_json(&r->kvs[0],
								 false));
		break;
	case STORE_OP_DELETE:
		rc |= api_kv_set_i64(o, "deleted", r->deleted);
		if (r->n_kvs)
			rc |= api_kv_set_kvs(o, "prev_kvs", r->kvs, r->n_kvs,
					     false);
		break;
	}
	return rc ? -1 : 0;
}

static int64_t api_kv_sort_field(const struct store_kv *kv, int target)
{
	switch (target) {
	case 1: return kv->version;
	case 2: return kv->create_revision;
	case 3: return kv->mod_revision;
	default: return 0;
	}
}

static int api_kv_bytes_cmp(const uint8_t *a, size_t an, const uint8_t *b,
			    size_t bn)
{
	int d = memcmp(a, b, an < bn ? an : bn);
	return d ? d : (an > bn) - (an < bn);
}

/* qsort_r comparator; arg is the api_kv_req. Ties keep key order, as
 * etcd's stable sort over a key-ordered range does. */
static int api_kv_kv_cmp(const void *pa, const void *pb, void *arg)
{
	const struct api_kv_req *req = arg;
	const struct store_kv *a = pa, *b = pb;
	int d;

	if (req->sort_target == 4)
		d = api_kv_bytes_cmp(a->value, a->value_len, b->value,
				     b->value_len);
	else if (req->sort_target == 0)
		d = 0;
	else {
		int64_t x = api_kv_sort_field(a, req->sort_target);
		int64_t y = api_kv_sort_field(b, req->sort_target);
		d = (x > y) - (x < y);
	}
	if (req->sort_order == 2)
		d = -d;
	if (d == 0) {
		d = api_kv_bytes_cmp(a->key, a->key_len, b->key, b->key_len);
		if (req->sort_order == 2 && req->sort_target == 0)
			d = -d;
	}
	return d;
}

/* Revision filters, sort and the deferred limit (etcd's order). Reorders
 * r->kvs in place and returns how many to answer with; every kv stays in
 * r, so store_op_result_clear() still frees them all. */
static size_t api_kv_range_post(const struct api_kv_req *req,
				struct store_op_result *r, bool *more)
{
	const int64_t *b = req->rev_bounds;
	size_t n = 0;

	*more = r->more;
	if (!req->post)
		return r->n_kvs;
	for (size_t i = 0; i < r->n_kvs; i++) {
		const struct store_kv *kv = &r->kvs[i];
		if ((b[0] && kv->mod_revision < b[0]) ||
		    (b[1] && kv->mod_revision > b[1]) ||
		    (b[2] && kv->create_revision < b[2]) ||
		    (b[3] && kv->create_revision > b[3]))
			continue;
		struct store_kv t = r->kvs[n];
		r->kvs[n++] = *kv;
		r->kvs[i] = t;
	}
	qsort_r(r->kvs, n, sizeof(*r->kvs), api_kv_kv_cmp, (void *)req);
	*more = false;
	if (req->post_limit > 0 && n > (size_t)req->post_limit) {
		n = (size_t)req->post_limit;
		*more = true;
	}
	return n;
}

json_t *api_kv_range_json(const struct api_kv_req *req,
			  struct store_op_result *r,
			  const struct api_kv_header *h)
{
	bool more;
	size_t n = api_kv_range_post(req, r, &more);
	struct store_op_result view = *r;
	json_t *o = api_kv_with_header(h);

	view.n_kvs = n;
	view.more = more;
	if (o && api_kv_op_fields(o, &view, req->keys_only)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *api_kv_txn_json(const struct api_kv_req *req,
			       const struct store_result *res,
			       const struct api_kv_header *h)
{
	static const char *const names[] = {
		[STORE_OP_RANGE] = "response_range",
		[STORE_OP_PUT] = "response_put",
		[STORE_OP_DELETE] = "response_delete_range"};
	json_t *o = api_kv_with_header(h);
	json_t *arr = o ? json_array() : NULL;
	/* Ops of the failure branch follow the success branch's flags. */
	const bool *ko = req->txn_keys_only;
	size_t base = res->succeeded ? 0 : req->cmd.n_success;
	int rc = 0;

	if (arr == NULL) {
		json_decref(o);
		return NULL;
	}
	rc |= json_object_set_new(o, "succeeded", json_boolean(res->succeeded));
	for (size_t i = 0; i < res->n_ops && !rc; i++) {
		/* Nested responses carry a header with the revision only,
		 * as etcd's applier fills it. */
		struct api_kv_header nh = {.revision = h->revision};
		json_t *inner = api_kv_with_header(&nh);
		json_t *wrap = json_object();
		const struct store_op_result *r = &res->ops[i];
		rc |= inner == NULL || wrap == NULL;
		if (!rc)
			rc |= api_kv_op_fields(inner, r,
					       ko ? ko[base + i] : false);
		if (!rc) {
			rc |= json_object_set_new(wrap, names[r->type], inner);
			inner = NULL;
			rc |= json_array_append_new(arr, wrap);
			wrap = NULL;
		}
		json_decref(inner);
		json_decref(wrap);
	}
	rc |= json_object_set_new(o, "responses", arr);
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *api_kv_result_json(const struct api_kv_req *req,
			   const struct store_result *res,
			   const struct api_kv_header *h)
{
	json_t *o;
	int rc = 0;

	if (req->ep == API_KV_TXN)
		return api_kv_txn_json(req, res, h);
	o = api_kv_with_header(h);
	if (o == NULL)
		return NULL;
	switch (req->ep) {
	case API_KV_PUT:
	case API_KV_DELETE:
		if (res->n_ops == 1)
			rc = api_kv_op_fields(o, &res->ops[0], false);
		else if (req->ep == API_KV_DELETE)
			rc = api_kv_set_i64(o, "deleted", 0);
		break;
	case API_KV_LEASE_GRANT:
		rc |= api_kv_set_i64(o, "ID", res->lease_id);
		rc |= api_kv_set_i64(o, "TTL", res->ttl);
		break;
	case API_KV_LEASE_KEEPALIVE: {
		/* The gateway streams keepalive responses: {"result":...}. */
		rc |= api_kv_set_i64(o, "ID", res->lease_id);
		rc |= api_kv_set_i64(o, "TTL", res->ttl);
		json_t *w = rc ? NULL : json_object();
		if (w == NULL || json_object_set_new(w, "result", o)) {
			json_decref(w);
			if (w == NULL)
				json_decref(o);
			return NULL;
		}
		return w;
	}
	default:
		break;
	}
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *api_kv_lease_ttl_json(const struct api_kv_header *h, int64_t id,
			      int64_t granted_ttl, int64_t ttl,
			      const struct store_kv *keys, size_t n_keys)
{
	json_t *o = api_kv_with_header(h);
	int rc = 0;

	if (o == NULL)
		return NULL;
	rc |= api_kv_set_i64(o, "ID", id);
	rc |= api_kv_set_i64(o, "TTL", ttl);
	rc |= api_kv_set_i64(o, "grantedTTL", granted_ttl);
	if (keys && n_keys) {
		json_t *arr = json_array();
		for (size_t i = 0; arr && i < n_keys; i++) {
			char *s = api_kv_b64_encode(keys[i].key,
						    keys[i].key_len);
			rc |= s == NULL ||
			      json_array_append_new(arr, json_string(s));
			free(s);
		}
		rc |= json_object_set_new(o, "keys", arr);
	}
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *api_kv_event_json(const struct store_event *ev, bool with_prev)
{
	json_t *o = json_object();
	int rc = 0;

	if (o == NULL)
		return NULL;
	if (ev->type == STORE_EVENT_DELETE)
		rc |= json_object_set_new(o, "type", json_string("DELETE"));
	rc |= json_object_set_new(o, "kv", api_kv_kv_json(&ev->kv, false));
	if (with_prev && ev->has_prev)
		rc |= json_object_set_new(o, "prev_kv",
					  api_kv_kv_json(&ev->prev_kv, false));
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}
