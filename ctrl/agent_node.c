/*
 * agent_node: the agent's cluster loop (ctrl/agent_node.h).
 *
 * Everything the loop learns comes from two watches: the pods bound here
 * (fieldSelector spec.nodeName=<node>) and all Nodes. Each watch thread
 * lists first, posts the list as one RELIST event (the loop replaces its
 * view and garbage-collects what vanished), then watches from the list's
 * resourceVersion and resumes from the last one it saw whenever a stream
 * ends; a 410 (compacted) makes it list again. The loop owns all state
 * (the view of pods and nodes, the runtime, the routes it programmed)
 * except the Lease, which a thread of its own renews. Changes to the agent core go through an_call()/an_ipc(),
 * which runs an IPC request (docs/agent-ipc.md) on the agent's thread, so
 * the cluster side uses exactly the front end sluice-cni and the CLI use.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <sluice/errmsg.h>

#include "agent.h"
#include "agent_cni.h"
#include "agent_node.h"
#include "agent_svc.h"
#include "apic.h"
#include "ipc.h"
#include "runtime_netns.h"
#include "runtime_podman.h"

#define AN_TICK_MS 100
#define AN_RETRY_MS 2000
#define AN_REPORT_EVERY_MS 200
#define AN_ROUTE_RETRY_MS 10000
#define AN_STATUS_REASSERT_MS 5000

enum an_src { AN_SRC_POD = 1, AN_SRC_NODE = 2 };

struct an_event {
	enum an_src src;
	char type[16];	/* ADDED, MODIFIED, DELETED, RELIST */
	json_t *obj;	/* owned: the object, or the items array for RELIST */
	struct an_event *next;
};

struct an_call {
	int (*fn)(struct agent *a, struct agent_cni_config *cfg, void *arg);
	void *arg;
	int rc;
	int done;
	struct an_call *next;
};

struct an_watcher {
	struct agent_node *n;
	enum an_src src;
	char path[512];	/* collection with the selector query, no watch/rv */
	pthread_t th;
	int started;
};

struct agent_node {
	char podman_bin[256], podman_network[128];
	char node[254], node_ip[64], runtime[16], pod_dir[512], netns_prefix[64], gateway[64],
		encap[16], sysroot[256];
	unsigned lease_s, max_pods;
	int no_routes;
	uint32_t vni;
	uint64_t backoff_base_ms;
	json_t *labels, *taints;
	void (*log)(void *data, const char *line);
	void *log_data;
	struct apic_config cfg;
	struct apic_params ap;

	volatile int stop;
	pthread_t loop_th, lease_th;
	int loop_started, lease_started;
	struct apic *lease_api; /* the lease thread's; it alone touches lease */
	struct an_watcher pod_w, node_w;
	struct agent_svc *svc; /* Services -> dp (ctrl/agent_svc.h) */

	pthread_mutex_t ev_mu;
	pthread_cond_t ev_cv;
	struct an_event *ev_head, *ev_tail;

	pthread_mutex_t call_mu;
	pthread_cond_t call_cv;
	struct an_call *call_head, *call_tail;
	int calls_closed;
	int efd;

	/* Loop thread only from here on. */
	struct apic *api;
	struct runtime_netns *rt;  /* one of these two runs the pods: */
	struct runtime_podman *pm; /* see an_rt_*() */
	json_t *pods;	  /* uid -> Pod */
	json_t *nodes;	  /* name -> Node */
	json_t *rejected; /* uid -> message: pods whose spec we cannot run */
	json_t *routes;	  /* prefix -> nexthop, as programmed in the agent */
	json_t *lease;
	int registered; /* written by the loop, read by the lease thread */
	int routes_known;
	uint64_t next_register_ms, next_lease_ms, next_report_ms, next_routes_ms, next_reassert_ms;
	char pod_cidr[64];
	int cidr_pushed, routes_dirty, route_errors_logged;
};

static uint64_t an_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void an_logf(struct agent_node *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void an_logf(struct agent_node *n, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n->log != NULL)
		n->log(n->log_data, line);
	else
		fprintf(stderr, "%s\n", line);
}

/* Sleep up to ms, waking early when the node is stopping. */
static void an_nap(struct agent_node *n, unsigned ms)
{
	for (unsigned t = 0; t < ms && !n->stop; t += 50)
		usleep(50000);
}

/* ---- pure helpers ------------------------------------------------------ */

int agent_node_meminfo_total(const char *text, uint64_t *kib)
{
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		unsigned long long v;
		if (strncmp(p, "MemTotal:", 9) == 0 && sscanf(p + 9, " %llu kB", &v) == 1) {
			*kib = v;
			return 0;
		}
	}
	return -1;
}

static int an_read_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -1;
	size_t r = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[r] = '\0';
	return 0;
}

/* "0-3,5,7-8" -> 7; 0 on a malformed list. */
static unsigned an_cpu_list_count(const char *s)
{
	unsigned total = 0;
	while (*s && *s != '\n') {
		char *end;
		unsigned long a = strtoul(s, &end, 10), b = a;
		if (end == s)
			return 0;
		if (*end == '-') {
			const char *q = end + 1;
			b = strtoul(q, &end, 10);
			if (end == q || b < a)
				return 0;
		}
		total += (unsigned)(b - a + 1);
		s = end;
		if (*s == ',')
			s++;
		else if (*s && *s != '\n')
			return 0;
	}
	return total;
}

int agent_node_capacity_read(const char *root, struct agent_node_capacity *c, char *errmsg,
			     size_t len)
{
	char path[512], buf[8192];
	const char *r = root ? root : "";

	memset(c, 0, sizeof(*c));
	snprintf(path, sizeof(path), "%s/proc/meminfo", r);
	if (an_read_file(path, buf, sizeof(buf)) != 0 || agent_node_meminfo_total(buf, &c->mem_kib) != 0)
		return sluice_errf(-1, errmsg, len, "node capacity: %s has no MemTotal", path);
	snprintf(path, sizeof(path), "%s/sys/devices/system/cpu/online", r);
	if (an_read_file(path, buf, sizeof(buf)) == 0)
		c->cpus = an_cpu_list_count(buf);
	if (c->cpus == 0 && r[0] == '\0') {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		c->cpus = ncpu > 0 ? (unsigned)ncpu : 0;
	}
	if (c->cpus == 0)
		return sluice_errf(-1, errmsg, len, "node capacity: cannot count CPUs from %s", path);
	static const struct {
		const char *dir;
		size_t off;
	} hp[] = {
		{"hugepages-2048kB", offsetof(struct agent_node_capacity, huge_2m)},
		{"hugepages-1048576kB", offsetof(struct agent_node_capacity, huge_1g)},
	};
	for (size_t i = 0; i < sizeof(hp) / sizeof(hp[0]); i++) {
		snprintf(path, sizeof(path), "%s/sys/kernel/mm/hugepages/%s/nr_hugepages", r, hp[i].dir);
		uint64_t *dst = (uint64_t *)(void *)((char *)c + hp[i].off);
		char *end;
		if (an_read_file(path, buf, sizeof(buf)) != 0)
			continue; /* size not supported by this kernel: none */
		unsigned long long v = strtoull(buf, &end, 10);
		if (end == buf || (*end != '\n' && *end != '\0'))
			return sluice_errf(-1, errmsg, len, "node capacity: %s is not a count", path);
		*dst = v;
	}
	return 0;
}

