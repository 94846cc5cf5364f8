/*
 * orch: the scheduler and the controllers, run by every master and active
 * only while that master leads (see orch.h, docs/orch.md).
 *
 * One thread owns all state. Each loop it asks is_leader(); on gaining
 * leadership it starts one informer per resource (which lists everything
 * afresh), on losing it it stops them and drops every cache, so a deposed
 * leader acts on nothing it learnt while leading. While leading it drains
 * the informers' queue (waiting up to 100 ms for news), updates the
 * scheduler's snapshot and the dirty sets from each change, and once every
 * informer has listed, runs the controllers in an order that lets one
 * round finish what the previous step started:
 *
 *   nodes        IPAM for nodes without spec.podCIDR; lifecycle (NotReady,
 *                eviction) once a second, a pure decision (ctlr_node.h)
 *   deployments  the dirty ones, and all every 10 s (ctlr_deploy.h)
 *   scheduler    every pending pod, oldest first (ctlr_sched.h); bind
 *                through /binding at the pod's resourceVersion
 *   endpoints    the dirty Services (ctlr_endpoints.h)
 *   apiservice   default/kubernetes and its Endpoints = the masters of
 *                /cluster/status, once a second (ctlr_apisvc.h)
 *
 * Every write goes through the API with a resourceVersion precondition
 * (binding, updates) or a deterministic name (creates), and is checked
 * against is_leader() just before it is sent, so a master that lost the
 * lead stops writing at once. The objects a write returns are applied to
 * the caches (informer write-through) so the next step sees them. A 409 on
 * a binding means another scheduler bound the pod: the pod is dropped, and
 * the watch brings the truth.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sluice/errmsg.h>

#include "ctlr_apisvc.h"
#include "ctlr_deploy.h"
#include "ctlr_endpoints.h"
#include "ctlr_ipam.h"
#include "ctlr_node.h"
#include "ctlr_sched.h"
#include "ctlr_util.h"
#include "informer.h"
#include "orch.h"

#define ORCH_LEASE_NS "sluice-node-lease"
#define ORCH_NODE_PERIOD_US 1000000
#define ORCH_RESYNC_US 10000000
#define ORCH_UNSCHED_RETRY_US 5000000
#define ORCH_APISVC_PERIOD_US 1000000
/* Bindings in flight at once. Each is one Raft write; the masters commit
 * concurrent writes together, so a few in flight multiply throughput
 * (kube-scheduler binds asynchronously for the same reason). */
#define ORCH_BINDERS 8

enum orch_res {
	ORCH_NODES,
	ORCH_PODS,
	ORCH_DEPLOYS,
	ORCH_SVCS,
	ORCH_EPS,
	ORCH_LEASES,
	ORCH_NRES,
};

static const struct {
	const char *name, *path;
} orch_res_paths[ORCH_NRES] = {
	{"nodes", "/api/v1/nodes"},
	{"pods", "/api/v1/pods"},
	{"deployments", "/apis/apps/v1/deployments"},
	{"services", "/api/v1/services"},
	{"endpoints", "/api/v1/endpoints"},
	{"leases", "/apis/coordination.k8s.io/v1/namespaces/" ORCH_LEASE_NS "/leases"},
};

/* One binding, handed to a binder thread and back (the orch thread owns
 * it before and after). */
struct orch_bind_job {
	struct orch_bind_job *next;
	char key[512];
	char path[768];
	char node[SCHED_NODE_NAME_MAX];
	char rv[24];
	json_t *body;
	long status; /* HTTP status, -1 = not sent or no answer */
	json_t *resp;
	char errmsg[APIC_ERRMSG_SIZE];
};

struct orch {
	struct orch_params p;
	char name[64];
	/* Copies of the strings in p, which the caller may free. */
	char servers[APIC_MAX_SERVERS][256];
	char ca[4096], cert[4096], key[4096], cidr[64];
	char vips[APISVC_MAX_VIPS][APISVC_IP_MAX];
	pthread_t thread;
	volatile int stop;
	struct orch_stats stats;

	/* Everything below: orch thread only, valid while active. */
	bool active;
	struct informer_queue *q;
	struct informer *inf[ORCH_NRES];
	struct apic *api;
	struct sched *sched;
	struct ipam *ipam;
	struct nodelc_state nlc;
	json_t *pending;     /* pod keys to schedule */
	json_t *unsched;     /* pod keys found unschedulable, retried later */
	json_t *dirty_dep;   /* deployment keys */
	json_t *dirty_svc;   /* service keys */
	json_t *first_seen;  /* node name -> microseconds */
	json_t *warned;      /* one-shot log keys */
	json_t *inflight;    /* pod key -> true while a binding is out */
	json_t *orphans;     /* deleted node name -> when first seen gone */
	json_t *dead_svc;    /* deleted Services whose Endpoints to delete */
	/* Binder threads: todo filled by the orch thread, done by binders. */
	pthread_mutex_t bind_lock;
	pthread_cond_t bind_cond;
	struct orch_bind_job *bind_todo, *bind_done;
	pthread_t binders[ORCH_BINDERS];
	size_t n_binders;
	volatile int bind_stop;
	bool nodes_changed, pods_freed, deploy_deleted, synced, unsched_dirty;
	int64_t last_nodes_us, last_resync_us, last_unsched_us, last_apisvc_us;
};

static bool orch_leader(struct orch *o)
{
	return o->p.is_leader == NULL || o->p.is_leader(o->p.leader_arg);
}

__attribute__((format(printf, 2, 3))) static void orch_logf(struct orch *o, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = snprintf(line, sizeof(line), "%s: ", o->name);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (o->p.log)
		o->p.log(o->p.log_data, line);
	else
		fprintf(stderr, "sluice-ctrl: %s\n", line);
}

/* Log a line once per key per term (e.g. an invalid object), so a bad
 * object does not flood the log every round. */
