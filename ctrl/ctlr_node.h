/*
 * ctlr_node (prefix nodelc_): node lifecycle decisions, a pure function of
 * (now, nodes, leases) plus a small rate-limiter state, so every rule is
 * table-tested without a clock or an API:
 *
 *   - A node is stale when its Lease (sluice-node-lease/<node>,
 *     spec.renewTime) is older than the grace period (40 s), or, without a
 *     Lease, when the node is older than that. A stale node is marked
 *     NotReady: Ready condition Unknown and the taint
 *     node.kubernetes.io/unreachable:NoExecute. A fresh node is marked
 *     Ready (condition True, taint removed): the Lease is the heartbeat, so
 *     the controller owns the Ready condition.
 *   - A node NotReady for the eviction timeout (300 s, counted from the
 *     Ready condition's lastTransitionTime, which lives in the Node object
 *     and so survives a leader change) that still has pods is evicted: its
 *     pods are deleted and their controllers recreate them elsewhere.
 *   - Evictions are rate limited by a token bucket (0.1 node/s, burst 1:
 *     kube-controller-manager's --node-eviction-rate).
 *   - If more than half of the nodes are stale at once, the likelier story
 *     is that this master is cut off from them: nothing is evicted (nodes
 *     are still marked NotReady) and the decision says so once.
 *
 * Threading: no shared state; the caller owns struct nodelc_state.
 */
#ifndef SLUICE_CTRL_CTLR_NODE_H
#define SLUICE_CTRL_CTLR_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define NODELC_TAINT_UNREACHABLE "node.kubernetes.io/unreachable"

struct nodelc_params {
	unsigned grace_s;         /* 0 = 40 */
	unsigned evict_timeout_s; /* 0 = 300 */
	double evict_rate;        /* nodes per second; 0 = 0.1 */
	unsigned evict_burst;     /* 0 = 1 */
};

/* What the decision needs to know about one node. */
struct nodelc_node {
	const char *name;
	int64_t renew_us;     /* Lease spec.renewTime, 0 = no Lease */
	int64_t created_us;   /* creationTimestamp, or when first seen */
	bool ready;           /* Ready condition is True */
	bool tainted;         /* carries the unreachable NoExecute taint */
	int64_t not_ready_us; /* Ready condition's lastTransitionTime if not
			       * ready; 0 = unknown (counted from now) */
	size_t pods;          /* pods bound to it */
};

enum nodelc_action {
	NODELC_NONE = 0,
	NODELC_MARK_READY = 1,     /* Ready True, drop the taint */
	NODELC_MARK_NOT_READY = 2, /* Ready Unknown, add the taint */
	NODELC_EVICT = 4,          /* delete the node's pods */
};

/* Rate limiter and partition memory across calls; zero it to start. */
struct nodelc_state {
	double tokens;
	int64_t last_us;
	bool started;
	bool partitioned; /* the last decision suppressed evictions */
};

struct nodelc_summary {
	size_t stale;         /* nodes past the grace period */
	size_t evict_due;     /* past the timeout with pods */
	size_t evicted;       /* given NODELC_EVICT */
	bool partition;       /* > half stale: evictions suppressed */
	bool partition_begin; /* ...and the previous call did not: log it */
};

/*
 * Decide for n nodes at time now_us: out[i] gets a mask of enum
 * nodelc_action for nodes[i]. Nodes due for eviction go oldest NotReady
 * first (then by name), as far as the token bucket allows.
 */
void nodelc_decide(const struct nodelc_params *p, struct nodelc_state *st, int64_t now_us,
		   const struct nodelc_node *nodes, size_t n, unsigned *out,
		   struct nodelc_summary *sum);

/*
 * Fill a nodelc_node from the Node and its Lease (may be NULL).
 * first_seen_us stands in for a missing creationTimestamp. Strings are
 * borrowed from node.
 */
void nodelc_from_json(const json_t *node, const json_t *lease, int64_t first_seen_us,
		      struct nodelc_node *out);

/*
 * The Node's new status and spec for an action (MARK_READY or
 * MARK_NOT_READY): a deep copy of node with the Ready condition and the
 * unreachable taint set accordingly (timeAdded/lastTransitionTime = now).
 * NULL on out of memory. The caller owns the result.
 */
json_t *nodelc_apply(const json_t *node, unsigned action, int64_t now_us);

#endif