json_t *agent_node_capacity_json(const struct agent_node_capacity *c, unsigned max_pods,
				 int allocatable)
{
	char cpu[32], mem[48], h2[48], h1[48], pods[32];
	uint64_t mem_kib = c->mem_kib;

	if (allocatable) {
		uint64_t huge = c->huge_2m * 2048u + c->huge_1g * 1048576u;
		mem_kib = mem_kib > huge ? mem_kib - huge : 0;
	}
	snprintf(cpu, sizeof(cpu), "%u", c->cpus);
	snprintf(mem, sizeof(mem), "%lluKi", (unsigned long long)mem_kib);
	snprintf(h2, sizeof(h2), "%lluMi", (unsigned long long)(c->huge_2m * 2u));
	snprintf(h1, sizeof(h1), "%lluGi", (unsigned long long)c->huge_1g);
	snprintf(pods, sizeof(pods), "%u", max_pods ? max_pods : AGENT_NODE_DEFAULT_MAX_PODS);
	return json_pack("{s:s,s:s,s:s,s:s,s:s}", "cpu", cpu, "memory", mem, "hugepages-2Mi", h2,
			 "hugepages-1Gi", h1, "pods", pods);
}

static int an_label_chars(const char *s, size_t n, int allow_slash)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_' || (allow_slash && c == '/')))
			return 0;
	}
	return 1;
}

/*
 * Split flag value s at commas and feed each item to fn, which adds it to
 * acc or returns why it cannot. acc (owned) comes back, or NULL with
 * errmsg "<flag>: "<item>" <why>".
 */
static json_t *an_parse_list(const char *s, const char *flag, json_t *acc,
			     const char *(*fn)(char *item, json_t *acc), char *errmsg, size_t len)
{
	char buf[4096], item[4096];

	if (acc == NULL || s == NULL || s[0] == '\0')
		return acc;
	if (strlen(s) >= sizeof(buf)) {
		json_decref(acc);
		sluice_errf(-1, errmsg, len, "%s: longer than %zu bytes", flag, sizeof(buf) - 1);
		return NULL;
	}
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		snprintf(item, sizeof(item), "%s", t); /* fn may cut t up */
		const char *why = fn(t, acc);
		if (why != NULL) {
			json_decref(acc);
			sluice_errf(-1, errmsg, len, "%s: \"%s\" %s", flag, item, why);
			return NULL;
		}
	}
	return acc;
}

static const char *an_label_item(char *t, json_t *acc)
{
	char *eq = strchr(t, '=');
	if (eq == NULL || eq == t || !an_label_chars(t, (size_t)(eq - t), 1) ||
	    !an_label_chars(eq + 1, strlen(eq + 1), 0) || strlen(eq + 1) > 63)
		return "is not key=value";
	*eq = '\0';
	json_object_set_new(acc, t, json_string(eq + 1));
	return NULL;
}

json_t *agent_node_labels_parse(const char *s, char *errmsg, size_t len)
{
	return an_parse_list(s, "--labels", json_object(), an_label_item, errmsg, len);
}

static const char *an_taint_item(char *t, json_t *acc)
{
	static const char *const effects[] = {"NoSchedule", "PreferNoSchedule", "NoExecute"};
	char *colon = strrchr(t, ':');
	size_t e = 0;

	if (colon == NULL || colon == t)
		return "is not key[=value]:NoSchedule|PreferNoSchedule|NoExecute";
	for (; e < 3 && strcmp(colon + 1, effects[e]) != 0; e++)
		;
	if (e == 3)
		return "has an effect other than NoSchedule, PreferNoSchedule or NoExecute";
	*colon = '\0';
	char *eq = strchr(t, '=');
	if (eq != NULL)
		*eq = '\0';
	if (t[0] == '\0' || !an_label_chars(t, strlen(t), 1) ||
	    (eq != NULL && !an_label_chars(eq + 1, strlen(eq + 1), 0)))
		return "has a bad key or value";
	json_t *tj = json_pack("{s:s,s:s}", "key", t, "effect", effects[e]);
	if (eq != NULL && eq[1] != '\0')
		json_object_set_new(tj, "value", json_string(eq + 1));
	json_array_append_new(acc, tj);
	return NULL;
}

json_t *agent_node_taints_parse(const char *s, char *errmsg, size_t len)
{
	return an_parse_list(s, "--register-taint", json_array(), an_taint_item, errmsg, len);
}

int agent_node_first_host(const char *cidr, char *out, size_t len)
{
	char ip[64];
	const char *slash = cidr ? strchr(cidr, '/') : NULL;
	struct in_addr a;
	char *end;

	if (slash == NULL || (size_t)(slash - cidr) >= sizeof(ip))
		return -1;
	memcpy(ip, cidr, (size_t)(slash - cidr));
	ip[slash - cidr] = '\0';
	unsigned long plen = strtoul(slash + 1, &end, 10);
	if (*end != '\0' || end == slash + 1 || plen > 30 || inet_pton(AF_INET, ip, &a) != 1)
		return -1;
	uint32_t mask = plen ? ~0u << (32 - plen) : 0;
	uint32_t h = (ntohl(a.s_addr) & mask) + 1;
	a.s_addr = htonl(h);
	return inet_ntop(AF_INET, &a, out, (socklen_t)len) ? 0 : -1;
}

const char *agent_node_internal_ip(const json_t *node)
{
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(json_object_get(node, "status"), "addresses"), i, v) {
		const char *t = json_string_value(json_object_get(v, "type"));
		if (t && strcmp(t, "InternalIP") == 0)
			return json_string_value(json_object_get(v, "address"));
	}
	return NULL;
}

uint32_t agent_node_id(const char *name)
{
	uint32_t h = 2166136261u;
	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h ? h : 1;
}

/* ---- calls into the agent's thread -------------------------------------- */

/* Queue fn and wait until the poll loop ran it. -1 when stopping. */
static int an_call(struct agent_node *n, int (*fn)(struct agent *, struct agent_cni_config *, void *),
		   void *arg)
{
	struct an_call c = {.fn = fn, .arg = arg, .rc = -1};
	uint64_t one = 1;

	pthread_mutex_lock(&n->call_mu);
	if (n->calls_closed) {
		pthread_mutex_unlock(&n->call_mu);
		return -1;
	}
	if (n->call_tail)
		n->call_tail->next = &c;
	else
		n->call_head = &c;
	n->call_tail = &c;
	if (write(n->efd, &one, sizeof(one)) != sizeof(one)) {
		/* The counter cannot overflow here; the loop drains it. */
	}
	while (!c.done)
		pthread_cond_wait(&n->call_cv, &n->call_mu);
	pthread_mutex_unlock(&n->call_mu);
	return c.rc;
}

int agent_node_fd(const struct agent_node *n)
{
	return n->efd;
}

