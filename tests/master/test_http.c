/*
 * test_http: ctrl/http.c over real TLS on loopback, driven by libcurl.
 *
 * Two servers ("A" and "B") run on one event_base in a loop thread; the
 * test thread is the client. Covered: routing (prefix boundary, longest
 * prefix, 404, 405), decoded path and query, client CN, body limit (413
 * Status), Status objects, keep-alive, asynchronous answers, chunked
 * streams and their close callback, leader forwarding A -> B with the
 * original client's CN, 503 NoLeader, and the handshake refusing clients
 * without a cert or with a cert from another CA, and quiescing (streams
 * end cleanly, no new connections).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <jansson.h>

#include "http.h"
#include "pki.h"

static char g_dir[64], g_other[128];
static char g_ca[160], g_admin_crt[160], g_admin_key[160];
static char g_url_a[64], g_url_b[64];
static struct event_base *g_base;
static struct http_server *g_a, *g_b;
static pthread_t g_loop;
static atomic_int g_leader_mode; /* for A: 1 leader, 0 follower (B leads), -1 none */
static atomic_int g_stream_closed;
static atomic_int g_handler_calls;

/* ---------------------------------------------------------- handlers */

static void h_echo(struct http_req *req, void *arg)
{
	atomic_fetch_add(&g_handler_calls, 1);
	size_t len;
	const uint8_t *body = http_req_body(req, &len);
	const char *x = http_req_query(req, "x");
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:b,s:s}", "server", (const char *)arg,
			      "method", http_req_method_name(req), "path", http_req_path(req),
			      "cn", http_req_client_cn(req), "len", (json_int_t)len,
			      "forwarded", http_req_forwarded(req), "body", (const char *)body);
	if (x != NULL)
		json_object_set_new(o, "x", json_string(x));
	http_reply_json(req, 200, o);
}

static void h_status(struct http_req *req, void *arg)
{
	(void)arg;
	http_reply_status(req, 409, "Conflict", "object %s changed", "x");
}

static void h_later_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	http_reply_raw(arg, 202, NULL, "later", 5);
}

/* answers from a timer, after the handler returned */
static void h_later(struct http_req *req, void *arg)
{
	(void)arg;
	struct timeval tv = { 0, 50000 };
	event_base_once(http_server_base(http_req_server(req)), -1, EV_TIMEOUT, h_later_cb,
			req, &tv);
}

static void stream_closed(struct http_stream *st, void *arg)
{
	(void)st;
	(void)arg;
	atomic_store(&g_stream_closed, 1);
}

struct ticker {
	struct http_stream *st;
	struct event *ev;
	int n;
};

static void stream_closed_ticker(struct http_stream *st, void *arg)
{
	struct ticker *t = arg;
	stream_closed(st, NULL);
	event_free(t->ev);
	free(t);
}

static void ticker_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct ticker *t = arg;
	char line[64];
	int n = snprintf(line, sizeof(line), "{\"n\":%d}\n", t->n++);
	http_stream_write(t->st, line, (size_t)n);
}

/* /stream?n=3: three lines then the end; /stream?forever: a line every
 * 20 ms until the client goes away. */
static void h_stream(struct http_req *req, void *arg)
{
	(void)arg;
	if (http_req_query(req, "forever") != NULL) {
		struct ticker *t = calloc(1, sizeof(*t));
		t->st = http_stream_start(req, 200, NULL, stream_closed_ticker, t);
		assert_non_null(t->st);
		t->ev = event_new(http_server_base(http_req_server(req)), -1, EV_PERSIST,
				  ticker_cb, t);
		struct timeval tv = { 0, 20000 };
		event_add(t->ev, &tv);
		return;
	}
	struct http_stream *st = http_stream_start(req, 200, NULL, stream_closed, NULL);
	assert_non_null(st);
	for (int i = 0; i < 3; i++) {
		json_t *o = json_pack("{s:i}", "n", i);
		assert_int_equal(http_stream_json(st, o), 0);
		json_decref(o);
	}
	http_stream_end(st);
}

