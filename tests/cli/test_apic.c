/*
 * test_apic: the API client against fake_api.py (HTTPS, client certificates
 * required): requests and Status messages, failover across endpoints (down,
 * 503 NoLeader), TLS failures, watch line splitting across chunk boundaries,
 * malformed watch lines, the stop flag, and config file loading.
 *
 * usage: test_apic PATH/fake_api.py
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "apic.h"
#include "fake_server.h"

static const char *script;
static char certs[256];
static char ca[300], cert[300], key[300];
static struct fake_server good, noleader, compacted, shortwatch;

static int group_setup(void **state)
{
	(void)state;
	static const char *const chunked[] = {"--chunk", "7", NULL};
	static const char *const nl[] = {"--no-leader", NULL};
	static const char *const comp[] = {"--compacted", "50", NULL};
	static const char *const sw[] = {"--watch-seconds", "0.5", NULL};
	fake_certs_dir(certs, sizeof(certs));
	fake_server_start(&good, script, certs, chunked);
	fake_server_start(&noleader, script, certs, nl);
	fake_server_start(&compacted, script, certs, comp);
	fake_server_start(&shortwatch, script, certs, sw);
	snprintf(ca, sizeof(ca), "%s/ca.crt", certs);
	snprintf(cert, sizeof(cert), "%s/admin.crt", certs);
	snprintf(key, sizeof(key), "%s/admin.key", certs);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	fake_server_stop(&good);
	fake_server_stop(&noleader);
	fake_server_stop(&compacted);
	fake_server_stop(&shortwatch);
	fake_rm_rf(certs);
	return 0;
}

static struct apic *client(const char *s1, const char *s2, long timeout_ms)
{
	struct apic_params p = {.ca = ca, .cert = cert, .key = key, .timeout_ms = timeout_ms};
	char err[APIC_ERRMSG_SIZE];
	p.servers[p.n_servers++] = s1;
	if (s2 != NULL)
		p.servers[p.n_servers++] = s2;
	struct apic *c = apic_create(&p, err, sizeof(err));
	if (c == NULL)
		fail_msg("apic_create: %s", err);
	return c;
}

static void create_pod(struct apic *c, const char *name, const char *node)
{
	struct apic_resp r;
	json_t *pod = json_pack("{s:s,s:{s:s,s:{s:s}},s:{s:s}}", "kind", "Pod", "metadata", "name",
				name, "labels", "app", "web", "spec", "nodeName", node);
	assert_int_equal(apic_request(c, "POST", "/api/v1/namespaces/default/pods", pod, &r),
			 APIC_OK);
	assert_int_equal(r.status, 201);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(r.body, "metadata"), "name")), name);
	apic_resp_clear(&r);
	json_decref(pod);
}

static void test_request_and_status(void **state)
{
	(void)state;
	struct apic *c = client(good.url, NULL, 0);
	struct apic_resp r;

	create_pod(c, "req-a", "n1");
	/* Created twice: an answer (status 409), with the Status message. */
	json_t *pod = json_pack("{s:{s:s}}", "metadata", "name", "req-a");
	assert_int_equal(apic_request(c, "POST", "/api/v1/namespaces/default/pods", pod, &r),
			 APIC_OK);
	assert_int_equal(r.status, 409);
	assert_string_equal(r.errmsg, "pods \"req-a\" already exists");
	assert_string_equal(json_string_value(json_object_get(r.body, "reason")),
			    "AlreadyExists");
	apic_resp_clear(&r);
	json_decref(pod);

	assert_int_equal(apic_request(c, "GET", "/api/v1/namespaces/default/pods/req-a", NULL, &r),
			 APIC_OK);
	assert_int_equal(r.status, 200);
	const char *rv = json_string_value(
		json_object_get(json_object_get(r.body, "metadata"), "resourceVersion"));
	assert_non_null(rv);
	apic_resp_clear(&r);

	assert_int_equal(apic_request(c, "GET", "/api/v1/namespaces/default/pods/nope", NULL, &r),
			 APIC_OK);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.errmsg, "pods \"nope\" not found");
	apic_resp_clear(&r);

	/* A server's message reaches errmsg as one line without escapes. */
	assert_int_equal(apic_request(c, "GET", "/_test/nasty", NULL, &r), APIC_OK);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.errmsg, "bad[31m red");
	apic_resp_clear(&r);

	/* A plain-text answer has no JSON body. */
	assert_int_equal(apic_request(c, "GET", "/healthz", NULL, &r), APIC_OK);
	assert_int_equal(r.status, 200);
	assert_null(r.body);
	apic_resp_clear(&r);

	assert_int_equal(apic_request(c, "DELETE", "/api/v1/namespaces/default/pods/req-a", NULL,
				      &r), APIC_OK);
	assert_int_equal(r.status, 200);
	apic_resp_clear(&r);
	assert_string_equal(apic_current_server(c), good.url);

	/* Bad arguments never reach the network. */
	assert_int_equal(apic_request(c, "GET", "no-slash", NULL, &r), APIC_ERR_CONFIG);
	assert_int_equal(apic_request(c, "GET", "/a b", NULL, &r), APIC_ERR_CONFIG);
	assert_int_equal(apic_request(c, "BREW", "/healthz", NULL, &r), APIC_ERR_CONFIG);
	apic_free(c);
}