__attribute__((format(printf, 3, 4))) static void orch_warn_once(struct orch *o, const char *key,
								 const char *fmt, ...)
{
	if (json_object_get(o->warned, key))
		return;
	json_object_set_new(o->warned, key, json_true());
	char line[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	orch_logf(o, "%s", line);
}

static void orch_informer_log(void *data, const char *line)
{
	struct orch *o = data;
	orch_logf(o, "%s", line);
}

/* ------------------------------------------------------------ API writes */

/*
 * One write, only while leading. Returns the HTTP status, or -1 when not
 * sent (not the leader) or no answer (logged). r must be cleared by the
 * caller in every case.
 */
static long orch_write(struct orch *o, const char *method, const char *path, const json_t *body,
		       struct apic_resp *r)
{
	memset(r, 0, sizeof(*r));
	if (o->stop || !orch_leader(o))
		return -1;
	int rc = apic_request(o->api, method, path, body, r);
	if (rc != APIC_OK) {
		orch_logf(o, "%s %s: %s", method, path, r->errmsg);
		return -1;
	}
	return r->status;
}

static void orch_pod_path(char *buf, size_t cap, const json_t *pod, const char *sub)
{
	const char *ns = ctlr_namespace(pod);
	snprintf(buf, cap, "/api/v1/namespaces/%s/pods/%s%s%s", ns[0] ? ns : "default",
		 ctlr_name(pod), sub ? "/" : "", sub ? sub : "");
}

/* ------------------------------------------------------------ changes */

static void orch_mark_owner(struct orch *o, const json_t *pod)
{
	json_t *refs = json_object_get(json_object_get(pod, "metadata"), "ownerReferences");
	size_t i;
	json_t *r;
	json_array_foreach(refs, i, r) {
		const char *kind = json_string_value(json_object_get(r, "kind"));
		const char *name = json_string_value(json_object_get(r, "name"));
		if (kind && name && strcmp(kind, "Deployment") == 0 &&
		    json_is_true(json_object_get(r, "controller"))) {
			char key[512];
			snprintf(key, sizeof(key), "%s/%s", ctlr_namespace(pod), name);
			json_object_set_new(o->dirty_dep, key, json_true());
		}
	}
}

/* Services whose selector matches the pod (before or after a change). */
static void orch_mark_services(struct orch *o, const json_t *pod)
{
	const json_t *labels = json_object_get(json_object_get(pod, "metadata"), "labels");
	const char *ns = ctlr_namespace(pod);
	const char *k;
	json_t *svc;
	json_object_foreach((json_t *)informer_items(o->inf[ORCH_SVCS]), k, svc) {
		const json_t *sel = json_object_get(json_object_get(svc, "spec"), "selector");
		if (json_object_size(sel) && strcmp(ctlr_namespace(svc), ns) == 0 &&
		    ctlr_labels_match(sel, labels))
			json_object_set_new(o->dirty_svc, k, json_true());
	}
}

static bool orch_schedulable(const json_t *pod)
{
	const char *sn =
		json_string_value(json_object_get(json_object_get(pod, "spec"), "schedulerName"));
	/* Pods for another scheduler are not ours to place. */
	return sn == NULL || sn[0] == 0 || strcmp(sn, "default-scheduler") == 0 ||
	       strcmp(sn, "sluice") == 0;
}

static void orch_pod_changed(struct orch *o, const char *key, const json_t *old,
			     const json_t *cur)
{
	char err[256];
	if (cur == NULL || ctlr_pod_terminal(cur)) {
		sched_pod_remove(o->sched, key);
		json_object_del(o->pending, key);
		json_object_del(o->unsched, key);
		o->pods_freed = true;
	} else if (ctlr_pod_node(cur)) {
		if (sched_pod_set(o->sched, key, cur, ctlr_pod_node(cur), err, sizeof(err)) !=
		    SCHED_OK)
			orch_warn_once(o, key, "pod %s: %s", key, err);
		json_object_del(o->pending, key);
		json_object_del(o->unsched, key);
	} else if (json_object_get(o->inflight, key)) {
		/* Our binding is out: the accounting holds our assumption
		 * until its answer comes back. */
	} else if (orch_schedulable(cur) && json_object_get(o->unsched, key) == NULL) {
		sched_pod_remove(o->sched, key);
		json_object_set_new(o->pending, key, json_true());
	}
	if (old) {
		orch_mark_owner(o, old);
		orch_mark_services(o, old);
	}
	if (cur) {
		orch_mark_owner(o, cur);
		orch_mark_services(o, cur);
	}
}

static void orch_node_changed(struct orch *o, const char *key, const json_t *cur)
{
	char err[256];
	o->nodes_changed = true;
	if (cur == NULL) {
		sched_node_remove(o->sched, key);
		ipam_release(o->ipam, key);
		json_object_del(o->first_seen, key);
		return;
	}
	if (json_object_get(o->first_seen, key) == NULL)
		json_object_set_new(o->first_seen, key, json_integer(ctlr_now_us()));
	if (sched_node_set(o->sched, cur, err, sizeof(err)) != SCHED_OK)
		orch_warn_once(o, key, "node %s left out of scheduling: %s", key, err);
	const char *cidr =
		json_string_value(json_object_get(json_object_get(cur, "spec"), "podCIDR"));
	if (cidr && cidr[0] && ipam_claim(o->ipam, key, cidr, err, sizeof(err)) != IPAM_OK) {
		char wk[300];
		snprintf(wk, sizeof(wk), "cidr:%s:%s", key, cidr);
		orch_warn_once(o, wk, "%s", err);
	}
}

static void orch_on_change(void *arg, struct informer *inf, enum informer_event ev,
			   const char *key, const json_t *old, const json_t *cur)
{
	struct orch *o = arg;
	(void)ev;
	if (inf == o->inf[ORCH_PODS]) {
		orch_pod_changed(o, key, old, cur);
	} else if (inf == o->inf[ORCH_NODES]) {
		orch_node_changed(o, key, cur);
	} else if (inf == o->inf[ORCH_DEPLOYS]) {
		if (cur)
			json_object_set_new(o->dirty_dep, key, json_true());
		else
			o->deploy_deleted = true;
	} else if (inf == o->inf[ORCH_SVCS] || inf == o->inf[ORCH_EPS]) {
		json_object_set_new(o->dirty_svc, key, json_true());
		/* A deleted Service that had a selector had its Endpoints
		 * made by us: they go with it. */
		if (inf == o->inf[ORCH_SVCS] && cur == NULL &&
		    json_object_size(json_object_get(json_object_get(old, "spec"), "selector")))
			json_object_set_new(o->dead_svc, key, json_true());
	}
	/* Leases need no flag: the lifecycle looks at them every second, and
	 * a renewal must not count as a node change (it would retry every
	 * unschedulable pod each round). */
}

/* ------------------------------------------------------------ binders */

static void orch_job_free(struct orch_bind_job *j)
{
	while (j) {
		struct orch_bind_job *n = j->next;
		json_decref(j->body);
		json_decref(j->resp);
		free(j);
		j = n;
	}
}


static void *orch_binder_main(void *arg)
{
	struct orch *o = arg;
	char err[APIC_ERRMSG_SIZE];
	struct apic *c = apic_create(&o->p.api, err, sizeof(err));
	if (c == NULL)
		orch_logf(o, "binder: %s", err);
	pthread_mutex_lock(&o->bind_lock);
	for (;;) {
		while (o->bind_todo == NULL && !o->bind_stop)
			pthread_cond_wait(&o->bind_cond, &o->bind_lock);
		if (o->bind_stop)
			break;
		struct orch_bind_job *j = o->bind_todo;
		o->bind_todo = j->next;
		pthread_mutex_unlock(&o->bind_lock);
		struct apic_resp r;
		memset(&r, 0, sizeof(r));
		j->status = -1;
		/* Checked here too: the lead may be gone since the decision. */
		if (c && !o->stop && orch_leader(o)) {
			if (apic_request(c, "POST", j->path, j->body, &r) == APIC_OK) {
				j->status = r.status;
				j->resp = r.body;
				r.body = NULL;
			}
			snprintf(j->errmsg, sizeof(j->errmsg), "%s", r.errmsg);
		}
		apic_resp_clear(&r);
		pthread_mutex_lock(&o->bind_lock);
		j->next = o->bind_done;
		o->bind_done = j;
		informer_queue_wake(o->q);
	}
	pthread_mutex_unlock(&o->bind_lock);
	apic_free(c);
	return NULL;
}

/* Hand a binding to the binders; the pod is accounted on node at once
 * (assumed), so the next decisions see it. */
static void orch_bind(struct orch *o, const char *key, const json_t *pod, const char *node)
{
	struct orch_bind_job *j = calloc(1, sizeof(*j));
	if (j == NULL)
		return;
	snprintf(j->key, sizeof(j->key), "%s", key);
	snprintf(j->node, sizeof(j->node), "%s", node);
	orch_pod_path(j->path, sizeof(j->path), pod, "binding");
	const char *rv = json_string_value(
		json_object_get(json_object_get(pod, "metadata"), "resourceVersion"));
	snprintf(j->rv, sizeof(j->rv), "%s", rv ? rv : "");
	/* At the version we decided on: a pod changed since is re-decided. */
	j->body = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s}}", "apiVersion", "v1", "kind",
			    "Binding", "metadata", "name", ctlr_name(pod), "target", "kind", "Node",
			    "name", node);
	if (j->body == NULL || json_object_set_new(o->inflight, key, json_true()) != 0) {
		orch_job_free(j);
		return;
	}
	if (rv)
		json_object_set_new(json_object_get(j->body, "metadata"), "resourceVersion",
				    json_string(rv));
	json_object_del(o->pending, key);
	sched_pod_set(o->sched, key, pod, node, NULL, 0);
	pthread_mutex_lock(&o->bind_lock);
	j->next = o->bind_todo;
	o->bind_todo = j;
	pthread_cond_signal(&o->bind_cond);
	pthread_mutex_unlock(&o->bind_lock);
}

