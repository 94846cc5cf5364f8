/*
 * ctlr_deploy: Deployment reconcile decisions (see ctlr_deploy.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/errmsg.h>

#include "ctlr_deploy.h"
#include "ctlr_util.h"

/* Longest name prefix kept so <prefix>-<hash>-<n> stays a valid name. */
#define DEPLOY_NAME_PREFIX_MAX 200

void deploy_template_hash(const json_t *tmpl, char *out)
{
	/* kube's alphabet without vowels, so hashes never spell words. */
	static const char alpha[] = "bcdfghjklmnpqrstvwxz2456789";
	char *s = json_dumps(tmpl, JSON_COMPACT | JSON_SORT_KEYS);
	uint64_t h = 1469598103934665603ull; /* FNV-1a 64 */
	for (const char *p = s ? s : ""; *p; p++) {
		h ^= (unsigned char)*p;
		h *= 1099511628211ull;
	}
	free(s);
	for (int i = 0; i < DEPLOY_HASH_LEN; i++) {
		out[i] = alpha[h % (sizeof(alpha) - 1)];
		h /= sizeof(alpha) - 1;
	}
	out[DEPLOY_HASH_LEN] = 0;
}

long deploy_int_or_percent(const json_t *v, long total, int round_up)
{
	if (v == NULL || json_is_null(v))
		return round_up ? (total * 25 + 99) / 100 : total * 25 / 100;
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		return i < 0 || i > 0x7fffffff ? -1 : (long)i;
	}
	const char *s = json_string_value(v);
	if (s == NULL)
		return -1;
	char *end;
	long pct = strtol(s, &end, 10);
	if (end == s || strcmp(end, "%") != 0 || pct < 0 || pct > 100)
		return -1;
	return round_up ? (total * pct + 99) / 100 : total * pct / 100;
}

void deploy_plan_clear(struct deploy_plan *plan)
{
	json_decref(plan->create);
	json_decref(plan->del);
	json_decref(plan->status);
	plan->create = plan->del = plan->status = NULL;
}

/* Deletion order: unscheduled, then not ready, then ready; within a rank
 * the highest name (the newest index) first. */
static int deploy_rank(const json_t *pod)
{
	if (ctlr_pod_node(pod) == NULL)
		return 0;
	return ctlr_pod_ready(pod) ? 2 : 1;
}

static int deploy_victim_cmp(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
	int rx = deploy_rank(x), ry = deploy_rank(y);
	if (rx != ry)
		return rx - ry;
	size_t lx = strlen(ctlr_name(x)), ly = strlen(ctlr_name(y));
	if (lx != ly) /* "web-x-10" after "web-x-9" */
		return lx > ly ? -1 : 1;
	return -strcmp(ctlr_name(x), ctlr_name(y));
}

static int deploy_delete(json_t *del, const json_t **list, size_t n, size_t count,
			 bool unready_only)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++) /* drop the ones taken by an earlier pass */
		if (list[i] != NULL)
			list[m++] = list[i];
	for (size_t i = m; i < n; i++)
		list[i] = NULL;
	qsort(list, m, sizeof(*list), deploy_victim_cmp);
	size_t done = 0;
	for (size_t i = 0; i < m && done < count; i++) {
		if (unready_only && deploy_rank(list[i]) == 2)
			continue;
		if (json_array_append_new(del, json_string(ctlr_name(list[i]))) != 0)
			return -1;
		list[i] = NULL; /* taken */
		done++;
	}
	return (int)done;
}