static void test_failover_first_down(void **state)
{
	(void)state;
	char dead[64];
	struct apic_resp r;
	fake_dead_url(dead, sizeof(dead));
	struct apic *c = client(dead, good.url, 0);

	assert_string_equal(apic_current_server(c), "");
	if (apic_request(c, "GET", "/api/v1/nodes", NULL, &r) != APIC_OK)
		fail_msg("%s", r.errmsg);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(json_object_get(r.body, "kind")), "NodeList");
	assert_string_equal(apic_current_server(c), good.url);
	apic_resp_clear(&r);
	/* The endpoint that answered is tried first from now on. */
	assert_int_equal(apic_request(c, "GET", "/api/v1/nodes", NULL, &r), APIC_OK);
	assert_string_equal(apic_current_server(c), good.url);
	apic_resp_clear(&r);
	apic_free(c);
}

static void test_failover_no_leader(void **state)
{
	(void)state;
	struct apic_resp r;
	struct apic *c = client(noleader.url, good.url, 0);

	assert_int_equal(apic_request(c, "GET", "/api/v1/nodes", NULL, &r), APIC_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(apic_current_server(c), good.url);
	apic_resp_clear(&r);
	apic_free(c);

	/* With nobody else to ask, the 503 is the answer. */
	c = client(noleader.url, NULL, 0);
	assert_int_equal(apic_request(c, "GET", "/api/v1/nodes", NULL, &r), APIC_OK);
	assert_int_equal(r.status, 503);
	assert_non_null(strstr(r.errmsg, "no leader"));
	apic_resp_clear(&r);
	apic_free(c);
}

static void test_all_down(void **state)
{
	(void)state;
	char d1[64], d2[64];
	struct apic_resp r;
	fake_dead_url(d1, sizeof(d1));
	fake_dead_url(d2, sizeof(d2));
	struct apic *c = client(d1, d2, 1000);

	assert_int_equal(apic_request(c, "GET", "/api/v1/nodes", NULL, &r),
			 APIC_ERR_UNREACHABLE);
	assert_null(r.body);
	/* Both endpoints are named in the one-line message. */
	assert_non_null(strstr(r.errmsg, d1));
	assert_non_null(strstr(r.errmsg, d2));
	apic_free(c);
}

static void test_tls_no_client_cert(void **state)
{
	(void)state;
	struct apic_params p = {.ca = ca, .timeout_ms = 3000};
	char err[APIC_ERRMSG_SIZE];
	struct apic_resp r;
	p.servers[p.n_servers++] = good.url;
	struct apic *c = apic_create(&p, err, sizeof(err));
	assert_non_null(c);

	assert_int_equal(apic_request(c, "GET", "/api/v1/nodes", NULL, &r), APIC_ERR_TLS);
	assert_non_null(strstr(r.errmsg, good.url));
	assert_non_null(strstr(r.errmsg, "no client certificate configured"));
	assert_int_equal(apic_watch(c, "/api/v1/pods?watch=1", NULL, NULL, NULL, NULL, err,
				    sizeof(err)), APIC_ERR_CONFIG); /* NULL cb */
	apic_free(c);
}

static void test_tls_untrusted(void **state)
{
	(void)state;
	char rogue_cert[300], rogue_key[300], rogue_ca[300], err[APIC_ERRMSG_SIZE];
	struct apic_resp r;
	snprintf(rogue_cert, sizeof(rogue_cert), "%s/rogue.crt", certs);
	snprintf(rogue_key, sizeof(rogue_key), "%s/rogue.key", certs);
	snprintf(rogue_ca, sizeof(rogue_ca), "%s/rogue-ca.crt", certs);

	/* A client certificate from another CA is refused by the server. */
	struct apic_params p = {.ca = ca, .cert = rogue_cert, .key = rogue_key};
	p.servers[p.n_servers++] = good.url;
	struct apic *c = apic_create(&p, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(apic_request(c, "GET", "/api/v1/nodes", NULL, &r), APIC_ERR_TLS);
	assert_non_null(strstr(r.errmsg, "TLS"));
	apic_free(c);

	/* A server certificate from another CA is refused by us. */
	p.ca = rogue_ca;
	p.cert = cert;
	p.key = key;
	c = apic_create(&p, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(apic_request(c, "GET", "/api/v1/nodes", NULL, &r), APIC_ERR_TLS);
	apic_free(c);

	/* Our own unreadable key file fails alike on every endpoint. */
	p.ca = ca;
	p.key = "/nonexistent/admin.key";
	c = apic_create(&p, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(apic_request(c, "GET", "/api/v1/nodes", NULL, &r), APIC_ERR_TLS);
	apic_free(c);
}

struct collect {
	char names[64][32];
	char types[64][16];
	size_t n, want;
	long code; /* of an ERROR event's Status */
};

static bool collect_cb(void *arg, const char *type, json_t *obj)
{
	struct collect *k = arg;
	const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"),
							     "name"));
	if (k->n < 64) {
		snprintf(k->names[k->n], sizeof(k->names[k->n]), "%s", name ? name : "");
		snprintf(k->types[k->n], sizeof(k->types[k->n]), "%s", type);
	}
	__atomic_add_fetch(&k->n, 1, __ATOMIC_RELEASE); /* read by stopper() */
	if (strcmp(type, "ERROR") == 0) {
		k->code = (long)json_integer_value(json_object_get(obj, "code"));
		return false;
	}
	return k->n < k->want;
}

static void test_watch_split_chunks(void **state)
{
	(void)state;
	struct apic *c = client(good.url, NULL, 0);
	struct apic_resp r;
	char name[32], err[APIC_ERRMSG_SIZE];
	long st;

	/* Remember where the log is, then make 20 events. */
	assert_int_equal(apic_request(c, "GET", "/api/v1/namespaces/default/pods", NULL, &r),
			 APIC_OK);
	const char *rv = json_string_value(
		json_object_get(json_object_get(r.body, "metadata"), "resourceVersion"));
	char path[256];
	snprintf(path, sizeof(path), "/api/v1/namespaces/default/pods?watch=1&resourceVersion=%s",
		 rv);
	apic_resp_clear(&r);
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "w-%02d", i);
		create_pod(c, name, "n2");
	}

	/* The server writes 7-byte chunks: every event crosses many. */
	struct collect k = {.want = 20};
	assert_int_equal(apic_watch(c, path, collect_cb, &k, NULL, &st, err, sizeof(err)),
			 APIC_OK);
	assert_int_equal(st, 200);
	assert_int_equal(k.n, 20);
	for (size_t i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "w-%02zu", i);
		assert_string_equal(k.names[i], name);
		assert_string_equal(k.types[i], "ADDED");
	}
	/* The handle still serves plain requests after a watch. */
	assert_int_equal(apic_request(c, "DELETE", "/api/v1/namespaces/default/pods/w-00", NULL,
				      &r), APIC_OK);
	assert_int_equal(r.status, 200);
	apic_resp_clear(&r);
	apic_free(c);
}

