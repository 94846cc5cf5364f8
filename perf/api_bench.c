/*
 * api_bench: CPU cost of the API's translation layer on one core, without
 * HTTP, TLS or Raft: what a master spends per request on JSON.
 *   put      decode an etcd /v3/kv/put body and encode the store command
 *   txn      the same for a CAS txn (compare mod_revision, put, range)
 *   range    render a 100-key RangeResponse (base64, int64 strings)
 *   create   validate a Pod create body and prepare the stored object
 *   watch    turn a store PUT event into a Kubernetes watch line through a
 *            label + field selector (decode stored JSON twice, match, dump)
 * Prints operations per second for each. Usage: api_bench [seconds]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_kv.h"
#include "api_rest.h"
#include "store_cmd.h"

static double api_bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define API_BENCH_RUN(name, secs, body)                                        \
	do {                                                                   \
		unsigned long n_ = 0;                                          \
		double t0_ = api_bench_now(), t_;                              \
		do {                                                           \
			for (int i_ = 0; i_ < 256; i_++) {                     \
				body;                                          \
			}                                                      \
			n_ += 256;                                             \
			t_ = api_bench_now() - t0_;                            \
		} while (t_ < (secs));                                         \
		printf("api_bench: %-7s %10.0f ops/s  %6.2f us/op\n", (name),  \
		       (double)n_ / t_, t_ * 1e6 / (double)n_);                \
	} while (0)

static void api_bench_decode(const char *body, enum api_kv_ep ep)
{
	struct api_kv_req req;
	uint8_t *cmd;
	size_t len;
	char msg[STORE_ERRMSG_SIZE];

	if (api_kv_decode(ep, body, strlen(body), &req, NULL) < 0)
		abort();
	if (store_cmd_encode(&req.cmd, &cmd, &len, msg) != STORE_OK)
		abort();
	free(cmd);
	api_kv_req_clear(&req);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	char val[400], put[600];

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || secs <= 0)) {
		printf("usage: api_bench [seconds per case, default 1]\n");
		return argc > 1 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	/* 256 bytes of value, base64 (344 characters), as perf/kvbench. */
	memset(val, 'A', 344);
	val[344] = 0;
	snprintf(put, sizeof(put), "{\"key\":\"a2V5LTAwMDAx\",\"value\":\"%s\"}",
		 val);
	API_BENCH_RUN("put", secs, api_bench_decode(put, API_KV_PUT));

	const char *txn = "{\"compare\":[{\"key\":\"a2V5\",\"target\":\"MOD\","
			  "\"result\":\"EQUAL\",\"mod_revision\":\"42\"}],"
			  "\"success\":[{\"request_put\":{\"key\":\"a2V5\","
			  "\"value\":\"dmFsdWU=\"}}],\"failure\":[{"
			  "\"request_range\":{\"key\":\"a2V5\"}}]}";
	API_BENCH_RUN("txn", secs, api_bench_decode(txn, API_KV_TXN));

	static struct store_kv kvs[100];
	static char keys[100][32];
	for (int i = 0; i < 100; i++) {
		snprintf(keys[i], sizeof(keys[i]), "/registry/x/key-%05d", i);
		kvs[i] = (struct store_kv){
			.key = (const uint8_t *)keys[i],
			.key_len = strlen(keys[i]),
			.value = (const uint8_t *)val, .value_len = 256,
			.create_revision = 10 + i, .mod_revision = 200 + i,
			.version = 3,
		};
	}
	struct store_op_result r = {.type = STORE_OP_RANGE, .kvs = kvs,
				    .n_kvs = 100, .count = 100};
	struct api_kv_req rreq = {.ep = API_KV_RANGE};
	struct api_kv_header h = {.revision = 300, .member_id = 1,
				  .raft_term = 2};
	API_BENCH_RUN("range", secs / 4, {
		json_t *j = api_kv_range_json(&rreq, &r, &h);
		char *s = json_dumps(j, JSON_COMPACT);
		free(s);
		json_decref(j);
	});

	const char *pod = "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":"
			  "{\"name\":\"web-7d4b9c\",\"labels\":{\"app\":\"web\","
			  "\"pod-template-hash\":\"7d4b9c\"}},\"spec\":{"
			  "\"containers\":[{\"name\":\"web\",\"image\":"
			  "\"nginx:1.25\",\"ports\":[{\"containerPort\":80}]}]}}";
	struct api_rest_path p;
	if (api_rest_parse_path("/api/v1/namespaces/default/pods", &p, NULL) < 0)
		abort();
	API_BENCH_RUN("create", secs, {
		json_t *o = api_rest_prepare_create(
			&p, pod, strlen(pod),
			"0d5e4a2c-3b1f-4e8a-9c6d-7f2a1b3c4d5e",
			"2026-01-01T00:00:00Z", NULL);
		size_t len;
		char *s = api_rest_to_store(o, &len);
		free(s);
		json_decref(o);
	});

	struct api_rest_sel *sel;
	struct api_rest_err e;
	if (api_rest_sel_parse("app=web", "spec.nodeName=", &sel, &e) < 0)
		abort();
	struct store_event ev = {
		.type = STORE_EVENT_PUT, .revision = 77,
		.kv = {.value = (const uint8_t *)pod, .value_len = strlen(pod),
		       .version = 2},
		.has_prev = true,
		.prev_kv = {.value = (const uint8_t *)pod,
			    .value_len = strlen(pod), .version = 1},
	};
	API_BENCH_RUN("watch", secs, {
		json_t *line;
		if (api_rest_watch_event(sel, &ev, &line) != 1)
			abort();
		char *s = json_dumps(line, JSON_COMPACT);
		free(s);
		json_decref(line);
	});
	api_rest_sel_free(sel);
	return 0;
}