void agent_node_serve(struct agent_node *n, struct agent *a, struct agent_cni_config *cfg)
{
	uint64_t cnt;

	if (read(n->efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&n->call_mu);
	struct an_call *c = n->call_head;
	n->call_head = n->call_tail = NULL;
	pthread_mutex_unlock(&n->call_mu);
	while (c != NULL) {
		struct an_call *next = c->next; /* c lives on its caller's stack */
		int rc = c->fn(a, cfg, c->arg);
		pthread_mutex_lock(&n->call_mu);
		c->rc = rc;
		c->done = 1;
		pthread_cond_broadcast(&n->call_cv);
		pthread_mutex_unlock(&n->call_mu);
		c = next;
	}
}

/* An IPC request on the agent's thread: req in, reply out (owned by caller). */
struct an_ipc {
	json_t *req;
	json_t *rep;
};

static int an_ipc_fn(struct agent *a, struct agent_cni_config *cfg, void *arg)
{
	struct an_ipc *x = arg;
	char *text = json_dumps(x->req, JSON_COMPACT);
	if (text == NULL)
		return -1;
	char *rep = ipc_handle(a, cfg, text, strlen(text));
	free(text);
	if (rep == NULL)
		return -1;
	x->rep = json_loads(rep, 0, NULL);
	free(rep);
	return x->rep ? 0 : -1;
}

/* Run req (stolen) as an IPC request; the reply, or NULL when stopping. */
static json_t *an_ipc(struct agent_node *n, json_t *req)
{
	struct an_ipc x = {.req = req};
	int rc = an_call(n, an_ipc_fn, &x);
	json_decref(req);
	if (rc != 0) {
		json_decref(x.rep);
		return NULL;
	}
	return x.rep;
}

json_t *agent_node_ipc(void *node, json_t *req)
{
	return an_ipc(node, req);
}

static const char *an_rep_err(const json_t *rep)
{
	const char *d = json_string_value(json_object_get(rep, "detail"));
	if (d == NULL)
		d = json_string_value(json_object_get(rep, "msg"));
	if (d == NULL)
		d = json_string_value(json_object_get(rep, "error"));
	return d ? d : "agent gave no reason";
}

struct an_cidr {
	char cidr[64], gateway[64];
};

static int an_set_cidr_fn(struct agent *a, struct agent_cni_config *cfg, void *arg)
{
	const struct an_cidr *x = arg;
	(void)a;
	snprintf(cfg->pod_cidr, sizeof(cfg->pod_cidr), "%s", x->cidr);
	snprintf(cfg->gateway, sizeof(cfg->gateway), "%s", x->gateway);
	return 0;
}

/* The agent's routes via dp's uplink (ours to manage): prefix -> nexthop. */
struct an_routes {
	json_t *out;
};

static int an_routes_fn(struct agent *a, struct agent_cni_config *cfg, void *arg)
{
	struct an_routes *x = arg;
	char pfx[64], nh[64];
	(void)cfg;

	x->out = json_object();
	for (size_t i = 0; x->out && i < agent_n_routes(a); i++) {
		const struct agent_route *r = agent_route_at(a, i);
		if (r->port_id != RING_PORT_UPLINK || r->family != RING_FAMILY_IPV4)
			continue;
		if (inet_ntop(AF_INET, r->prefix, pfx, sizeof(pfx)) == NULL)
			continue;
		size_t l = strlen(pfx);
		snprintf(pfx + l, sizeof(pfx) - l, "/%u", r->prefix_len);
		nh[0] = '\0';
		if (r->nh_family == RING_FAMILY_IPV4)
			(void)inet_ntop(AF_INET, r->nexthop, nh, sizeof(nh));
		json_object_set_new(x->out, pfx, json_string(nh));
	}
	return x->out ? 0 : -1;
}

/* ---- runtime callbacks ----------------------------------------------- */

static int an_attach(void *data, const char *key, const char *pod_mac,
		     struct runtime_netns_attach *out, char *errmsg, size_t len)
{
	struct agent_node *n = data;
	json_t *rep = an_ipc(n, json_pack("{s:i,s:s,s:s,s:s,s:s,s:s}", "v", 1, "op", "cni.add", "key", key,
					  "mode", "veth", "host_ifname", key, "pod_mac", pod_mac));
	if (rep == NULL)
		return sluice_errf(-1, errmsg, len, "agent stopping");
	json_t *ip0 = json_array_get(json_object_get(rep, "ips"), 0);
	const char *addr = json_string_value(json_object_get(ip0, "address"));
	const char *gw = json_string_value(json_object_get(ip0, "gateway"));
	const char *slash = addr ? strchr(addr, '/') : NULL;
	if (!json_is_true(json_object_get(rep, "ok")) || slash == NULL || gw == NULL ||
	    (size_t)(slash - addr) >= sizeof(out->ip)) {
		sluice_errf(-1, errmsg, len, "agent refused the attachment: %s", an_rep_err(rep));
		json_decref(rep);
		return -1;
	}
	memcpy(out->ip, addr, (size_t)(slash - addr));
	out->ip[slash - addr] = '\0';
	out->prefix_len = (unsigned)strtoul(slash + 1, NULL, 10);
	snprintf(out->gateway, sizeof(out->gateway), "%s", gw);
	json_decref(rep);
	return 0;
}

static void an_detach(void *data, const char *key)
{
	struct agent_node *n = data;
	json_decref(an_ipc(n, json_pack("{s:i,s:s,s:s}", "v", 1, "op", "cni.del", "key", key)));
}

/* The podman runtime's pod IP: the agent's allocation for the key
 * sluice-cni's cni.add used (the attachment key is the pod's name). */
static int an_pod_ip(void *data, const char *key, char *ip, size_t len)
{
	struct agent_node *n = data;
	size_t i;
	json_t *v;
	int rc = -1;

	json_t *rep = an_ipc(n, json_pack("{s:s}", "op", "pods"));
	json_array_foreach(json_object_get(rep, "pods"), i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *a = json_string_value(json_object_get(v, "ip"));
		if (name != NULL && a != NULL && strcmp(name, key) == 0) {
			snprintf(ip, len, "%s", a);
			rc = 0;
			break;
		}
	}
	json_decref(rep);
	return rc;
}

/* ---- watch threads ------------------------------------------------------ */

static void an_post(struct agent_node *n, enum an_src src, const char *type, json_t *obj)
{
	struct an_event *e = calloc(1, sizeof(*e));
	if (e == NULL) {
		json_decref(obj);
		return;
	}
	e->src = src;
	snprintf(e->type, sizeof(e->type), "%s", type);
	e->obj = obj;
	pthread_mutex_lock(&n->ev_mu);
	if (n->ev_tail)
		n->ev_tail->next = e;
	else
		n->ev_head = e;
	n->ev_tail = e;
	pthread_cond_signal(&n->ev_cv);
	pthread_mutex_unlock(&n->ev_mu);
}

struct an_watch_ctx {
	struct an_watcher *w;
	char rv[32];
	int relist;
};

static void an_take_rv(char *rv, size_t cap, const json_t *obj)
{
	const char *v = json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
	if (v != NULL && v[0] != '\0' && strlen(v) < cap)
		snprintf(rv, cap, "%s", v);
}

static bool an_watch_cb(void *arg, const char *type, json_t *object)
{
	struct an_watch_ctx *x = arg;

	if (strcmp(type, "ERROR") == 0) {
		json_int_t code = json_integer_value(json_object_get(object, "code"));
		if (code == 410)
			x->relist = 1;
		else
			{
			const char *m = json_string_value(json_object_get(object, "message"));
			an_logf(x->w->n, "agent-node: watch %s: error %lld: %s", x->w->path,
				(long long)code, m ? m : "");
		}
		return false;
	}
	an_take_rv(x->rv, sizeof(x->rv), object);
	if (strcmp(type, "BOOKMARK") == 0)
		return true;
	if (strcmp(type, "ADDED") != 0 && strcmp(type, "MODIFIED") != 0 && strcmp(type, "DELETED") != 0)
		return true; /* unknown event types are skipped, not fatal */
	if (!json_is_object(object))
		return true;
	an_post(x->w->n, x->w->src, type, json_incref(object));
	return true;
}

static void *an_watch_thread(void *arg)
{
	struct an_watcher *w = arg;
	struct agent_node *n = w->n;
	struct an_watch_ctx x = {.w = w, .relist = 1};
	char err[APIC_ERRMSG_SIZE], path[700];
	struct apic_params ap = n->ap;
	int quiet = 0;

	ap.timeout_ms = 5000;
	struct apic *api = apic_create(&ap, err, sizeof(err));
	if (api == NULL) {
		an_logf(n, "agent-node: %s", err);
		return NULL;
	}
	while (!n->stop) {
		if (x.relist) {
			struct apic_resp r;
			memset(&r, 0, sizeof(r));
			int rc = apic_request(api, "GET", w->path, NULL, &r);
			json_t *items = json_object_get(r.body, "items");
			if (rc != APIC_OK || r.status != 200 || !json_is_array(items)) {
				if (!quiet++)
					an_logf(n, "agent-node: list %s failed (%s); retrying", w->path,
						rc != APIC_OK ? r.errmsg : (r.errmsg[0] ? r.errmsg : "not a list"));
				apic_resp_clear(&r);
				an_nap(n, 1000);
				continue;
			}
			quiet = 0;
			x.rv[0] = '\0';
			an_take_rv(x.rv, sizeof(x.rv), r.body);
			an_post(n, w->src, "RELIST", json_incref(items));
			apic_resp_clear(&r);
			x.relist = 0;
		}
		snprintf(path, sizeof(path), "%s%swatch=1&resourceVersion=%s", w->path,
			 strchr(w->path, '?') ? "&" : "?", x.rv);
		long st = 0;
		int rc = apic_watch(api, path, an_watch_cb, &x, &n->stop, &st, err, sizeof(err));
		if (rc == APIC_ERR_STOPPED || n->stop)
			break;
		if (st == 410)
			x.relist = 1;
		if (x.relist) {
			/* Compacted: list again, but never in a tight loop. */
			an_logf(n, "agent-node: watch %s: resourceVersion %s compacted; listing again", w->path, x.rv);
			an_nap(n, 200);
		} else if (rc != APIC_OK) {
			/* A stream the server ended is resumed at once; a failing one
			 * is retried every second and logged once. */
			if (quiet == 1)
				an_logf(n, "agent-node: watch %s ended: %s; resuming from %s", w->path, err, x.rv);
			an_nap(n, quiet++ ? 1000 : 50);
		} else {
			quiet = 0;
		}
	}
	apic_free(api);
	return NULL;
}

/* ---- API writes ------------------------------------------------------- */

/* One request on api; the answer's body (owned) or NULL. *status gets the code. */
static json_t *an_req_on(struct agent_node *n, struct apic *api, const char *method, const char *path,
			 const json_t *body, long *status, char *errmsg, size_t len)
{
	struct apic_resp r;

	(void)n;
	memset(&r, 0, sizeof(r));
	*status = 0;
	int rc = apic_request(api, method, path, body, &r);
	if (rc != APIC_OK) {
		sluice_errf(-1, errmsg, len, "%s %s: %s", method, path, r.errmsg);
		apic_resp_clear(&r);
		return NULL;
	}
	*status = r.status;
	if (r.status >= 300)
		sluice_errf(-1, errmsg, len, "%s %s: %ld %s", method, path, r.status, r.errmsg);
	json_t *b = r.body ? json_incref(r.body) : NULL;
	apic_resp_clear(&r);
	return b;
}

/* The same on the cluster loop's handle. */
static json_t *an_req(struct agent_node *n, const char *method, const char *path, const json_t *body,
		      long *status, char *errmsg, size_t len)
{
	return an_req_on(n, n->api, method, path, body, status, errmsg, len);
}

static json_t *an_node_status(struct agent_node *n)
{
	struct agent_node_capacity cap;
	char err[256], now[40];
	struct utsname u;

	if (agent_node_capacity_read(n->sysroot, &cap, err, sizeof(err)) != 0) {
		an_logf(n, "agent-node: %s", err);
		memset(&cap, 0, sizeof(cap));
	}
	runtime_now_rfc3339(now, sizeof(now));
	uname(&u);
	return json_pack("{s:o,s:o,s:[{s:s,s:s},{s:s,s:s}],s:[{s:s,s:s,s:s,s:s,s:s,s:s}],s:{s:s,s:s,s:s,s:s}}",
			 "capacity", agent_node_capacity_json(&cap, n->max_pods, 0),
			 "allocatable", agent_node_capacity_json(&cap, n->max_pods, 1),
			 "addresses", "type", "InternalIP", "address", n->node_ip, "type", "Hostname",
			 "address", n->node,
			 "conditions", "type", "Ready", "status", "True", "reason", "KubeletReady",
			 "message", "sluice node agent is posting ready status", "lastHeartbeatTime", now,
			 "lastTransitionTime", now,
			 "nodeInfo", "kubeletVersion", "sluice-agent", "operatingSystem", "linux",
			 "architecture", strcmp(u.machine, "x86_64") == 0 ? "amd64" :
					 strcmp(u.machine, "aarch64") == 0 ? "arm64" : u.machine,
			 "kernelVersion", u.release);
}

static void an_node_seen(struct agent_node *n, json_t *node);

/*
 * PUT our Node's status (Ready, capacity, addresses) on obj (a Node). A
 * 409 means the masters wrote the Node meanwhile (the IPAM controller
 * assigning spec.podCIDR right after registration): fetch it, try again.
 */
static int an_put_node_status(struct agent_node *n, json_t *obj)
{
	char path[400], get[400], err[700];
	long st = 0;
	json_t *cur = json_incref(obj);

	snprintf(path, sizeof(path), "/api/v1/nodes/%s/status", n->node);
	snprintf(get, sizeof(get), "/api/v1/nodes/%s", n->node);
	for (int attempt = 0; attempt < 4 && cur != NULL; attempt++) {
		json_t *body = json_deep_copy(cur);
		json_decref(cur);
		cur = NULL;
		if (body == NULL)
			return -1;
		json_object_set_new(body, "status", an_node_status(n));
		json_t *out = an_req(n, "PUT", path, body, &st, err, sizeof(err));
		json_decref(body);
		if (st == 200 && out != NULL) {
			an_node_seen(n, out);
			json_decref(out);
			return 0;
		}
		json_decref(out);
		if (st != 409)
			break;
		cur = an_req(n, "GET", get, NULL, &st, err, sizeof(err));
		if (st != 200) {
			json_decref(cur);
			cur = NULL;
		}
	}
	json_decref(cur);
	an_logf(n, "agent-node: node status: %s", err);
	return -1;
}

static int an_register(struct agent_node *n)
{
	char path[400], err[700];
	long st;

	json_t *labels = json_deep_copy(n->labels);
	json_t *body = json_pack("{s:s,s:s,s:{s:s,s:o},s:{}}", "apiVersion", "v1", "kind", "Node",
				 "metadata", "name", n->node, "labels", labels, "spec");
	if (body == NULL)
		return -1;
	if (json_array_size(n->taints) > 0)
		json_object_set(json_object_get(body, "spec"), "taints", n->taints);
	json_t *obj = an_req(n, "POST", "/api/v1/nodes", body, &st, err, sizeof(err));
	json_decref(body);
	if (st == 409) {
		/* Re-registration: keep what the masters set (podCIDR), refresh our labels. */
		json_decref(obj);
		snprintf(path, sizeof(path), "/api/v1/nodes/%s", n->node);
		obj = an_req(n, "GET", path, NULL, &st, err, sizeof(err));
		if (st == 200 && obj != NULL) {
			json_t *meta = json_object_get(obj, "metadata");
			json_t *have = json_object_get(meta, "labels");
			if (!json_is_object(have)) {
				have = json_object();
				json_object_set_new(meta, "labels", have);
			}
			json_object_update(have, n->labels);
			json_t *upd = an_req(n, "PUT", path, obj, &st, err, sizeof(err));
			json_decref(obj);
			obj = upd;
		}
	}
	if ((st != 200 && st != 201) || obj == NULL) {
		an_logf(n, "agent-node: registering node %s: %s", n->node, err);
		json_decref(obj);
		return -1;
	}
	int rc = an_put_node_status(n, obj);
	json_decref(obj);
	if (rc == 0)
		an_logf(n, "agent-node: node %s registered (InternalIP %s), waiting for its pod CIDR", n->node,
			n->node_ip);
	return rc;
}

static void an_lease_renew(struct agent_node *n)
{
	char path[400], err[700], now[40];
	long st;

	snprintf(path, sizeof(path), "/apis/coordination.k8s.io/v1/namespaces/" AGENT_NODE_LEASE_NS
		 "/leases/%s", n->node);
	if (n->lease == NULL) {
		n->lease = an_req_on(n, n->lease_api, "GET", path, NULL, &st, err, sizeof(err));
		if (st == 404) {
			json_decref(n->lease);
			n->lease = json_pack("{s:s,s:s,s:{s:s,s:s},s:{}}", "apiVersion", "coordination.k8s.io/v1",
					     "kind", "Lease", "metadata", "name", n->node, "namespace",
					     AGENT_NODE_LEASE_NS, "spec");
			runtime_now_rfc3339(now, sizeof(now));
			json_t *spec = json_object_get(n->lease, "spec");
			json_object_set_new(spec, "holderIdentity", json_string(n->node));
			json_object_set_new(spec, "leaseDurationSeconds", json_integer(n->lease_s));
			json_object_set_new(spec, "renewTime", json_string(now));
			json_t *made = an_req_on(n, n->lease_api, "POST", "/apis/coordination.k8s.io/v1/namespaces/"
					      AGENT_NODE_LEASE_NS "/leases", n->lease, &st, err, sizeof(err));
			json_decref(n->lease);
			n->lease = st == 201 || st == 200 ? made : NULL;
			if (n->lease == NULL) {
				json_decref(made);
				an_logf(n, "agent-node: lease: %s", err);
				n->next_lease_ms = an_now_ms() + 1000;
			} else {
				n->next_lease_ms = an_now_ms() + n->lease_s * 250u;
			}
			return;
		}
		if (st != 200 || n->lease == NULL) {
			json_decref(n->lease);
			n->lease = NULL;
			an_logf(n, "agent-node: lease: %s", err);
			n->next_lease_ms = an_now_ms() + 1000;
			return;
		}
	}
	json_t *spec = json_object_get(n->lease, "spec");
	if (!json_is_object(spec)) {
		spec = json_object();
		json_object_set_new(n->lease, "spec", spec);
	}
	runtime_now_rfc3339(now, sizeof(now));
	json_object_set_new(spec, "holderIdentity", json_string(n->node));
	json_object_set_new(spec, "leaseDurationSeconds", json_integer(n->lease_s));
	json_object_set_new(spec, "renewTime", json_string(now));
	json_t *out = an_req_on(n, n->lease_api, "PUT", path, n->lease, &st, err, sizeof(err));
	json_decref(n->lease);
	n->lease = NULL;
	if (st == 200 && out != NULL) {
		n->lease = out;
		n->next_lease_ms = an_now_ms() + n->lease_s * 250u;
	} else {
		/* 409 (someone else wrote it) or 404: fetch afresh, soon. */
		json_decref(out);
		an_logf(n, "agent-node: lease renewal: %s", err);
		n->next_lease_ms = an_now_ms() + 500;
	}
}

/* Pod status: PUT .../pods/NAME/status on the newest copy we hold. */
static int an_report(void *arg, const struct runtime_pod_spec *spec, const struct runtime_status *st)
{
	struct agent_node *n = arg;
	char path[700], err[900], now[40];
	long code;

	json_t *pod = json_object_get(n->pods, spec->uid);
	if (pod == NULL)
		return 0; /* deleted meanwhile: nothing to report to */
	runtime_now_rfc3339(now, sizeof(now));
	json_t *body = json_deep_copy(pod);
	json_t *status = runtime_status_json(spec, st, now);
	if (body == NULL || status == NULL) {
		json_decref(body);
		json_decref(status);
		return 1;
	}
	runtime_status_keep_times(status, json_object_get(pod, "status"));
	json_object_set_new(body, "status", status);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/status", spec->ns, spec->name);
	json_t *out = an_req(n, "PUT", path, body, &code, err, sizeof(err));
	json_decref(body);
	if (code == 200 && out != NULL) {
		const char *uid = json_string_value(json_object_get(json_object_get(out, "metadata"), "uid"));
		if (uid != NULL && strcmp(uid, spec->uid) == 0)
			json_object_set(n->pods, spec->uid, out);
		json_decref(out);
		return 0;
	}
	json_decref(out);
	if (code == 404)
		return 0;
	if (code == 409) {
		/* Stale copy: fetch the current one and report again next turn. */
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", spec->ns, spec->name);
		json_t *fresh = an_req(n, "GET", path, NULL, &code, err, sizeof(err));
		const char *uid = json_string_value(json_object_get(json_object_get(fresh, "metadata"), "uid"));
		if (code == 200 && uid != NULL && strcmp(uid, spec->uid) == 0)
			json_object_set(n->pods, spec->uid, fresh);
		json_decref(fresh);
		return 1;
	}
	an_logf(n, "agent-node: pod %s/%s status: %s", spec->ns, spec->name, err);
	return 1;
}

/* A pod we cannot run: say so in its status once. */
static void an_reject(struct agent_node *n, const json_t *pod, const char *uid, const char *msg)
{
	char path[700], err[900], now[40];
	long code;
	const json_t *meta = json_object_get(pod, "metadata");
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *name = json_string_value(json_object_get(meta, "name"));

	an_logf(n, "agent-node: cannot run pod %s/%s: %s", ns ? ns : "default", name ? name : "?", msg);
	json_object_set_new(n->rejected, uid, json_string(msg));
	if (name == NULL)
		return;
	runtime_now_rfc3339(now, sizeof(now));
	json_t *body = json_deep_copy(pod);
	json_object_set_new(body, "status", json_pack("{s:s,s:s,s:s,s:s}", "phase", "Failed", "reason",
						      "InvalidSpec", "message", msg, "startTime", now));
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/status", ns ? ns : "default", name);
	json_decref(an_req(n, "PUT", path, body, &code, err, sizeof(err)));
	json_decref(body);
}

/* ---- the runtime: netns or podman, one interface -------------------- */

static int an_rt_sync(struct agent_node *n, const json_t *pod, char *err, size_t len)
{
	return n->pm ? runtime_podman_sync(n->pm, pod, err, len) : runtime_netns_sync(n->rt, pod, err, len);
}

static void an_rt_remove(struct agent_node *n, const char *uid)
{
	if (n->pm)
		runtime_podman_remove(n->pm, uid);
	else
		runtime_netns_remove(n->rt, uid);
}

static int an_rt_has(const struct agent_node *n, const char *uid)
{
	return n->pm ? runtime_podman_has(n->pm, uid) : runtime_netns_has(n->rt, uid);
}

static void an_rt_foreach_uid(const struct agent_node *n, void (*fn)(void *arg, const char *uid),
			      void *arg)
{
	if (n->pm)
		runtime_podman_foreach_uid(n->pm, fn, arg);
	else
		runtime_netns_foreach_uid(n->rt, fn, arg);
}

/* ---- view updates ----------------------------------------------------- */

static const char *an_uid(const json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), "uid"));
}

