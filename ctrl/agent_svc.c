/*
 * agent_svc: Services and Endpoints into the agent's service table
 * (ctrl/agent_svc.h).
 *
 * The thread is a level-triggered reconciler: any informer change marks
 * the table dirty, and a pass recomputes the whole desired table from the
 * two caches and diffs it against what it last programmed. That costs
 * O(services) JSON work per burst of events, which is nothing next to the
 * fsync every agent change costs, and it cannot miss an edge (an Endpoints
 * object arriving before its Service, a Service changing its ports). The
 * changes of one pass go to the agent as one "batch", so the agent writes
 * its state file once per pass.
 */

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>

#include <sluice/errmsg.h>

#include "agent_svc.h"
#include "informer.h"

#define AS_DRAIN_MS 200
#define AS_RETRY_MS 2000
#define AS_NAME_MAX 63

struct agent_svc {
	struct agent_svc_params p;
	struct informer_queue *q;
	struct informer *svc_inf, *ep_inf;
	pthread_t th;
	int started;
	volatile int stop;
	/* Thread only. */
	json_t *programmed; /* NULL: unknown, read it back from the agent */
	int dirty, errors_logged;
};

static void as_logf(struct agent_svc *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void as_logf(struct agent_svc *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (s->p.log != NULL)
		s->p.log(s->p.log_data, line);
	else
		fprintf(stderr, "%s\n", line);
}

static uint64_t as_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- pure helpers ------------------------------------------------------ */

void agent_svc_name(const char *ns, const char *name, long port, const char *proto, char *out,
		    size_t cap)
{
	agent_svc_ext_name(ns, name, NULL, port, proto, out, cap);
}

void agent_svc_ext_name(const char *ns, const char *name, const char *ext_ip, long port,
			const char *proto, char *out, size_t cap)
{
	char full[600];
	int n = snprintf(full, sizeof(full), AGENT_SVC_PREFIX "%s/%s%s%s:%ld/%s", ns, name,
			 ext_ip ? "@" : "", ext_ip ? ext_ip : "", port, proto);
	if (n >= 0 && (size_t)n <= AS_NAME_MAX) {
		snprintf(out, cap, "%s", full);
		return;
	}
	/* Kubernetes allows 63-byte namespaces and names, the agent 63-byte
	 * service names: keep a readable head, make the tail unique. */
	uint32_t h = 2166136261u;
	for (const char *c = full; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	snprintf(out, cap, "%.54s~%08x", full, h);
}

static const char *as_str(const json_t *o, const char *k, const char *dflt)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : dflt;
}

/* "TCP" -> "tcp", "UDP" -> "udp", anything else (SCTP) NULL. */
static const char *as_proto(const char *p)
{
	if (strcmp(p, "TCP") == 0)
		return "tcp";
	if (strcmp(p, "UDP") == 0)
		return "udp";
	return NULL;
}

struct as_be {
	uint32_t ip; /* host order, for sorting */
	char text[INET_ADDRSTRLEN];
	long port;
	long weight;
};

static int as_be_cmp(const void *a, const void *b)
{
	const struct as_be *x = a, *y = b;
	if (x->ip != y->ip)
		return x->ip < y->ip ? -1 : 1;
	return (x->port > y->port) - (x->port < y->port);
}

/* Sort and deduplicate v[0..n), then as a JSON array. */
static json_t *as_be_json(struct as_be *v, size_t n)
{
	json_t *arr = json_array();
	if (arr == NULL)
		return NULL;
	if (n > 0)
		qsort(v, n, sizeof(*v), as_be_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && as_be_cmp(&v[i - 1], &v[i]) == 0)
			continue;
		if (json_array_append_new(arr, json_pack("{s:s,s:I,s:I}", "ip", v[i].text, "port",
							 (json_int_t)v[i].port, "weight",
							 (json_int_t)v[i].weight)) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static int as_be_push(struct as_be **v, size_t *n, size_t *cap, const char *ip, long port, long weight)
{
	struct in_addr a;
	if (ip == NULL || inet_pton(AF_INET, ip, &a) != 1 || port < 1 || port > 65535)
		return 0; /* not an IPv4 endpoint: dp's LB is IPv4 */
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct as_be *nv = realloc(*v, nc * sizeof(**v));
		if (nv == NULL)
			return -1;
		*v = nv;
		*cap = nc;
	}
	struct as_be *b = &(*v)[(*n)++];
	b->ip = ntohl(a.s_addr);
	snprintf(b->text, sizeof(b->text), "%s", ip);
	b->port = port;
	b->weight = weight;
	return 0;
}

/* Ready backends of one Service port (name pname, protocol P) in ep. */
static json_t *as_backends(const json_t *ep, const char *pname, const char *proto_up)
{
	struct as_be *v = NULL;
	size_t n = 0, cap = 0, i, j, k;
	json_t *sub, *port, *addr;

	json_array_foreach(json_object_get(ep, "subsets"), i, sub) {
		json_array_foreach(json_object_get(sub, "ports"), j, port) {
			if (strcmp(as_str(port, "name", ""), pname) != 0 ||
			    strcmp(as_str(port, "protocol", "TCP"), proto_up) != 0)
				continue;
			long pn = (long)json_integer_value(json_object_get(port, "port"));
			json_array_foreach(json_object_get(sub, "addresses"), k, addr) {
				if (as_be_push(&v, &n, &cap, as_str(addr, "ip", NULL), pn, 1) != 0) {
					free(v);
					return NULL;
				}
			}
		}
	}
	json_t *out = as_be_json(v, n);
	free(v);
	return out;
}

/* Add the agent service name -> {vip, port, proto, affinity, [health],
 * backends (a copy of bes)} to out. 0, or -1 on out of memory. */
static int as_put(json_t *out, const char *name, const char *vip, long pn, const char *proto,
		  const char *aff, const char *mode, const char *health, json_t *bes)
{
	json_t *d = json_pack("{s:s,s:I,s:s,s:s,s:s,s:O}", "vip", vip, "port", (json_int_t)pn,
			      "proto", proto, "affinity", aff, "mode", mode, "backends", bes);
	if (d != NULL && health != NULL && json_object_set_new(d, "health", json_string(health)) != 0) {
		json_decref(d);
		return -1;
	}
	return d == NULL || json_object_set_new(out, name, d) != 0 ? -1 : 0;
}

json_t *agent_svc_desired(const json_t *services, const json_t *endpoints)
{
	json_t *out = json_object(), *svc, *port, *xip;
	const char *key;
	char name[AS_NAME_MAX + 1];
	size_t i, j;

	if (out == NULL)
		return NULL;
	json_object_foreach((json_t *)services, key, svc) {
		const json_t *meta = json_object_get(svc, "metadata");
		const json_t *spec = json_object_get(svc, "spec");
		const char *ns = as_str(meta, "namespace", "default");
		const char *sname = as_str(meta, "name", NULL);
		const char *vip = as_str(spec, "clusterIP", "");
		struct in_addr a;
		if (sname == NULL || inet_pton(AF_INET, vip, &a) != 1)
			continue; /* headless, unallocated or IPv6: nothing to program */
		const char *aff = strcmp(as_str(spec, "sessionAffinity", "None"), "ClientIP") == 0
					  ? "client_ip" : "none";
		/* docs/lb.md "DSR": opted into per Service by annotation */
		const char *mode = strcmp(as_str(json_object_get(meta, "annotations"),
						 AGENT_SVC_MODE_ANNOTATION, "nat"), "dsr") == 0
					   ? "dsr" : "nat";
		const json_t *ep = json_object_get(endpoints, key);
		const char *hc = as_str(json_object_get(meta, "annotations"), AGENT_SVC_HEALTH_ANN, "");
		const char *health = strcmp(hc, "tcp") == 0 ? "tcp" : NULL;
		json_array_foreach(json_object_get(spec, "ports"), i, port) {
			const char *up = as_str(port, "protocol", "TCP");
			const char *proto = as_proto(up);
			long pn = (long)json_integer_value(json_object_get(port, "port"));
			if (proto == NULL || pn < 1 || pn > 65535)
				continue;
			json_t *bes = ep ? as_backends(ep, as_str(port, "name", ""), up) : json_array();
			if (bes == NULL)
				goto nomem;
			agent_svc_name(ns, sname, pn, proto, name, sizeof(name));
			int rc = as_put(out, name, vip, pn, proto, aff, mode, health, bes);
			/* The same port on each external IP, with the same backends. */
			json_array_foreach(json_object_get(spec, "externalIPs"), j, xip) {
				const char *x = json_string_value(xip);
				if (rc != 0 || x == NULL || inet_pton(AF_INET, x, &a) != 1 ||
				    strcmp(x, vip) == 0)
					continue;
				agent_svc_ext_name(ns, sname, x, pn, proto, name, sizeof(name));
				rc = as_put(out, name, x, pn, proto, aff, mode, health, bes);
			}
			json_decref(bes);
			if (rc != 0)
				goto nomem;
		}
	}
	return out;
nomem:
	json_decref(out);
	return NULL;
}

json_t *agent_svc_programmed(const json_t *rep)
{
	json_t *out, *svc, *be;
	size_t i, j;

	if (!json_is_true(json_object_get(rep, "ok")) || !json_is_array(json_object_get(rep, "services")))
		return NULL;
	if ((out = json_object()) == NULL)
		return NULL;
	json_array_foreach(json_object_get(rep, "services"), i, svc) {
		const char *name = as_str(svc, "name", "");
		if (strncmp(name, AGENT_SVC_PREFIX, strlen(AGENT_SVC_PREFIX)) != 0)
			continue; /* someone else's (the CLI, a test): never ours to touch */
		struct as_be *v = NULL;
		size_t n = 0, cap = 0;
		int bad = 0;
		json_array_foreach(json_object_get(svc, "backends"), j, be) {
			json_t *w = json_object_get(be, "weight");
			if (as_be_push(&v, &n, &cap, as_str(be, "ip", NULL),
				       (long)json_integer_value(json_object_get(be, "port")),
				       w ? (long)json_integer_value(w) : 1) != 0)
				bad = 1;
		}
		json_t *bes = bad ? NULL : as_be_json(v, n);
		free(v);
		const char *hc = as_str(json_object_get(svc, "health"), "type", "none");
		int rc = bes == NULL ||
			 as_put(out, name, as_str(svc, "vip", ""),
				(long)json_integer_value(json_object_get(svc, "port")),
				as_str(svc, "proto", ""), as_str(svc, "affinity", "none"),
				as_str(svc, "mode", "nat"), strcmp(hc, "none") != 0 ? hc : NULL,
				bes) != 0;
		json_decref(bes);
		if (rc) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* Same VIP, port, protocol, affinity and mode: the service itself can stay. */
static int as_same_def(const json_t *a, const json_t *b)
{
	static const char *const k[] = {"vip", "port", "proto", "affinity", "mode", "health"};
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		json_t *x = json_object_get(a, k[i]), *y = json_object_get(b, k[i]);
		if ((x != NULL || y != NULL) && !json_equal(x, y)) /* json_equal(NULL, NULL) is 0 */
			return 0;
	}
	return 1;
}

json_t *agent_svc_diff(const json_t *desired, const json_t *programmed)
{
	json_t *ops = json_array(), *d, *have;
	const char *name;
	int rc = ops == NULL;

	json_object_foreach((json_t *)programmed, name, have) {
		d = json_object_get(desired, name);
		if (d == NULL || !as_same_def(d, have))
			rc |= json_array_append_new(ops, json_pack("{s:s,s:s}", "op", "svc.del", "name", name));
	}
	json_object_foreach((json_t *)desired, name, d) {
		have = json_object_get(programmed, name);
		int fresh = have == NULL || !as_same_def(d, have);
		json_t *bes = json_object_get(d, "backends");
		if (fresh) {
			json_t *add = json_pack("{s:s,s:s,s:O,s:O,s:O,s:O,s:O}", "op", "svc.add", "name",
						name, "vip", json_object_get(d, "vip"), "port",
						json_object_get(d, "port"), "proto",
						json_object_get(d, "proto"), "affinity",
						json_object_get(d, "affinity"), "mode",
						json_object_get(d, "mode"));
			/* A dead backend drains in fall * interval (~1 s). */
			if (add != NULL && json_object_get(d, "health") != NULL)
				rc |= json_object_set_new(
					add, "health",
					json_pack("{s:O,s:i,s:i,s:i,s:i}", "type", json_object_get(d, "health"),
						  "interval_ms", AGENT_SVC_HEALTH_INTERVAL_MS, "timeout_ms",
						  AGENT_SVC_HEALTH_TIMEOUT_MS, "fall", 2, "rise", 2));
			rc |= json_array_append_new(ops, add);
		}
		if ((fresh && json_array_size(bes) > 0) ||
		    (!fresh && !json_equal(bes, json_object_get(have, "backends"))))
			rc |= json_array_append_new(ops, json_pack("{s:s,s:s,s:O}", "op", "backend.set", "service",
								   name, "backends", bes));
	}
	if (rc) {
		json_decref(ops);
		return NULL;
	}
	return ops;
}

/* ---- the thread -------------------------------------------------------- */

static void as_mark(void *arg, struct informer *inf, enum informer_event ev, const char *key,
		    const json_t *old, const json_t *cur)
{
	struct agent_svc *s = arg;
	(void)inf;
	(void)ev;
	(void)key;
	(void)old;
	(void)cur;
	s->dirty = 1;
}

static const char *as_rep_err(const json_t *rep)
{
	const char *d = json_string_value(json_object_get(rep, "detail"));
	if (d == NULL)
		d = json_string_value(json_object_get(rep, "error"));
	return d ? d : "agent gave no reason";
}

/* Read what is programmed back from the agent. 0, or -1 (stopping/refused). */
static int as_read_back(struct agent_svc *s)
{
	json_t *rep = s->p.ipc(s->p.ipc_data, json_pack("{s:s}", "op", "services"));
	json_t *prog = rep ? agent_svc_programmed(rep) : NULL;
	json_decref(rep);
	if (prog == NULL)
		return -1;
	json_decref(s->programmed);
	s->programmed = prog;
	return 0;
}

/* Log one line per change, so an operator sees what moved and why. */
static void as_log_ops(struct agent_svc *s, const json_t *ops, const json_t *results)
{
	size_t i;
	json_t *op;

	json_array_foreach(ops, i, op) {
		const json_t *res = json_array_get(results, i);
		const char *what = as_str(op, "op", "?");
		int ok = json_is_true(json_object_get(res, "ok"));
		if (strcmp(what, "svc.add") == 0)
			as_logf(s, "agent-svc: service %s %s:%lld/%s%s%s", as_str(op, "name", "?"),
				as_str(op, "vip", "?"), (long long)json_integer_value(json_object_get(op, "port")),
				as_str(op, "proto", "?"), ok ? "" : ": refused: ", ok ? "" : as_rep_err(res));
		else if (strcmp(what, "svc.del") == 0)
			as_logf(s, "agent-svc: service %s removed%s%s", as_str(op, "name", "?"),
				ok ? "" : ": refused: ", ok ? "" : as_rep_err(res));
		else
			as_logf(s, "agent-svc: service %s: %zu backends%s%s", as_str(op, "service", "?"),
				json_array_size(json_object_get(op, "backends")), ok ? "" : ": refused: ",
				ok ? "" : as_rep_err(res));
	}
}

/* One reconcile pass. 0 when in step, -1 to retry later. */
static int as_sync(struct agent_svc *s)
{
	if (s->programmed == NULL && as_read_back(s) != 0)
		return -1;
	json_t *want = agent_svc_desired(informer_items(s->svc_inf), informer_items(s->ep_inf));
	json_t *ops = want ? agent_svc_diff(want, s->programmed) : NULL;
	int rc = 0;
	if (ops == NULL) {
		rc = -1;
	} else if (json_array_size(ops) > 0) {
		json_t *rep = s->p.ipc(s->p.ipc_data, json_pack("{s:s,s:O}", "op", "batch", "ops", ops));
		json_t *results = json_object_get(rep, "results");
		as_log_ops(s, ops, results);
		int failed = rep == NULL || json_array_size(results) != json_array_size(ops) ||
			     json_integer_value(json_object_get(rep, "dp_errors")) > 0;
		size_t i;
		json_t *r;
		json_array_foreach(results, i, r)
			failed |= !json_is_true(json_object_get(r, "ok"));
		if (failed) {
			/* Refused or rolled back: learn what the agent holds, retry. */
			if (rep != NULL && s->errors_logged++ < 8)
				as_logf(s, "agent-svc: the agent refused part of a sync (%s); retrying",
					as_rep_err(rep));
			json_decref(s->programmed);
			s->programmed = NULL;
			rc = -1;
		} else {
			json_decref(s->programmed);
			s->programmed = json_incref(want);
		}
		json_decref(rep);
	}
	json_decref(ops);
	json_decref(want);
	return rc;
}

static void *as_thread(void *arg)
{
	struct agent_svc *s = arg;
	uint64_t retry_at = 0;

	while (!s->stop) {
		informer_drain(s->q, AS_DRAIN_MS, as_mark, s);
		/* Act on whole caches only: a half-listed world would delete
		 * every Service the other informer has not delivered yet. */
		if (!informer_synced(s->svc_inf) || !informer_synced(s->ep_inf))
			continue;
		if (s->programmed == NULL)
			s->dirty = 1;
		if (!s->dirty || as_now_ms() < retry_at)
			continue;
		s->dirty = 0;
		if (as_sync(s) != 0) {
			s->dirty = 1;
			retry_at = as_now_ms() + AS_RETRY_MS;
		}
	}
	return NULL;
}

static void as_inf_log(void *data, const char *line)
{
	as_logf(data, "agent-svc: %s", line);
}

struct agent_svc *agent_svc_start(const struct agent_svc_params *p, char *errmsg, size_t len)
{
	struct agent_svc *s = calloc(1, sizeof(*s));
	char err[256];

	if (s == NULL || p->ipc == NULL) {
		sluice_errf(-1, errmsg, len, "agent-svc: %s", s ? "no ipc function" : "out of memory");
		free(s);
		return NULL;
	}
	s->p = *p;
	if ((s->q = informer_queue_create()) == NULL) {
		sluice_errf(-1, errmsg, len, "agent-svc: out of memory");
		goto fail;
	}
	struct informer_params ip = {.name = "services", .path = "/api/v1/services", .api = p->api,
				     .queue = s->q, .log = as_inf_log, .log_data = s};
	if ((s->svc_inf = informer_start(&ip, err, sizeof(err))) == NULL) {
		sluice_errf(-1, errmsg, len, "agent-svc: %s", err);
		goto fail;
	}
	ip.name = "endpoints";
	ip.path = "/api/v1/endpoints";
	if ((s->ep_inf = informer_start(&ip, err, sizeof(err))) == NULL) {
		sluice_errf(-1, errmsg, len, "agent-svc: %s", err);
		goto fail;
	}
	int e = pthread_create(&s->th, NULL, as_thread, s);
	if (e != 0) {
		sluice_errf(-1, errmsg, len, "agent-svc: cannot start a thread: %s", strerror(e));
		goto fail;
	}
	s->started = 1;
	return s;
fail:
	agent_svc_stop(s);
	return NULL;
}

void agent_svc_stop(struct agent_svc *s)
{
	if (s == NULL)
		return;
	s->stop = 1;
	informer_signal_stop(s->svc_inf);
	informer_signal_stop(s->ep_inf);
	if (s->started)
		pthread_join(s->th, NULL);
	informer_stop(s->svc_inf);
	informer_stop(s->ep_inf);
	informer_queue_free(s->q);
	json_decref(s->programmed);
	free(s);
}