static void test_watch_malformed(void **state)
{
	(void)state;
	struct apic *c = client(good.url, NULL, 0);
	char err[APIC_ERRMSG_SIZE];
	long st;

	struct collect k = {.want = 10};
	assert_int_equal(apic_watch(c, "/_test/badwatch", collect_cb, &k, NULL, &st, err,
				    sizeof(err)), APIC_ERR_PROTOCOL);
	assert_int_equal(k.n, 1); /* the good line came through first */
	assert_non_null(strstr(err, "watch event 2 is not JSON"));

	memset(&k, 0, sizeof(k));
	k.want = 10;
	assert_int_equal(apic_watch(c, "/_test/notobject", collect_cb, &k, NULL, &st, err,
				    sizeof(err)), APIC_ERR_PROTOCOL);
	assert_int_equal(k.n, 0);
	assert_non_null(strstr(err, "\"type\""));

	/* An HTTP error instead of a stream: the Status message, and the code. */
	assert_int_equal(apic_watch(c, "/api/v1/widgets?watch=1", collect_cb, &k, NULL, &st, err,
				    sizeof(err)), APIC_ERR_PROTOCOL);
	assert_int_equal(st, 404);
	assert_non_null(strstr(err, "no such path"));
	apic_free(c);
}

static void test_watch_compacted(void **state)
{
	(void)state;
	struct apic *c = client(compacted.url, NULL, 0);
	char err[APIC_ERRMSG_SIZE];
	long st;
	struct collect k = {.want = 10};
	assert_int_equal(apic_watch(c, "/api/v1/pods?watch=1&resourceVersion=5", collect_cb, &k,
				    NULL, &st, err, sizeof(err)), APIC_OK);
	assert_int_equal(k.n, 1);
	assert_string_equal(k.types[0], "ERROR");
	assert_int_equal(k.code, 410);
	apic_free(c);
}

