/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's service requests and health checks, without dp (state only)
 * and with real probes on loopback:
 *  1. svc.add / backend.set / services / svc.del through ipc_handle():
 *     every bad field is refused with a reply naming it; backends keep
 *     their ids across a backend.set; weight 0 is kept; the state file
 *     brings everything back (same ids) after a restart.
 *  2. agent_health: a TCP probe against a listening loopback socket is
 *     healthy after `rise` successes, unhealthy after `fall` failures once
 *     the socket is closed; an HTTP probe passes on 200 and fails on 500
 *     (a one-thread responder on loopback).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "agent.h"
#include "agent_health.h"
#include "ipc.h"

static char state_dir[] = "/tmp/test_agent_lb.XXXXXX";
static char state_path[600];

static struct agent *mk_agent(void)
{
	struct agent_params p = { .state_path = state_path, .log = NULL };
	char err[256];
	struct agent *a = agent_create(&p, err, sizeof(err));
	if (a == NULL)
		fail_msg("agent_create: %s", err);
	return a;
}

/* Send req, return the parsed reply (caller decrefs). */
static json_t *req(struct agent *a, const char *r)
{
	char *out = ipc_handle(a, NULL, r, strlen(r));
	json_error_t e;
	json_t *j = json_loads(out, 0, &e);
	free(out);
	assert_non_null(j);
	return j;
}

static int ok(struct agent *a, const char *r)
{
	json_t *j = req(a, r);
	int v = json_is_true(json_object_get(j, "ok"));
	if (!v)
		fprintf(stderr, "  %s -> %s\n", r, json_string_value(json_object_get(j, "detail")));
	json_decref(j);
	return v;
}

/* The reply's "detail" contains needle. */
static void refused(struct agent *a, const char *r, const char *needle)
{
	json_t *j = req(a, r);
	const char *d = json_string_value(json_object_get(j, "detail"));
	assert_false(json_is_true(json_object_get(j, "ok")));
	if (d == NULL || strstr(d, needle) == NULL)
		fail_msg("%s: detail \"%s\" lacks \"%s\"", r, d ? d : "", needle);
	json_decref(j);
}

#define SVC "{\"op\":\"svc.add\",\"name\":\"web\",\"vip\":\"10.96.0.10\",\"port\":80,\"proto\":\"tcp\""

