/*
 * ctl_apply: ring records -> dp_* control calls (dp/ctl_apply.h).
 *
 * The dataplane is IPv4-only, so IPv6 records are answered -EAFNOSUPPORT
 * rather than half-applied; tunnels exist only via the uplink (VXLAN,
 * docs/multinode.md), so encapsulated routes via a port and Geneve are
 * -EOPNOTSUPP. Services and backends go to the load balancer (dp/lb_svc.h),
 * which this module creates and publishes as dp->lb. A replayed PORT_ATTACH for a port this table
 * already holds under the same name is a refresh (new generation), not an
 * error, because a headless dp kept its ports while ctrl was away.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_ethdev.h>

#include "ctl_apply.h"
#include "dp.h"
#include "dp_internal.h"
#include "lb_svc.h"

struct ctl_apply_port {
	uint32_t id; /* 0 = free slot */
	uint64_t gen;
	uint16_t eth_port;	/* ethdev port id, for link and stats events */
	int8_t link_up;		/* last link state reported; -1 = not yet */
	char name[DP_NAME_MAX];
};

struct ctl_apply {
	struct dp *dp;
	struct lb *lb; /* services and backends; published as dp->lb */
	struct ctl_apply_port ports[DP_MAX_PORTS];
};

/*
 * Environment knobs of the LB (docs/lb.md, "Sizing"): a u32 from `name`
 * in [min, max] (and a power of two if pow2), or 0 = the default, with one
 * line naming the variable when it is malformed.
 */
static uint32_t ctl_apply_env_u32(const char *name, unsigned long min, unsigned long max, int pow2)
{
	const char *s = getenv(name);
	char *end;
	unsigned long v;

	if (s == NULL || *s == '\0')
		return 0;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v < min || v > max || (pow2 && (v & (v - 1)) != 0)) {
		fprintf(stderr, "sluice-dp: %s=%s: not %s in %lu..%lu; using the default\n", name, s,
			pow2 ? "a power of two" : "a number", min, max);
		return 0;
	}
	return (uint32_t)v;
}

struct ctl_apply *ctl_apply_create(struct dp *dp)
{
	struct ctl_apply *ca = calloc(1, sizeof(*ca));

	if (ca == NULL)
		return NULL;
	ca->dp = dp;
	/* The LB is programmed over the ring only, so it lives with the ring
	 * consumer: the pod gateway IP is its SNAT address (every pod routes
	 * through it, so replies come back to dp). */
	struct lb_params lp = {
		.qsbr = dp->qsbr, .n_workers = dp->n_workers, .snat_ip = dp->gateway_ip,
		.tsc_hz = dp->hz,
		/* flows per worker, ~72 bytes each */
		.ct_capacity = ctl_apply_env_u32("SLUICE_LB_CT_CAPACITY", CT_CAPACITY_MIN,
						 CT_CAPACITY_MAX, 1),
	};
	/* UDP flows never answered (benchmarks fill conntrack with them) */
	lp.ct_timeout_ms[CT_UDP_NEW] = ctl_apply_env_u32("SLUICE_LB_UDP_NEW_TIMEOUT_MS", 1000,
							 CT_TIMEOUT_MAX_MS, 0);
	ca->lb = lb_create(&lp);
	if (ca->lb == NULL) {
		int e = errno;
		free(ca);
		errno = e;
		return NULL;
	}
	if (lb_telemetry_register(ca->lb) != 0)
		fprintf(stderr, "sluice-dp: ctl: /sluice/lb telemetry not registered\n");
	__atomic_store_n(&dp->lb, ca->lb, __ATOMIC_RELEASE);
	return ca;
}

void ctl_apply_free(struct ctl_apply *ca)
{
	if (ca == NULL)
		return;
	if (ca->lb != NULL) {
		/* Workers drop the LB, then nothing can hold it. */
		__atomic_store_n(&ca->dp->lb, NULL, __ATOMIC_RELEASE);
		rte_rcu_qsbr_synchronize(ca->dp->qsbr, RTE_QSBR_THRID_INVALID);
		lb_telemetry_unregister(ca->lb);
		lb_free(ca->lb);
	}
	free(ca);
}

static struct ctl_apply_port *ctl_apply_port(struct ctl_apply *ca, uint32_t id)
{
	for (size_t i = 0; i < DP_MAX_PORTS; i++)
		if (ca->ports[i].id == id)
			return &ca->ports[i];
	return NULL;
}

/* dp generations are u32: ctrl starts at 1 and adds 1 per replay. */
static int ctl_apply_gen(uint64_t gen, uint32_t *out)
{
	if (gen > UINT32_MAX)
		return -ERANGE;
	*out = (uint32_t)gen;
	return 0;
}

