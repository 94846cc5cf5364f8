/*
 * fuzz_agent_svc: ctrl/agent_svc.h's decisions on untrusted JSON (Services
 * and Endpoints as the watch stream delivers them, the agent's "services"
 * reply). Input: {"services": {"ns/name": Service}, "endpoints": {...},
 * "reply": {...}}; anything else is fed as all three.
 * Properties: no crash or sanitizer report; every desired service has a
 * k8s/ name of at most 63 bytes, a tcp/udp port 1..65535 and backends
 * with ports 1..65535 in strictly increasing (ip, port) order; the diff of
 * a table against itself is empty; the desired table, written as the
 * agent's "services" reply and read back, is the same table.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <jansson.h>

#include "agent_svc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
	if (!cond)
		abort();
}

static void fuzz_check_service(const char *name, const json_t *d)
{
	size_t i;
	json_t *b;
	uint64_t prev = 0;

	fuzz_check(strlen(name) <= 63 && strncmp(name, AGENT_SVC_PREFIX, 4) == 0);
	json_int_t port = json_integer_value(json_object_get(d, "port"));
	const char *proto = json_string_value(json_object_get(d, "proto"));
	fuzz_check(port >= 1 && port <= 65535 && proto != NULL &&
		   (strcmp(proto, "tcp") == 0 || strcmp(proto, "udp") == 0));
	json_array_foreach(json_object_get(d, "backends"), i, b) {
		struct in_addr a;
		json_int_t bp = json_integer_value(json_object_get(b, "port"));
		fuzz_check(inet_pton(AF_INET, json_string_value(json_object_get(b, "ip")), &a) == 1);
		fuzz_check(bp >= 1 && bp <= 65535);
		uint64_t k = ((uint64_t)ntohl(a.s_addr) << 16) | (uint64_t)bp;
		fuzz_check(i == 0 || k > prev);
		prev = k;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *in = json_loadb((const char *)data, size, 0, NULL);
	if (in == NULL)
		return 0;
	json_t *svcs = json_object_get(in, "services"), *eps = json_object_get(in, "endpoints");
	json_t *reply = json_object_get(in, "reply");
	if (svcs == NULL && eps == NULL && reply == NULL)
		svcs = eps = reply = in;
	json_t *want = agent_svc_desired(svcs, eps);
	fuzz_check(want != NULL);
	const char *name;
	json_t *d;
	json_object_foreach(want, name, d)
		fuzz_check_service(name, d);
	json_t *none = agent_svc_diff(want, want);
	fuzz_check(none != NULL && json_array_size(none) == 0);
	json_decref(none);

	/* Round trip through the agent's reply shape. */
	json_t *list = json_array();
	json_object_foreach(want, name, d) {
		json_t *e = json_deep_copy(d);
		json_object_set_new(e, "name", json_string(name));
		json_array_append_new(list, e);
	}
	json_t *rep = json_pack("{s:b,s:o}", "ok", 1, "services", list);
	json_t *back = agent_svc_programmed(rep);
	fuzz_check(back != NULL && json_equal(back, want));
	json_decref(back);
	json_decref(rep);

	/* The fuzzer's own reply: whatever it holds, the diff is well formed. */
	json_t *prog = agent_svc_programmed(reply);
	if (prog != NULL) {
		json_t *ops = agent_svc_diff(want, prog);
		fuzz_check(ops != NULL);
		json_decref(ops);
		json_decref(prog);
	}
	json_decref(want);
	json_decref(in);
	return 0;
}
