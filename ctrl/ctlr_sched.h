/*
 * ctlr_sched (prefix sched_; not "sched.h", which would shadow the system
 * header under -Ictrl): the pod scheduler's decision logic, pure and in
 * memory. It keeps a snapshot of the nodes (allocatable resources, labels, taints, cordon and
 * Ready state) and of the pods bound to them (their requests and owners),
 * and picks a node for a pending pod the way kube-scheduler's default
 * profile does:
 *
 *   filters  NodeUnschedulable (spec.unschedulable), NotReady (Ready
 *            condition not True), TaintToleration (NoSchedule, NoExecute),
 *            NodeSelector (spec.nodeSelector against node labels),
 *            NodeResourcesFit (cpu, memory, hugepages-2Mi, hugepages-1Gi,
 *            pods) against status.allocatable (else status.capacity);
 *   scores   LeastAllocated, BalancedAllocation (cpu and memory, with
 *            kube-scheduler's non-zero defaults of 100m and 200Mi for pods
 *            that request nothing so they still spread), SelectorSpread
 *            over the pod's controller ownerReference (weight 2), and
 *            TaintToleration: fewer untolerated PreferNoSchedule taints
 *            (weight 3);
 *   ties     the lexically smallest node name, so a decision is a pure
 *            function of the snapshot (kube-scheduler picks at random).
 *
 * When nothing fits, the result carries kube-scheduler's message, e.g.
 * "0/5 nodes are available: 2 Insufficient hugepages-2Mi, 3 node(s) were
 * unschedulable." (reasons sorted, one count per reason; a node short of
 * several resources counts once per resource).
 *
 * No I/O: the caller (orch) feeds node and pod JSON from its informers and
 * writes the decision through the API. Objects are read, never kept: the
 * scheduler copies what it needs.
 *
 * Errors (STYLE 9): enum sched_err and an errmsg naming the field.
 * Threading: not thread-safe; one thread (the orch thread) owns a sched.
 */
#ifndef SLUICE_CTRL_CTLR_SCHED_H
#define SLUICE_CTRL_CTLR_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum sched_err {
	SCHED_OK = 0,
	SCHED_ERR_NOMEM = 1,
	SCHED_ERR_INVALID = 2, /* a field of the object is malformed */
};

/* The resources the fit filter checks, in message order. */
enum sched_res {
	SCHED_RES_CPU = 0, /* millicores */
	SCHED_RES_MEMORY,  /* bytes */
	SCHED_RES_HP2M,    /* bytes of hugepages-2Mi */
	SCHED_RES_HP1G,    /* bytes of hugepages-1Gi */
	SCHED_RES_PODS,    /* pod count */
	SCHED_RES_N,
};

#define SCHED_REASON_SIZE 512
#define SCHED_NODE_NAME_MAX 254

struct sched_params {
	/* Score weights; all 0 = defaults (1, 1, 2, 3). */
	unsigned w_least, w_balanced, w_spread, w_taint;
};

struct sched;

/* NULL on out of memory. Control thread. */
struct sched *sched_create(const struct sched_params *p);
void sched_free(struct sched *s); /* accepts NULL */

/*
 * Add or replace a node from its API object (copied). A malformed
 * resource quantity or taint is SCHED_ERR_INVALID with errmsg naming the
 * field; the node then stays out of the snapshot (removed if present).
 */
int sched_node_set(struct sched *s, const json_t *node, char *errmsg, size_t errlen);
void sched_node_remove(struct sched *s, const char *name);

/*
 * Account a pod: bound to node_name (NULL or "" = not bound, which removes
 * its accounting). key identifies the pod ("ns/name"). Pods bound to a node
 * the snapshot does not know are kept and counted once the node appears.
 * Terminal pods (Succeeded, Failed) hold no resources: pass NULL.
 */
int sched_pod_set(struct sched *s, const char *key, const json_t *pod, const char *node_name,
		  char *errmsg, size_t errlen);
void sched_pod_remove(struct sched *s, const char *key);

struct sched_result {
	char node[SCHED_NODE_NAME_MAX]; /* "" when nothing fits */
	unsigned feasible;              /* nodes that passed the filters */
	unsigned nodes;                 /* nodes considered */
	int64_t score;                  /* of the chosen node */
	char reason[SCHED_REASON_SIZE]; /* FailedScheduling message when "" */
};

/*
 * Pick a node for a pod (not accounted: call sched_pod_set once bound).
 * SCHED_OK with out->node set, or with out->node "" and out->reason; or
 * SCHED_ERR_INVALID when the pod's requests, nodeSelector or tolerations
 * are malformed.
 */
int sched_pick(struct sched *s, const json_t *pod, struct sched_result *out, char *errmsg,
	       size_t errlen);

/* Nodes in the snapshot, and bytes the snapshot holds for them (perf). */
size_t sched_node_count(const struct sched *s);
size_t sched_node_bytes(const struct sched *s);

/*
 * A Kubernetes quantity ("500m", "2", "1.5Gi", "128974848", "1e3") in the
 * unit of res (millicores for cpu, else whole units, rounded up). Also
 * takes a JSON integer or real. SCHED_ERR_INVALID for anything else,
 * negative values and overflow.
 */
int sched_quantity(const json_t *v, enum sched_res res, int64_t *out);

/* "cpu", "memory", "hugepages-2Mi", "hugepages-1Gi", "pods". */
const char *sched_res_name(enum sched_res res);

/* Controller owner uid of an object (the ownerReference with controller
 * true, else the first), or NULL. */
const char *sched_owner_uid(const json_t *obj);

#endif