static void test_watch_failover_no_leader(void **state)
{
	(void)state;
	struct apic *c = client(noleader.url, good.url, 0);
	struct apic *w = client(good.url, NULL, 0);
	char err[APIC_ERRMSG_SIZE];
	long st;

	/* An event that exists before the watch starts, found by revision. */
	struct apic_resp r;
	assert_int_equal(apic_request(w, "GET", "/api/v1/namespaces/default/pods", NULL, &r),
			 APIC_OK);
	char path[256];
	snprintf(path, sizeof(path), "/api/v1/namespaces/default/pods?watch=1&resourceVersion=%s",
		 json_string_value(json_object_get(json_object_get(r.body, "metadata"),
						   "resourceVersion")));
	apic_resp_clear(&r);
	create_pod(w, "nl-a", "n3");

	struct collect k = {.want = 1};
	assert_int_equal(apic_watch(c, path, collect_cb, &k, NULL, &st, err, sizeof(err)),
			 APIC_OK);
	assert_string_equal(k.names[0], "nl-a");
	assert_string_equal(apic_current_server(c), good.url);
	apic_free(c);
	apic_free(w);
}

static volatile int stop_flag;
static struct collect stop_seen;
static char stop_rv[32];

/* Once the watch has delivered an event the stream is up: then stop it. */
static void *stopper(void *arg)
{
	(void)arg;
	struct apic *c = client(good.url, NULL, 0);
	struct apic_resp r;
	json_t *pod = json_pack("{s:{s:s,s:{s:s}}}", "metadata", "name", "stop-a", "labels",
				"app", "stoptest");
	if (apic_request(c, "POST", "/api/v1/namespaces/default/pods", pod, &r) == APIC_OK)
		apic_resp_clear(&r);
	json_decref(pod);
	while (__atomic_load_n(&stop_seen.n, __ATOMIC_ACQUIRE) == 0) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	stop_flag = 1;
	apic_free(c);
	return NULL;
}

