/*
 * orch: the scheduler and the controllers (Deployment, node IPAM, node
 * lifecycle, Endpoints), run by every master and active only while that
 * master's Raft instance is the leader. They are clients of the API
 * (ctrl/apic.h) like kube-scheduler and kube-controller-manager are: every
 * decision is a write through the API with resourceVersion preconditions,
 * so a stale leader or a second scheduler cannot bind a pod twice.
 *
 * Threading: orch_start() spawns one thread that owns everything here,
 * plus one watch thread per resource (informer.h) that only reads the API
 * and queues what it reads for the orch thread; is_leader is called from
 * the orch thread and must be thread-safe. docs/orch.md has the design.
 */
#ifndef SLUICE_CTRL_ORCH_H
#define SLUICE_CTRL_ORCH_H

#include <stdbool.h>
#include <stddef.h>

#include "apic.h"
#include "ctlr_apisvc.h"

struct orch_params {
	struct apic_params api;    /* usually the local master's API */
	bool (*is_leader)(void *arg); /* NULL = always leading (tests, orch_run) */
	void *leader_arg;
	const char *cluster_cidr;  /* pod CIDRs are carved from it; NULL = 10.244.0.0/16 */
	unsigned node_cidr_bits;   /* prefix length per node; 0 = 24 */
	unsigned node_grace_s;     /* lease age before NotReady; 0 = 40 */
	unsigned evict_timeout_s;  /* NotReady age before eviction; 0 = 300 */
	void (*log)(void *data, const char *line); /* NULL = stderr */
	void *log_data;
	/* Added by the orch work stream; zero = default. */
	double evict_rate;         /* nodes evicted per second; 0 = 0.1 */
	unsigned evict_burst;      /* evictions allowed at once; 0 = 1 */
	const char *name;          /* log prefix; NULL = "orch" */
	/* Keep the Service default/kubernetes and its Endpoints pointing at
	 * the masters of /cluster/status (ctlr_apisvc.h); the masters set it,
	 * orch_run only when asked. api_vips become its spec.externalIPs
	 * (checked by the caller with apisvc_vip_check). */
	bool api_service;
	const char *api_vips[APISVC_MAX_VIPS];
	size_t n_api_vips;
};

/* Counters since orch_start (any thread; read without locking). */
struct orch_stats {
	unsigned long long bound;          /* bindings the server accepted */
	unsigned long long bind_conflicts; /* 409: bound by someone else */
	unsigned long long unschedulable;  /* FailedScheduling decisions */
	unsigned long long pods_created;
	unsigned long long pods_deleted;   /* by controllers, not evictions */
	unsigned long long evicted_pods;
	unsigned long long cidrs_assigned;
	unsigned long long endpoints_writes;
	unsigned long long terms;          /* times leadership was taken up */
	unsigned long long apisvc_writes;  /* default/kubernetes Service/Endpoints */
};

struct orch;

/* Start the orchestration thread. NULL with errmsg on failure. */
struct orch *orch_start(const struct orch_params *p, char *errmsg, size_t errlen);
/* Stop and join the thread; accepts NULL. */
void orch_stop(struct orch *o);
void orch_get_stats(const struct orch *o, struct orch_stats *out);

#endif
