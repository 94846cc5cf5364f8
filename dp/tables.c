/*
 * tbl control side: see tables.h for the publication protocol.
 *
 * Slot life cycle: free stack -> filled -> published (in_use) ->
 * unpublished and queued on the defer queue -> (grace period) -> free
 * stack. The defer queue is as large as both slot arrays together, so an
 * enqueue can never find it full.
 */
/* The QSBR defer queue and rte_lpm's RCU hook are still experimental in
 * DPDK 22.11 (unchanged since 20.11); they are the documented way to
 * reclaim after a grace period, so we opt in here and only here. */
#define ALLOW_EXPERIMENTAL_API 1

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include "tables_priv.h"

enum { TBL_DQ_POD = 1, TBL_DQ_ROUTE = 2 };

/* Defer-queue element: esize must be a multiple of 4. */
struct tbl_dq_elem {
	uint32_t kind;
	uint32_t slot;
	int32_t key_pos; /* rte_hash key position to free, or -1 */
	uint32_t pad;
};

static void tbl_dq_free(void *p, void *e, unsigned int n)
{
	struct tbl *t = p;
	struct tbl_dq_elem *el = e;

	for (unsigned i = 0; i < n; i++) {
		if (el[i].kind == TBL_DQ_POD) {
			if (el[i].key_pos >= 0)
				rte_hash_free_key_with_position(t->pod_hash, el[i].key_pos);
			t->pod_free[t->n_pod_free++] = el[i].slot;
		} else {
			t->route_free[t->n_route_free++] = el[i].slot;
		}
	}
}

static void tbl_defer(struct tbl *t, uint32_t kind, uint32_t slot, int32_t key_pos)
{
	struct tbl_dq_elem el = { .kind = kind, .slot = slot, .key_pos = key_pos };

	if (rte_rcu_qsbr_dq_enqueue(t->dq, &el) != 0) {
		/* Cannot happen (queue sized for every slot); stay correct
		 * anyway by waiting for the grace period right here. */
		rte_rcu_qsbr_synchronize(t->qsbr, RTE_QSBR_THRID_INVALID);
		tbl_dq_free(t, &el, 1);
	}
}

struct tbl *tbl_create(const struct tbl_params *p)
{
	char name[RTE_HASH_NAMESIZE];
	struct tbl *t;