/* Answers of the binders: keep, correct or undo each assumption. */
static void orch_bind_results(struct orch *o)
{
	pthread_mutex_lock(&o->bind_lock);
	struct orch_bind_job *j = o->bind_done;
	o->bind_done = NULL;
	pthread_mutex_unlock(&o->bind_lock);
	for (struct orch_bind_job *k = j; k; k = k->next) {
		json_object_del(o->inflight, k->key);
		const json_t *cur = informer_get(o->inf[ORCH_PODS], k->key);
		if (k->status == 200 || k->status == 201) {
			__atomic_add_fetch(&o->stats.bound, 1, __ATOMIC_RELAXED);
			if (json_is_object(k->resp) && ctlr_pod_node(k->resp))
				informer_put_local(o->inf[ORCH_PODS], k->resp, orch_on_change, o);
			continue;
		}
		if (k->status == 409)
			__atomic_add_fetch(&o->stats.bind_conflicts, 1, __ATOMIC_RELAXED);
		else if (k->status > 0 && k->status != 404)
			orch_logf(o, "binding %s to %s: HTTP %ld: %s", k->key, k->node, k->status,
				  k->errmsg);
		/* Undo the assumption; the cache says what is true now. */
		sched_pod_remove(o->sched, k->key);
		if (cur == NULL) {
			continue;
		} else if (ctlr_pod_node(cur)) {
			orch_pod_changed(o, k->key, NULL, cur);
		} else if (k->status == 409) {
			/* Someone else bound it (the watch will show it), or it
			 * changed since we decided: re-decide only in that case,
			 * never retry the same binding blindly. */
			const char *rv = json_string_value(
				json_object_get(json_object_get(cur, "metadata"), "resourceVersion"));
			if (rv && strcmp(rv, k->rv) != 0)
				orch_pod_changed(o, k->key, NULL, cur);
		} else if (k->status != 404) {
			json_object_set_new(o->unsched, k->key, json_true());
		}
	}
	orch_job_free(j);
}

/* ------------------------------------------------------------ term */

static void orch_binders_stop(struct orch *o)
{
	pthread_mutex_lock(&o->bind_lock);
	o->bind_stop = 1;
	pthread_cond_broadcast(&o->bind_cond);
	pthread_mutex_unlock(&o->bind_lock);
	for (size_t i = 0; i < o->n_binders; i++)
		pthread_join(o->binders[i], NULL);
	o->n_binders = 0;
	orch_job_free(o->bind_todo);
	orch_job_free(o->bind_done);
	o->bind_todo = o->bind_done = NULL;
	o->bind_stop = 0;
}

static void orch_deactivate(struct orch *o)
{
	orch_binders_stop(o);
	for (int i = 0; i < ORCH_NRES; i++)
		informer_signal_stop(o->inf[i]);
	for (int i = 0; i < ORCH_NRES; i++) {
		informer_stop(o->inf[i]);
		o->inf[i] = NULL;
	}
	informer_queue_free(o->q);
	o->q = NULL;
	apic_free(o->api);
	o->api = NULL;
	sched_free(o->sched);
	o->sched = NULL;
	ipam_free(o->ipam);
	o->ipam = NULL;
	json_t **sets[] = {&o->pending,    &o->unsched, &o->dirty_dep, &o->dirty_svc,
			   &o->first_seen, &o->warned,  &o->inflight, &o->orphans,
			   &o->dead_svc};
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		json_decref(*sets[i]);
		*sets[i] = NULL;
	}
	memset(&o->nlc, 0, sizeof(o->nlc));
	o->active = o->synced = false;
}

static bool orch_activate(struct orch *o)
{
	char err[APIC_ERRMSG_SIZE];
	o->api = apic_create(&o->p.api, err, sizeof(err));
	o->sched = sched_create(NULL);
	o->ipam = ipam_create(o->cidr, o->p.node_cidr_bits ? o->p.node_cidr_bits : 24, err,
			      sizeof(err));
	o->q = informer_queue_create();
	o->pending = json_object();
	o->unsched = json_object();
	o->dirty_dep = json_object();
	o->dirty_svc = json_object();
	o->first_seen = json_object();
	o->warned = json_object();
	o->inflight = json_object();
	o->orphans = json_object();
	o->dead_svc = json_object();
	if (!o->orphans || !o->dead_svc || !o->api || !o->sched || !o->ipam || !o->q || !o->pending || !o->unsched ||
	    !o->dirty_dep || !o->dirty_svc || !o->first_seen || !o->warned || !o->inflight) {
		orch_logf(o, "cannot take up leadership: %s",
			  o->api && o->ipam ? "out of memory" : err);
		orch_deactivate(o);
		return false;
	}
	for (int i = 0; i < ORCH_NRES; i++) {
		struct informer_params ip = {
			.name = orch_res_paths[i].name,
			.path = orch_res_paths[i].path,
			.api = o->p.api,
			.queue = o->q,
			.log = orch_informer_log,
			.log_data = o,
		};
		o->inf[i] = informer_start(&ip, err, sizeof(err));
		if (o->inf[i] == NULL) {
			orch_logf(o, "%s", err);
			orch_deactivate(o);
			return false;
		}
	}
	for (size_t i = 0; i < ORCH_BINDERS; i++) {
		if (pthread_create(&o->binders[i], NULL, orch_binder_main, o) != 0)
			break;
		o->n_binders++;
	}
	if (o->n_binders == 0) {
		orch_logf(o, "cannot start a binder thread");
		orch_deactivate(o);
		return false;
	}
	o->active = true;
	o->last_nodes_us = o->last_resync_us = o->last_unsched_us = o->last_apisvc_us = 0;
	__atomic_add_fetch(&o->stats.terms, 1, __ATOMIC_RELAXED);
	orch_logf(o, "leading: listing and watching the cluster");
	return true;
}

/* ------------------------------------------------------------ nodes */

