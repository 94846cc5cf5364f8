/*
 * dp control side: creation, the pod/route/host control functions, the
 * config front end, worker launch and the control-thread loop.
 *
 * Every public function takes dp->lock, so the control thread, the ring
 * consumer and telemetry callbacks can all call in; workers never take
 * it. Table changes are published to workers as described in tables.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "config.h"
#include "dp_internal.h"
#include "fwd.h"
#include "neigh.h"

/* Enough mbufs for every port's rx ring and tx rings plus bursts in flight. */
#define DP_NB_MBUF 16383
#define DP_MBUF_CACHE 256
/* Underlay neighbours: one per remote node on the segment; timers as
 * Linux's defaults (base_reachable_time 30 s, retrans 1 s, 3 probes). */
#define DP_MAX_NEIGH 4096
#define DP_NEIGH_REACHABLE_MS 30000
#define DP_NEIGH_RETRANS_MS 1000
#define DP_NEIGH_PROBES 3
/* Housekeeping period of the control loop, and its sleep per iteration. */
#define DP_HOUSEKEEP_MS 100
#define DP_CONTROL_SLEEP_MS 5

/* tbl callback: a route via an underlay next hop stopped being published. */
static void dp_route_gone(void *arg, const struct tbl_route *r)
{
	struct dp *dp = arg;
	if (r->nh_kind != TBL_NH_MAC)
		neigh_unref(dp->neigh, r->neigh);
}

struct dp *dp_create(const struct dp_params *p)
{
	struct dp *dp;
	int socket = (int)rte_socket_id();

	if (p == NULL || p->pod_depth > 32) {
		errno = EINVAL;
		return NULL;
	}
	dp = rte_zmalloc_socket("dp", sizeof(*dp), RTE_CACHE_LINE_SIZE, socket);
	if (dp == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&dp->lock, NULL);
	dp->params = *p;
	dp->pod_net = p->pod_net;
	dp->pod_mask = p->pod_depth == 0 ? 0 : rte_cpu_to_be_32(0xffffffffu << (32 - p->pod_depth));
	dp->gateway_ip = p->gateway_ip;
	memcpy(dp->gw_mac, p->gateway_mac, 6);
	dp->idle_backoff_us = p->idle_backoff_us;
	dp->hz = rte_get_tsc_hz();
	dp->host = &dp->host_buf[0];

	size_t qsz = rte_rcu_qsbr_get_memsize(DP_MAX_WORKERS);
	dp->qsbr = rte_zmalloc_socket("dp_qsbr", qsz, RTE_CACHE_LINE_SIZE, socket);
	if (dp->qsbr == NULL || rte_rcu_qsbr_init(dp->qsbr, DP_MAX_WORKERS) != 0)
		goto fail;

