/*
 * fuzz_api_kv: the etcd-gateway request decoders on untrusted bytes.
 * Input: byte 0 picks the endpoint (mod 10), the rest is the JSON body.
 * Properties: no crash or sanitizer report; a rejection carries a 4xx/5xx
 * status, a gRPC code and a message; an accepted mutation encodes to a
 * store command (or is refused by the codec's limits with a message) that
 * applies to a store with some state without breaking it, and its result
 * renders to JSON; an accepted range reads and renders.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api_kv.h"
#include "store.h"
#include "store_cmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
	if (!cond)
		abort();
}

static void fuzz_apply(struct store *s, const struct api_kv_req *req)
{
	uint8_t *cmd;
	size_t len;
	char msg[STORE_ERRMSG_SIZE];
	struct store_result res = {0};

	if (store_cmd_encode(&req->cmd, &cmd, &len, msg) != STORE_OK) {
		fuzz_check(msg[0] != 0);
		return;
	}
	store_apply(s, 0, cmd, len, &res);
	free(cmd);
	fuzz_check(res.err != STORE_ERR_BROKEN);
	struct api_kv_header h = {.revision = res.revision};
	json_t *out;
	if (res.err == STORE_OK) {
		out = api_kv_result_json(req, &res, &h);
	} else {
		struct api_kv_err e;
		api_kv_err_from_store(res.err, res.errmsg, &e);
		fuzz_check(e.http >= 400 && e.msg[0]);
		out = api_kv_err_json(&e);
	}
	fuzz_check(out != NULL);
	json_decref(out);
	store_result_clear(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	enum api_kv_ep ep = (enum api_kv_ep)(data[0] % 10 + 1);
	struct api_kv_req req;
	struct api_kv_err err;
	if (api_kv_decode(ep, (const char *)data + 1, size - 1, &req, &err) <
	    0) {
		fuzz_check(err.http >= 400 && err.http < 600);
		fuzz_check(err.grpc > 0 && err.msg[0] != 0);
		return 0;
	}
	struct store_params sp = {.quota_bytes = 1u << 20};
	struct store *s = store_create(&sp);
	fuzz_check(s != NULL);
	/* Some state: keys a, b (on lease 7), history to compact. */
	static const char *const seed[] = {
		"{\"key\":\"YQ==\",\"value\":\"MQ==\"}",
		"{\"key\":\"Yg==\",\"value\":\"Mg==\",\"lease\":\"7\"}",
		"{\"key\":\"YQ==\",\"value\":\"Mw==\"}",
	};
	struct api_kv_req grant;
	if (api_kv_decode(API_KV_LEASE_GRANT, "{\"ID\":7,\"TTL\":60}", 18,
			  &grant, NULL) == 0) {
		fuzz_apply(s, &grant);
		api_kv_req_clear(&grant);
	}
	for (size_t i = 0; i < 3; i++) {
		struct api_kv_req put;
		fuzz_check(api_kv_decode(API_KV_PUT, seed[i], strlen(seed[i]),
					 &put, NULL) == 0);
		fuzz_apply(s, &put);
		api_kv_req_clear(&put);
	}
	if (ep == API_KV_RANGE) {
		struct store_op_result r;
		if (store_range(s, &req.range, &r) == STORE_OK) {
			struct api_kv_header h = {.revision = store_revision(s)};
			json_t *out = api_kv_range_json(&req, &r, &h);
			fuzz_check(out != NULL);
			json_decref(out);
			store_op_result_clear(&r);
		}
	} else if (ep != API_KV_WATCH && ep != API_KV_LEASE_TTL) {
		if (ep == API_KV_LEASE_GRANT && req.cmd.lease_id == 0)
			req.cmd.lease_id = 9;
		fuzz_apply(s, &req);
	}
	store_free(s);
	api_kv_req_clear(&req);
	return 0;
}