static void an_pod_seen(struct agent_node *n, json_t *pod)
{
	const char *uid = an_uid(pod);
	const char *node = json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
	char err[512];

	if (uid == NULL)
		return;
	if (node == NULL || strcmp(node, n->node) != 0 ||
	    json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp") != NULL) {
		json_object_del(n->pods, uid);
		an_rt_remove(n, uid);
		return;
	}
	json_object_set(n->pods, uid, pod);
	if (an_rt_has(n, uid) || json_object_get(n->rejected, uid) != NULL)
		return;
	/* Finished before this agent (re)started: never run it again. */
	const char *phase = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
	if (phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0))
		return;
	if (an_rt_sync(n, pod, err, sizeof(err)) != 0)
		an_reject(n, pod, uid, err);
}

struct an_gc {
	json_t *keep;
	const char *gone[4096];
	size_t n;
};

static void an_gc_fn(void *arg, const char *uid)
{
	struct an_gc *g = arg;
	if (json_object_get(g->keep, uid) == NULL && g->n < sizeof(g->gone) / sizeof(g->gone[0]))
		g->gone[g->n++] = uid;
}

static void an_pods_relist(struct agent_node *n, json_t *items)
{
	json_t *keep = json_object(), *v;
	size_t i;

	json_array_foreach(items, i, v)
		if (an_uid(v) != NULL)
			json_object_set(keep, an_uid(v), v);
	struct an_gc *g = calloc(1, sizeof(*g));
	if (g != NULL) {
		g->keep = keep;
		an_rt_foreach_uid(n, an_gc_fn, g);
		for (size_t k = 0; k < g->n; k++) {
			json_object_del(n->pods, g->gone[k]);
			an_rt_remove(n, g->gone[k]);
		}
		free(g);
	}
	json_object_clear(n->pods);
	json_array_foreach(items, i, v)
		an_pod_seen(n, v);
	json_decref(keep);
}