static int leader_of_a(void *arg, char *url, size_t len)
{
	(void)arg;
	int mode = atomic_load(&g_leader_mode);
	if (mode == 0)
		snprintf(url, len, "%s", g_url_b);
	return mode == 0 ? 0 : mode;
}

static int leader_is_self(void *arg, char *url, size_t len)
{
	(void)arg;
	(void)url;
	(void)len;
	return 1;
}

static void *loop_main(void *arg)
{
	(void)arg;
	event_base_loop(g_base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

static struct http_server *make_server(const char *name, http_leader_fn leader)
{
	char crt[PATH_MAX], key[PATH_MAX], err[256];
	struct pki_issue_params ip = { .dir = g_dir, .name = name, .kind = PKI_MASTER };
	assert_int_equal(pki_issue(&ip, crt, key, err, sizeof(err)), 0);
	struct http_server_params p = { .base = g_base, .listen = "127.0.0.1:0",
					.ca_file = g_ca, .cert_file = crt, .key_file = key,
					.leader = leader };
	struct http_server *srv = http_server_create(&p, err, sizeof(err));
	assert_non_null(srv);
	const char *tag = strcmp(name, "a") == 0 ? "A" : "B";
	assert_int_equal(http_route(srv, HTTP_GET | HTTP_POST | HTTP_PUT, "/echo", 0, h_echo,
				    (void *)tag), 0);
	assert_int_equal(http_route(srv, HTTP_GET | HTTP_POST | HTTP_PUT | HTTP_DELETE, "/leader",
				    HTTP_ROUTE_LEADER, h_echo, (void *)tag), 0);
	assert_int_equal(http_route(srv, HTTP_GET, "/status", HTTP_ROUTE_EXACT, h_status, NULL), 0);
	assert_int_equal(http_route(srv, HTTP_GET, "/later", 0, h_later, NULL), 0);
	assert_int_equal(http_route(srv, HTTP_GET, "/stream", 0, h_stream, NULL), 0);
	/* same prefix, other methods: allowed; overlapping: refused */
	assert_int_equal(http_route(srv, HTTP_DELETE, "/echo", 0, h_status, NULL), 0);
	assert_int_equal(http_route(srv, HTTP_GET, "/echo", 0, h_echo, NULL), -1);
	return srv;
}

static int group_setup(void **state)
{
	(void)state;
	char err[256];
	snprintf(g_dir, sizeof(g_dir), "/tmp/test_http.XXXXXX");
	assert_non_null(mkdtemp(g_dir));
	snprintf(g_other, sizeof(g_other), "%s/other", g_dir);
	assert_int_equal(pki_init_ca(g_dir, err, sizeof(err)), 0);
	assert_int_equal(pki_init_ca(g_other, err, sizeof(err)), 0);
	struct pki_issue_params adm = { .dir = g_dir, .kind = PKI_ADMIN };
	assert_int_equal(pki_issue(&adm, g_admin_crt, g_admin_key, err, sizeof(err)), 0);
	struct pki_issue_params oadm = { .dir = g_other, .kind = PKI_ADMIN };
	assert_int_equal(pki_issue(&oadm, NULL, NULL, err, sizeof(err)), 0);
	snprintf(g_ca, sizeof(g_ca), "%s/ca.crt", g_dir);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	evthread_use_pthreads();
	g_base = event_base_new();
	g_a = make_server("a", leader_of_a);
	g_b = make_server("b", leader_is_self);
	snprintf(g_url_a, sizeof(g_url_a), "https://127.0.0.1:%u", http_server_port(g_a));
	snprintf(g_url_b, sizeof(g_url_b), "https://127.0.0.1:%u", http_server_port(g_b));
	atomic_store(&g_leader_mode, 1);
	pthread_create(&g_loop, NULL, loop_main, NULL);
	return 0;
}

static void free_servers(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	http_server_free(g_a);
	http_server_free(g_b);
	event_base_loopbreak(g_base);
}

static int group_teardown(void **state)
{
	(void)state;
	/* servers are loop-thread objects: free them there */
	event_base_once(g_base, -1, EV_TIMEOUT, free_servers, NULL, NULL);
	pthread_join(g_loop, NULL);
	event_base_free(g_base);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* ------------------------------------------------------------ client */

struct resp {
	long code;
	char *body;
	size_t len;
	CURLcode rc;
	size_t max; /* abort the transfer after this many bytes (0 = no) */
};

static size_t on_data(char *p, size_t s, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = s * n;
	r->body = realloc(r->body, r->len + len + 1);
	memcpy(r->body + r->len, p, len);
	r->len += len;
	r->body[r->len] = '\0';
	if (r->max != 0 && r->len >= r->max)
		return 0;
	return len;
}

static CURL *client(const char *cert, const char *key)
{
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_CAINFO, g_ca);
	if (cert != NULL) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, key);
	}
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	return c;
}