static void test_watch_stop(void **state)
{
	(void)state;
	struct apic *c = client(good.url, NULL, 0);
	struct apic_resp r;
	char err[APIC_ERRMSG_SIZE], path[256];
	long st;
	pthread_t t;

	assert_int_equal(apic_request(c, "GET", "/api/v1/pods", NULL, &r), APIC_OK);
	snprintf(stop_rv, sizeof(stop_rv), "%s", json_string_value(json_object_get(
				json_object_get(r.body, "metadata"), "resourceVersion")));
	apic_resp_clear(&r);
	snprintf(path, sizeof(path), "/api/v1/pods?watch=1&resourceVersion=%s&labelSelector=app%%3Dstoptest",
		 stop_rv);
	stop_flag = 0;
	stop_seen.want = 1000;
	assert_int_equal(pthread_create(&t, NULL, stopper, NULL), 0);
	/* Nothing else happens on this label: only the flag ends the watch. */
	assert_int_equal(apic_watch(c, path, collect_cb, &stop_seen, &stop_flag, &st, err,
				    sizeof(err)), APIC_ERR_STOPPED);
	pthread_join(t, NULL);
	assert_int_equal(stop_seen.n, 1);
	assert_string_equal(stop_seen.names[0], "stop-a");
	assert_int_equal(st, 200);
	/* A flag already set: no request at all. */
	assert_int_equal(apic_watch(c, path, collect_cb, &stop_seen, &stop_flag, &st, err,
				    sizeof(err)), APIC_ERR_STOPPED);
	assert_int_equal(stop_seen.n, 1);
	apic_free(c);
}

static void test_watch_no_answer(void **state)
{
	(void)state;
	struct apic *c = client(good.url, NULL, 500);
	char err[APIC_ERRMSG_SIZE];
	long st = -1;
	struct collect k = {.want = 1};
	assert_int_equal(apic_watch(c, "/_test/hang", collect_cb, &k, NULL, &st, err,
				    sizeof(err)), APIC_ERR_UNREACHABLE);
	assert_int_equal(st, 0);
	assert_non_null(strstr(err, "no response within 500 ms"));
	apic_free(c);
}

static long server_connections(struct apic *c)
{
	struct apic_resp r;
	assert_int_equal(apic_request(c, "GET", "/_test/conns", NULL, &r), APIC_OK);
	long n = (long)json_integer_value(json_object_get(r.body, "connections"));
	apic_resp_clear(&r);
	return n;
}

/* Consecutive requests share one TLS connection (keep-alive). */
static void test_keepalive(void **state)
{
	(void)state;
	struct apic *c = client(good.url, NULL, 0);
	struct apic_resp r;
	long before = server_connections(c);
	for (int i = 0; i < 5; i++) {
		json_t *pod = i % 2 ? NULL : json_pack("{s:{s:s}}", "metadata", "name", "ka");
		assert_int_equal(apic_request(c, i % 2 ? "GET" : "POST",
					      "/api/v1/namespaces/default/pods", pod, &r),
				 APIC_OK);
		apic_resp_clear(&r);
		json_decref(pod);
	}
	assert_int_equal(server_connections(c), before);
	apic_free(c);
	/* A second client is a second connection: the counter does count. */
	c = client(good.url, NULL, 0);
	assert_int_equal(server_connections(c), before + 1);
	apic_free(c);
}

/* A server that accepts and never answers costs one timeout. */
static void test_request_timeout(void **state)
{
	(void)state;
	struct apic *c = client(good.url, NULL, 500);
	struct apic_resp r;
	assert_int_equal(apic_request(c, "GET", "/_test/hang", NULL, &r), APIC_ERR_UNREACHABLE);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.errmsg, good.url));
	assert_non_null(strstr(r.errmsg, "timed out"));
	apic_free(c);
}

