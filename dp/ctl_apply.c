/*
 * ctl_apply: ring records -> dp_* control calls (dp/ctl_apply.h).
 *
 * The dataplane is IPv4-only and has no tunnels yet, so IPv6 records and
 * encapsulated routes are answered -EAFNOSUPPORT / -EOPNOTSUPP rather than
 * half-applied; services and backends belong to the LB issue and are
 * -EOPNOTSUPP until it lands. A replayed PORT_ATTACH for a port this table
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

struct ctl_apply_port {
	uint32_t id; /* 0 = free slot */
	uint64_t gen;
	uint16_t eth_port;	/* ethdev port id, for link and stats events */
	int8_t link_up;		/* last link state reported; -1 = not yet */
	char name[DP_NAME_MAX];
};

struct ctl_apply {
	struct dp *dp;
	struct ctl_apply_port ports[DP_MAX_PORTS];
};

struct ctl_apply *ctl_apply_create(struct dp *dp)
{
	struct ctl_apply *ca = calloc(1, sizeof(*ca));

	if (ca != NULL)
		ca->dp = dp;
	return ca;
}

void ctl_apply_free(struct ctl_apply *ca)
{
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
	struct ctl_apply_port *slot = ctl_apply_port(ca, r->port_id);
	uint32_t prefix, g;

	if (r->family != RING_FAMILY_IPV4)
		return -EAFNOSUPPORT;
	if (r->encap != RING_ENCAP_NONE)
		return -EOPNOTSUPP;
	if (slot == NULL)
		return -ENOENT;
	if (ctl_apply_gen(gen, &g) != 0)
		return -ERANGE;
	memcpy(&prefix, r->prefix, 4);
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

static int ctl_apply_sweep(void *data, uint64_t gen)
{
	struct ctl_apply *ca = data;
	uint32_t g;

	if (ctl_apply_gen(gen, &g) != 0)
		return -ERANGE;
	int n = dp_sweep(ca->dp, g);
	if (n < 0)
		return n;
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
