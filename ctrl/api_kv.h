/*
 * api_kv: the etcd v3 grpc-gateway shaped endpoints of the API
 * (docs/api.md "Key-value endpoints"): JSON request -> store request, and
 * store result -> JSON response, with etcd's field names and error codes.
 *
 * The wire format is what etcd 3.4's gateway speaks (jsonpb with the
 * proto's original field names, no default values emitted): keys and
 * values are base64, int64 fields are JSON strings (numbers are accepted on
 * input, as jsonpb does), enums are names ("MOD", "EQUAL") or numbers, and
 * camelCase field names are accepted on input as jsonpb accepts them. A
 * load generator or a linearizability checker therefore drives etcd and
 * sluice with the same bytes.
 *
 * This file is the transport-independent core: pure functions, no I/O, so
 * the unit tests and the fuzz target exercise exactly what the HTTP
 * handlers (api_kv_http.c) run.
 *
 * Errors (STYLE 9): a request that cannot be served yields struct
 * api_kv_err: the gRPC code, the HTTP status and etcd's message
 * ("etcdserver: key is not provided"); api_kv_err_json() renders etcd's
 * gateway error body {"error","code","message"}.
 *
 * Threading: no shared state; any thread.
 */
#ifndef SLUICE_CTRL_API_KV_H
#define SLUICE_CTRL_API_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store.h"
#include "store_cmd.h"
#include "store_watch.h"

/* gRPC status codes used by etcd (google.golang.org/grpc/codes). */
enum api_kv_grpc {
	API_KV_GRPC_OK = 0,
	API_KV_GRPC_INVALID_ARGUMENT = 3,
	API_KV_GRPC_NOT_FOUND = 5,
	API_KV_GRPC_RESOURCE_EXHAUSTED = 8,
	API_KV_GRPC_FAILED_PRECONDITION = 9,
	API_KV_GRPC_OUT_OF_RANGE = 11,
	API_KV_GRPC_UNIMPLEMENTED = 12,
	API_KV_GRPC_INTERNAL = 13,
	API_KV_GRPC_UNAVAILABLE = 14,
};

#define API_KV_ERRMSG_SIZE 320

struct api_kv_err {
	int grpc;  /* enum api_kv_grpc */
	int http;  /* HTTP status to answer with */
	char msg[API_KV_ERRMSG_SIZE];
};

/* The endpoints (path suffix after /v3/). */
enum api_kv_ep {
	API_KV_PUT = 1,          /* kv/put */
	API_KV_RANGE,            /* kv/range */
	API_KV_DELETE,           /* kv/deleterange */
	API_KV_TXN,              /* kv/txn */
	API_KV_COMPACT,          /* kv/compaction */
	API_KV_LEASE_GRANT,      /* lease/grant */
	API_KV_LEASE_REVOKE,     /* lease/revoke (also kv/lease/revoke) */
	API_KV_LEASE_KEEPALIVE,  /* lease/keepalive */
	API_KV_LEASE_TTL,        /* lease/timetolive (also kv/lease/timetolive) */
	API_KV_WATCH,            /* watch */
};

/* Max ops on one txn branch, as the store (etcd: --max-txn-ops 128). */
#define API_KV_MAX_OPS STORE_TXN_MAX_OPS

/*
 * A decoded request. For mutations (PUT, DELETE, TXN, COMPACT, LEASE_*
 * except TTL) `cmd` is ready for store_cmd_encode(), except that a
 * LEASE_GRANT with ID 0 leaves cmd.lease_id 0 for the caller to choose.
 * RANGE fills `range` (and `serializable`); LEASE_TTL fills cmd.lease_id;
 * WATCH fills `watch` (start_revision 0 = from now).
 * Byte pointers point into buffers the request owns.
 */