static void do_req(CURL *c, const char *method, const char *url, const char *body,
		   size_t body_len, struct resp *r)
{
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	r->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->code);
}

static json_t *req_json(const char *method, const char *url, const char *body, long *code)
{
	CURL *c = client(g_admin_crt, g_admin_key);
	struct resp r = { 0 };
	do_req(c, method, url, body, body != NULL ? strlen(body) : 0, &r);
	curl_easy_cleanup(c);
	assert_int_equal(r.rc, CURLE_OK);
	*code = r.code;
	json_error_t je;
	json_t *o = r.body != NULL ? json_loads(r.body, 0, &je) : NULL;
	free(r.body);
	return o;
}

static void assert_status(json_t *o, int code, const char *reason)
{
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "kind")), "Status");
	assert_string_equal(json_string_value(json_object_get(o, "status")), "Failure");
	assert_string_equal(json_string_value(json_object_get(o, "reason")), reason);
	assert_int_equal(json_integer_value(json_object_get(o, "code")), code);
}

/* ------------------------------------------------------------- tests */

static void test_routing(void **state)
{
	(void)state;
	char url[256];
	long code;
	snprintf(url, sizeof(url), "%s/echo/sub%%20dir?x=a%%20b&y", g_url_a);
	json_t *o = req_json("GET", url, NULL, &code);
	assert_int_equal(code, 200);
	assert_string_equal(json_string_value(json_object_get(o, "path")), "/echo/sub dir");
	assert_string_equal(json_string_value(json_object_get(o, "x")), "a b");
	assert_string_equal(json_string_value(json_object_get(o, "cn")), "admin");
	assert_string_equal(json_string_value(json_object_get(o, "server")), "A");
	json_decref(o);

	/* prefix matches only at a '/' boundary */
	snprintf(url, sizeof(url), "%s/echoes", g_url_a);
	o = req_json("GET", url, NULL, &code);
	assert_int_equal(code, 404);
	assert_status(o, 404, "NotFound");
	json_decref(o);

	/* exact route, and a method outside the mask */
	snprintf(url, sizeof(url), "%s/status/x", g_url_a);
	o = req_json("GET", url, NULL, &code);
	assert_int_equal(code, 404);
	json_decref(o);
	snprintf(url, sizeof(url), "%s/status", g_url_a);
	o = req_json("POST", url, "{}", &code);
	assert_int_equal(code, 405);
	assert_status(o, 405, "MethodNotAllowed");
	json_decref(o);
	o = req_json("GET", url, NULL, &code);
	assert_int_equal(code, 409);
	assert_status(o, 409, "Conflict");
	assert_string_equal(json_string_value(json_object_get(o, "message")), "object x changed");
	json_decref(o);

	/* DELETE on /echo goes to the second registration */
	snprintf(url, sizeof(url), "%s/echo", g_url_a);
	o = req_json("DELETE", url, NULL, &code);
	assert_int_equal(code, 409);
	json_decref(o);
}