static json_t *deploy_new_pod(const json_t *deploy, const char *hash, long idx)
{
	const json_t *tmpl = json_object_get(json_object_get(deploy, "spec"), "template");
	const json_t *tmeta = json_object_get(tmpl, "metadata");
	char name[DEPLOY_NAME_PREFIX_MAX + DEPLOY_HASH_LEN + 24];
	snprintf(name, sizeof(name), "%.*s-%s-%ld", DEPLOY_NAME_PREFIX_MAX, ctlr_name(deploy),
		 hash, idx);
	json_t *meta = json_is_object(tmeta) ? json_deep_copy(tmeta) : json_object();
	json_t *spec = json_deep_copy(json_object_get(tmpl, "spec"));
	json_t *pod = json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "v1", "kind", "Pod",
				"metadata", meta, "spec", spec);
	if (pod == NULL)
		return NULL;
	json_t *labels = json_object_get(meta, "labels");
	if (!json_is_object(labels)) {
		labels = json_object();
		json_object_set_new(meta, "labels", labels);
	}
	json_t *owner = json_pack("[{s:s, s:s, s:s, s:s, s:b, s:b}]", "apiVersion", "apps/v1",
				  "kind", "Deployment", "name", ctlr_name(deploy), "uid",
				  ctlr_uid(deploy), "controller", 1, "blockOwnerDeletion", 1);
	if (labels == NULL || owner == NULL ||
	    json_object_set_new(labels, DEPLOY_HASH_LABEL, json_string(hash)) != 0 ||
	    json_object_set_new(meta, "name", json_string(name)) != 0 ||
	    json_object_set_new(meta, "namespace", json_string(ctlr_namespace(deploy))) != 0 ||
	    json_object_set_new(meta, "ownerReferences", owner) != 0) {
		json_decref(pod);
		return NULL;
	}
	json_object_del(meta, "resourceVersion");
	json_object_del(meta, "uid");
	json_object_del(meta, "creationTimestamp");
	return pod;
}

/* Index n of a pod named <deploy>-<hash>-<n>, or -1. */
static long deploy_name_index(const char *pod, const char *prefix)
{
	size_t pl = strlen(prefix);
	if (strncmp(pod, prefix, pl) != 0 || pod[pl] == 0)
		return -1;
	char *end;
	long v = strtol(pod + pl, &end, 10);
	return *end == 0 && v >= 0 ? v : -1;
}

static int deploy_create(json_t *create, const json_t *deploy, const char *hash,
			 const json_t *const *pods, size_t n, long count)
{
	char prefix[DEPLOY_NAME_PREFIX_MAX + DEPLOY_HASH_LEN + 4];
	snprintf(prefix, sizeof(prefix), "%.*s-%s-", DEPLOY_NAME_PREFIX_MAX, ctlr_name(deploy),
		 hash);
	size_t cap = n + (size_t)count + 1;
	bool *used = calloc(cap, sizeof(*used));
	if (used == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		long k = deploy_name_index(ctlr_name(pods[i]), prefix);
		if (k >= 0 && (size_t)k < cap)
			used[k] = true;
	}
	long made = 0;
	for (size_t k = 0; k < cap && made < count; k++) {
		if (used[k])
			continue;
		json_t *pod = deploy_new_pod(deploy, hash, (long)k);
		if (pod == NULL || json_array_append_new(create, pod) != 0) {
			free(used);
			return -1;
		}
		made++;
	}
	free(used);
	return 0;
}

static bool deploy_status_same(const json_t *old, const char *key, long v)
{
	json_t *o = json_object_get(old, key);
	return json_is_integer(o) && json_integer_value(o) == v;
}

static int deploy_status(const json_t *deploy, long total, long updated, long ready,
			 struct deploy_plan *plan)
{
	const json_t *old = json_object_get(deploy, "status");
	json_t *gen = json_object_get(json_object_get(deploy, "metadata"), "generation");
	long g = json_is_integer(gen) ? (long)json_integer_value(gen) : -1;
	const char *keys[] = {"replicas", "updatedReplicas", "readyReplicas",
			      "availableReplicas", "observedGeneration"};
	long vals[] = {total, updated, ready, ready, g};
	size_t nk = g >= 0 ? 5 : 4;
	bool same = true;
	for (size_t i = 0; i < nk; i++)
		same = same && deploy_status_same(old, keys[i], vals[i]);
	if (same)
		return 0;
	plan->status = json_is_object(old) ? json_deep_copy(old) : json_object();
	if (plan->status == NULL)
		return -1;
	for (size_t i = 0; i < nk; i++)
		if (json_object_set_new(plan->status, keys[i], json_integer(vals[i])) != 0)
			return -1;
	return 0;
}

