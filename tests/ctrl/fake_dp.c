/*
 * fake_dp: see fake_dp.h. A crash is simulated by closing the segment
 * without unlinking it: the kernel drops the OFD lock exactly as it does
 * when a process dies, which is what ctrl watches.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sluice/ring_shm.h>

#include "fake_dp.h"

static int fake_port_attach(void *d, const struct ring_port *p, uint64_t gen)
{
	struct fake_dp *f = d;
	if (p->port_id >= FAKE_DP_MAX)
		return -ENOSPC;
	f->port_gen[p->port_id] = gen;
	f->applied++;
	return 0;
}

static int fake_port_detach(void *d, const struct ring_port_del *p)
{
	struct fake_dp *f = d;
	if (p->port_id >= FAKE_DP_MAX || f->port_gen[p->port_id] == 0)
		return -ENOENT;
	f->port_gen[p->port_id] = 0;
	f->applied++;
	return 0;
}

static int fake_pod_add(void *d, const struct ring_pod *p, uint64_t gen)
{
	struct fake_dp *f = d;
	if (f->fail_pod_add)
		return f->fail_pod_add;
	if (p->pod_id >= FAKE_DP_MAX)
		return -ENOSPC;
	if (p->port_id >= FAKE_DP_MAX || f->port_gen[p->port_id] == 0)
		return -ENOENT;
	f->pod_gen[p->pod_id] = gen;
	f->applied++;
	return 0;
}

static int fake_pod_del(void *d, const struct ring_pod_del *p)
{
	struct fake_dp *f = d;
	if (p->pod_id >= FAKE_DP_MAX || f->pod_gen[p->pod_id] == 0)
		return -ENOENT;
	f->pod_gen[p->pod_id] = 0;
	f->applied++;
	return 0;
}

static unsigned fake_route_key(const uint8_t prefix[16])
{
	return ((unsigned)(prefix[1] & 63) << 8) | prefix[2]; /* < FAKE_DP_MAX */
}

static int fake_route_add(void *d, const struct ring_route *r, uint64_t gen)
{
	struct fake_dp *f = d;
	unsigned k = fake_route_key(r->prefix);
	if (k >= FAKE_DP_MAX)
		return -ENOSPC;
	f->route_gen[k] = gen;
	f->applied++;
	return 0;
}

static int fake_route_del(void *d, const struct ring_route_del *r)
{
	struct fake_dp *f = d;
	unsigned k = fake_route_key(r->prefix);
	if (k >= FAKE_DP_MAX || f->route_gen[k] == 0)
		return -ENOENT;
	f->route_gen[k] = 0;
	f->applied++;
	return 0;
}

static int fake_svc_add(void *d, const struct ring_svc *sv, uint64_t gen)
{
	struct fake_dp *f = d;
	(void)gen;
	if (sv->svc_id == 0 || sv->svc_id >= FAKE_DP_MAX)
		return -EINVAL;
	f->svc[sv->svc_id] = 1;
	f->applied++;
	return 0;
}

static int fake_svc_del(void *d, const struct ring_svc_del *sv)
{
	struct fake_dp *f = d;
	if (sv->svc_id == 0 || sv->svc_id >= FAKE_DP_MAX || !f->svc[sv->svc_id])
		return -ENOENT;
	f->svc[sv->svc_id] = 0;
	f->applied++;
	return 0;
}

static int fake_backend_add(void *d, const struct ring_backend *b, uint64_t gen)
{
	struct fake_dp *f = d;
	(void)gen;
	if (b->backend_id == 0 || b->backend_id >= FAKE_DP_MAX || b->svc_id >= FAKE_DP_MAX ||
	    !f->svc[b->svc_id] || b->weight == 0)
		return -EINVAL;
	f->be_weight[b->backend_id] = b->weight + 1;
	f->applied++;
	return 0;
}

static int fake_backend_del(void *d, const struct ring_backend_del *b)
{
	struct fake_dp *f = d;
	if (b->backend_id == 0 || b->backend_id >= FAKE_DP_MAX || f->be_weight[b->backend_id] == 0)
		return -ENOENT;
	f->be_weight[b->backend_id] = 0;
	f->applied++;
	return 0;
}

static int fake_backend_weight(void *d, const struct ring_backend_weight *w)
{
	struct fake_dp *f = d;
	if (w->backend_id == 0 || w->backend_id >= FAKE_DP_MAX || f->be_weight[w->backend_id] == 0)
		return -ENOENT;
	f->be_weight[w->backend_id] = w->weight + 1;
	f->applied++;
	return 0;
}

static int fake_sweep(void *d, uint64_t gen)
{
	struct fake_dp *f = d;
	int n = 0;
	uint64_t *tabs[] = {f->pod_gen, f->route_gen, f->port_gen};

	/* Pods and routes before ports, as dp does: ports are referenced. */
	for (size_t t = 0; t < 3; t++)
		for (size_t i = 0; i < FAKE_DP_MAX; i++)
			if (tabs[t][i] != 0 && tabs[t][i] < gen) {
				tabs[t][i] = 0;
				n++;
			}
	return n;
}

static const struct ctl_ring_ops fake_ops = {
	.port_attach = fake_port_attach,
	.port_detach = fake_port_detach,
	.pod_add = fake_pod_add,
	.pod_del = fake_pod_del,
	.route_add = fake_route_add,
	.route_del = fake_route_del,
	.svc_add = fake_svc_add,
	.svc_del = fake_svc_del,
	.backend_add = fake_backend_add,
	.backend_del = fake_backend_del,
	.backend_weight = fake_backend_weight,
	.sweep = fake_sweep,
};

static void fake_quiet(void *data, const char *line)
{
	(void)data;
	(void)line;
}

int fake_dp_start(struct fake_dp *f, const char *path, uint32_t cmd_count, uint32_t evt_count)
{
	struct ctl_ring_params p = {
		.path = path,
		.cmd_count = cmd_count,
		.evt_count = evt_count,
		.ops = &fake_ops,
		.ops_data = f,
		.log = fake_quiet,
	};

	memset(f, 0, sizeof(*f));
	f->ctl = ctl_ring_create(&p);
	return f->ctl ? 0 : -errno;
}

static void *fake_dp_loop(void *arg)
{
	struct fake_dp *f = arg;
	struct timespec ts = {.tv_sec = 0, .tv_nsec = 20000};

	while (__atomic_load_n(&f->running, __ATOMIC_ACQUIRE)) {
		if (__atomic_load_n(&f->paused, __ATOMIC_ACQUIRE) || ctl_ring_poll(f->ctl) == 0)
			nanosleep(&ts, NULL);
	}
	return NULL;
}

void fake_dp_run_thread(struct fake_dp *f)
{
	__atomic_store_n(&f->running, 1, __ATOMIC_RELEASE);
	pthread_create(&f->thread, NULL, fake_dp_loop, f);
}

void fake_dp_stop_thread(struct fake_dp *f)
{
	if (!f->running)
		return;
	__atomic_store_n(&f->running, 0, __ATOMIC_RELEASE);
	pthread_join(f->thread, NULL);
}

void fake_dp_stop(struct fake_dp *f)
{
	fake_dp_stop_thread(f);
	ctl_ring_free(f->ctl);
	f->ctl = NULL;
}

void fake_dp_crash(struct fake_dp *f)
{
	fake_dp_stop_thread(f);
	ctl_ring_close(f->ctl);
	f->ctl = NULL;
}

unsigned fake_dp_count(const uint64_t *gens)
{
	unsigned n = 0;
	for (size_t i = 0; i < FAKE_DP_MAX; i++)
		n += gens[i] != 0;
	return n;
}