static void test_body_limit(void **state)
{
	(void)state;
	char url[256];
	snprintf(url, sizeof(url), "%s/echo", g_url_a);
	size_t n = HTTP_BODY_MAX;
	char *big = malloc(n + 2);
	memset(big, 'a', n + 1);
	big[n + 1] = '\0';
	CURL *c = client(g_admin_crt, g_admin_key);
	/* exactly the limit: accepted, every byte delivered */
	struct resp r = { 0 };
	do_req(c, "POST", url, big, n, &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.code, 200);
	json_t *o = json_loads(r.body, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(o, "len")), (json_int_t)n);
	json_decref(o);
	free(r.body);
	/* one byte over: 413 Status, no handler */
	int calls = atomic_load(&g_handler_calls);
	struct resp r2 = { 0 };
	do_req(c, "POST", url, big, n + 1, &r2);
	assert_int_equal(r2.code, 413);
	o = json_loads(r2.body, 0, NULL);
	assert_status(o, 413, "RequestEntityTooLarge");
	json_decref(o);
	free(r2.body);
	assert_int_equal(atomic_load(&g_handler_calls), calls);
	curl_easy_cleanup(c);
	free(big);
}

static void test_keepalive_and_async(void **state)
{
	(void)state;
	char url[256];
	CURL *c = client(g_admin_crt, g_admin_key);
	snprintf(url, sizeof(url), "%s/echo", g_url_a);
	struct resp r = { 0 };
	do_req(c, "GET", url, NULL, 0, &r);
	assert_int_equal(r.code, 200);
	free(r.body);
	snprintf(url, sizeof(url), "%s/later", g_url_a);
	struct resp r2 = { 0 };
	do_req(c, "GET", url, NULL, 0, &r2);
	assert_int_equal(r2.code, 202);
	assert_string_equal(r2.body, "later");
	free(r2.body);
	long conns = -1;
	curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns);
	assert_int_equal(conns, 0); /* the second request reused the connection */
	curl_easy_cleanup(c);
}

static void test_stream(void **state)
{
	(void)state;
	char url[256];
	snprintf(url, sizeof(url), "%s/stream", g_url_a);
	CURL *c = client(g_admin_crt, g_admin_key);
	struct resp r = { 0 };
	do_req(c, "GET", url, NULL, 0, &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.code, 200);
	assert_string_equal(r.body, "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n");
	free(r.body);
	curl_easy_cleanup(c);
	assert_int_equal(atomic_load(&g_stream_closed), 0); /* ended, not closed */

	/* a client that goes away mid-stream: the close callback runs */
	snprintf(url, sizeof(url), "%s/stream?forever", g_url_a);
	c = client(g_admin_crt, g_admin_key);
	struct resp r2 = { .max = 24 };
	do_req(c, "GET", url, NULL, 0, &r2);
	assert_int_equal(r2.rc, CURLE_WRITE_ERROR);
	if (strstr(r2.body, "{\"n\":0}") == NULL)
		fail_msg("stream body: '%s'", r2.body);
	free(r2.body);
	curl_easy_cleanup(c); /* closes the socket */
	for (int i = 0; i < 500 && atomic_load(&g_stream_closed) == 0; i++)
		usleep(10000);
	assert_int_equal(atomic_load(&g_stream_closed), 1);
}

static void test_forwarding(void **state)
{
	(void)state;
	char url[256];
	long code;
	atomic_store(&g_leader_mode, 0); /* A follows, B leads */
	snprintf(url, sizeof(url), "%s/leader/x?x=1", g_url_a);
	json_t *o = req_json("PUT", url, "{\"v\":1}", &code);
	assert_int_equal(code, 200);
	assert_string_equal(json_string_value(json_object_get(o, "server")), "B");
	assert_string_equal(json_string_value(json_object_get(o, "method")), "PUT");
	assert_string_equal(json_string_value(json_object_get(o, "path")), "/leader/x");
	assert_string_equal(json_string_value(json_object_get(o, "x")), "1");
	assert_string_equal(json_string_value(json_object_get(o, "body")), "{\"v\":1}");
	assert_true(json_is_true(json_object_get(o, "forwarded")));
	/* B sees the original client, not A's master cert */
	assert_string_equal(json_string_value(json_object_get(o, "cn")), "admin");
	json_decref(o);

	/* reads forward too, unless serializable */
	snprintf(url, sizeof(url), "%s/leader/x", g_url_a);
	o = req_json("GET", url, NULL, &code);
	assert_string_equal(json_string_value(json_object_get(o, "server")), "B");
	json_decref(o);
	snprintf(url, sizeof(url), "%s/leader/x?consistency=serializable", g_url_a);
	o = req_json("GET", url, NULL, &code);
	assert_string_equal(json_string_value(json_object_get(o, "server")), "A");
	json_decref(o);
	/* routes without the flag are never forwarded */
	snprintf(url, sizeof(url), "%s/echo", g_url_a);
	o = req_json("POST", url, "{}", &code);
	assert_string_equal(json_string_value(json_object_get(o, "server")), "A");
	json_decref(o);

	/* no leader: 503 NoLeader */
	atomic_store(&g_leader_mode, -1);
	snprintf(url, sizeof(url), "%s/leader/x", g_url_a);
	o = req_json("POST", url, "{}", &code);
	assert_int_equal(code, 503);
	assert_status(o, 503, "NoLeader");
	json_decref(o);
	atomic_store(&g_leader_mode, 1);
}