static void test_requests(void **state)
{
	(void)state;
	struct agent *a = mk_agent();

	/* 1. validation, one field at a time */
	refused(a, "{\"op\":\"svc.add\",\"name\":\"web\"}", "name, vip, port, proto");
	refused(a, "{\"op\":\"svc.add\",\"name\":\"web\",\"vip\":\"x\",\"port\":80,\"proto\":\"tcp\"}", "vip");
	refused(a, "{\"op\":\"svc.add\",\"name\":\"web\",\"vip\":\"10.96.0.10\",\"port\":0,\"proto\":\"tcp\"}", "port");
	refused(a, "{\"op\":\"svc.add\",\"name\":\"web\",\"vip\":\"10.96.0.10\",\"port\":80,\"proto\":\"sctp\"}", "proto");
	refused(a, SVC ",\"affinity\":\"cookie\"}", "affinity");
	refused(a, SVC ",\"mode\":\"tunnel\"}", "mode: nat or dsr");
	refused(a, SVC ",\"health\":{\"type\":\"icmp\"}}", "health");
	refused(a, SVC ",\"health\":{\"type\":\"tcp\",\"interval_ms\":10}}", "interval_ms");
	refused(a, SVC ",\"health\":{\"type\":\"tcp\",\"interval_ms\":100,\"timeout_ms\":200}}", "timeout_ms");
	refused(a, SVC ",\"health\":{\"type\":\"http\",\"path\":\"no-slash\"}}", "path");
	refused(a, SVC ",\"health\":{\"type\":\"tcp\",\"fall\":0}}", "fall");
	assert_true(ok(a, SVC ",\"affinity\":\"client_ip\"}"));
	assert_true(ok(a, SVC ",\"affinity\":\"client_ip\"}")); /* retried: same */
	refused(a, SVC "}", "another definition");
	refused(a, "{\"op\":\"svc.add\",\"name\":\"web2\",\"vip\":\"10.96.0.10\",\"port\":80,\"proto\":\"tcp\"}",
		"vip:port/proto");
	assert_true(ok(a, "{\"op\":\"svc.add\",\"name\":\"dns\",\"vip\":\"10.96.0.10\",\"port\":53,\"proto\":\"udp\",\"mode\":\"dsr\"}"));

	refused(a, "{\"op\":\"backend.set\",\"service\":\"nope\",\"backends\":[]}", "no such service");
	refused(a, "{\"op\":\"backend.set\",\"service\":\"web\",\"backends\":[{\"ip\":\"10.77.1.11\",\"port\":0}]}", "port");
	refused(a, "{\"op\":\"backend.set\",\"service\":\"web\",\"backends\":[{\"ip\":\"10.77.1.11\",\"port\":80,\"weight\":70000}]}", "weight");
	refused(a, "{\"op\":\"backend.set\",\"service\":\"web\",\"backends\":[{\"ip\":\"fd00::1\",\"port\":80}]}", "family");
	refused(a, "{\"op\":\"backend.set\",\"service\":\"web\",\"backends\":[{\"ip\":\"10.77.1.11\",\"port\":80},{\"ip\":\"10.77.1.11\",\"port\":80}]}", "twice");
	assert_true(ok(a, "{\"op\":\"backend.set\",\"service\":\"web\",\"backends\":["
			  "{\"ip\":\"10.77.1.11\",\"port\":8080},{\"ip\":\"10.77.1.12\",\"port\":8080,\"weight\":3}]}"));

	/* 2. ids survive a backend.set that keeps the backend */
	json_t *l = req(a, "{\"op\":\"services\"}"), *svcs = json_object_get(l, "services");
	assert_int_equal(json_array_size(svcs), 2);
	json_t *web = json_array_get(svcs, 0);
	assert_string_equal(json_string_value(json_object_get(web, "affinity")), "client_ip");
	assert_string_equal(json_string_value(json_object_get(web, "mode")), "nat");
	assert_string_equal(json_string_value(json_object_get(json_array_get(svcs, 1), "mode")), "dsr");
	json_t *bes = json_object_get(web, "backends");
	assert_int_equal(json_array_size(bes), 2);
	json_int_t id12 = json_integer_value(json_object_get(json_array_get(bes, 1), "id"));
	json_decref(l);
	assert_true(ok(a, "{\"op\":\"backend.set\",\"service\":\"web\",\"backends\":["
			  "{\"ip\":\"10.77.1.12\",\"port\":8080,\"weight\":0},{\"ip\":\"10.77.1.13\",\"port\":8080}]}"));
	l = req(a, "{\"op\":\"services\"}");
	bes = json_object_get(json_array_get(json_object_get(l, "services"), 0), "backends");
	assert_int_equal(json_array_size(bes), 2);
	int seen12 = 0;
	for (size_t i = 0; i < 2; i++) {
		json_t *b = json_array_get(bes, i);
		if (strcmp(json_string_value(json_object_get(b, "ip")), "10.77.1.12") == 0) {
			seen12 = 1;
			assert_int_equal(json_integer_value(json_object_get(b, "id")), id12);
			assert_int_equal(json_integer_value(json_object_get(b, "weight")), 0);
		}
		assert_string_not_equal(json_string_value(json_object_get(b, "ip")), "10.77.1.11");
	}
	assert_true(seen12);
	json_decref(l);

	/* 3. restart: the state file brings it back */
	agent_free(a);
	a = mk_agent();
	l = req(a, "{\"op\":\"services\"}");
	svcs = json_object_get(l, "services");
	assert_int_equal(json_array_size(svcs), 2);
	bes = json_object_get(json_array_get(svcs, 0), "backends");
	assert_int_equal(json_array_size(bes), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(svcs, 1), "mode")), "dsr");
	json_decref(l);
	assert_true(ok(a, "{\"op\":\"svc.del\",\"name\":\"web\"}"));
	refused(a, "{\"op\":\"svc.del\",\"name\":\"web\"}", "no such service");
	l = req(a, "{\"op\":\"services\"}");
	assert_int_equal(json_array_size(json_object_get(l, "services")), 1);
	json_decref(l);
	agent_free(a);
}

/* ---- health checks on loopback ---- */

struct changes {
	int last;
	int n;
};