static int ctl_apply_port_attach(void *data, const struct ring_port *p, uint64_t gen)
{
	struct ctl_apply *ca = data;
	struct ctl_apply_port *slot = ctl_apply_port(ca, p->port_id);
	struct dp_port_params pp;
	char err[256];

	if (slot != NULL) {
		if (strcmp(slot->name, p->name) != 0)
			return -EEXIST; /* same id, another port: ctrl is confused */
		slot->gen = gen;
		return 0;
	}
	slot = ctl_apply_port(ca, 0);
	if (slot == NULL)
		return -ENOSPC;
	memset(&pp, 0, sizeof(pp));
	snprintf(pp.name, sizeof(pp.name), "%s", p->name);
	switch (p->kind) {
	case RING_PORT_AF_XDP:
		pp.type = DP_PORT_AF_XDP;
		snprintf(pp.iface, sizeof(pp.iface), "%s", p->ifname);
		break;
	case RING_PORT_TAP:
		pp.type = DP_PORT_TAP;
		snprintf(pp.iface, sizeof(pp.iface), "%s", p->ifname);
		break;
	case RING_PORT_MEMIF:
		pp.type = DP_PORT_MEMIF;
		snprintf(pp.socket, sizeof(pp.socket), "%s", p->path);
		pp.memif_server = p->role == 0;
		break;
	case RING_PORT_VHOST_USER:
		pp.type = DP_PORT_VHOST_USER;
		snprintf(pp.socket, sizeof(pp.socket), "%s", p->path);
		pp.vhost_client = p->role == 1;
		break;
	default:
		return -EINVAL;
	}
	uint16_t eth_port = 0;
	int rc = dp_port_attach(ca->dp, &pp, &eth_port, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "sluice-dp: ctl: port %s: %s\n", p->name, err);
		return rc;
	}
	slot->id = p->port_id;
	slot->gen = gen;
	slot->eth_port = eth_port;
	slot->link_up = -1;
	snprintf(slot->name, sizeof(slot->name), "%s", p->name);
	return 0;
}

static int ctl_apply_port_detach(void *data, const struct ring_port_del *p)
{
	struct ctl_apply *ca = data;
	struct ctl_apply_port *slot = ctl_apply_port(ca, p->port_id);

	if (slot == NULL)
		return -ENOENT;
	int rc = dp_port_detach(ca->dp, slot->name);
	if (rc == 0 || rc == -ENOENT)
		memset(slot, 0, sizeof(*slot));
	return rc;
}

static int ctl_apply_pod_add(void *data, const struct ring_pod *p, uint64_t gen)
{
	struct ctl_apply *ca = data;
	struct ctl_apply_port *slot = ctl_apply_port(ca, p->port_id);
	uint32_t ip, g;

	if (p->family != RING_FAMILY_IPV4)
		return -EAFNOSUPPORT;
	if (slot == NULL)
		return -ENOENT;
	if (ctl_apply_gen(gen, &g) != 0)
		return -ERANGE;
	memcpy(&ip, p->addr, 4); /* stays in network order, as dp.h wants */
	return dp_pod_add(ca->dp, ip, p->mac, slot->name, g);
}

static int ctl_apply_pod_del(void *data, const struct ring_pod_del *p)
{
	struct ctl_apply *ca = data;
	uint32_t ip;

	if (p->family != RING_FAMILY_IPV4)
		return -EAFNOSUPPORT;
	memcpy(&ip, p->addr, 4);
	return dp_pod_del(ca->dp, ip);
}

static int ctl_apply_route_add(void *data, const struct ring_route *r, uint64_t gen)
{
	struct ctl_apply *ca = data;
	uint32_t prefix, g;

	if (r->family != RING_FAMILY_IPV4)
		return -EAFNOSUPPORT;
	if (ctl_apply_gen(gen, &g) != 0)
		return -ERANGE;
	memcpy(&prefix, r->prefix, 4);
	/* "prefix is behind the node at underlay IP nexthop": via dp's uplink
	 * (docs/multinode.md); dp_route_add_via answers -ENODEV without one. */
	if (r->port_id == RING_PORT_UPLINK) {
		uint32_t nh;
		if (r->nh_family != RING_FAMILY_IPV4)
			return -EAFNOSUPPORT;
		if (r->encap != RING_ENCAP_NONE && r->encap != RING_ENCAP_VXLAN)
			return -EOPNOTSUPP;
		memcpy(&nh, r->nexthop, 4);
		return dp_route_add_via(ca->dp, prefix, r->prefix_len, nh,
					r->encap == RING_ENCAP_VXLAN ? DP_OVERLAY_VXLAN
								     : DP_OVERLAY_DIRECT,
					r->vni, g);
	}
	struct ctl_apply_port *slot = ctl_apply_port(ca, r->port_id);
	if (r->encap != RING_ENCAP_NONE)
		return -EOPNOTSUPP;
	if (slot == NULL)
		return -ENOENT;
	return dp_route_add(ca->dp, prefix, r->prefix_len, slot->name, r->nh_mac, g);
}