static void orch_ipam(struct orch *o)
{
	const char *k;
	json_t *node;
	char cidr[IPAM_CIDR_MAX], err[256], path[512];
	/* Names first: each write-through changes the cache. */
	json_t *todo = json_array();
	json_object_foreach((json_t *)informer_items(o->inf[ORCH_NODES]), k, node) {
		const char *have =
			json_string_value(json_object_get(json_object_get(node, "spec"), "podCIDR"));
		if ((have == NULL || have[0] == 0) && todo)
			json_array_append_new(todo, json_string(k));
	}
	size_t i;
	json_t *kv;
	json_array_foreach(todo, i, kv) {
		k = json_string_value(kv);
		node = (json_t *)informer_get(o->inf[ORCH_NODES], k);
		if (node == NULL)
			continue;
		int rc = ipam_alloc(o->ipam, k, cidr, sizeof(cidr), err, sizeof(err));
		if (rc == IPAM_ERR_FULL) {
			/* One line for all the nodes left without, not one each. */
			orch_warn_once(o, "ipam:full", "%s (and any other node without one)", err);
			break;
		} else if (rc != IPAM_OK) {
			orch_warn_once(o, k, "%s", err);
			continue;
		}
		json_t *upd = json_deep_copy(node);
		json_t *spec = upd ? json_object_get(upd, "spec") : NULL;
		if (upd && !json_is_object(spec)) {
			spec = json_object();
			json_object_set_new(upd, "spec", spec);
		}
		if (spec == NULL) {
			json_decref(upd);
			break;
		}
		json_object_set_new(spec, "podCIDR", json_string(cidr));
		json_object_set_new(spec, "podCIDRs", json_pack("[s]", cidr));
		snprintf(path, sizeof(path), "/api/v1/nodes/%s", k);
		struct apic_resp r;
		long st = orch_write(o, "PUT", path, upd, &r);
		json_decref(upd);
		if (st == 200 && json_is_object(r.body)) {
			__atomic_add_fetch(&o->stats.cidrs_assigned, 1, __ATOMIC_RELAXED);
			orch_logf(o, "node %s: spec.podCIDR %s", k, cidr);
			informer_put_local(o->inf[ORCH_NODES], r.body, orch_on_change, o);
		} else {
			/* Conflict or failure: give the block back; the next
			 * round retries from the node the watch brings. */
			ipam_release(o->ipam, k);
			if (st > 0 && st != 409)
				orch_logf(o, "node %s: assigning spec.podCIDR: HTTP %ld: %s", k, st,
					  r.errmsg);
		}
		apic_resp_clear(&r);
		if (st < 0)
			break;
	}
	json_decref(todo);
}

static size_t orch_pods_on(struct orch *o, const char *node, json_t *out)
{
	size_t n = 0;
	const char *k;
	json_t *pod;
	json_object_foreach((json_t *)informer_items(o->inf[ORCH_PODS]), k, pod) {
		const char *pn = ctlr_pod_node(pod);
		if (pn && strcmp(pn, node) == 0 && !ctlr_pod_terminal(pod)) {
			if (out)
				json_array_append(out, pod);
			n++;
		}
	}
	return n;
}

static void orch_node_mark(struct orch *o, const json_t *node, unsigned action, int64_t now)
{
	char path[512];
	json_t *upd = nodelc_apply(node, action, now);
	if (upd == NULL)
		return;
	const char *name = ctlr_name(node);
	struct apic_resp r;
	/* spec (the taint) first, then status (the Ready condition) on the
	 * version that write returned. */
	snprintf(path, sizeof(path), "/api/v1/nodes/%s", name);
	long st = orch_write(o, "PUT", path, upd, &r);
	if (st == 200 && json_is_object(r.body)) {
		json_object_set(json_object_get(upd, "metadata"), "resourceVersion",
				json_object_get(json_object_get(r.body, "metadata"),
						"resourceVersion"));
		informer_put_local(o->inf[ORCH_NODES], r.body, orch_on_change, o);
		apic_resp_clear(&r);
		snprintf(path, sizeof(path), "/api/v1/nodes/%s/status", name);
		st = orch_write(o, "PUT", path, upd, &r);
		if (st == 200 && json_is_object(r.body))
			informer_put_local(o->inf[ORCH_NODES], r.body, orch_on_change, o);
	}
	if (st == 200)
		orch_logf(o, "node %s: %s", name,
			  action & NODELC_MARK_READY ? "Ready (lease renewed)"
						     : "NotReady (lease expired), tainted "
						       "unreachable:NoExecute");
	else if (st > 0 && st != 409)
		orch_logf(o, "node %s: status update: HTTP %ld: %s", name, st, r.errmsg);
	apic_resp_clear(&r);
	json_decref(upd);
}

static void orch_evict(struct orch *o, const char *node, const char *why)
{
	json_t *pods = json_array();
	if (pods == NULL)
		return;
	orch_pods_on(o, node, pods);
	orch_logf(o, "node %s: %s: deleting its %zu pod(s)", node, why, json_array_size(pods));
	size_t i;
	json_t *pod;
	char path[768], key[512];
	json_array_foreach(pods, i, pod) {
		struct apic_resp r;
		orch_pod_path(path, sizeof(path), pod, NULL);
		long st = orch_write(o, "DELETE", path, NULL, &r);
		if (st == 200 || st == 404) {
			if (st == 200)
				__atomic_add_fetch(&o->stats.evicted_pods, 1, __ATOMIC_RELAXED);
			if (ctlr_key(pod, key, sizeof(key)))
				informer_del_local(o->inf[ORCH_PODS], key, informer_rv(pod),
						   orch_on_change, o);
		} else if (st > 0) {
			orch_logf(o, "evicting %s: HTTP %ld: %s", path, st, r.errmsg);
		}
		apic_resp_clear(&r);
	}
	json_decref(pods);
}

/* Pods bound to a Node that no longer exists (deleted by an operator) are
 * deleted once it has been gone for the grace period, so their
 * controllers place them again (kube-controller-manager's pod GC). */
static void orch_orphans(struct orch *o, const json_t *per_node, int64_t now)
{
	int64_t grace = (int64_t)(o->p.node_grace_s ? o->p.node_grace_s : 40) * 1000000;
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(o->orphans, tmp, k, v) {
		if (json_object_get(per_node, k) == NULL ||
		    informer_get(o->inf[ORCH_NODES], k) != NULL)
			json_object_del(o->orphans, k);
	}
	json_t *due = json_array();
	json_object_foreach((json_t *)per_node, k, v) {
		if (informer_get(o->inf[ORCH_NODES], k) != NULL || due == NULL)
			continue;
		json_t *since = json_object_get(o->orphans, k);
		if (since == NULL)
			json_object_set_new(o->orphans, k, json_integer(now));
		else if (now - json_integer_value(since) >= grace)
			json_array_append_new(due, json_string(k));
	}
	size_t i;
	json_array_foreach(due, i, v) {
		orch_evict(o, json_string_value(v), "the Node was deleted");
		json_object_del(o->orphans, json_string_value(v));
	}
	json_decref(due);
}