static void an_push_cidr(struct agent_node *n)
{
	struct an_cidr x;

	snprintf(x.cidr, sizeof(x.cidr), "%s", n->pod_cidr);
	if (n->gateway[0])
		snprintf(x.gateway, sizeof(x.gateway), "%s", n->gateway);
	else if (agent_node_first_host(n->pod_cidr, x.gateway, sizeof(x.gateway)) != 0) {
		an_logf(n, "agent-node: node %s: spec.podCIDR %s is not an IPv4 CIDR of /30 or wider", n->node,
			n->pod_cidr);
		n->cidr_pushed = 1;
		return;
	}
	if (an_call(n, an_set_cidr_fn, &x) == 0) {
		n->cidr_pushed = 1;
		an_logf(n, "agent-node: pod CIDR %s, gateway %s: pods get their addresses from it", x.cidr,
			x.gateway);
	}
}

static int an_node_ready(const json_t *node)
{
	size_t i;
	json_t *c;

	json_array_foreach(json_object_get(json_object_get(node, "status"), "conditions"), i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		const char *s = json_string_value(json_object_get(c, "status"));
		if (t && strcmp(t, "Ready") == 0)
			return s && strcmp(s, "True") == 0;
	}
	return 0;
}

static void an_node_seen(struct agent_node *n, json_t *node)
{
	const char *name = json_string_value(json_object_get(json_object_get(node, "metadata"), "name"));

	if (name == NULL)
		return;
	json_t *old = json_object_get(n->nodes, name);
	const char *oc = old ? json_string_value(json_object_get(json_object_get(old, "spec"), "podCIDR")) : NULL;
	const char *nc = json_string_value(json_object_get(json_object_get(node, "spec"), "podCIDR"));
	const char *oip = old ? agent_node_internal_ip(old) : NULL, *nip = agent_node_internal_ip(node);
	if (old == NULL || (oc == NULL) != (nc == NULL) || (oc && nc && strcmp(oc, nc) != 0) ||
	    (oip == NULL) != (nip == NULL) || (oip && nip && strcmp(oip, nip) != 0))
		n->routes_dirty = 1;
	json_object_set(n->nodes, name, node);
	if (strcmp(name, n->node) != 0)
		return;
	if (nc != NULL && nc[0] != '\0' && strcmp(nc, n->pod_cidr) != 0) {
		if (n->pod_cidr[0] != '\0')
			an_logf(n, "agent-node: pod CIDR changed from %s to %s; running pods keep their addresses",
				n->pod_cidr, nc);
		snprintf(n->pod_cidr, sizeof(n->pod_cidr), "%s", nc);
		n->cidr_pushed = 0;
	}
}