int deploy_reconcile(const json_t *deploy, const json_t *const *pods, size_t n,
		     struct deploy_plan *plan, char *errmsg, size_t errlen)
{
	memset(plan, 0, sizeof(*plan));
	const json_t *spec = json_object_get(deploy, "spec");
	const json_t *tmpl = json_object_get(spec, "template");
	if (!json_is_object(tmpl))
		return sluice_errf(-1, errmsg, errlen, "Deployment %s: spec.template: required",
				   ctlr_name(deploy));
	if (ctlr_uid(deploy) == NULL)
		return sluice_errf(-1, errmsg, errlen, "Deployment %s: metadata.uid: required",
				   ctlr_name(deploy));
	json_t *rv = json_object_get(spec, "replicas");
	long replicas = 1;
	if (rv && !json_is_null(rv)) {
		if (!json_is_integer(rv) || json_integer_value(rv) < 0 ||
		    json_integer_value(rv) > 100000)
			return sluice_errf(-1, errmsg, errlen,
					   "Deployment %s: spec.replicas: must be 0..100000",
					   ctlr_name(deploy));
		replicas = (long)json_integer_value(rv);
	}
	const json_t *strat = json_object_get(spec, "strategy");
	const char *stype = json_string_value(json_object_get(strat, "type"));
	bool recreate = stype && strcmp(stype, "Recreate") == 0;
	const json_t *ru = json_object_get(strat, "rollingUpdate");
	long surge = deploy_int_or_percent(json_object_get(ru, "maxSurge"), replicas, 1);
	long unavail = deploy_int_or_percent(json_object_get(ru, "maxUnavailable"), replicas, 0);
	if (surge < 0 || unavail < 0)
		return sluice_errf(-1, errmsg, errlen,
				   "Deployment %s: spec.strategy.rollingUpdate: maxSurge and "
				   "maxUnavailable must be integers or \"N%%\"",
				   ctlr_name(deploy));
	if (surge == 0 && unavail == 0)
		unavail = 1;

	deploy_template_hash(tmpl, plan->hash);
	plan->create = json_array();
	plan->del = json_array();
	const json_t **newp = calloc(n + 1, sizeof(*newp));
	const json_t **oldp = calloc(n + 1, sizeof(*oldp));
	if (!plan->create || !plan->del || !newp || !oldp)
		goto nomem;
	long n_new = 0, n_old = 0, new_ready = 0, old_ready = 0;
	for (size_t i = 0; i < n; i++) {
		const json_t *p = pods[i];
		if (ctlr_pod_terminal(p)) {
			/* Failed or done: delete it and let the count replace it. */
			if (json_array_append_new(plan->del, json_string(ctlr_name(p))) != 0)
				goto nomem;
			continue;
		}
		const char *h = json_string_value(json_object_get(
			json_object_get(json_object_get(p, "metadata"), "labels"), DEPLOY_HASH_LABEL));
		bool ready = ctlr_pod_ready(p);
		if (h && strcmp(h, plan->hash) == 0) {
			newp[n_new++] = p;
			new_ready += ready;
		} else {
			oldp[n_old++] = p;
			old_ready += ready;
		}
	}
	if (deploy_status(deploy, n_new + n_old, n_new, new_ready + old_ready, plan) != 0)
		goto nomem;

	long create = 0;
	if (n_new > replicas &&
	    deploy_delete(plan->del, newp, (size_t)n_new, (size_t)(n_new - replicas), false) < 0)
		goto nomem;
	if (n_old == 0) {
		create = replicas - n_new;
	} else if (recreate) {
		if (deploy_delete(plan->del, oldp, (size_t)n_old, (size_t)n_old, false) < 0)
			goto nomem;
	} else {
		long total = n_old + n_new;
		create = replicas - n_new;
		if (create > replicas + surge - total)
			create = replicas + surge - total;
		long min_avail = replicas - unavail;
		long max_down = total - min_avail - (n_new - new_ready);
		if (max_down > 0) {
			int d = deploy_delete(plan->del, oldp, (size_t)n_old, (size_t)max_down, true);
			if (d < 0)
				goto nomem;
			long left = max_down - d;
			long ready_spare = old_ready + new_ready - min_avail;
			if (left > ready_spare)
				left = ready_spare;
			if (left > 0 &&
			    deploy_delete(plan->del, oldp, (size_t)n_old, (size_t)left, false) < 0)
				goto nomem;
		}
	}
	if (create > 0 && deploy_create(plan->create, deploy, plan->hash, pods, n, create) != 0)
		goto nomem;
	free(newp);
	free(oldp);
	return 0;
nomem:
	free(newp);
	free(oldp);
	return sluice_errf(-1, errmsg, errlen, "Deployment %s: out of memory", ctlr_name(deploy));
}