static void orch_lifecycle(struct orch *o, int64_t now)
{
	const json_t *nodes = informer_items(o->inf[ORCH_NODES]);
	size_t n = json_object_size(nodes);
	struct nodelc_node *in = calloc(n + 1, sizeof(*in));
	unsigned *out = calloc(n + 1, sizeof(*out));
	const json_t **objs = calloc(n + 1, sizeof(*objs));
	json_t *per_node = json_object(); /* name -> pod count */
	if (!in || !out || !objs || !per_node)
		goto done;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)informer_items(o->inf[ORCH_PODS]), k, v) {
		const char *pn = ctlr_pod_node(v);
		if (pn == NULL || ctlr_pod_terminal(v))
			continue;
		json_t *c = json_object_get(per_node, pn);
		json_object_set_new(per_node, pn, json_integer(c ? json_integer_value(c) + 1 : 1));
	}
	orch_orphans(o, per_node, now);
	size_t i = 0;
	json_object_foreach((json_t *)nodes, k, v) {
		char lk[512];
		snprintf(lk, sizeof(lk), ORCH_LEASE_NS "/%s", k);
		json_t *fs = json_object_get(o->first_seen, k);
		nodelc_from_json(v, informer_get(o->inf[ORCH_LEASES], lk),
				 fs ? json_integer_value(fs) : now, &in[i]);
		json_t *c = json_object_get(per_node, k);
		in[i].pods = c ? (size_t)json_integer_value(c) : 0;
		objs[i] = v;
		i++;
	}
	struct nodelc_params np = {
		.grace_s = o->p.node_grace_s,
		.evict_timeout_s = o->p.evict_timeout_s,
		.evict_rate = o->p.evict_rate,
		.evict_burst = o->p.evict_burst,
	};
	struct nodelc_summary sum;
	nodelc_decide(&np, &o->nlc, now, in, n, out, &sum);
	if (sum.partition_begin)
		orch_logf(o, "%zu of %zu nodes have stale leases: assuming a partition between this "
			     "master and the nodes; evictions stop until fewer than half are stale",
			  sum.stale, n);
	/* Act on copies of names: the writes change the cache. */
	json_t *todo = json_array();
	for (i = 0; todo && i < n; i++)
		if (out[i] != NODELC_NONE)
			json_array_append_new(todo, json_pack("{s:s, s:i, s:O}", "name", in[i].name,
							      "a", (int)out[i], "node", objs[i]));
	json_array_foreach(todo, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		unsigned a = (unsigned)json_integer_value(json_object_get(v, "a"));
		if (a & (NODELC_MARK_READY | NODELC_MARK_NOT_READY))
			orch_node_mark(o, json_object_get(v, "node"),
				       a & (NODELC_MARK_READY | NODELC_MARK_NOT_READY), now);
		if (a & NODELC_EVICT)
			orch_evict(o, name, "NotReady past the eviction timeout");
	}
	json_decref(todo);
done:
	json_decref(per_node);
	free(in);
	free(out);
	free(objs);
}

/* ------------------------------------------------------------ scheduler */

struct orch_pending {
	int64_t created;
	const char *key;
};

static int orch_pending_cmp(const void *a, const void *b)
{
	const struct orch_pending *x = a, *y = b;
	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* Record FailedScheduling in the pod's PodScheduled condition, unless it
 * already says the same. */
static void orch_unschedulable(struct orch *o, const json_t *pod, const char *msg)
{
	const json_t *conds = json_object_get(json_object_get(pod, "status"), "conditions");
	size_t i;
	json_t *c;
	json_array_foreach(conds, i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		const char *m = json_string_value(json_object_get(c, "message"));
		const char *s = json_string_value(json_object_get(c, "status"));
		if (t && strcmp(t, "PodScheduled") == 0 && m && strcmp(m, msg) == 0 && s &&
		    strcmp(s, "False") == 0)
			return;
	}
	char now[40];
	ctlr_time_format(ctlr_now_us(), now, sizeof(now));
	json_t *upd = json_deep_copy(pod);
	if (upd == NULL)
		return;
	json_t *status = json_object_get(upd, "status");
	if (!json_is_object(status)) {
		status = json_object();
		json_object_set_new(upd, "status", status);
	}
	json_t *nc = json_array();
	json_array_foreach(conds, i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		if (!t || strcmp(t, "PodScheduled") != 0)
			json_array_append(nc, c);
	}
	json_array_append_new(nc, json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "PodScheduled",
					    "status", "False", "reason", "Unschedulable", "message",
					    msg, "lastTransitionTime", now));
	json_object_set_new(status, "conditions", nc);
	if (json_object_get(status, "phase") == NULL)
		json_object_set_new(status, "phase", json_string("Pending"));
	char path[768];
	orch_pod_path(path, sizeof(path), pod, "status");
	struct apic_resp r;
	long st = orch_write(o, "PUT", path, upd, &r);
	if (st == 200 && json_is_object(r.body))
		informer_put_local(o->inf[ORCH_PODS], r.body, orch_on_change, o);
	else if (st > 0 && st != 409 && st != 404)
		orch_logf(o, "FailedScheduling status for %s: HTTP %ld: %s", path, st, r.errmsg);
	apic_resp_clear(&r);
	json_decref(upd);
}

static void orch_schedule(struct orch *o, int64_t now)
{
	/* Unschedulable pods get another chance when capacity may have
	 * appeared, or every few seconds. */
	/* At most once a second even when nodes change all the time (agents
	 * posting status), so thousands of unschedulable pods are not
	 * re-decided every round. */
	o->unsched_dirty = o->unsched_dirty || o->nodes_changed || o->pods_freed;
	int64_t since = now - o->last_unsched_us;
	if (json_object_size(o->unsched) &&
	    ((o->unsched_dirty && since >= 1000000) || since > ORCH_UNSCHED_RETRY_US)) {
		o->unsched_dirty = false;
		json_object_update(o->pending, o->unsched);
		json_object_clear(o->unsched);
		o->last_unsched_us = now;
	}
	size_t n = json_object_size(o->pending);
	if (n == 0)
		return;
	struct orch_pending *list = calloc(n, sizeof(*list));
	json_t *keys = json_array();
	if (list == NULL || keys == NULL) {
		free(list);
		json_decref(keys);
		return;
	}
	size_t m = 0;
	const char *k;
	json_t *v;
	json_object_foreach(o->pending, k, v) json_array_append_new(keys, json_string(k));
	size_t i;
	json_array_foreach(keys, i, v) {
		const json_t *pod = informer_get(o->inf[ORCH_PODS], json_string_value(v));
		if (pod == NULL || ctlr_pod_node(pod)) {
			json_object_del(o->pending, json_string_value(v));
			continue;
		}
		const char *ts = json_string_value(
			json_object_get(json_object_get(pod, "metadata"), "creationTimestamp"));
		list[m].created = 0;
		if (ts)
			ctlr_time_parse(ts, &list[m].created);
		list[m].key = json_string_value(v);
		m++;
	}
	qsort(list, m, sizeof(*list), orch_pending_cmp);
	for (i = 0; i < m && !o->stop; i++) {
		const json_t *pod = informer_get(o->inf[ORCH_PODS], list[i].key);
		if (pod == NULL)
			continue;
		json_t *hold = json_incref((json_t *)pod); /* writes may replace it */
		struct sched_result res;
		char err[256];
		int rc = sched_pick(o->sched, hold, &res, err, sizeof(err));
		if (rc != SCHED_OK) {
			orch_warn_once(o, list[i].key, "pod %s cannot be scheduled: %s", list[i].key,
				       err);
			json_object_del(o->pending, list[i].key);
			json_object_set_new(o->unsched, list[i].key, json_true());
		} else if (res.node[0]) {
			orch_bind(o, list[i].key, hold, res.node);
		} else {
			__atomic_add_fetch(&o->stats.unschedulable, 1, __ATOMIC_RELAXED);
			json_object_del(o->pending, list[i].key);
			json_object_set_new(o->unsched, list[i].key, json_true());
			orch_unschedulable(o, hold, res.reason);
		}
		json_decref(hold);
		if (!orch_leader(o))
			break;
	}
	free(list);
	json_decref(keys);
}