	if (p == NULL || p->qsbr == NULL || p->max_pods == 0 || p->max_routes == 0 ||
	    p->max_routes >= (1u << 24) || p->name == NULL || strlen(p->name) > 15) {
		errno = EINVAL;
		return NULL;
	}
	t = rte_zmalloc_socket("tbl", sizeof(*t), RTE_CACHE_LINE_SIZE, p->socket_id);
	if (t == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	snprintf(t->name, sizeof(t->name), "%s", p->name);
	t->qsbr = p->qsbr;
	t->route_gone = p->route_gone;
	t->route_gone_arg = p->route_gone_arg;
	t->max_pods = p->max_pods;
	t->max_routes = p->max_routes;
	t->pods = rte_zmalloc_socket("tbl_pods", sizeof(*t->pods) * p->max_pods,
				     RTE_CACHE_LINE_SIZE, p->socket_id);
	t->routes = rte_zmalloc_socket("tbl_routes", sizeof(*t->routes) * p->max_routes,
				       RTE_CACHE_LINE_SIZE, p->socket_id);
	t->pod_free = rte_malloc("tbl_pfree", sizeof(uint32_t) * p->max_pods, 0);
	t->route_free = rte_malloc("tbl_rfree", sizeof(uint32_t) * p->max_routes, 0);
	if (t->pods == NULL || t->routes == NULL || t->pod_free == NULL || t->route_free == NULL)
		goto fail_nomem;
	/* Pop order = slot order, which keeps walks stable for tests. */
	for (uint32_t i = 0; i < p->max_pods; i++)
		t->pod_free[t->n_pod_free++] = p->max_pods - 1 - i;
	for (uint32_t i = 0; i < p->max_routes; i++)
		t->route_free[t->n_route_free++] = p->max_routes - 1 - i;

	snprintf(name, sizeof(name), "%s_pod", p->name);
	struct rte_hash_parameters hp = {
		.name = name,
		/* 2x headroom: cuckoo inserts fail well before 100% load. */
		.entries = p->max_pods * 2 < 8 ? 8 : p->max_pods * 2,
		.key_len = sizeof(uint32_t),
		.hash_func = rte_hash_crc,
		.socket_id = p->socket_id,
		/* Lock-free readers with our single writer; the key slot is
		 * freed by us after the grace period (tbl_dq_free). */
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
	};
	t->pod_hash = rte_hash_create(&hp);
	if (t->pod_hash == NULL)
		goto fail_rte;

	snprintf(name, sizeof(name), "%s_lpm", p->name);
	struct rte_lpm_config lc = {
		.max_rules = p->max_routes,
		.number_tbl8s = 256,
	};
	t->lpm = rte_lpm_create(name, p->socket_id, &lc);
	if (t->lpm == NULL)
		goto fail_rte;
	/* rte_lpm frees its tbl8 groups through its own QSBR defer queue. */
	struct rte_lpm_rcu_config rc = { .v = p->qsbr, .mode = RTE_LPM_QSBR_MODE_DQ };
	if (rte_lpm_rcu_qsbr_add(t->lpm, &rc) != 0)
		goto fail_rte;

	snprintf(name, sizeof(name), "%s_dq", p->name);
	struct rte_rcu_qsbr_dq_parameters dp = {
		.name = name,
		.size = p->max_pods + p->max_routes,
		.esize = sizeof(struct tbl_dq_elem),
		/* never auto-reclaim from enqueue: the writer reclaims in
		 * housekeeping, so control calls do not stall on readers */
		.trigger_reclaim_limit = p->max_pods + p->max_routes + 1,
		.max_reclaim_size = 1024,
		.free_fn = tbl_dq_free,
		.p = t,
		.v = p->qsbr,
	};
	t->dq = rte_rcu_qsbr_dq_create(&dp);
	if (t->dq == NULL)
		goto fail_rte;
	return t;

fail_rte:
	{
		int e = rte_errno ? rte_errno : ENOMEM;
		tbl_free(t);
		errno = e;
		return NULL;
	}
fail_nomem:
	tbl_free(t);
	errno = ENOMEM;
	return NULL;
}

void tbl_free(struct tbl *t)
{
	if (t == NULL)
		return;
	if (t->dq != NULL) {
		rte_rcu_qsbr_synchronize(t->qsbr, RTE_QSBR_THRID_INVALID);
		rte_rcu_qsbr_dq_delete(t->dq);
	}
	rte_lpm_free(t->lpm);
	rte_hash_free(t->pod_hash);
	rte_free(t->pods);
	rte_free(t->routes);
	rte_free(t->pod_free);
	rte_free(t->route_free);
	rte_free(t);
}

/*
 * An empty free stack does not mean a full table: deleted slots may be
 * waiting out their grace period on the defer queue. Reclaim them now
 * rather than at the next housekeeping tick, so churn faster than the
 * housekeeping period is slowed, not refused. Workers report a quiescent
 * state on every poll and are offline while they sleep, so a grace period
 * normally ends within one poll loop; the wait is still bounded
 * (TBL_REFILL_WAIT_US) because a stalled reader must not hang the control
 * thread. Only the control thread waits. 0, or -ENOSPC.
 */
#define TBL_REFILL_WAIT_US 50000u
#define TBL_REFILL_STEP_US 10u

static int tbl_refill(struct tbl *t, const uint32_t *n_free)
{
	unsigned freed = 0, pending = 0, avail = 0;

	for (unsigned waited = 0; *n_free == 0; waited += TBL_REFILL_STEP_US) {
		rte_rcu_qsbr_dq_reclaim(t->dq, t->max_pods + t->max_routes, &freed, &pending,
					&avail);
		if (*n_free != 0)
			break;
		if (pending == 0 || waited >= TBL_REFILL_WAIT_US)
			return -ENOSPC;
		rte_delay_us_sleep(TBL_REFILL_STEP_US);
	}
	return 0;
}

static int32_t tbl_pod_slot(const struct tbl *t, uint32_t ip)
{
	void *data;
	if (rte_hash_lookup_data(t->pod_hash, &ip, &data) < 0)
		return -1;
	return (int32_t)(uintptr_t)data;
}

const struct tbl_pod *tbl_pod_find(const struct tbl *t, uint32_t ip)
{
	int32_t s = tbl_pod_slot(t, ip);
	return s < 0 ? NULL : &t->pods[s];
}

int tbl_pod_add(struct tbl *t, uint32_t ip, const uint8_t mac[6], uint16_t port_id, uint32_t gen)
{
	if (tbl_refill(t, &t->n_pod_free) != 0)
		return -ENOSPC;
	int32_t old = tbl_pod_slot(t, ip);
	uint32_t s = t->pod_free[--t->n_pod_free];
	struct tbl_pod *e = &t->pods[s];

	e->ip = ip;
	e->gen = gen;
	e->port_id = port_id;
	memcpy(e->mac, mac, 6);
	e->in_use = 1;
	/* rte_hash publishes the data pointer with a release store, so a
	 * reader that finds slot s sees it fully written. */
	int rc = rte_hash_add_key_data(t->pod_hash, &ip, (void *)(uintptr_t)s);
	if (rc < 0) {
		e->in_use = 0;
		t->pod_free[t->n_pod_free++] = s;
		return rc == -ENOSPC ? -ENOSPC : rc;
	}
	if (old >= 0) {
		t->pods[old].in_use = 0;
		tbl_defer(t, TBL_DQ_POD, (uint32_t)old, -1);
	} else {
		t->n_pods++;
	}
	return 0;
}

int tbl_pod_del(struct tbl *t, uint32_t ip)
{
	int32_t s = tbl_pod_slot(t, ip);
	if (s < 0)
		return -ENOENT;
	int32_t pos = rte_hash_del_key(t->pod_hash, &ip);
	if (pos < 0)
		return pos;
	t->pods[s].in_use = 0;
	t->n_pods--;
	tbl_defer(t, TBL_DQ_POD, (uint32_t)s, pos);
	return 0;
}

int tbl_route_add(struct tbl *t, uint32_t prefix, uint8_t depth, const uint8_t mac[6],
		  uint16_t port_id, uint32_t gen)
{
	struct tbl_nh nh = { .kind = TBL_NH_MAC, .port_id = port_id };
	memcpy(nh.mac, mac, 6);
	return tbl_route_add_nh(t, prefix, depth, &nh, gen);
}

static void tbl_route_gone(struct tbl *t, uint32_t s)
{
	if (t->route_gone != NULL)
		t->route_gone(t->route_gone_arg, &t->routes[s]);
}

const struct tbl_route *tbl_route_find(const struct tbl *t, uint32_t prefix, uint8_t depth)
{
	uint32_t s = 0;
	if (depth == 0 || depth > 32 ||
	    rte_lpm_is_rule_present(t->lpm, rte_be_to_cpu_32(prefix), depth, &s) != 1)
		return NULL;
	return &t->routes[s];
}

int tbl_route_add_nh(struct tbl *t, uint32_t prefix, uint8_t depth, const struct tbl_nh *nh,
		     uint32_t gen)
{
	uint32_t old = 0;
	uint32_t hprefix = rte_be_to_cpu_32(prefix);

	if (depth > 32)
		return -EINVAL;
	/* rte_lpm does not accept depth 0; a default route is two /1s. */
	if (depth == 0)
		return -EINVAL;
	if (hprefix & ~(uint32_t)(0xffffffffull << (32 - depth)))
		return -EINVAL;
	if (tbl_refill(t, &t->n_route_free) != 0)
		return -ENOSPC;
	int had = rte_lpm_is_rule_present(t->lpm, hprefix, depth, &old) == 1;
	uint32_t s = t->route_free[--t->n_route_free];
	struct tbl_route *r = &t->routes[s];
	r->prefix = prefix;
	r->depth = depth;
	r->gen = gen;
	r->port_id = nh->port_id;
	memcpy(r->mac, nh->mac, 6);
	r->nh_kind = nh->kind;
	r->nh_ip = nh->nh_ip;
	r->neigh = nh->neigh;
	r->vni = nh->vni;
	r->in_use = 1;
	int rc = rte_lpm_add(t->lpm, hprefix, depth, s);
	if (rc < 0) {
		r->in_use = 0;
		t->route_free[t->n_route_free++] = s;
		return rc;
	}
	if (had) {
		t->routes[old].in_use = 0;
		tbl_route_gone(t, old);
		tbl_defer(t, TBL_DQ_ROUTE, old, -1);
	} else {
		t->n_routes++;
	}
	return 0;
}

int tbl_route_del(struct tbl *t, uint32_t prefix, uint8_t depth)
{
	uint32_t s = 0;
	uint32_t hprefix = rte_be_to_cpu_32(prefix);

	if (depth == 0 || depth > 32 || rte_lpm_is_rule_present(t->lpm, hprefix, depth, &s) != 1)
		return -ENOENT;
	int rc = rte_lpm_delete(t->lpm, hprefix, depth);
	if (rc < 0)
		return rc;
	t->routes[s].in_use = 0;
	t->n_routes--;
	tbl_route_gone(t, s);
	tbl_defer(t, TBL_DQ_ROUTE, s, -1);
	return 0;
}

int tbl_sweep(struct tbl *t, uint32_t gen)
{
	int n = 0;
	for (uint32_t i = 0; i < t->max_pods; i++)
		if (t->pods[i].in_use && t->pods[i].gen < gen && tbl_pod_del(t, t->pods[i].ip) == 0)
			n++;
	for (uint32_t i = 0; i < t->max_routes; i++)
		if (t->routes[i].in_use && t->routes[i].gen < gen &&
		    tbl_route_del(t, t->routes[i].prefix, t->routes[i].depth) == 0)
			n++;
	return n;
}

unsigned tbl_reclaim(struct tbl *t)
{
	unsigned freed = 0, pending = 0, avail = 0;
	rte_rcu_qsbr_dq_reclaim(t->dq, t->max_pods + t->max_routes, &freed, &pending, &avail);
	return pending;
}

unsigned tbl_port_refs(const struct tbl *t, uint16_t port_id)
{
	unsigned n = 0;
	for (uint32_t i = 0; i < t->max_pods; i++)
		n += t->pods[i].in_use && t->pods[i].port_id == port_id;
	for (uint32_t i = 0; i < t->max_routes; i++)
		n += t->routes[i].in_use && t->routes[i].port_id == port_id;
	return n;
}

int tbl_pod_walk(const struct tbl *t, int (*fn)(const struct tbl_pod *, void *), void *arg)
{
	for (uint32_t i = 0; i < t->max_pods; i++) {
		if (!t->pods[i].in_use)
			continue;
		int rc = fn(&t->pods[i], arg);
		if (rc != 0)
			return rc;
	}
	return 0;
}

unsigned tbl_pod_count(const struct tbl *t)
{
	return t->n_pods;
}

unsigned tbl_route_count(const struct tbl *t)
{
	return t->n_routes;
}