static void an_node_gone(struct agent_node *n, const json_t *node)
{
	const char *name = json_string_value(json_object_get(json_object_get(node, "metadata"), "name"));
	if (name == NULL)
		return;
	json_object_del(n->nodes, name);
	n->routes_dirty = 1;
	if (strcmp(name, n->node) == 0) {
		an_logf(n, "agent-node: node %s was deleted from the cluster; registering again", n->node);
		__atomic_store_n(&n->registered, 0, __ATOMIC_RELEASE);
	}
}

static void an_drain_events(struct agent_node *n)
{
	pthread_mutex_lock(&n->ev_mu);
	struct an_event *e = n->ev_head;
	n->ev_head = n->ev_tail = NULL;
	pthread_mutex_unlock(&n->ev_mu);
	while (e != NULL) {
		struct an_event *next = e->next;
		if (e->src == AN_SRC_POD) {
			if (strcmp(e->type, "RELIST") == 0)
				an_pods_relist(n, e->obj);
			else if (strcmp(e->type, "DELETED") == 0) {
				const char *uid = an_uid(e->obj);
				if (uid != NULL) {
					json_object_del(n->pods, uid);
					an_rt_remove(n, uid);
				}
			} else {
				an_pod_seen(n, e->obj);
			}
		} else {
			if (strcmp(e->type, "RELIST") == 0) {
				size_t i;
				json_t *v;
				json_object_clear(n->nodes);
				n->routes_dirty = 1;
				json_array_foreach(e->obj, i, v)
					an_node_seen(n, v);
			} else if (strcmp(e->type, "DELETED") == 0) {
				an_node_gone(n, e->obj);
			} else {
				an_node_seen(n, e->obj);
			}
		}
		json_decref(e->obj);
		free(e);
		e = next;
	}
}

/* ---- routes to the other nodes' pod CIDRs ---------------------------- */

/*
 * The route to a node's pod CIDR as an agent IPC op: "prefix P is behind
 * the node at underlay address U" (docs/multinode.md). Without a port the
 * route leaves by dp's configured uplink (RING_PORT_UPLINK), which
 * resolves U by ARP itself (no MAC here, so no agent port either).
 */
static json_t *an_route_op(struct agent_node *n, const char *node, const char *cidr, const char *nh)
{
	json_t *op = json_pack("{s:s,s:s,s:I,s:s,s:s}", "op", "route_add", "prefix", cidr, "node",
			       (json_int_t)agent_node_id(node), "nexthop", nh, "encap", n->encap);
	if (op != NULL && strcmp(n->encap, "vxlan") == 0)
		json_object_set_new(op, "vni", json_integer(n->vni));
	return op;
}

static void an_routes_sync(struct agent_node *n)
{
	const char *name, *pfx;
	json_t *node, *v;

	if (n->no_routes)
		return; /* --no-routes: single node, or routed by someone else */
	if (!n->routes_known) {
		struct an_routes x;
		if (an_call(n, an_routes_fn, &x) != 0)
			return;
		json_decref(n->routes);
		n->routes = x.out;
		n->routes_known = 1;
	}
	json_t *want = json_object();
	json_object_foreach(n->nodes, name, node) {
		const char *cidr = json_string_value(json_object_get(json_object_get(node, "spec"), "podCIDR"));
		const char *ip = agent_node_internal_ip(node);
		if (strcmp(name, n->node) == 0 || cidr == NULL || ip == NULL || cidr[0] == '\0')
			continue;
		json_object_set_new(want, cidr, json_pack("{s:s,s:s}", "node", name, "ip", ip));
	}
	json_t *ops = json_array(), *dels = json_array(), *adds = json_array();
	json_object_foreach(n->routes, pfx, v) {
		const char *ip = json_string_value(json_object_get(json_object_get(want, pfx), "ip"));
		if (ip == NULL || strcmp(ip, json_string_value(v)) != 0) {
			json_array_append_new(ops, json_pack("{s:s,s:s}", "op", "route_del", "prefix", pfx));
			json_array_append_new(dels, json_string(pfx));
		}
	}
	json_object_foreach(want, pfx, v) {
		const char *have = json_string_value(json_object_get(n->routes, pfx));
		const char *ip = json_string_value(json_object_get(v, "ip"));
		if (have != NULL && strcmp(have, ip) == 0)
			continue;
		json_array_append_new(ops, an_route_op(n, json_string_value(json_object_get(v, "node")), pfx, ip));
		json_array_append_new(adds, json_pack("{s:s,s:s,s:s}", "prefix", pfx, "ip", ip, "node",
						      json_string_value(json_object_get(v, "node"))));
	}
	n->routes_dirty = 0;
	if (json_array_size(ops) > 0) {
		json_t *rep = an_ipc(n, json_pack("{s:s,s:O}", "op", "batch", "ops", ops));
		json_t *results = json_object_get(rep, "results");
		size_t i, nd = json_array_size(dels);
		json_array_foreach(dels, i, v)
			json_object_del(n->routes, json_string_value(v));
		int failed = rep == NULL;
		json_array_foreach(adds, i, v) {
			json_t *res = json_array_get(results, nd + i);
			const char *p = json_string_value(json_object_get(v, "prefix"));
			if (json_is_true(json_object_get(res, "ok"))) {
				json_object_set(n->routes, p, json_object_get(v, "ip"));
				an_logf(n, "agent-node: route %s via node %s (%s)", p,
					json_string_value(json_object_get(v, "node")),
					json_string_value(json_object_get(v, "ip")));
			} else {
				failed = 1;
				if (n->route_errors_logged++ < 8)
					an_logf(n, "agent-node: route %s via %s not supported by this sluice-dp/agent: %s",
						p, json_string_value(json_object_get(v, "ip")),
						res ? an_rep_err(res) : "no reply");
			}
		}
		if (failed || json_integer_value(json_object_get(rep, "dp_errors")) > 0) {
			/* Retry later: a refused route was rolled back from the agent. */
			n->routes_known = 0;
			n->routes_dirty = 1;
			n->next_routes_ms = an_now_ms() + AN_ROUTE_RETRY_MS;
		}
		json_decref(rep);
	}
	json_decref(ops);
	json_decref(dels);
	json_decref(adds);
	json_decref(want);
}