/* ------------------------------------------------------------ deployments */

/* pods grouped by the uid of their controller owner: uid -> [pods]. */
static json_t *orch_pods_by_owner(struct orch *o)
{
	json_t *idx = json_object();
	const char *k;
	json_t *pod;
	json_object_foreach((json_t *)informer_items(o->inf[ORCH_PODS]), k, pod) {
		const char *uid = sched_owner_uid(pod);
		if (uid == NULL || idx == NULL)
			continue;
		json_t *arr = json_object_get(idx, uid);
		if (arr == NULL) {
			arr = json_array();
			json_object_set_new(idx, uid, arr);
		}
		json_array_append(arr, pod);
	}
	return idx;
}

static void orch_deploy_one(struct orch *o, const json_t *dep, const json_t *owned)
{
	size_t n = json_array_size(owned);
	const json_t **pods = calloc(n + 1, sizeof(*pods));
	if (pods == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		pods[i] = json_array_get(owned, i);
	struct deploy_plan plan;
	char err[256], key[512], path[768];
	ctlr_key(dep, key, sizeof(key));
	if (deploy_reconcile(dep, pods, n, &plan, err, sizeof(err)) != 0) {
		orch_warn_once(o, key, "%s", err);
		goto done;
	}
	const char *ns = ctlr_namespace(dep);
	size_t i;
	json_t *v;
	json_array_foreach(plan.del, i, v) {
		struct apic_resp r;
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns,
			 json_string_value(v));
		long st = orch_write(o, "DELETE", path, NULL, &r);
		if (st == 200 || st == 404) {
			char pk[512];
			snprintf(pk, sizeof(pk), "%s/%s", ns, json_string_value(v));
			if (st == 200)
				__atomic_add_fetch(&o->stats.pods_deleted, 1, __ATOMIC_RELAXED);
			informer_del_local(o->inf[ORCH_PODS], pk, informer_rv(r.body),
					   orch_on_change, o);
		} else if (st > 0) {
			orch_logf(o, "deployment %s: delete pod: HTTP %ld: %s", key, st, r.errmsg);
		}
		apic_resp_clear(&r);
	}
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
	json_array_foreach(plan.create, i, v) {
		struct apic_resp r;
		long st = orch_write(o, "POST", path, v, &r);
		if (st == 201 || st == 200) {
			__atomic_add_fetch(&o->stats.pods_created, 1, __ATOMIC_RELAXED);
			if (json_is_object(r.body))
				informer_put_local(o->inf[ORCH_PODS], r.body, orch_on_change, o);
		} else if (st > 0 && st != 409) {
			/* 409 AlreadyExists: an earlier round made it and the
			 * watch has not shown it yet. */
			orch_logf(o, "deployment %s: create pod %s: HTTP %ld: %s", key, ctlr_name(v),
				  st, r.errmsg);
		}
		apic_resp_clear(&r);
	}
	if (plan.status) {
		json_t *upd = json_deep_copy(dep);
		if (upd) {
			json_object_set(upd, "status", plan.status);
			struct apic_resp r;
			snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/deployments/%s", ns,
				 ctlr_name(dep));
			long st = orch_write(o, "PUT", path, upd, &r);
			if (st == 200 && json_is_object(r.body))
				informer_put_local(o->inf[ORCH_DEPLOYS], r.body, orch_on_change, o);
			else if (st > 0 && st != 409 && st != 404)
				orch_logf(o, "deployment %s: status: HTTP %ld: %s", key, st,
					  r.errmsg);
			apic_resp_clear(&r);
			json_decref(upd);
		}
	}
done:
	deploy_plan_clear(&plan);
	free(pods);
}

/* Pods whose controller is a Deployment that no longer exists: delete
 * them (the garbage collector's job in Kubernetes). */
static void orch_deploy_gc(struct orch *o, json_t *by_owner, int64_t now)
{
	json_t *live = json_object();
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)informer_items(o->inf[ORCH_DEPLOYS]), k, v) {
		const char *uid = ctlr_uid(v);
		if (uid && live)
			json_object_set_new(live, uid, json_true());
	}
	json_t *doomed = json_array();
	json_object_foreach(by_owner, k, v) {
		if (json_object_get(live, k))
			continue;
		size_t i;
		json_t *pod;
		json_array_foreach(v, i, pod) {
			/* A pod younger than a resync may belong to a Deployment
			 * our watch has not delivered yet: not garbage. */
			int64_t created = 0;
			const char *ts = json_string_value(json_object_get(
				json_object_get(pod, "metadata"), "creationTimestamp"));
			if (ts == NULL || !ctlr_time_parse(ts, &created) ||
			    now - created < ORCH_RESYNC_US)
				continue;
			json_t *refs = json_object_get(json_object_get(pod, "metadata"),
						       "ownerReferences");
			size_t j;
			json_t *r;
			json_array_foreach(refs, j, r) {
				const char *kind = json_string_value(json_object_get(r, "kind"));
				const char *uid = json_string_value(json_object_get(r, "uid"));
				if (kind && uid && strcmp(kind, "Deployment") == 0 &&
				    strcmp(uid, k) == 0)
					json_array_append(doomed, pod);
			}
		}
	}
	size_t i;
	json_array_foreach(doomed, i, v) {
		char path[768], key[512];
		struct apic_resp r;
		orch_pod_path(path, sizeof(path), v, NULL);
		long st = orch_write(o, "DELETE", path, NULL, &r);
		if ((st == 200 || st == 404) && ctlr_key(v, key, sizeof(key)))
			informer_del_local(o->inf[ORCH_PODS], key, informer_rv(v), orch_on_change, o);
		apic_resp_clear(&r);
	}
	if (json_array_size(doomed))
		orch_logf(o, "deleted %zu pod(s) of deleted deployments", json_array_size(doomed));
	json_decref(doomed);
	json_decref(live);
}

static void orch_deployments(struct orch *o, bool all)
{
	if (!all && json_object_size(o->dirty_dep) == 0 && !o->deploy_deleted)
		return;
	json_t *by_owner = orch_pods_by_owner(o);
	json_t *todo = json_array();
	const char *k;
	json_t *v;
	if (all) {
		json_object_foreach((json_t *)informer_items(o->inf[ORCH_DEPLOYS]), k, v)
			json_array_append_new(todo, json_string(k));
	} else {
		json_object_foreach(o->dirty_dep, k, v) json_array_append_new(todo, json_string(k));
	}
	json_object_clear(o->dirty_dep);
	size_t i;
	json_array_foreach(todo, i, v) {
		const json_t *dep = informer_get(o->inf[ORCH_DEPLOYS], json_string_value(v));
		const char *uid = dep ? ctlr_uid(dep) : NULL;
		if (uid == NULL)
			continue;
		json_t *hold = json_incref((json_t *)dep);
		json_t *owned = json_object_get(by_owner, uid);
		json_t *none = owned ? NULL : json_array();
		orch_deploy_one(o, hold, owned ? owned : none);
		json_decref(none);
		json_decref(hold);
		if (!orch_leader(o))
			break;
	}
	if (o->deploy_deleted || all)
		orch_deploy_gc(o, by_owner, ctlr_now_us());
	o->deploy_deleted = false;
	json_decref(todo);
	json_decref(by_owner);
}