	dp->mp = rte_pktmbuf_pool_create("dp_mbuf", DP_NB_MBUF, DP_MBUF_CACHE, 0,
					 RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	if (dp->mp == NULL)
		goto fail;

	struct neigh_params np = {
		.max = DP_MAX_NEIGH, .reachable_ms = DP_NEIGH_REACHABLE_MS,
		.retrans_ms = DP_NEIGH_RETRANS_MS, .max_probes = DP_NEIGH_PROBES,
	};
	dp->neigh = neigh_create(&np);
	if (dp->neigh == NULL)
		goto fail;
	struct tbl_params tp = {
		.name = "dp", .socket_id = socket, .max_pods = DP_MAX_PODS,
		.max_routes = DP_MAX_ROUTES, .qsbr = dp->qsbr,
		.route_gone = dp_route_gone, .route_gone_arg = dp,
	};
	dp->tbl = tbl_create(&tp);
	if (dp->tbl == NULL)
		goto fail;

	/* RTE_LCORE_FOREACH_WORKER spelled out: its -1 trips -Wsign-conversion */
	for (unsigned lcore = rte_get_next_lcore(UINT32_MAX, 1, 0); lcore < RTE_MAX_LCORE;
	     lcore = rte_get_next_lcore(lcore, 1, 0)) {
		if (dp->n_workers == DP_MAX_WORKERS)
			break;
		struct fwd_lcore *lc = rte_zmalloc_socket("fwd_lcore", sizeof(*lc),
							  RTE_CACHE_LINE_SIZE,
							  (int)rte_lcore_to_socket_id(lcore));
		if (lc == NULL)
			goto fail;
		lc->dp = dp;
		lc->idx = dp->n_workers;
		lc->lcore_id = lcore;
		lc->rx = &lc->rx_buf[0];
		if (tb_init(&lc->icmp_tb, p->icmp_rate, p->icmp_burst ? p->icmp_burst : 1, dp->hz,
			    rte_rdtsc()) != 0) {
			rte_free(lc);
			errno = EINVAL;
			goto fail;
		}
		dp->lcores[dp->n_workers++] = lc;
	}
	return dp;
fail:
	{
		int e = errno ? errno : ENOMEM;
		dp_free(dp);
		errno = e;
		return NULL;
	}
}

void dp_free(struct dp *dp)
{
	if (dp == NULL)
		return;
	dp_stop(dp);
	pthread_mutex_lock(&dp->lock);
	/* Host path first so no published pointer names a port we remove. */
	dp->host_buf[0].valid = dp->host_buf[1].valid = 0;
	dp_uplink_free_locked(dp);
	for (unsigned i = 0; i < DP_MAX_PORTS; i++)
		if (dp->ports[i].used)
			dp_port_detach_locked(dp, &dp->ports[i]);
	pthread_mutex_unlock(&dp->lock);
	tbl_free(dp->tbl);
	neigh_free(dp->neigh);
	for (unsigned i = 0; i < dp->n_workers; i++)
		rte_free(dp->lcores[i]);
	rte_mempool_free(dp->mp);
	for (unsigned i = 0; i < dp->n_xdp_pools; i++)
		rte_mempool_free(dp->xdp_pool[i]);
	rte_free(dp->qsbr);
	pthread_mutex_destroy(&dp->lock);
	rte_free(dp);
}

void dp_publish_rx(struct dp *dp, unsigned w)
{
	struct fwd_lcore *lc = dp->lcores[w];
	unsigned nxt = lc->rx_cur ^ 1;
	struct fwd_rxlist *l = &lc->rx_buf[nxt];

	l->n = 0;
	for (unsigned i = 0; i < DP_MAX_PORTS; i++) {
		const struct dp_port *pt = &dp->ports[i];
		if (!pt->used || pt->worker != w)
			continue;
		/* bounded: at most one tap's worth of extra queues per worker */
		for (uint16_t q = 0; q < pt->nb_rxq && l->n < FWD_MAX_RXQ; q++) {
			l->q[l->n].port = pt->port_id;
			l->q[l->n++].queue = q;
		}
	}
	__atomic_store_n(&lc->rx, l, __ATOMIC_RELEASE);
	lc->rx_cur = nxt;
	/* The old list is rewritten by the next publish: wait until no
	 * worker can still be reading it (also: a detached port is no
	 * longer polled once this returns). */
	rte_rcu_qsbr_synchronize(dp->qsbr, RTE_QSBR_THRID_INVALID);
}

static int dp_in_cidr(const struct dp *dp, uint32_t ip)
{
	return (ip & dp->pod_mask) == dp->pod_net;
}

int dp_pod_add(struct dp *dp, uint32_t ip, const uint8_t mac[6], const char *port, uint32_t gen)
{
	int rc;
	pthread_mutex_lock(&dp->lock);
	struct dp_port *pt = dp_port_by_name(dp, port);
	if (!dp_in_cidr(dp, ip) || ip == dp->gateway_ip || (mac[0] & 1))
		rc = -EINVAL;
	else if (pt == NULL)
		rc = -ENOENT;
	else
		rc = tbl_pod_add(dp->tbl, ip, mac, pt->port_id, gen);
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

int dp_pod_del(struct dp *dp, uint32_t ip)
{
	pthread_mutex_lock(&dp->lock);
	int rc = tbl_pod_del(dp->tbl, ip);
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

int dp_route_add(struct dp *dp, uint32_t prefix, uint8_t depth, const char *port,
		 const uint8_t mac[6], uint32_t gen)
{
	int rc;
	pthread_mutex_lock(&dp->lock);
	struct dp_port *pt = dp_port_by_name(dp, port);
	if (pt == NULL)
		rc = -ENOENT;
	else
		rc = tbl_route_add(dp->tbl, prefix, depth, mac, pt->port_id, gen);
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

int dp_route_add_via(struct dp *dp, uint32_t prefix, uint8_t depth, uint32_t nh_ip, int encap,
		     uint32_t vni, uint32_t gen)
{
	pthread_mutex_lock(&dp->lock);
	int rc = dp_route_add_via_locked(dp, prefix, depth, nh_ip, encap, vni, gen);
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

int dp_route_add_via_locked(struct dp *dp, uint32_t prefix, uint8_t depth, uint32_t nh_ip,
			    int encap, uint32_t vni, uint32_t gen)
{
	int rc;
	uint32_t idx;
	int mode = encap < 0 ? dp->ul.mode : encap;
	if (!__atomic_load_n(&dp->ul.valid, __ATOMIC_ACQUIRE)) {
		rc = -ENODEV;
		goto out;
	}
	/* Direct routes work in either cluster mode (the pod CIDR is always
	 * steered); VXLAN needs the VXLAN port steered and decapsulation on,
	 * i.e. a VXLAN cluster. */
	if (mode >= DP_OVERLAY_MAX || nh_ip == dp->ul.ip ||
	    (mode == DP_OVERLAY_VXLAN && dp->ul.mode != DP_OVERLAY_VXLAN)) {
		rc = -EINVAL;
		goto out;
	}
	/* One VNI per cluster: a receiver accepts only its own (uplink.vni). */
	if (mode == DP_OVERLAY_VXLAN && vni == 0)
		vni = dp->ul.vni;
	if ((mode == DP_OVERLAY_VXLAN && vni != dp->ul.vni) ||
	    (mode == DP_OVERLAY_DIRECT && vni != 0)) {
		rc = -EINVAL;
		goto out;
	}
	/* The L2 next hop: the node itself when it is on the uplink's subnet;
	 * VXLAN may cross an underlay router, direct routing cannot (the
	 * router knows no pod CIDR). */
	uint32_t l2_nh = nh_ip;
	if ((nh_ip & dp->ul.mask) != (dp->ul.ip & dp->ul.mask)) {
		if (mode != DP_OVERLAY_VXLAN || dp->ul.gateway == 0) {
			rc = -ENETUNREACH;
			goto out;
		}
		l2_nh = dp->ul.gateway;
	}
	rc = neigh_ref(dp->neigh, l2_nh, &idx);
	if (rc != 0)
		goto out;
	struct tbl_nh nh = {
		.kind = mode == DP_OVERLAY_VXLAN ? TBL_NH_VXLAN : TBL_NH_DIRECT,
		.port_id = dp->ul.port_id, .nh_ip = nh_ip, .neigh = idx, .vni = vni,
	};
	rc = tbl_route_add_nh(dp->tbl, prefix, depth, &nh, gen);
	if (rc != 0)
		neigh_unref(dp->neigh, idx);
out:
	return rc;
}

int dp_route_del(struct dp *dp, uint32_t prefix, uint8_t depth)
{
	pthread_mutex_lock(&dp->lock);
	int rc = tbl_route_del(dp->tbl, prefix, depth);
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

int dp_host_set(struct dp *dp, const char *port, uint32_t ip)
{
	int rc = 0;
	pthread_mutex_lock(&dp->lock);
	struct dp_host *h = &dp->host_buf[dp->host_cur ^ 1];
	memset(h, 0, sizeof(*h));
	if (port != NULL) {
		struct dp_port *pt = dp_port_by_name(dp, port);
		if (pt == NULL) {
			rc = -ENOENT;
			goto out;
		}
		if (pt->type != DP_PORT_TAP) {
			rc = -EINVAL;
			goto out;
		}
		h->ip = ip;
		h->port_id = pt->port_id;
		memcpy(h->mac, pt->mac, 6);
		h->valid = 1;
	}
	__atomic_store_n(&dp->host, h, __ATOMIC_RELEASE);
	dp->host_cur ^= 1;
	/* the other buffer is rewritten by the next call: wait out readers */
	rte_rcu_qsbr_synchronize(dp->qsbr, RTE_QSBR_THRID_INVALID);
out:
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

int dp_option_set(struct dp *dp, const char *name, uint32_t value)
{
	const struct dpcfg_opt *o = dpcfg_opt_find(name);
	if (o == NULL)
		return -ENOENT;
	if (!o->runtime)
		return -EPERM;
	if ((long long)value < o->min || (long long)value > o->max)
		return -ERANGE;
	pthread_mutex_lock(&dp->lock);
	dpcfg_opt_store(o, &dp->params, value);
	/* the one runtime option so far; workers read it every idle loop */
	__atomic_store_n(&dp->idle_backoff_us, dp->params.idle_backoff_us, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&dp->lock);
	return 0;
}

int dp_sweep(struct dp *dp, uint32_t gen)
{
	pthread_mutex_lock(&dp->lock);
	int n = tbl_sweep(dp->tbl, gen);
	pthread_mutex_unlock(&dp->lock);
	return n;
}

static void dp_ip_str(uint32_t ip, char *buf, size_t len)
{
	const uint8_t *b = (const uint8_t *)&ip;
	snprintf(buf, len, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
}

int dp_apply_config(struct dp *dp, const struct dpcfg *cfg, char *err, size_t errlen)
{
	char ip[16];
	int rc;

	for (unsigned i = 0; i < cfg->n_ports; i++) {
		rc = dp_port_attach(dp, &cfg->ports[i], NULL, err, errlen);
		if (rc != 0)
			return rc;
	}
	for (unsigned i = 0; i < cfg->n_pods; i++) {
		const struct dpcfg_pod *p = &cfg->pods[i];
		rc = dp_pod_add(dp, p->ip, p->mac, p->port, 1);
		if (rc != 0) {
			dp_ip_str(p->ip, ip, sizeof(ip));
			snprintf(err, errlen, "pod %s: %s", ip, strerror(-rc));
			return rc;
		}
	}
	if (cfg->has_uplink) {
		rc = dp_uplink_set(dp, &cfg->uplink, err, errlen);
		if (rc != 0)
			return rc;
	}
	for (unsigned i = 0; i < cfg->n_routes; i++) {
		const struct dpcfg_route *r = &cfg->routes[i];
		if (r->via != 0)
			rc = dp_route_add_via(dp, r->prefix, r->depth, r->via, -1, 0, 1);
		else
			rc = dp_route_add(dp, r->prefix, r->depth, r->port, r->mac, 1);
		if (rc != 0) {
			dp_ip_str(r->prefix, ip, sizeof(ip));
			snprintf(err, errlen, "route %s/%u: %s", ip, r->depth, strerror(-rc));
			return rc;
		}
	}
	if (cfg->has_host) {
		rc = dp_host_set(dp, cfg->host_port, cfg->host_ip);
		if (rc != 0) {
			snprintf(err, errlen, "host: %s", strerror(-rc));
			return rc;
		}
	}
	return 0;
}

int dp_start(struct dp *dp)
{
	pthread_mutex_lock(&dp->lock);
	if (dp->running) {
		pthread_mutex_unlock(&dp->lock);
		return -EALREADY;
	}
	__atomic_store_n(&dp->stop, 0, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < dp->n_workers; i++) {
		int rc = rte_eal_remote_launch(fwd_worker_main, dp->lcores[i], dp->lcores[i]->lcore_id);
		if (rc != 0) {
			__atomic_store_n(&dp->stop, 1, __ATOMIC_RELEASE);
			rte_eal_mp_wait_lcore();
			pthread_mutex_unlock(&dp->lock);
			return -EBUSY;
		}
	}
	dp->running = 1;
	pthread_mutex_unlock(&dp->lock);
	return 0;
}

void dp_stop(struct dp *dp)
{
	pthread_mutex_lock(&dp->lock);
	if (dp->running) {
		__atomic_store_n(&dp->stop, 1, __ATOMIC_RELEASE);
		rte_eal_mp_wait_lcore();
		dp->running = 0;
	}
	pthread_mutex_unlock(&dp->lock);
}

uint64_t dp_forwarded(const struct dp *dp)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < dp->n_workers; i++)
		n += dp_cnt_get(&dp->lcores[i]->ev[DP_EV_FORWARDED]);
	return n;
}

/* Periodic work: reuse table slots past their grace period, refresh link
 * state for telemetry. Bounded and non-blocking. */
static void dp_housekeeping(struct dp *dp)
{
	pthread_mutex_lock(&dp->lock);
	tbl_reclaim(dp->tbl);
	/* Neighbour slots of deleted routes: reusable once no worker can
	 * still hold their index (see dp/neigh.h). */
	if (neigh_dead(dp->neigh) != 0) {
		rte_rcu_qsbr_synchronize(dp->qsbr, RTE_QSBR_THRID_INVALID);
		neigh_reap(dp->neigh);
	}
	for (unsigned i = 0; i < DP_MAX_PORTS; i++) {
		struct rte_eth_link link;
		if (!dp->ports[i].used)
			continue;
		if (rte_eth_link_get_nowait(dp->ports[i].port_id, &link) == 0)
			dp->ports[i].link_up = link.link_status == RTE_ETH_LINK_UP;
	}
	pthread_mutex_unlock(&dp->lock);
}

int dp_control_loop(struct dp *dp, volatile sig_atomic_t *stop)
{
	const uint64_t period = rte_get_timer_hz() / 1000 * DP_HOUSEKEEP_MS;
	uint64_t last = 0;

	while (!*stop) {
		/*
		 * Command sources plug in here: drain a bounded batch from each
		 * (the ctrl ring consumer, dp/ctl_ring) and apply it through the
		 * dp_* control functions, which take dp->lock themselves. Keep
		 * each source non-blocking so shutdown and housekeeping stay
		 * timely.
		 */

		/* ARP on the uplink: resolve and refresh underlay next hops. */
		dp_uplink_poll(dp);

		uint64_t now = rte_get_timer_cycles();
		if (now - last >= period) {
			dp_housekeeping(dp);
			last = now;
		}
		/* The control thread sleeps: it must not steal a worker's core.
		 * A signal interrupts the sleep, so shutdown is prompt. */
		struct timespec ts = { 0, DP_CONTROL_SLEEP_MS * 1000000L };
		nanosleep(&ts, NULL);
	}
	return 0;
}