struct api_kv_req {
	enum api_kv_ep ep;
	struct store_cmd cmd;
	struct store_op range;
	bool serializable;
	bool keys_only;           /* range: omit values */
	/* range: sort other than ascending by key, or revision filters:
	 * the whole range is read and api_kv_range_json() filters, sorts
	 * and applies post_limit (range.limit is then 0). */
	bool post;
	int sort_order;           /* 0 NONE, 1 ASCEND, 2 DESCEND */
	int sort_target;          /* 0 KEY, 1 VERSION, 2 CREATE, 3 MOD, 4 VALUE */
	int64_t rev_bounds[4];    /* min/max mod, min/max create; 0 = none */
	int64_t post_limit;
	bool lease_keys;          /* timetolive: list attached keys */
	struct store_watch_params watch;
	bool watch_progress;      /* watch: progress_notify */
	bool watch_no_put, watch_no_delete; /* watch: filters */
	/* keys_only of each txn op, success then failure branch */
	bool *txn_keys_only;
	void **bufs_;             /* private: owned byte buffers */
	size_t n_bufs_, cap_bufs_;
};

/*
 * Decode a request body for endpoint ep. Returns 0, or -1 with *err set
 * (400 InvalidArgument naming the field, e.g. `compare[0].target: unknown
 * value "MODD"`, or etcd's own message for etcd's own checks). On failure
 * req is cleared. body is borrowed.
 */
int api_kv_decode(enum api_kv_ep ep, const char *body, size_t len,
		  struct api_kv_req *req, struct api_kv_err *err);

/* Free what req owns and zero it; accepts a zeroed request. */
void api_kv_req_clear(struct api_kv_req *req);

/* Response header (etcd's ResponseHeader); zero fields are omitted. */
struct api_kv_header {
	uint64_t cluster_id;
	uint64_t member_id;
	int64_t revision;
	uint64_t raft_term;
};

/* {"header":{...}} fields only, as a new object. NULL on ENOMEM. */
json_t *api_kv_header_json(const struct api_kv_header *h);

/*
 * The response body for an applied mutation (PUT, DELETE, TXN, COMPACT,
 * LEASE_GRANT, LEASE_REVOKE, LEASE_KEEPALIVE) whose result->err is
 * STORE_OK. h->revision should be result->revision. NULL on ENOMEM.
 */
json_t *api_kv_result_json(const struct api_kv_req *req,
			   const struct store_result *res,
			   const struct api_kv_header *h);

/* The RangeResponse for a local read, after req's filters, sort and
 * limit (which reorder r->kvs; r still owns and frees them all). NULL on
 * ENOMEM. */
json_t *api_kv_range_json(const struct api_kv_req *req,
			  struct store_op_result *r,
			  const struct api_kv_header *h);

/* LeaseTimeToLiveResponse: ttl -1 when the lease is not found (etcd).
 * keys may be NULL. NULL on ENOMEM. */
json_t *api_kv_lease_ttl_json(const struct api_kv_header *h, int64_t id,
			      int64_t granted_ttl, int64_t ttl,
			      const struct store_kv *keys, size_t n_keys);

/* One watch event in etcd's mvccpb.Event shape: {"type":"DELETE"?,"kv":{}
 * ,"prev_kv"?}; the PUT type is the proto default and omitted. */
json_t *api_kv_event_json(const struct store_event *ev, bool with_prev);

/* A KeyValue object ({"key","create_revision",...}); NULL on ENOMEM. */
json_t *api_kv_kv_json(const struct store_kv *kv, bool keys_only);

/* Map a store error (store_result.err or a store_range return) and its
 * message to etcd's code, HTTP status and wording. */
void api_kv_err_from_store(int store_err, const char *detail,
			   struct api_kv_err *err);

/* Fill err (grpc code, http status, printf message). */
void api_kv_errf(struct api_kv_err *err, int grpc, int http, const char *fmt,
		 ...) __attribute__((format(printf, 4, 5)));

/* {"error":msg,"code":grpc,"message":msg}. NULL on ENOMEM. */
json_t *api_kv_err_json(const struct api_kv_err *err);

/* Base64 (RFC 4648, standard or URL alphabet, padding optional, as
 * jsonpb accepts): decode into a malloc'ed buffer (*out, *out_len; a
 * zero-length input yields a non-NULL 1-byte buffer). 0, -EINVAL on bad
 * input, -ENOMEM. */
int api_kv_b64_decode(const char *in, size_t in_len, uint8_t **out,
		      size_t *out_len);
/* Standard alphabet with padding; a malloc'ed NUL-terminated string or
 * NULL on ENOMEM. */
char *api_kv_b64_encode(const uint8_t *in, size_t len);

#endif /* SLUICE_CTRL_API_KV_H */