/* ------------------------------------------------------------ endpoints */

static void orch_endpoints_gc(struct orch *o)
{
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(o->dead_svc, tmp, k, v) {
		const json_t *ep = informer_get(o->inf[ORCH_EPS], k);
		if (ep && informer_get(o->inf[ORCH_SVCS], k) == NULL) {
			char path[768];
			struct apic_resp r;
			snprintf(path, sizeof(path), "/api/v1/namespaces/%s/endpoints/%s",
				 ctlr_namespace(ep), ctlr_name(ep));
			long st = orch_write(o, "DELETE", path, NULL, &r);
			if (st == 200 || st == 404)
				informer_del_local(o->inf[ORCH_EPS], k, informer_rv(ep), orch_on_change,
						   o);
			apic_resp_clear(&r);
			if (st < 0)
				return; /* not leading or no answer: next round */
		}
		json_object_del(o->dead_svc, k);
	}
}

static void orch_endpoints(struct orch *o)
{
	orch_endpoints_gc(o);
	if (json_object_size(o->dirty_svc) == 0)
		return;
	json_t *todo = json_object();
	json_object_update(todo, o->dirty_svc);
	json_object_clear(o->dirty_svc);
	const char *k;
	json_t *v;
	/* All pods once, as an array the pure function can scan. */
	json_t *all = json_array();
	json_object_foreach((json_t *)informer_items(o->inf[ORCH_PODS]), k, v)
		json_array_append(all, v);
	size_t n = json_array_size(all);
	const json_t **pods = calloc(n + 1, sizeof(*pods));
	for (size_t i = 0; pods && i < n; i++)
		pods[i] = json_array_get(all, i);
	json_object_foreach(todo, k, v) {
		if (pods == NULL)
			break;
		const json_t *svc = informer_get(o->inf[ORCH_SVCS], k);
		const json_t *cur = informer_get(o->inf[ORCH_EPS], k);
		char path[768];
		struct apic_resp r;
		if (svc == NULL)
			continue; /* Service deleted: its Endpoints are left to their owner */
		if (o->p.api_service && strcmp(k, APISVC_KEY) == 0)
			continue; /* the masters' Endpoints: orch_apisvc's */
		bool nomem;
		json_t *want = endpoints_compute(svc, pods, n, &nomem);
		if (want == NULL)
			continue; /* no selector: not ours */
		if (cur && endpoints_equal(cur, want)) {
			json_decref(want);
			continue;
		}
		const char *ns = ctlr_namespace(svc);
		long st;
		if (cur) {
			json_object_set(json_object_get(want, "metadata"), "resourceVersion",
					json_object_get(json_object_get(cur, "metadata"),
							"resourceVersion"));
			snprintf(path, sizeof(path), "/api/v1/namespaces/%s/endpoints/%s", ns,
				 ctlr_name(svc));
			st = orch_write(o, "PUT", path, want, &r);
		} else {
			snprintf(path, sizeof(path), "/api/v1/namespaces/%s/endpoints", ns);
			st = orch_write(o, "POST", path, want, &r);
		}
		if ((st == 200 || st == 201) && json_is_object(r.body)) {
			__atomic_add_fetch(&o->stats.endpoints_writes, 1, __ATOMIC_RELAXED);
			informer_put_local(o->inf[ORCH_EPS], r.body, orch_on_change, o);
			/* Our own write marked it dirty again: nothing to redo. */
			json_object_del(o->dirty_svc, k);
		} else if (st > 0 && st != 409) {
			orch_logf(o, "endpoints %s: HTTP %ld: %s", k, st, r.errmsg);
		}
		apic_resp_clear(&r);
		json_decref(want);
	}
	free(pods);
	json_decref(all);
	json_decref(todo);
}

/* ------------------------------------------------------------ apiservice */

/* PUT obj (an update of cur) or POST it (cur NULL) under the collection
 * path coll ("/api/v1/namespaces/default/services"); the answer goes into
 * inf. Returns the HTTP status, -1 when not sent. */
static long orch_apisvc_write(struct orch *o, struct informer *inf, const char *coll,
			      const json_t *cur, json_t *obj)
{
	char path[256];
	struct apic_resp r;
	long st;
	if (cur != NULL) {
		json_object_set(json_object_get(obj, "metadata"), "resourceVersion",
				json_object_get(json_object_get(cur, "metadata"), "resourceVersion"));
		snprintf(path, sizeof(path), "%s/%s", coll, APISVC_NAME);
		st = orch_write(o, "PUT", path, obj, &r);
	} else {
		st = orch_write(o, "POST", coll, obj, &r);
	}
	if ((st == 200 || st == 201) && json_is_object(r.body)) {
		__atomic_add_fetch(&o->stats.apisvc_writes, 1, __ATOMIC_RELAXED);
		informer_put_local(inf, r.body, orch_on_change, o);
		orch_logf(o, "%s %s: %s", coll + sizeof("/api/v1/namespaces/" APISVC_NAMESPACE),
			  APISVC_KEY, cur ? "updated" : "created");
	} else if (st > 0 && st != 409) { /* 409: the watch brings the newer one */
		char key[64];
		snprintf(key, sizeof(key), "apisvc %ld %s", st, coll);
		orch_warn_once(o, key, "%s %s: HTTP %ld: %s", coll, APISVC_KEY, st, r.errmsg);
	}
	apic_resp_clear(&r);
	return st;
}

/*
 * default/kubernetes (Kubernetes' master endpoint reconciler): the
 * Endpoints list the masters /cluster/status reports (this leader's view:
 * a member it has not heard from within two election timeouts is not
 * ready), the Service is created with the reserved clusterIP and keeps the
 * fields ctlr_apisvc.h says are ours.
 */
static void orch_apisvc(struct orch *o, int64_t now)
{
	if (!o->p.api_service || now - o->last_apisvc_us < ORCH_APISVC_PERIOD_US)
		return;
	o->last_apisvc_us = now;
	struct apic_resp r;
	memset(&r, 0, sizeof(r));
	if (apic_request(o->api, "GET", "/cluster/status", NULL, &r) != APIC_OK || r.status != 200 ||
	    !json_is_object(r.body)) {
		orch_warn_once(o, "apisvc status", "/cluster/status: HTTP %ld: %s", r.status,
			       r.errmsg);
		apic_resp_clear(&r);
		return;
	}
	json_t *skipped = json_array();
	json_t *eps = apisvc_endpoints(r.body, skipped);
	apic_resp_clear(&r);
	size_t i;
	json_t *v;
	json_array_foreach(skipped, i, v) {
		char key[128];
		snprintf(key, sizeof(key), "apisvc skip %s", json_string_value(v));
		orch_warn_once(o, key,
			       "master %s: its apiURL is not https://IPv4:PORT, left out of the "
			       "Endpoints " APISVC_KEY, json_string_value(v));
	}
	json_decref(skipped);
	if (eps == NULL)
		return;
	const json_t *cur_svc = informer_get(o->inf[ORCH_SVCS], APISVC_KEY);
	struct apisvc_cfg cfg = {.vips = o->p.api_vips, .n_vips = o->p.n_api_vips,
				 .target_port = apisvc_target_port(eps)};
	bool nomem;
	json_t *svc = apisvc_service(cur_svc, &cfg, &nomem);
	long st = 0;
	if (svc != NULL)
		st = orch_apisvc_write(o, o->inf[ORCH_SVCS],
				       "/api/v1/namespaces/" APISVC_NAMESPACE "/services", cur_svc, svc);
	json_decref(svc);
	/* The Endpoints follow the Service (an Endpoints without it would be
	 * garbage-collected with the next Service deletion anyway). */
	const json_t *cur_ep = informer_get(o->inf[ORCH_EPS], APISVC_KEY);
	if (st >= 0 && informer_get(o->inf[ORCH_SVCS], APISVC_KEY) != NULL &&
	    (cur_ep == NULL || !endpoints_equal(cur_ep, eps)))
		(void)orch_apisvc_write(o, o->inf[ORCH_EPS],
					"/api/v1/namespaces/" APISVC_NAMESPACE "/endpoints", cur_ep, eps);
	json_decref(eps);
}

