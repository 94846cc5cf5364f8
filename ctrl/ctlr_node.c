/*
 * ctlr_node: node lifecycle decisions (see ctlr_node.h).
 */
#include <stdlib.h>
#include <string.h>

#include "ctlr_node.h"
#include "ctlr_util.h"

struct nodelc_due {
	size_t idx;
	int64_t since;
};

static int nodelc_due_cmp(const void *a, const void *b, void *arg)
{
	const struct nodelc_due *x = a, *y = b;
	const struct nodelc_node *nodes = arg;
	if (x->since != y->since)
		return x->since < y->since ? -1 : 1;
	return strcmp(nodes[x->idx].name, nodes[y->idx].name);
}

void nodelc_decide(const struct nodelc_params *p, struct nodelc_state *st, int64_t now_us,
		   const struct nodelc_node *nodes, size_t n, unsigned *out,
		   struct nodelc_summary *sum)
{
	int64_t grace = (int64_t)(p->grace_s ? p->grace_s : 40) * 1000000;
	int64_t timeout = (int64_t)(p->evict_timeout_s ? p->evict_timeout_s : 300) * 1000000;
	double rate = p->evict_rate > 0 ? p->evict_rate : 0.1;
	double burst = p->evict_burst ? (double)p->evict_burst : 1.0;
	memset(sum, 0, sizeof(*sum));

	/* Refill the bucket for the time since the last call. */
	if (!st->started) {
		st->started = true;
		st->tokens = burst;
	} else if (now_us > st->last_us) {
		st->tokens += rate * (double)(now_us - st->last_us) / 1e6;
		if (st->tokens > burst)
			st->tokens = burst;
	}
	st->last_us = now_us;

	struct nodelc_due *due = n ? calloc(n, sizeof(*due)) : NULL;
	size_t n_due = 0;
	for (size_t i = 0; i < n; i++) {
		const struct nodelc_node *nd = &nodes[i];
		int64_t seen = nd->renew_us ? nd->renew_us : nd->created_us;
		bool stale = now_us - seen > grace;
		out[i] = NODELC_NONE;
		if (!stale) {
			/* Only a renewed Lease proves the node alive: a new node
			 * without one is left alone until it is stale. */
			if (nd->renew_us && (!nd->ready || nd->tainted))
				out[i] = NODELC_MARK_READY;
			continue;
		}
		sum->stale++;
		/* Being marked NotReady now means the timeout starts now. */
		int64_t since = nd->not_ready_us ? nd->not_ready_us : now_us;
		if (nd->ready || !nd->tainted) {
			out[i] = NODELC_MARK_NOT_READY;
			if (nd->ready)
				since = now_us;
		}
		if (nd->pods > 0 && now_us - since >= timeout && due) {
			due[n_due].idx = i;
			due[n_due].since = since;
			n_due++;
		}
	}
	sum->evict_due = n_due;
	/* More than half stale at once: assume we are the ones cut off
	 * (kube-controller-manager's full-disruption rule, simplified). */
	sum->partition = n > 0 && sum->stale * 2 > n;
	sum->partition_begin = sum->partition && !st->partitioned;
	st->partitioned = sum->partition;
	if (!sum->partition && n_due > 0) {
		qsort_r(due, n_due, sizeof(*due), nodelc_due_cmp, (void *)nodes);
		for (size_t k = 0; k < n_due && st->tokens >= 1.0; k++) {
			out[due[k].idx] |= NODELC_EVICT;
			st->tokens -= 1.0;
			sum->evicted++;
		}
	}
	free(due);
}