/* A stream the server ends is an error the caller resumes from. */
static void test_watch_closed_by_server(void **state)
{
	(void)state;
	struct apic *c = client(shortwatch.url, NULL, 0);
	char err[APIC_ERRMSG_SIZE];
	long st;
	struct collect k = {.want = 10};
	assert_int_equal(apic_watch(c, "/api/v1/pods?watch=1", collect_cb, &k, NULL, &st, err,
				    sizeof(err)), APIC_ERR_UNREACHABLE);
	assert_int_equal(st, 200);
	assert_int_equal(k.n, 0);
	assert_non_null(strstr(err, "closed by the server"));
	assert_string_equal(apic_current_server(c), shortwatch.url);
	apic_free(c);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_config(void **state)
{
	(void)state;
	struct apic_config cfg;
	struct apic_params p = {.timeout_ms = 1234};
	char path[400], err[APIC_ERRMSG_SIZE], expect[400];
	snprintf(path, sizeof(path), "%s/admin.conf", certs);

	char text[1024];
	snprintf(text, sizeof(text),
		 "{\"servers\":[\"%s\",\"https://127.0.0.1:9/\"],\"ca\":\"ca.crt\","
		 "\"cert\":\"admin.crt\",\"key\":\"%s\"}", good.url, key);
	write_file(path, text);
	assert_int_equal(apic_config_load(path, &cfg, err, sizeof(err)), APIC_OK);
	assert_int_equal(cfg.n_servers, 2);
	snprintf(expect, sizeof(expect), "%s/ca.crt", certs);
	assert_string_equal(cfg.ca, expect); /* relative to the file */
	assert_string_equal(cfg.key, key);   /* absolute stays */
	apic_config_params(&cfg, &p);
	assert_int_equal(p.n_servers, 2);
	assert_int_equal(p.timeout_ms, 1234);
	assert_null(p.servers[2]);
	struct apic *c = apic_create(&p, err, sizeof(err));
	assert_non_null(c);
	struct apic_resp r;
	assert_int_equal(apic_request(c, "GET", "/healthz", NULL, &r), APIC_OK);
	assert_int_equal(r.status, 200);
	apic_free(c);

	static const struct {
		const char *text, *needle;
	} bad[] = {
		{"{\"servers\":[]}", "\"servers\""},
		{"{\"ca\":\"x\"}", "\"servers\""},
		{"{\"servers\":[1]}", "\"servers\"[0]"},
		{"{\"servers\":[\"http://127.0.0.1:1\"]}", "https://"},
		{"{\"servers\":[\"https://a\"],\"ca\":7}", "\"ca\""},
		{"{\"servers\":[\"https://a\"],\"cert\":\"c\"}", "together"},
		{"{\"servers\":[\"https://a\"],", "admin.conf:1:"},
		{"[1,2]", "not a JSON object"},
		{"{\"servers\":\"https://a\",\"servers\":\"https://b\"}", "duplicate"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(path, bad[i].text);
		err[0] = '\0';
		assert_int_equal(apic_config_load(path, &cfg, err, sizeof(err)), APIC_ERR_CONFIG);
		if (strstr(err, bad[i].needle) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, bad[i].needle);
	}
	/* One server as a string is accepted. */
	write_file(path, "{\"servers\":\"https://127.0.0.1:1\"}");
	assert_int_equal(apic_config_load(path, &cfg, err, sizeof(err)), APIC_OK);
	assert_int_equal(cfg.n_servers, 1);
	assert_int_equal(apic_config_load("/nonexistent/x.conf", &cfg, err, sizeof(err)),
			 APIC_ERR_CONFIG);
	assert_non_null(strstr(err, "/nonexistent/x.conf"));

	/* apic_create checks what it is given. */
	struct apic_params q = {0};
	assert_null(apic_create(&q, err, sizeof(err)));
	q.servers[q.n_servers++] = "ftp://x";
	assert_null(apic_create(&q, err, sizeof(err)));
	assert_non_null(strstr(err, "https://"));
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH/fake_api.py\n", argv[0]);
		return 2;
	}
	script = argv[1];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_and_status),
		cmocka_unit_test(test_failover_first_down),
		cmocka_unit_test(test_failover_no_leader),
		cmocka_unit_test(test_all_down),
		cmocka_unit_test(test_tls_no_client_cert),
		cmocka_unit_test(test_tls_untrusted),
		cmocka_unit_test(test_watch_split_chunks),
		cmocka_unit_test(test_watch_malformed),
		cmocka_unit_test(test_watch_compacted),
		cmocka_unit_test(test_watch_failover_no_leader),
		cmocka_unit_test(test_watch_stop),
		cmocka_unit_test(test_watch_no_answer),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_request_timeout),
		cmocka_unit_test(test_watch_closed_by_server),
		cmocka_unit_test(test_config),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