/* ------------------------------------------------------------ loop */

static bool orch_all_synced(struct orch *o)
{
	for (int i = 0; i < ORCH_NRES; i++)
		if (!informer_synced(o->inf[i]))
			return false;
	return true;
}

static void orch_round(struct orch *o)
{
	int64_t now = ctlr_now_us();
	if (!o->synced) {
		o->synced = true;
		orch_logf(o, "caches synced: %zu nodes, %zu pods, %zu deployments, %zu services",
			  json_object_size(informer_items(o->inf[ORCH_NODES])),
			  json_object_size(informer_items(o->inf[ORCH_PODS])),
			  json_object_size(informer_items(o->inf[ORCH_DEPLOYS])),
			  json_object_size(informer_items(o->inf[ORCH_SVCS])));
	}
	bool nodes_due = now - o->last_nodes_us >= ORCH_NODE_PERIOD_US;
	if (o->nodes_changed || nodes_due)
		orch_ipam(o);
	if (nodes_due) {
		orch_lifecycle(o, now);
		o->last_nodes_us = now;
	}
	bool resync = now - o->last_resync_us >= ORCH_RESYNC_US;
	orch_deployments(o, resync);
	if (resync)
		o->last_resync_us = now;
	orch_schedule(o, now);
	o->nodes_changed = o->pods_freed = false;
	orch_endpoints(o);
	orch_apisvc(o, now);
}

static void *orch_main(void *arg)
{
	struct orch *o = arg;
	while (!o->stop) {
		bool leader = orch_leader(o);
		if (leader && !o->active && !orch_activate(o)) {
			struct timespec ts = {1, 0};
			nanosleep(&ts, NULL);
			continue;
		}
		if (!leader && o->active) {
			orch_logf(o, "no longer leading: stopped");
			orch_deactivate(o);
		}
		if (!o->active) {
			struct timespec ts = {0, 100 * 1000000L};
			nanosleep(&ts, NULL);
			continue;
		}
		informer_drain(o->q, 100, orch_on_change, o);
		orch_bind_results(o);
		if (orch_all_synced(o) && orch_leader(o))
			orch_round(o);
	}
	if (o->active)
		orch_deactivate(o);
	return NULL;
}

static bool orch_copy(char *dst, size_t cap, const char *src)
{
	if (src == NULL) {
		dst[0] = 0;
		return true;
	}
	return (size_t)snprintf(dst, cap, "%s", src) < cap;
}

struct orch *orch_start(const struct orch_params *p, char *errmsg, size_t errlen)
{
	struct orch *o = calloc(1, sizeof(*o));
	if (o == NULL) {
		sluice_errf(-1, errmsg, errlen, "orch: out of memory");
		return NULL;
	}
	o->p = *p;
	snprintf(o->name, sizeof(o->name), "%s", p->name ? p->name : "orch");
	bool ok = p->api.n_servers > 0 && p->api.n_servers <= APIC_MAX_SERVERS;
	for (size_t i = 0; ok && i < p->api.n_servers; i++) {
		ok = p->api.servers[i] && orch_copy(o->servers[i], sizeof(o->servers[i]),
						    p->api.servers[i]);
		o->p.api.servers[i] = o->servers[i];
	}
	if (!ok) {
		sluice_errf(-1, errmsg, errlen, "orch: api.servers: 1 to %d URLs of < 256 bytes",
			    APIC_MAX_SERVERS);
		goto fail;
	}
	if (!orch_copy(o->ca, sizeof(o->ca), p->api.ca) ||
	    !orch_copy(o->cert, sizeof(o->cert), p->api.cert) ||
	    !orch_copy(o->key, sizeof(o->key), p->api.key) ||
	    !orch_copy(o->cidr, sizeof(o->cidr), p->cluster_cidr ? p->cluster_cidr : "10.244.0.0/16")) {
		sluice_errf(-1, errmsg, errlen, "orch: a path or the cluster CIDR is too long");
		goto fail;
	}
	o->p.api.ca = p->api.ca ? o->ca : NULL;
	o->p.api.cert = p->api.cert ? o->cert : NULL;
	o->p.api.key = p->api.key ? o->key : NULL;
	o->p.cluster_cidr = o->cidr;
	o->p.name = o->name;
	if (p->n_api_vips > APISVC_MAX_VIPS) {
		sluice_errf(-1, errmsg, errlen, "orch: at most %d API VIPs", APISVC_MAX_VIPS);
		goto fail;
	}
	for (size_t i = 0; i < p->n_api_vips; i++) {
		if (apisvc_vip_check(p->api_vips[i], o->cidr, errmsg, errlen) < 0)
			goto fail;
		snprintf(o->vips[i], sizeof(o->vips[i]), "%s", p->api_vips[i]);
		o->p.api_vips[i] = o->vips[i];
	}
	/* Validate the options now rather than at the first election. */
	struct ipam *a = ipam_create(o->cidr, p->node_cidr_bits ? p->node_cidr_bits : 24, errmsg,
				     errlen);
	if (a == NULL)
		goto fail;
	ipam_free(a);
	if (p->evict_rate < 0 || p->evict_rate > 1e6) {
		sluice_errf(-1, errmsg, errlen, "orch: evict_rate: must be 0..1e6 nodes/s");
		goto fail;
	}
	pthread_mutex_init(&o->bind_lock, NULL);
	pthread_cond_init(&o->bind_cond, NULL);
	int rc = pthread_create(&o->thread, NULL, orch_main, o);
	if (rc != 0) {
		sluice_errf(-1, errmsg, errlen, "orch: thread: %s", strerror(rc));
		pthread_mutex_destroy(&o->bind_lock);
		pthread_cond_destroy(&o->bind_cond);
		goto fail;
	}
	return o;
fail:
	free(o);
	return NULL;
}

void orch_stop(struct orch *o)
{
	if (o == NULL)
		return;
	o->stop = 1;
	pthread_join(o->thread, NULL);
	pthread_mutex_destroy(&o->bind_lock);
	pthread_cond_destroy(&o->bind_cond);
	free(o);
}

void orch_get_stats(const struct orch *o, struct orch_stats *out)
{
	const unsigned long long *src = (const unsigned long long *)&o->stats;
	unsigned long long *dst = (unsigned long long *)out;
	for (size_t i = 0; i < sizeof(*out) / sizeof(*dst); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}