/*
 * The lease has a thread of its own, like the kubelet's lease controller:
 * the cluster loop can be busy for seconds setting up a burst of pods,
 * and a heartbeat that waits behind that work would make the masters
 * declare a healthy node dead and evict its pods.
 */
static void *an_lease_thread(void *arg)
{
	struct agent_node *n = arg;
	char err[APIC_ERRMSG_SIZE];

	n->lease_api = apic_create(&n->ap, err, sizeof(err));
	if (n->lease_api == NULL) {
		an_logf(n, "agent-node: lease: %s", err);
		return NULL;
	}
	while (!n->stop) {
		if (__atomic_load_n(&n->registered, __ATOMIC_ACQUIRE) && an_now_ms() >= n->next_lease_ms)
			an_lease_renew(n);
		an_nap(n, 100);
	}
	return NULL;
}

/* ---- the loop ----------------------------------------------------------- */

static void an_rt_log(void *data, const char *line)
{
	an_logf(data, "%s", line);
}

static void *an_loop(void *arg)
{
	struct agent_node *n = arg;
	char err[APIC_ERRMSG_SIZE];

	n->api = apic_create(&n->ap, err, sizeof(err));
	if (n->api == NULL) {
		an_logf(n, "agent-node: %s", err);
		return NULL;
	}
	struct runtime_netns_params rp = {
		.pod_dir = n->pod_dir[0] ? n->pod_dir : NULL,
		.netns_prefix = n->netns_prefix[0] ? n->netns_prefix : NULL,
		.host_ip = n->node_ip,
		.backoff_base_ms = n->backoff_base_ms,
		.attach = an_attach,
		.detach = an_detach,
		.log = an_rt_log,
		.data = n,
	};
	struct runtime_podman_params pp = {
		.podman = n->podman_bin[0] ? n->podman_bin : NULL,
		.network = n->podman_network[0] ? n->podman_network : NULL,
		.node = n->node,
		.pod_dir = rp.pod_dir,
		.name_prefix = rp.netns_prefix,
		.host_ip = n->node_ip,
		.backoff_base_ms = n->backoff_base_ms,
		.pod_ip = an_pod_ip,
		.detach = an_detach,
		.log = an_rt_log,
		.data = n,
	};
	if (strcmp(n->runtime, "podman") == 0)
		n->pm = runtime_podman_create(&pp, err, sizeof(err));
	else
		n->rt = runtime_netns_create(&rp, err, sizeof(err));
	if (n->rt == NULL && n->pm == NULL) {
		an_logf(n, "agent-node: %s", err);
		return NULL;
	}
	while (!n->stop) {
		uint64_t now = an_now_ms();
		if (!n->registered && now >= n->next_register_ms) {
			__atomic_store_n(&n->registered, an_register(n) == 0, __ATOMIC_RELEASE);
			n->next_register_ms = now + AN_RETRY_MS;
		}
		an_drain_events(n);
		if (n->pod_cidr[0] && !n->cidr_pushed)
			an_push_cidr(n);
		json_t *self = json_object_get(n->nodes, n->node);
		if (n->registered && self != NULL && !an_node_ready(self) && now >= n->next_reassert_ms) {
			/* The masters marked us NotReady (stale lease): we are back. */
			an_logf(n, "agent-node: node %s is not Ready in the API; posting Ready", n->node);
			n->next_reassert_ms = now + AN_STATUS_REASSERT_MS;
			(void)an_put_node_status(n, json_object_get(n->nodes, n->node));
		}
		if (n->pm)
			runtime_podman_poll(n->pm);
		else
			runtime_netns_poll(n->rt);
		if (now >= n->next_report_ms) {
			if (n->pm)
				runtime_podman_report(n->pm, an_report, n);
			else
				runtime_netns_report(n->rt, an_report, n);
			n->next_report_ms = now + AN_REPORT_EVERY_MS;
		}
		if (n->routes_dirty && now >= n->next_routes_ms)
			an_routes_sync(n);
		/* Sleep until the next tick or the next watch event. */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += AN_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&n->ev_mu);
		if (n->ev_head == NULL && !n->stop)
			pthread_cond_timedwait(&n->ev_cv, &n->ev_mu, &ts);
		pthread_mutex_unlock(&n->ev_mu);
	}
	return NULL;
}

/* ---- start / stop ------------------------------------------------------- */

