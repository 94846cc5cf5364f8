/*
 * tbl internals shared by the control side (tables.c) and the fast path
 * (tables_fp.c). Not for other modules.
 */
#ifndef SLUICE_DP_TABLES_PRIV_H
#define SLUICE_DP_TABLES_PRIV_H

#include <rte_hash.h>
#include <rte_lpm.h>
#include <rte_rcu_qsbr.h>

#include "tables.h"

struct tbl {
	/* read by workers */
	struct rte_hash *pod_hash;  /* ip -> (void *)(uintptr_t)slot */
	struct tbl_pod *pods;       /* max_pods slots */
	struct rte_lpm *lpm;        /* host-order prefix -> route slot */
	struct tbl_route *routes;   /* max_routes slots */
	/* writer only */
	struct rte_rcu_qsbr *qsbr;
	struct rte_rcu_qsbr_dq *dq;
	uint32_t max_pods, max_routes;
	uint32_t *pod_free, n_pod_free;     /* stack of reusable slots */
	uint32_t *route_free, n_route_free;
	uint32_t n_pods, n_routes;          /* live */
	void (*route_gone)(void *arg, const struct tbl_route *r);
	void *route_gone_arg;
	char name[16];
};

#endif
