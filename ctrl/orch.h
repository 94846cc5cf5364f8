/*
 * orch: the scheduler and the controllers (Deployment, node IPAM, node
 * lifecycle, Endpoints), run by every master and active only while that
 * master's Raft instance is the leader. They are clients of the API
 * (ctrl/apic.h) like kube-scheduler and kube-controller-manager are: every
 * decision is a write through the API with resourceVersion preconditions,
 * so a stale leader or a second scheduler cannot bind a pod twice.
 *
 * Threading: orch_start() spawns one thread that owns everything here;
 * is_leader is called from that thread and must be thread-safe.
 */
#ifndef SLUICE_CTRL_ORCH_H
#define SLUICE_CTRL_ORCH_H

#include <stdbool.h>
#include <stddef.h>

#include "apic.h"

struct orch_params {
	struct apic_params api;    /* usually the local master's API */
	bool (*is_leader)(void *arg);
	void *leader_arg;
	const char *cluster_cidr;  /* pod CIDRs are carved from it; NULL = 10.244.0.0/16 */
	unsigned node_cidr_bits;   /* prefix length per node; 0 = 24 */
	unsigned node_grace_s;     /* lease age before NotReady; 0 = 40 */
	unsigned evict_timeout_s;  /* NotReady age before eviction; 0 = 300 */
	void (*log)(void *data, const char *line); /* NULL = stderr */
	void *log_data;
};

struct orch;

/* Start the orchestration thread. NULL with errmsg on failure. */
struct orch *orch_start(const struct orch_params *p, char *errmsg, size_t errlen);
/* Stop and join the thread; accepts NULL. */
void orch_stop(struct orch *o);

#endif