static int ctl_apply_route_del(void *data, const struct ring_route_del *r)
{
	struct ctl_apply *ca = data;
	uint32_t prefix;

	if (r->family != RING_FAMILY_IPV4)
		return -EAFNOSUPPORT;
	memcpy(&prefix, r->prefix, 4);
	return dp_route_del(ca->dp, prefix, r->prefix_len);
}

/* ---- services and backends (issue #7; dp/lb_svc.h) ---- */

static void ctl_apply_ip4_str(const uint8_t *a, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
}

/* Steer the services' VIPs on the uplink (external clients, docs/lb.md):
 * after every change that can add or remove a VIP. Failures are counted
 * and logged by dp_uplink_vips_set. */
static void ctl_apply_vips(struct ctl_apply *ca)
{
	static uint32_t vips[LB_SVC_MAX]; /* the ring thread is the only caller */

	(void)dp_uplink_vips_set(ca->dp, vips, lb_vips(ca->lb, vips, LB_SVC_MAX));
}

static int ctl_apply_svc_add(void *data, const struct ring_svc *s, uint64_t gen)
{
	struct ctl_apply *ca = data;
	uint32_t vip, g;
	char ip[16];

	if (s->family != RING_FAMILY_IPV4)
		return -EAFNOSUPPORT;
	if (ctl_apply_gen(gen, &g) != 0)
		return -ERANGE;
	memcpy(&vip, s->vip, 4);
	int rc = lb_svc_add(ca->lb, s->svc_id, vip, s->port, s->proto, s->flags, g);
	if (rc != 0) {
		ctl_apply_ip4_str(s->vip, ip, sizeof(ip));
		fprintf(stderr, "sluice-dp: ctl: service %u %s:%u/%u: %s\n", s->svc_id, ip, s->port,
			s->proto, rc == -EEXIST ? "VIP:port:proto or id already used by another service"
						: strerror(-rc));
	}
	ctl_apply_vips(ca);
	return rc;
}

static int ctl_apply_svc_del(void *data, const struct ring_svc_del *s)
{
	struct ctl_apply *ca = data;

	int rc = lb_svc_del(ca->lb, s->svc_id);
	ctl_apply_vips(ca);
	return rc;
}

static int ctl_apply_backend_add(void *data, const struct ring_backend *b, uint64_t gen)
{
	struct ctl_apply *ca = data;
	uint32_t ip, g;
	char buf[16];

	if (b->family != RING_FAMILY_IPV4)
		return -EAFNOSUPPORT;
	if (ctl_apply_gen(gen, &g) != 0)
		return -ERANGE;
	memcpy(&ip, b->addr, 4);
	int rc = lb_backend_add(ca->lb, b->svc_id, b->backend_id, ip, b->port, b->weight, g);
	if (rc != 0) {
		ctl_apply_ip4_str(b->addr, buf, sizeof(buf));
		fprintf(stderr, "sluice-dp: ctl: backend %u of service %u (%s:%u): %s\n", b->backend_id,
			b->svc_id, buf, b->port,
			rc == -ENOENT ? "no such service" :
			rc == -EEXIST ? "address:port already used by another backend" : strerror(-rc));
	}
	return rc;
}

static int ctl_apply_backend_del(void *data, const struct ring_backend_del *b)
{
	struct ctl_apply *ca = data;

	return lb_backend_del(ca->lb, b->svc_id, b->backend_id);
}

static int ctl_apply_backend_weight(void *data, const struct ring_backend_weight *w)
{
	struct ctl_apply *ca = data;

	return lb_backend_weight(ca->lb, w->svc_id, w->backend_id, w->weight);
}

static int ctl_apply_sweep(void *data, uint64_t gen)
{
	struct ctl_apply *ca = data;
	uint32_t g;

	if (ctl_apply_gen(gen, &g) != 0)
		return -ERANGE;
	int n = dp_sweep(ca->dp, g);
	if (n < 0)
		return n;
	n += lb_sweep(ca->lb, g); /* services and backends the replay did not refresh */
	ctl_apply_vips(ca);
	/* Pods and routes first: a port is refused while they refer to it. */
	for (size_t i = 0; i < DP_MAX_PORTS; i++) {
		struct ctl_apply_port *s = &ca->ports[i];
		if (s->id == 0 || s->gen >= gen)
			continue;
		int rc = dp_port_detach(ca->dp, s->name);
		if (rc == 0 || rc == -ENOENT) {
			memset(s, 0, sizeof(*s));
			n++;
		} else {
			fprintf(stderr, "sluice-dp: ctl: stale port %s kept: %s\n", s->name, strerror(-rc));
		}
	}
	return n;
}