static void test_tls_refuses(void **state)
{
	(void)state;
	char url[256], crt[200], key[200];
	snprintf(url, sizeof(url), "%s/echo", g_url_a);
	int calls = atomic_load(&g_handler_calls);
	/* no client certificate */
	CURL *c = client(NULL, NULL);
	struct resp r = { 0 };
	do_req(c, "GET", url, NULL, 0, &r);
	assert_int_not_equal(r.rc, CURLE_OK);
	assert_int_equal(r.code, 0); /* no HTTP answer at all */
	free(r.body);
	curl_easy_cleanup(c);
	/* a certificate from another cluster's CA */
	snprintf(crt, sizeof(crt), "%s/admin.crt", g_other);
	snprintf(key, sizeof(key), "%s/admin.key", g_other);
	c = client(crt, key);
	struct resp r2 = { 0 };
	do_req(c, "GET", url, NULL, 0, &r2);
	assert_int_not_equal(r2.rc, CURLE_OK);
	assert_int_equal(r2.code, 0);
	free(r2.body);
	curl_easy_cleanup(c);
	/* TLS 1.1 is refused */
	c = client(g_admin_crt, g_admin_key);
	curl_easy_setopt(c, CURLOPT_SSLVERSION,
			 (long)(CURL_SSLVERSION_TLSv1_0 | CURL_SSLVERSION_MAX_TLSv1_1));
	struct resp r3 = { 0 };
	do_req(c, "GET", url, NULL, 0, &r3);
	assert_int_not_equal(r3.rc, CURLE_OK);
	free(r3.body);
	curl_easy_cleanup(c);
	assert_int_equal(atomic_load(&g_handler_calls), calls);
}

static void quiesce_a(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	http_server_quiesce(g_a);
}

/* Last: quiescing A ends its open stream cleanly (final chunk, close
 * callback) and stops accepting connections. */
static void test_quiesce(void **state)
{
	(void)state;
	char url[256];
	atomic_store(&g_stream_closed, 0);
	struct timeval tv = { 0, 300000 };
	assert_int_equal(event_base_once(g_base, -1, EV_TIMEOUT, quiesce_a, NULL, &tv), 0);
	snprintf(url, sizeof(url), "%s/stream?forever", g_url_a);
	CURL *c = client(g_admin_crt, g_admin_key);
	struct resp r = { 0 };
	do_req(c, "GET", url, NULL, 0, &r);
	assert_int_equal(r.rc, CURLE_OK); /* ended by the server, not cut */
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "{\"n\":0}"));
	free(r.body);
	curl_easy_cleanup(c);
	assert_int_equal(atomic_load(&g_stream_closed), 1);
	/* no new connections */
	snprintf(url, sizeof(url), "%s/echo", g_url_a);
	c = client(g_admin_crt, g_admin_key);
	struct resp r2 = { 0 };
	do_req(c, "GET", url, NULL, 0, &r2);
	assert_int_equal(r2.rc, CURLE_COULDNT_CONNECT);
	free(r2.body);
	curl_easy_cleanup(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routing),
		cmocka_unit_test(test_body_limit),
		cmocka_unit_test(test_keepalive_and_async),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_forwarding),
		cmocka_unit_test(test_tls_refuses),
		cmocka_unit_test(test_quiesce),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
