/*
 * ctl_ring: drain, validate, apply and acknowledge ctrl's commands
 * (dp/ctl_ring.h; the protocol is docs/ring-protocol.md).
 *
 * Each poll works in bursts like the fast path does: one dequeue of up to
 * `burst` records into a private array (the copy is what we validate, so
 * ctrl cannot change a record after it passed the checks), a scalar apply
 * loop, then one enqueue of all the ACKs. The burst is capped by the event
 * ring's free space first, which is what guarantees an ACK slot per
 * command: dp is the only producer of the event ring, so free space can
 * only grow between the check and the enqueue.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <sluice/ring_shm.h>

#include "ctl_ring.h"

#define CTL_RING_BURST_MAX 256
/* How often to probe for ctrl (a syscall), in nanoseconds. */
#define CTL_RING_PROBE_NS 100000000ull

struct ctl_ring {
	struct ring_shm *shm;
	const struct ctl_ring_ops *ops;
	void *ops_data;
	void (*log)(void *data, const char *line);
	void *log_data;
	unsigned burst;
	int ctrl_attached;
	uint64_t next_probe_ns;
	uint64_t evt_seq;
	uint64_t sync_gen;	/* SYNC_BEGIN seen, SYNC_END not yet; 0 = none */
	uint64_t generation;	/* last completed sync */
	struct ctl_ring_stats stats;
	struct ring_cmd cmds[CTL_RING_BURST_MAX];
	struct ring_evt acks[CTL_RING_BURST_MAX];
};