const struct ctl_ring_ops ctl_apply_ops = {
	.port_attach = ctl_apply_port_attach,
	.port_detach = ctl_apply_port_detach,
	.pod_add = ctl_apply_pod_add,
	.pod_del = ctl_apply_pod_del,
	.route_add = ctl_apply_route_add,
	.route_del = ctl_apply_route_del,
	.svc_add = ctl_apply_svc_add,
	.svc_del = ctl_apply_svc_del,
	.backend_add = ctl_apply_backend_add,
	.backend_del = ctl_apply_backend_del,
	.backend_weight = ctl_apply_backend_weight,
	.sweep = ctl_apply_sweep,
};

struct ctl_apply_thread {
	struct ctl_apply *ca;
	struct ctl_ring *ring;
	pthread_t tid;
	volatile int stop;
};

static void ctl_apply_log(void *data, const char *line)
{
	(void)data;
	fprintf(stderr, "sluice-dp: %s\n", line);
}

/*
 * Events for ctrl: a LINK event when a ring-attached port's link changes,
 * a STATS snapshot of each every second. Only this thread attaches and
 * detaches these ports, so their ethdev ids are stable while we read them.
 */
static void ctl_apply_events(struct ctl_apply_thread *t, int with_stats)
{
	for (size_t i = 0; i < DP_MAX_PORTS; i++) {
		struct ctl_apply_port *s = &t->ca->ports[i];
		struct rte_eth_link link;
		struct rte_eth_stats es;

		if (s->id == 0)
			continue;
		if (rte_eth_link_get_nowait(s->eth_port, &link) == 0 &&
		    (int)link.link_status != s->link_up &&
		    ctl_ring_post_link(t->ring, s->id, link.link_status, link.link_speed) == 0)
			s->link_up = (int8_t)link.link_status;
		if (with_stats && rte_eth_stats_get(s->eth_port, &es) == 0) {
			struct ring_stats st = {
				.port_id = s->id,
				.rx_pkts = es.ipackets,
				.rx_bytes = es.ibytes,
				.tx_pkts = es.opackets,
				.tx_bytes = es.obytes,
				.rx_drops = es.imissed + es.ierrors,
				.tx_drops = es.oerrors,
			};
			(void)ctl_ring_post_stats(t->ring, &st); /* dropped if full: next one supersedes */
		}
	}
}

static uint64_t ctl_apply_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void *ctl_apply_main(void *arg)
{
	struct ctl_apply_thread *t = arg;
	long sleep_ns = 50000;
	uint64_t next_link = 0, next_stats = 0;

	while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
		uint64_t now = ctl_apply_now_ms();
		if (now >= next_link) {
			int stats = now >= next_stats;
			ctl_apply_events(t, stats);
			next_link = now + 200;
			if (stats)
				next_stats = now + 1000;
		}
		if (ctl_ring_poll(t->ring) > 0) {
			sleep_ns = 50000;
			continue;
		}
		struct timespec ts = {0, sleep_ns};
		nanosleep(&ts, NULL);
		if (sleep_ns < 1000000)
			sleep_ns *= 2;
	}
	return NULL;
}

struct ctl_apply_thread *ctl_apply_start(struct dp *dp, const char *path)
{
	struct ctl_apply_thread *t = calloc(1, sizeof(*t));
	int err;

	if (t == NULL)
		return NULL;
	t->ca = ctl_apply_create(dp);
	struct ctl_ring_params p = {
		.path = path,
		.ops = &ctl_apply_ops,
		.ops_data = t->ca,
		.log = ctl_apply_log,
	};
	t->ring = t->ca ? ctl_ring_create(&p) : NULL;
	if (t->ring == NULL) {
		err = errno;
		ctl_apply_free(t->ca);
		free(t);
		errno = err;
		return NULL;
	}
	if ((err = pthread_create(&t->tid, NULL, ctl_apply_main, t)) != 0) {
		ctl_ring_free(t->ring);
		ctl_apply_free(t->ca);
		free(t);
		errno = err;
		return NULL;
	}
	return t;
}

void ctl_apply_stop(struct ctl_apply_thread *t)
{
	if (t == NULL)
		return;
	__atomic_store_n(&t->stop, 1, __ATOMIC_RELEASE);
	pthread_join(t->tid, NULL);
	ctl_ring_free(t->ring);
	ctl_apply_free(t->ca);
	free(t);
}