static int an_copy(char *dst, size_t cap, const char *src, const char *what, char *errmsg, size_t len)
{
	if (src == NULL)
		src = "";
	if (strlen(src) >= cap)
		return sluice_errf(-1, errmsg, len, "%s: longer than %zu bytes", what, cap - 1);
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

static void an_free_views(struct agent_node *n)
{
	json_decref(n->labels);
	json_decref(n->taints);
	json_decref(n->pods);
	json_decref(n->nodes);
	json_decref(n->rejected);
	json_decref(n->routes);
	json_decref(n->lease);
}

static int an_dns_name(const char *s)
{
	size_t l = strlen(s);
	if (l == 0 || l > 253 || s[0] == '-' || s[0] == '.' || s[l - 1] == '-' || s[l - 1] == '.')
		return 0;
	for (size_t i = 0; i < l; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.'))
			return 0;
	return 1;
}

struct agent_node *agent_node_start(const struct agent_node_params *p, char *errmsg, size_t len)
{
	struct agent_node *n = calloc(1, sizeof(*n));
	struct in_addr ia;
	struct utsname u;

	if (n == NULL) {
		sluice_errf(-1, errmsg, len, "agent-node: out of memory");
		return NULL;
	}
	n->efd = -1;
	if (an_copy(n->node, sizeof(n->node), p->node_name, "--node-name", errmsg, len) ||
	    an_copy(n->node_ip, sizeof(n->node_ip), p->node_ip, "--node-ip", errmsg, len) ||
	    an_copy(n->runtime, sizeof(n->runtime), p->runtime ? p->runtime : "netns", "--runtime", errmsg, len) ||
	    an_copy(n->pod_dir, sizeof(n->pod_dir), p->pod_dir, "--pod-dir", errmsg, len) ||
	    an_copy(n->netns_prefix, sizeof(n->netns_prefix), p->netns_prefix, "--pod-netns-prefix", errmsg, len) ||
	    an_copy(n->gateway, sizeof(n->gateway), p->gateway, "--gateway", errmsg, len) ||
	    an_copy(n->encap, sizeof(n->encap), p->encap && p->encap[0] ? p->encap : "none", "--encap", errmsg, len) ||
	    an_copy(n->sysroot, sizeof(n->sysroot), p->sysroot, "sysroot", errmsg, len) ||
	    an_copy(n->podman_bin, sizeof(n->podman_bin), p->podman_bin, "--podman", errmsg, len) ||
	    an_copy(n->podman_network, sizeof(n->podman_network), p->podman_network, "--podman-network", errmsg, len))
		goto fail;
	if (n->node[0] == '\0') {
		if (uname(&u) != 0 || an_copy(n->node, sizeof(n->node), u.nodename, "hostname", errmsg, len))
			goto fail;
	}
	if (!an_dns_name(n->node)) {
		sluice_errf(-1, errmsg, len, "--node-name: \"%s\" is not a DNS-1123 subdomain (lower case a-z, 0-9, '-', '.')", n->node);
		goto fail;
	}
	if (inet_pton(AF_INET, n->node_ip, &ia) != 1) {
		sluice_errf(-1, errmsg, len, "--node-ip: \"%s\" is not an IPv4 address (the node's underlay address)", n->node_ip);
		goto fail;
	}
	if (strcmp(n->runtime, "netns") != 0 && strcmp(n->runtime, "podman") != 0) {
		sluice_errf(-1, errmsg, len, "--runtime: \"%s\" must be netns or podman", n->runtime);
		goto fail;
	}
	char podman[256];
	if (strcmp(n->runtime, "podman") == 0 &&
	    runtime_podman_find(n->podman_bin, podman, sizeof(podman), errmsg, len) != 0)
		goto fail; /* here, not in the loop thread: a clear exit at start */
	if (strcmp(n->encap, "none") != 0 && strcmp(n->encap, "vxlan") != 0) {
		sluice_errf(-1, errmsg, len, "--encap: \"%s\" must be none or vxlan", n->encap);
		goto fail;
	}
	if (p->vni > 0xffffffu) {
		sluice_errf(-1, errmsg, len, "--vni: %u is over 24 bits", p->vni);
		goto fail;
	}
	n->lease_s = p->lease_seconds ? p->lease_seconds : AGENT_NODE_DEFAULT_LEASE_S;
	if (n->lease_s < 2 || n->lease_s > 3600) {
		sluice_errf(-1, errmsg, len, "--lease-seconds: %u is outside 2..3600", n->lease_s);
		goto fail;
	}
	n->max_pods = p->max_pods ? p->max_pods : AGENT_NODE_DEFAULT_MAX_PODS;
	n->vni = p->vni;
	n->no_routes = p->no_routes;
	n->backoff_base_ms = p->backoff_base_ms;
	n->log = p->log;
	n->log_data = p->log_data;
	if ((n->labels = agent_node_labels_parse(p->labels, errmsg, len)) == NULL ||
	    (n->taints = agent_node_taints_parse(p->taints, errmsg, len)) == NULL)
		goto fail;
	uname(&u);
	json_object_set_new(n->labels, "kubernetes.io/hostname", json_string(n->node));
	json_object_set_new(n->labels, "kubernetes.io/os", json_string("linux"));
	json_object_set_new(n->labels, "kubernetes.io/arch",
			    json_string(strcmp(u.machine, "x86_64") == 0 ? "amd64" :
					strcmp(u.machine, "aarch64") == 0 ? "arm64" : u.machine));
	char cerr[APIC_ERRMSG_SIZE];
	if (apic_config_load(p->api_config, &n->cfg, cerr, sizeof(cerr)) != APIC_OK) {
		sluice_errf(-1, errmsg, len, "--api-config: %s", cerr);
		goto fail;
	}
	apic_config_params(&n->cfg, &n->ap);
	n->pods = json_object();
	n->nodes = json_object();
	n->rejected = json_object();
	n->routes = json_object();
	n->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (n->efd < 0 || !n->pods || !n->nodes || !n->rejected || !n->routes) {
		sluice_errf(-1, errmsg, len, "agent-node: out of resources");
		goto fail;
	}
	pthread_mutex_init(&n->ev_mu, NULL);
	pthread_cond_init(&n->ev_cv, NULL);
	pthread_mutex_init(&n->call_mu, NULL);
	pthread_cond_init(&n->call_cv, NULL);
	n->routes_dirty = 1;

	n->pod_w.n = n;
	n->pod_w.src = AN_SRC_POD;
	snprintf(n->pod_w.path, sizeof(n->pod_w.path), "/api/v1/pods?fieldSelector=spec.nodeName%%3D%s", n->node);
	n->node_w.n = n;
	n->node_w.src = AN_SRC_NODE;
	snprintf(n->node_w.path, sizeof(n->node_w.path), "/api/v1/nodes");

	/* Signals belong to the poll loop: the threads block them. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int e = pthread_create(&n->loop_th, NULL, an_loop, n);
	n->loop_started = e == 0;
	if (e == 0 && (e = pthread_create(&n->lease_th, NULL, an_lease_thread, n)) == 0)
		n->lease_started = 1;
	if (e == 0 && (e = pthread_create(&n->pod_w.th, NULL, an_watch_thread, &n->pod_w)) == 0)
		n->pod_w.started = 1;
	if (e == 0 && (e = pthread_create(&n->node_w.th, NULL, an_watch_thread, &n->node_w)) == 0)
		n->node_w.started = 1;
	if (e == 0) {
		/* Services and Endpoints into dp: its own thread, our queued calls. */
		struct agent_svc_params sp = {.api = n->ap, .ipc = agent_node_ipc, .ipc_data = n,
					      .log = n->log, .log_data = n->log_data};
		char serr[256];
		if ((n->svc = agent_svc_start(&sp, serr, sizeof(serr))) == NULL) {
			e = EAGAIN;
			an_logf(n, "%s", serr);
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		sluice_errf(-1, errmsg, len, "agent-node: cannot start a thread: %s", strerror(e));
		agent_node_stop(n);
		return NULL;
	}
	an_logf(n, "agent-node: node %s (%s), API %s%s, lease %u s, runtime %s", n->node, n->node_ip,
		n->cfg.servers[0], n->cfg.n_servers > 1 ? " and others" : "", n->lease_s, n->runtime);
	return n;
fail:
	an_free_views(n);
	if (n->efd >= 0)
		close(n->efd);
	free(n);
	return NULL;
}

void agent_node_stop(struct agent_node *n)
{
	if (n == NULL)
		return;
	n->stop = 1;
	pthread_mutex_lock(&n->call_mu);
	n->calls_closed = 1;
	for (struct an_call *c = n->call_head; c != NULL; c = c->next)
		c->done = 1; /* rc stays -1: the caller sees "stopping" */
	n->call_head = n->call_tail = NULL;
	pthread_cond_broadcast(&n->call_cv);
	pthread_mutex_unlock(&n->call_mu);
	agent_svc_stop(n->svc); /* after the calls failed: its thread may wait on one */
	pthread_mutex_lock(&n->ev_mu);
	pthread_cond_broadcast(&n->ev_cv);
	pthread_mutex_unlock(&n->ev_mu);
	if (n->loop_started)
		pthread_join(n->loop_th, NULL);
	if (n->lease_started)
		pthread_join(n->lease_th, NULL);
	if (n->pod_w.started)
		pthread_join(n->pod_w.th, NULL);
	if (n->node_w.started)
		pthread_join(n->node_w.th, NULL);
	for (struct an_event *e = n->ev_head, *next; e != NULL; e = next) {
		next = e->next;
		json_decref(e->obj);
		free(e);
	}
	runtime_netns_free(n->rt);
	runtime_podman_free(n->pm);
	apic_free(n->api);
	apic_free(n->lease_api);
	an_free_views(n);
	close(n->efd);
	pthread_mutex_destroy(&n->ev_mu);
	pthread_cond_destroy(&n->ev_cv);
	pthread_mutex_destroy(&n->call_mu);
	pthread_cond_destroy(&n->call_cv);
	free(n);
}