static void ctl_ring_logf(struct ctl_ring *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void ctl_ring_logf(struct ctl_ring *c, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (c->log != NULL)
		c->log(c->log_data, line);
	else
		fprintf(stderr, "%s\n", line);
}

static uint64_t ctl_ring_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct ctl_ring *ctl_ring_create(const struct ctl_ring_params *params)
{
	struct ring_shm_params sp = {
		.path = params->path,
		.cmd_count = params->cmd_count,
		.evt_count = params->evt_count,
	};
	struct ctl_ring *c;
	uint32_t stale_pid;
	int err;

	if (params->ops == NULL || params->burst > CTL_RING_BURST_MAX) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->ops = params->ops;
	c->ops_data = params->ops_data;
	c->log = params->log;
	c->log_data = params->log_data;
	c->burst = params->burst ? params->burst : CTL_RING_BURST_MAX;
	c->shm = ring_shm_create(&sp, &stale_pid);
	if (c->shm == NULL) {
		err = errno;
		free(c);
		errno = err;
		return NULL;
	}
	const struct ring_shm_hdr *h = ring_shm_hdr(c->shm);
	if (stale_pid != 0)
		ctl_ring_logf(c, "ctl: replaced stale segment of dead dp pid %u", stale_pid);
	ctl_ring_logf(c, "ctl: segment %s up (boot_id %016llx, rings %u/%u, protocol v%u), waiting for sluice-ctrl",
		      sp.path ? sp.path : RING_SHM_DEFAULT_PATH, (unsigned long long)h->boot_id,
		      h->cmd_count, h->evt_count, RING_PROTO_VERSION);
	return c;
}

void ctl_ring_free(struct ctl_ring *c)
{
	if (c == NULL)
		return;
	(void)ring_shm_unlink(c->shm);
	ring_shm_free(c->shm);
	free(c);
}

void ctl_ring_close(struct ctl_ring *c)
{
	if (c == NULL)
		return;
	ring_shm_free(c->shm);
	free(c);
}

static int ctl_ring_apply(struct ctl_ring *c, const struct ring_cmd *cmd)
{
	const struct ctl_ring_ops *o = c->ops;
	void *d = c->ops_data;
	uint64_t g = cmd->generation;

	switch (cmd->type) {
	case RING_CMD_POD_ADD:
		return o->pod_add ? o->pod_add(d, &cmd->u.pod, g) : -EOPNOTSUPP;
	case RING_CMD_POD_DEL:
		return o->pod_del ? o->pod_del(d, &cmd->u.pod_del) : -EOPNOTSUPP;
	case RING_CMD_PORT_ATTACH:
		return o->port_attach ? o->port_attach(d, &cmd->u.port, g) : -EOPNOTSUPP;
	case RING_CMD_PORT_DETACH:
		return o->port_detach ? o->port_detach(d, &cmd->u.port_del) : -EOPNOTSUPP;
	case RING_CMD_ROUTE_ADD:
		return o->route_add ? o->route_add(d, &cmd->u.route, g) : -EOPNOTSUPP;
	case RING_CMD_ROUTE_DEL:
		return o->route_del ? o->route_del(d, &cmd->u.route_del) : -EOPNOTSUPP;
	case RING_CMD_SVC_ADD:
		return o->svc_add ? o->svc_add(d, &cmd->u.svc, g) : -EOPNOTSUPP;
	case RING_CMD_SVC_DEL:
		return o->svc_del ? o->svc_del(d, &cmd->u.svc_del) : -EOPNOTSUPP;
	case RING_CMD_BACKEND_ADD:
		return o->backend_add ? o->backend_add(d, &cmd->u.backend, g) : -EOPNOTSUPP;
	case RING_CMD_BACKEND_DEL:
		return o->backend_del ? o->backend_del(d, &cmd->u.backend_del) : -EOPNOTSUPP;
	case RING_CMD_BACKEND_WEIGHT:
		return o->backend_weight ? o->backend_weight(d, &cmd->u.backend_weight)
					 : -EOPNOTSUPP;
	case RING_CMD_SYNC_BEGIN:
		/* Generations only move forward: an older replay is a confused ctrl. */
		if (g <= c->generation)
			return -ESTALE;
		c->sync_gen = g;
		ctl_ring_logf(c, "ctl: sync begin, generation %llu (previous %llu)",
			      (unsigned long long)g, (unsigned long long)c->generation);
		return 0;
	case RING_CMD_SYNC_END: {
		if (g != c->sync_gen)
			return -EPROTO; /* END without the matching BEGIN */
		int n = o->sweep ? o->sweep(d, g) : 0;
		if (n < 0)
			return n;
		c->sync_gen = 0;
		c->generation = g;
		c->stats.syncs++;
		c->stats.swept += (uint64_t)n;
		ring_shm_set_generation(c->shm, g);
		ctl_ring_logf(c, "ctl: sync end, generation %llu: swept %d stale entries",
			      (unsigned long long)g, n);
		return 0;
	}
	default:
		return -EINVAL; /* unreachable: ring_cmd_check rejected it */
	}
}

static void ctl_ring_probe_ctrl(struct ctl_ring *c)
{
	uint64_t now = ctl_ring_now_ns();

	if (now < c->next_probe_ns)
		return;
	c->next_probe_ns = now + CTL_RING_PROBE_NS;
	int att = ring_shm_ctrl_attached(c->shm);
	if (att == c->ctrl_attached)
		return;
	c->ctrl_attached = att;
	if (att)
		ctl_ring_logf(c, "ctl: sluice-ctrl attached");
	else
		ctl_ring_logf(c, "ctl: sluice-ctrl gone, forwarding headless with generation %llu",
			      (unsigned long long)c->generation);
}

unsigned ctl_ring_poll(struct ctl_ring *c)
{
	struct rte_ring *cmd_r = ring_shm_cmd(c->shm);
	struct rte_ring *evt_r = ring_shm_evt(c->shm);

	ring_shm_heartbeat(c->shm);
	ctl_ring_probe_ctrl(c);

	unsigned room = rte_ring_free_count(evt_r);
	unsigned want = room < c->burst ? room : c->burst;
	if (want == 0)
		return 0; /* ctrl is not reading ACKs: hold its commands */
	unsigned n = rte_ring_sc_dequeue_burst_elem(cmd_r, c->cmds, sizeof(struct ring_cmd),
						   want, NULL);
	for (unsigned i = 0; i < n; i++) {
		const struct ring_cmd *cmd = &c->cmds[i];
		struct ring_evt *ack = &c->acks[i];
		enum ring_bad why = ring_cmd_check(cmd);
		int rc;

		if (why != RING_BAD_OK) {
			rc = why == RING_BAD_VERSION ? -EPROTONOSUPPORT : -EINVAL;
			c->stats.rejected++;
			/* One line each for the first few, then powers of two: a broken
			 * ctrl must not turn dp's log into a flood. */
			uint64_t r = c->stats.rejected;
			if (r <= 8 || (r & (r - 1)) == 0)
				ctl_ring_logf(c, "ctl: rejected command seq %llu type %u: %s (%llu rejected so far)",
					      (unsigned long long)cmd->seq, cmd->type, ring_bad_str(why),
					      (unsigned long long)r);
		} else {
			rc = ctl_ring_apply(c, cmd);
			if (rc == 0)
				c->stats.applied++;
			else
				c->stats.failed++;
		}
		/*
		 * Echo seq even for a malformed record: it is ctrl's only handle
		 * on which command failed. A zero seq is echoed as is.
		 */
		ring_evt_init(ack, RING_EVT_ACK, cmd->seq, c->generation);
		ack->u.ack.cmd_type = cmd->type;
		ack->u.ack.reason = (uint16_t)why;
		ack->u.ack.err = rc;
	}
	if (n > 0) {
		unsigned put = rte_ring_sp_enqueue_bulk_elem(evt_r, c->acks,
							     sizeof(struct ring_evt), n, NULL);
		/* Cannot fail: we reserved the room above and are the only producer. */
		if (put != n)
			ctl_ring_logf(c, "ctl: BUG: lost %u acks", n);
	}
	return n;
}

static int ctl_ring_post(struct ctl_ring *c, struct ring_evt *e)
{
	if (rte_ring_sp_enqueue_elem(ring_shm_evt(c->shm), e, sizeof(*e)) != 0) {
		c->stats.evt_dropped++;
		return -ENOBUFS;
	}
	return 0;
}

int ctl_ring_post_link(struct ctl_ring *c, uint32_t port_id, int up, uint32_t speed_mbps)
{
	struct ring_evt e;

	ring_evt_init(&e, RING_EVT_LINK, ++c->evt_seq, c->generation);
	e.u.link.port_id = port_id;
	e.u.link.up = up ? 1 : 0;
	e.u.link.speed_mbps = speed_mbps;
	return ctl_ring_post(c, &e);
}

int ctl_ring_post_stats(struct ctl_ring *c, const struct ring_stats *st)
{
	struct ring_evt e;

	ring_evt_init(&e, RING_EVT_STATS, ++c->evt_seq, c->generation);
	e.u.stats = *st;
	e.u.stats.reserved0 = 0;
	return ctl_ring_post(c, &e);
}

int ctl_ring_post_health(struct ctl_ring *c, uint32_t svc_id, uint32_t backend_id, int healthy)
{
	struct ring_evt e;

	ring_evt_init(&e, RING_EVT_HEALTH, ++c->evt_seq, c->generation);
	e.u.health.svc_id = svc_id;
	e.u.health.backend_id = backend_id;
	e.u.health.healthy = healthy ? 1 : 0;
	return ctl_ring_post(c, &e);
}

void ctl_ring_get_stats(const struct ctl_ring *c, struct ctl_ring_stats *out)
{
	*out = c->stats;
}

uint64_t ctl_ring_generation(const struct ctl_ring *c)
{
	return c->generation;
}