void nodelc_from_json(const json_t *node, const json_t *lease, int64_t first_seen_us,
		      struct nodelc_node *out)
{
	memset(out, 0, sizeof(*out));
	out->name = ctlr_name(node);
	const char *renew =
		json_string_value(json_object_get(json_object_get(lease, "spec"), "renewTime"));
	if (renew && !ctlr_time_parse(renew, &out->renew_us))
		out->renew_us = 0;
	const char *created = json_string_value(
		json_object_get(json_object_get(node, "metadata"), "creationTimestamp"));
	if (!created || !ctlr_time_parse(created, &out->created_us))
		out->created_us = first_seen_us;
	/* A node created before we first saw it is judged from when we saw it:
	 * a new leader must not evict on its first look. */
	if (out->created_us < first_seen_us)
		out->created_us = first_seen_us;
	int64_t since = 0;
	const char *ready = ctlr_condition(node, "Ready", &since);
	out->ready = ready && strcmp(ready, "True") == 0;
	out->not_ready_us = out->ready ? 0 : since;
	json_t *taints = json_object_get(json_object_get(node, "spec"), "taints");
	size_t i;
	json_t *t;
	json_array_foreach(taints, i, t) {
		const char *k = json_string_value(json_object_get(t, "key"));
		const char *e = json_string_value(json_object_get(t, "effect"));
		if (k && e && strcmp(k, NODELC_TAINT_UNREACHABLE) == 0 &&
		    strcmp(e, "NoExecute") == 0)
			out->tainted = true;
	}
}

static int nodelc_set_ready(json_t *obj, bool ready, const char *now)
{
	json_t *status = json_object_get(obj, "status");
	if (!json_is_object(status)) {
		status = json_object();
		if (status == NULL || json_object_set_new(obj, "status", status) != 0)
			return -1;
	}
	json_t *conds = json_object_get(status, "conditions");
	if (!json_is_array(conds)) {
		conds = json_array();
		if (conds == NULL || json_object_set_new(status, "conditions", conds) != 0)
			return -1;
	}
	size_t i, at = json_array_size(conds);
	json_t *c;
	const char *since = now;
	json_array_foreach(conds, i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		if (t == NULL || strcmp(t, "Ready") != 0)
			continue;
		at = i;
		/* Not ready before and after (False -> Unknown, or only the
		 * taint was missing): keep the transition time, which is what
		 * the eviction timeout counts from. */
		const char *old = json_string_value(json_object_get(c, "status"));
		const char *ts = json_string_value(json_object_get(c, "lastTransitionTime"));
		if (!ready && old && strcmp(old, "True") != 0 && ts)
			since = ts;
		break;
	}
	json_t *cond = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", "Ready", "status",
				 ready ? "True" : "Unknown", "reason",
				 ready ? "NodeLeaseRenewed" : "NodeStatusUnknown", "message",
				 ready ? "node lease is being renewed"
				       : "node stopped renewing its lease",
				 "lastHeartbeatTime", now, "lastTransitionTime", since);
	if (cond == NULL)
		return -1;
	if (at < json_array_size(conds))
		return json_array_set_new(conds, at, cond);
	return json_array_append_new(conds, cond);
}

static int nodelc_set_taint(json_t *obj, bool present, const char *now)
{
	json_t *spec = json_object_get(obj, "spec");
	if (!json_is_object(spec)) {
		spec = json_object();
		if (spec == NULL || json_object_set_new(obj, "spec", spec) != 0)
			return -1;
	}
	json_t *taints = json_object_get(spec, "taints");
	json_t *keep = json_array();
	if (keep == NULL)
		return -1;
	size_t i;
	json_t *t;
	json_array_foreach(taints, i, t) {
		const char *k = json_string_value(json_object_get(t, "key"));
		if (k && strcmp(k, NODELC_TAINT_UNREACHABLE) == 0)
			continue;
		json_array_append(keep, t);
	}
	if (present &&
	    json_array_append_new(keep, json_pack("{s:s, s:s, s:s}", "key",
						  NODELC_TAINT_UNREACHABLE, "effect", "NoExecute",
						  "timeAdded", now)) != 0) {
		json_decref(keep);
		return -1;
	}
	if (json_array_size(keep) == 0) {
		json_decref(keep);
		json_object_del(spec, "taints");
		return 0;
	}
	return json_object_set_new(spec, "taints", keep);
}

json_t *nodelc_apply(const json_t *node, unsigned action, int64_t now_us)
{
	char now[40];
	ctlr_time_format(now_us, now, sizeof(now));
	json_t *obj = json_deep_copy(node);
	if (obj == NULL)
		return NULL;
	bool ready = (action & NODELC_MARK_READY) != 0;
	if (nodelc_set_ready(obj, ready, now) != 0 || nodelc_set_taint(obj, !ready, now) != 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}
