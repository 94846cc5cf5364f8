/*
 * ctlr_deploy (prefix deploy_): the Deployment controller's reconcile
 * decision, a pure function of (Deployment, the pods it owns) so scaling,
 * replacement and every rollout step are table-tested without an API.
 *
 * Pods are created straight from the Deployment (no ReplicaSet layer): each
 * carries the label pod-template-hash (a hash of spec.template) and a
 * controller ownerReference to the Deployment. Pod names are
 * <deployment>-<hash>-<n> with the lowest n not in use, so a create that is
 * repeated because the cache had not caught up gets 409 AlreadyExists
 * instead of a second pod.
 *
 *   - Scale: create or delete to spec.replicas (default 1); extras go
 *     unscheduled first, then not ready, then the highest name.
 *   - Replace: Failed or Succeeded pods are deleted and not counted, pods
 *     that vanished (deleted by eviction) are simply missing: both are
 *     recreated.
 *   - RollingUpdate (default): pods whose hash differs are old. New pods
 *     are created up to replicas + maxSurge in total, old ones deleted while
 *     at least replicas - maxUnavailable stay ready (maxSurge and
 *     maxUnavailable: integers or percentages, default 25%, surge rounded
 *     up, unavailable down, both 0 means unavailable 1): the same
 *     arithmetic as the kube-controller-manager's rolling updater.
 *     Unready old pods go first, since they serve nothing.
 *   - Recreate: delete all old pods, then create the new ones.
 *   - status: replicas, updatedReplicas, readyReplicas, availableReplicas,
 *     observedGeneration, written only when they change.
 *
 * Threading: no state; any thread.
 */
#ifndef SLUICE_CTRL_CTLR_DEPLOY_H
#define SLUICE_CTRL_CTLR_DEPLOY_H

#include <stddef.h>

#include <jansson.h>

#define DEPLOY_HASH_LABEL "pod-template-hash"
#define DEPLOY_HASH_LEN 10

struct deploy_plan {
	json_t *create; /* array of Pod objects to POST */
	json_t *del;    /* array of pod names to DELETE */
	json_t *status; /* new .status for the Deployment, or NULL if unchanged */
	char hash[DEPLOY_HASH_LEN + 1];
};

/*
 * Plan one reconcile step. pods are the non-deleted pods whose controller
 * ownerReference is this Deployment (borrowed). Returns 0, or -1 with
 * errmsg (a malformed Deployment field, out of memory). Free the plan with
 * deploy_plan_clear() either way.
 */
int deploy_reconcile(const json_t *deploy, const json_t *const *pods, size_t n,
		     struct deploy_plan *plan, char *errmsg, size_t errlen);
void deploy_plan_clear(struct deploy_plan *plan);

/* The pod-template-hash of a template (DEPLOY_HASH_LEN chars + NUL). */
void deploy_template_hash(const json_t *tmpl, char *out);

/* maxSurge / maxUnavailable resolution: v is an integer or "N%" of total
 * (NULL = "25%"), rounded up or down. -1 on a malformed value. */
long deploy_int_or_percent(const json_t *v, long total, int round_up);

#endif