static void on_change(void *data, uint32_t svc, uint32_t be, int healthy)
{
	struct changes *c = data;
	(void)svc;
	(void)be;
	c->last = healthy;
	c->n++;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Tick until c->n reaches n (or 5 s). */
static void tick_until(struct agent_health *h, struct changes *c, int n)
{
	uint64_t end = now_ms() + 5000;
	while (c->n < n && now_ms() < end) {
		agent_health_tick(h, now_ms());
		usleep(2000);
	}
	assert_int_equal(c->n, n);
}

static int listen_lo(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 64), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &l), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void test_health_tcp(void **state)
{
	(void)state;
	struct changes c = { -1, 0 };
	struct agent_health_params p = { .on_change = on_change, .data = &c };
	struct agent_health *h = agent_health_create(&p);
	struct agent_health_cfg cfg = { .type = AGENT_HEALTH_TCP, .interval_ms = 50,
					.timeout_ms = 40, .fall = 2, .rise = 2 };
	uint16_t port;
	int fd = listen_lo(&port);

	assert_int_equal(agent_health_watch(h, 1, 1, htonl(INADDR_LOOPBACK), 0, &cfg), AGENT_INVAL);
	assert_int_equal(agent_health_watch(h, 1, 1, htonl(INADDR_LOOPBACK), port, &cfg), AGENT_OK);
	assert_int_equal(agent_health_state(h, 1, 1), -1);
	tick_until(h, &c, 1);
	assert_int_equal(c.last, 1);
	assert_int_equal(agent_health_state(h, 1, 1), 1);
	close(fd); /* now refused: unhealthy after 2 failures */
	tick_until(h, &c, 2);
	assert_int_equal(c.last, 0);
	agent_health_unwatch(h, 1, 0);
	assert_int_equal(agent_health_state(h, 1, 1), -1);
	agent_health_free(h);
}

struct http_srv {
	int fd;
	volatile int status;
	volatile int stop;
};

static void *http_main(void *arg)
{
	struct http_srv *s = arg;
	while (!s->stop) {
		int c = accept(s->fd, NULL, NULL);
		char buf[1024], out[128];
		if (c < 0)
			continue;
		(void)!read(c, buf, sizeof(buf));
		int n = snprintf(out, sizeof(out), "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
				 s->status);
		(void)!write(c, out, (size_t)n);
		close(c);
	}
	return NULL;
}

static void test_health_http(void **state)
{
	(void)state;
	struct changes c = { -1, 0 };
	struct agent_health_params p = { .on_change = on_change, .data = &c };
	struct agent_health *h = agent_health_create(&p);
	struct agent_health_cfg cfg = { .type = AGENT_HEALTH_HTTP, .interval_ms = 50,
					.timeout_ms = 45, .fall = 1, .rise = 1, .path = "/healthz" };
	struct http_srv s = { .status = 200 };
	uint16_t port;
	pthread_t t;

	s.fd = listen_lo(&port);
	pthread_create(&t, NULL, http_main, &s);
	assert_int_equal(agent_health_watch(h, 2, 7, htonl(INADDR_LOOPBACK), port, &cfg), AGENT_OK);
	tick_until(h, &c, 1);
	assert_int_equal(c.last, 1);
	s.status = 500;
	tick_until(h, &c, 2);
	assert_int_equal(c.last, 0);
	s.status = 302;
	tick_until(h, &c, 3);
	assert_int_equal(c.last, 1);
	agent_health_free(h);
	s.stop = 1;
	shutdown(s.fd, SHUT_RDWR);
	close(s.fd);
	pthread_join(t, NULL);
}

static void test_health_cfg(void **state)
{
	(void)state;
	char err[128];
	struct agent_health_cfg c = { .type = AGENT_HEALTH_HTTP, .interval_ms = 100, .timeout_ms = 50,
				      .fall = 1, .rise = 1, .path = "/a b" };
	assert_int_equal(agent_health_cfg_check(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "health.path"));
	c.path[2] = '_';
	assert_int_equal(agent_health_cfg_check(&c, err, sizeof(err)), 0);
	c.rise = 101;
	assert_int_equal(agent_health_cfg_check(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "rise"));
	assert_int_equal(agent_health_type_parse("http"), AGENT_HEALTH_HTTP);
	assert_int_equal(agent_health_type_parse("udp"), -1);
}

int main(void)
{
	if (mkdtemp(state_dir) == NULL)
		return 1;
	snprintf(state_path, sizeof(state_path), "%s/agent.json", state_dir);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_health_tcp),
		cmocka_unit_test(test_health_http),
		cmocka_unit_test(test_health_cfg),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(state_path);
	rmdir(state_dir);
	return rc;
}
