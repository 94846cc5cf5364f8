/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lb_svc: services, backends and their publication (see lb_svc.h).
 *
 * Every change goes: edit the control copy -> rebuild the Maglev table of
 * the service it touched (the others' tables are shared with the new map)
 * -> build a new map -> release-store it -> rte_rcu_qsbr_synchronize ->
 * free the old map and the tables only it referenced -> free slots of
 * removed backends. The control copy is a plain array per service; at
 * LB_SVC_MAX services and a few thousand backends, linear search is
 * cheaper than the Maglev rebuild that follows every change anyway.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_telemetry.h>

#include <sluice/ring_proto.h>

#include "ct_node.h"
#include "lb_svc.h"
#include "maglev_node.h"

const char *const lb_ev_names[LB_EV_MAX] = {
#define LB_EV_NAME(e, n) n,
	LB_FOREACH_EVENT(LB_EV_NAME)
#undef LB_EV_NAME
};

struct lb_ctl_be {
	uint32_t id;
	uint32_t slot;
	uint32_t ip;     /* network order */
	uint16_t port;   /* host order */
	uint32_t weight; /* 0 = draining */
	uint32_t gen;
};

struct lb_ctl_svc {
	uint32_t id; /* 0 = free */
	uint32_t vip;
	uint16_t port; /* host order */
	uint8_t proto;
	uint32_t flags;
	uint32_t gen;
	struct lb_ctl_be *be;
	uint32_t n_be, cap_be;
	struct maglev_table *mt; /* current, shared with the published map */
	struct lb_be_ip *be_ip;  /* same: backends by address */
};

struct lb_ctl {
	/* The ring thread changes the control copy, the telemetry thread
	 * reads it (backend arrays are realloc'ed): this lock, never taken
	 * on a worker. */
	pthread_mutex_t lock;
	struct lb_ctl_svc svc[LB_SVC_MAX];
	uint8_t slot_gen[LB_BE_SLOTS];
	uint8_t slot_used[LB_BE_SLOTS];
	uint32_t slot_cursor;
	unsigned n_be;
	/* slots of removed backends, freed after the next publication */
	uint32_t *dead;
	unsigned n_dead, cap_dead;
};

static struct lb_ctl_svc *lb_find_svc(struct lb *lb, uint32_t id)
{
	for (unsigned i = 0; i < LB_SVC_MAX; i++)
		if (lb->ctl->svc[i].id == id)
			return &lb->ctl->svc[i];
	return NULL;
}

static struct lb_ctl_be *lb_find_be(struct lb_ctl_svc *s, uint32_t id)
{
	for (uint32_t i = 0; i < s->n_be; i++)
		if (s->be[i].id == id)
			return &s->be[i];
	return NULL;
}

static struct lb_map *lb_map_alloc(const struct lb *lb)
{
	struct lb_map *m = aligned_alloc(64, (sizeof(*m) + 63) & ~(size_t)63);
	if (m != NULL) {
		memset(m, 0, sizeof(*m));
		m->snat_ip = lb->snat_ip;
	}
	return m;
}

struct lb *lb_create(const struct lb_params *p)
{
	struct lb *lb;

	if (p == NULL || p->n_workers == 0 || p->n_workers > LB_WORKERS_MAX || p->qsbr == NULL ||
	    p->snat_ip == 0) {
		errno = EINVAL;
		return NULL;
	}
	lb = calloc(1, sizeof(*lb));
	if (lb == NULL)
		goto nomem;
	lb->params = *p;
	lb->n_workers = p->n_workers;
	lb->snat_ip = p->snat_ip;
	/* A datagram's fragments arrive within milliseconds; 2 s covers
	 * reordering without holding entries long. */
	lb->frag_ttl_tsc = 2 * p->tsc_hz;
	lb->idle_sweep_gap_tsc = p->tsc_hz / 1000; /* 1 ms */
	/* 2^shift TSC cycles: the largest power of two within 1/4 s and 2 s */
	lb->refresh_shift = lb->partner_shift = 1;
	while ((2ull << lb->refresh_shift) <= p->tsc_hz / 4)
		lb->refresh_shift++;
	while ((2ull << lb->partner_shift) <= 2 * p->tsc_hz)
		lb->partner_shift++;
	lb->ctl = calloc(1, sizeof(*lb->ctl));
	lb->be = calloc(LB_BE_SLOTS, sizeof(*lb->be));
	lb->map = lb_map_alloc(lb);
	if (lb->ctl == NULL || lb->be == NULL || lb->map == NULL)
		goto fail;
	pthread_mutex_init(&lb->ctl->lock, NULL);
	for (unsigned w = 0; w < p->n_workers; w++) {
		struct ct_params cp = {
			.capacity = p->ct_capacity ? p->ct_capacity : LB_CT_CAPACITY_DEFAULT,
			.tsc_hz = p->tsc_hz,
		};
		memcpy(cp.timeout_ms, p->ct_timeout_ms, sizeof(cp.timeout_ms));
		lb->lc[w] = aligned_alloc(64, sizeof(struct lb_lcore));
		if (lb->lc[w] == NULL)
			goto fail;
		memset(lb->lc[w], 0, sizeof(struct lb_lcore));
		/* Start the SNAT cursor where the worker's port class begins. */
		lb->lc[w]->port_next = w;
		lb->lc[w]->ct = ct_create(&cp);
		if (lb->lc[w]->ct == NULL)
			goto fail;
		{
			/* plain memory + rte_ring_init: no EAL memzone, so the
			 * unit tests run it too */
			char name[32];
			ssize_t sz = rte_ring_get_memsize(LB_HANDOFF_RING);
			if (sz < 0)
				goto fail;
			lb->handoff[w] = aligned_alloc(64, ((size_t)sz + 63) & ~(size_t)63);
			snprintf(name, sizeof(name), "lb_ho%u", w);
			if (lb->handoff[w] == NULL ||
			    rte_ring_init(lb->handoff[w], name, LB_HANDOFF_RING, RING_F_SC_DEQ) != 0)
				goto fail;
		}
	}
	return lb;
fail:
	{
		int e = errno == EINVAL ? EINVAL : ENOMEM;
		lb_free(lb);
		errno = e;
		return NULL;
	}
nomem:
	errno = ENOMEM;
	return NULL;
}

void lb_free(struct lb *lb)
{
	if (lb == NULL)
		return;
	if (lb->ctl != NULL) {
		for (unsigned i = 0; i < LB_SVC_MAX; i++) {
			maglev_free(lb->ctl->svc[i].mt);
			free(lb->ctl->svc[i].be_ip);
			free(lb->ctl->svc[i].be);
		}
		free(lb->ctl->dead);
		pthread_mutex_destroy(&lb->ctl->lock);
	}
	for (unsigned w = 0; w < LB_WORKERS_MAX; w++) {
		if (lb->lc[w] != NULL)
			ct_free(lb->lc[w]->ct);
		free(lb->lc[w]);
		if (lb->handoff[w] != NULL) {
			void *m;
			/* packets still waiting for a worker that is gone */
			while (rte_ring_sc_dequeue(lb->handoff[w], &m) == 0)
				rte_pktmbuf_free(m);
			free(lb->handoff[w]);
		}
	}
	/* the map's tables are the services' current ones, freed above */
	free(lb->map);
	free(lb->be);
	free(lb->ctl);
	free(lb);
}

static int lb_be_ip_cmp(const void *a, const void *b)
{
	uint32_t x = rte_be_to_cpu_32(((const struct lb_be_ip *)a)->ip);
	uint32_t y = rte_be_to_cpu_32(((const struct lb_be_ip *)b)->ip);
	return x < y ? -1 : x > y;
}

/* Build service s's Maglev table and address-sorted backend array from its
 * backends (addresses are unique per node). NULLs with no backends. */
static int lb_build(struct lb *lb, struct lb_ctl_svc *s, struct maglev_table **out,
		    struct lb_be_ip **out_ip)
{
	struct maglev_backend *mb;

	*out = NULL;
	*out_ip = NULL;
	if (s->n_be == 0)
		return 0;
	mb = calloc(s->n_be, sizeof(*mb));
	*out_ip = calloc(s->n_be, sizeof(**out_ip));
	if (mb == NULL || *out_ip == NULL) {
		free(mb);
		free(*out_ip);
		*out_ip = NULL;
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < s->n_be; i++)
		(*out_ip)[i] = (struct lb_be_ip){ .ip = s->be[i].ip,
						  .port = rte_cpu_to_be_16(s->be[i].port),
						  .slot = s->be[i].slot };
	qsort(*out_ip, s->n_be, sizeof(**out_ip), lb_be_ip_cmp);
	for (uint32_t i = 0; i < s->n_be; i++) {
		mb[i].family = MAGLEV_AF_INET;
		memcpy(mb[i].addr, &s->be[i].ip, 4);
		mb[i].port = s->be[i].port;
		mb[i].weight = s->be[i].weight;
		mb[i].id = s->be[i].slot;
	}
	struct maglev_params mp = {
		.table_size = lb->params.maglev_m, .backends = mb, .nb_backends = s->n_be,
	};
	*out = maglev_build(&mp);
	int e = errno;
	free(mb);
	if (*out != NULL)
		return 0;
	free(*out_ip);
	*out_ip = NULL;
	return -(e ? e : ENOMEM);
}

static void lb_map_put(struct lb_map *m, const struct lb_ctl_svc *s)
{
	uint32_t vip = s->vip;
	uint16_t port = rte_cpu_to_be_16(s->port);

	for (uint32_t i = lb_map_hash(vip, port, s->proto);; i++) {
		struct lb_svc_fp *f = &m->svc[i & (LB_MAP_SLOTS - 1)];
		if (f->vip != 0)
			continue;
		f->vip = vip;
		f->port = port;
		f->proto = s->proto;
		f->flags = (uint8_t)s->flags;
		f->id = s->id;
		f->mt = s->mt;
		f->be_ip = s->be_ip;
		f->n_be_ip = s->be_ip != NULL ? s->n_be : 0;
		break;
	}
	if (s->flags & RING_SVC_F_DSR) {
		m->n_dsr++;
		for (uint32_t i = 0; i < s->n_be; i++) {
			uint32_t b = lb_dsr_filter_bit(s->be[i].ip);
			m->dsr_src[b / 64] |= 1ull << (b % 64);
		}
	}
	for (uint32_t i = lb_map_hash(vip, 0, 0);; i++) {
		uint32_t *v = &m->vip_set[i & (LB_MAP_SLOTS - 1)];
		if (*v == vip)
			break;
		if (*v == 0) {
			*v = vip;
			break;
		}
	}
	m->n_svc++;
}

/*
 * Publish a map built from the control copy; old_mt (may be NULL) is a
 * table the change replaced, freed with the old map after the grace
 * period. On -ENOMEM nothing changed for workers and old_mt is the
 * caller's to restore.
 */
static int lb_publish(struct lb *lb, struct maglev_table *old_mt, struct lb_be_ip *old_ip)
{
	struct lb_map *m = lb_map_alloc(lb), *old;

	if (m == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < LB_SVC_MAX; i++)
		if (lb->ctl->svc[i].id != 0)
			lb_map_put(m, &lb->ctl->svc[i]);
	old = lb->map;
	__atomic_store_n(&lb->map, m, __ATOMIC_RELEASE);
	/* Control thread: waiting here is fine, and every worker reports a
	 * quiescent state once per poll loop (or is offline when idle). */
	rte_rcu_qsbr_synchronize(lb->params.qsbr, RTE_QSBR_THRID_INVALID);
	free(old);
	maglev_free(old_mt);
	free(old_ip);
	/* Removed backends' slots: no published table can pick them now. */
	for (unsigned i = 0; i < lb->ctl->n_dead; i++) {
		uint32_t slot = lb->ctl->dead[i];
		lb->ctl->slot_used[slot] = 0;
		__atomic_store_n(&lb->be[slot], lb_be_word(0, 0, lb->ctl->slot_gen[slot], LB_BE_FREE),
				 __ATOMIC_RELEASE);
	}
	lb->ctl->n_dead = 0;
	return 0;
}

/* Rebuild s's table and publish. On failure the control copy is the
 * caller's to roll back; workers still see the old map. */
static int lb_rebuild(struct lb *lb, struct lb_ctl_svc *s)
{
	struct maglev_table *mt, *old = s->mt;
	struct lb_be_ip *bi, *old_ip = s->be_ip;
	int rc = lb_build(lb, s, &mt, &bi);

	if (rc != 0)
		return rc;
	s->mt = mt;
	s->be_ip = bi;
	rc = lb_publish(lb, old, old_ip);
	if (rc != 0) {
		s->mt = old;
		s->be_ip = old_ip;
		maglev_free(mt);
		free(bi);
	}
	return rc;
}

static int lb_svc_add_locked(struct lb *lb, uint32_t id, uint32_t vip, uint16_t port, uint8_t proto,
	       uint32_t flags, uint32_t gen)
{
	struct lb_ctl_svc *s, *free_s = NULL;

	if (id == 0 || vip == 0 || port == 0 || (proto != 6 && proto != 17) ||
	    (flags & ~RING_SVC_F_MASK))
		return -EINVAL;
	for (unsigned i = 0; i < LB_SVC_MAX; i++) {
		s = &lb->ctl->svc[i];
		if (s->id == 0) {
			if (free_s == NULL)
				free_s = s;
			continue;
		}
		int same_key = s->vip == vip && s->port == port && s->proto == proto;
		if (s->id == id) {
			if (!same_key)
				return -EEXIST;
			/* flows of the other mode have other conntrack entries:
			 * changing it means delete and add */
			if ((s->flags ^ flags) & RING_SVC_F_DSR)
				return -EEXIST;
			s->gen = gen;
			if (s->flags == flags)
				return 0; /* replay: refreshed */
			s->flags = flags;
			return lb_publish(lb, NULL, NULL);
		}
		if (same_key)
			return -EEXIST;
	}
	if (free_s == NULL)
		return -ENOSPC;
	s = free_s;
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->vip = vip;
	s->port = port;
	s->proto = proto;
	s->flags = flags;
	s->gen = gen;
	int rc = lb_publish(lb, NULL, NULL);
	if (rc != 0)
		s->id = 0;
	return rc;
}

/* Queue slot for release at the next publication; mark it dead now so
 * flows pinned to it re-pick instead of reaching a removed backend. */
static int lb_slot_kill(struct lb *lb, uint32_t slot)
{
	struct lb_ctl *c = lb->ctl;

	if (c->n_dead == c->cap_dead) {
		unsigned nc = c->cap_dead ? c->cap_dead * 2 : 64;
		uint32_t *d = realloc(c->dead, nc * sizeof(*d));
		if (d == NULL)
			return -ENOMEM;
		c->dead = d;
		c->cap_dead = nc;
	}
	c->dead[c->n_dead++] = slot;
	uint64_t w = __atomic_load_n(&lb->be[slot], __ATOMIC_RELAXED);
	__atomic_store_n(&lb->be[slot],
			 lb_be_word(LB_BE_IP(w), LB_BE_PORT(w), LB_BE_GEN(w), LB_BE_DEAD),
			 __ATOMIC_RELEASE);
	c->n_be--;
	return 0;
}

static void lb_svc_release(struct lb *lb, struct lb_ctl_svc *s)
{
	for (uint32_t i = 0; i < s->n_be; i++)
		(void)lb_slot_kill(lb, s->be[i].slot);
	free(s->be);
	s->be = NULL;
	s->n_be = s->cap_be = 0;
	s->id = 0;
}

static int lb_svc_del_locked(struct lb *lb, uint32_t id)
{
	struct lb_ctl_svc *s = id ? lb_find_svc(lb, id) : NULL;

	if (s == NULL)
		return -ENOENT;
	struct maglev_table *old = s->mt;
	struct lb_be_ip *old_ip = s->be_ip;
	s->mt = NULL;
	s->be_ip = NULL;
	lb_svc_release(lb, s);
	/* Removal cannot be rolled back; a failed publish leaves the old map
	 * (with this service) until the next successful one. */
	/* Removal is not rolled back. If the publish fails (no memory for a
	 * map) the live map still names the old table: it is leaked rather
	 * than freed under the workers' feet. */
	return lb_publish(lb, old, old_ip);
}

static int lb_slot_alloc(struct lb *lb, uint32_t *slot)
{
	struct lb_ctl *c = lb->ctl;

	/* Round robin over the slots, so a freed slot is reused as late as
	 * possible (its generation guards it anyway). */
	for (uint32_t n = 0; n < LB_BE_SLOTS; n++) {
		uint32_t s = (c->slot_cursor + n) % LB_BE_SLOTS;
		if (!c->slot_used[s]) {
			c->slot_used[s] = 1;
			c->slot_gen[s]++;
			c->slot_cursor = (s + 1) % LB_BE_SLOTS;
			*slot = s;
			return 0;
		}
	}
	return -ENOSPC;
}

static int lb_backend_del_locked(struct lb *lb, uint32_t svc_id, uint32_t be_id);

static int lb_backend_add_locked(struct lb *lb, uint32_t svc_id, uint32_t be_id, uint32_t ip, uint16_t port,
		   uint32_t weight, uint32_t gen)
{
	struct lb_ctl_svc *s = svc_id ? lb_find_svc(lb, svc_id) : NULL;
	struct lb_ctl_be *b, saved;
	int rc;

	if (s == NULL)
		return -ENOENT;
	if (be_id == 0 || ip == 0 || port == 0 || weight == 0 || weight > MAGLEV_WEIGHT_MAX)
		return -EINVAL;
	for (uint32_t i = 0; i < s->n_be; i++)
		if (s->be[i].id != be_id && s->be[i].ip == ip && s->be[i].port == port)
			return -EEXIST;
	b = lb_find_be(s, be_id);
	if (b != NULL) {
		/* Replay or update. Same address: the slot and its flows stay. */
		if (b->ip == ip && b->port == port) {
			uint32_t old_w = b->weight;
			b->gen = gen;
			if (old_w == weight)
				return 0;
			b->weight = weight;
			rc = lb_rebuild(lb, s);
			if (rc != 0)
				b->weight = old_w;
			return rc;
		}
		/* New address under an old id: a different backend. */
		rc = lb_backend_del_locked(lb, svc_id, be_id);
		if (rc != 0)
			return rc;
	}
	if (s->n_be >= LB_SVC_BE_MAX)
		return -ENOSPC;
	if (s->n_be == s->cap_be) {
		uint32_t nc = s->cap_be ? s->cap_be * 2 : 8;
		struct lb_ctl_be *nb = realloc(s->be, nc * sizeof(*nb));
		if (nb == NULL)
			return -ENOMEM;
		s->be = nb;
		s->cap_be = nc;
	}
	b = &s->be[s->n_be];
	memset(b, 0, sizeof(*b));
	if ((rc = lb_slot_alloc(lb, &b->slot)) != 0)
		return rc;
	b->id = be_id;
	b->ip = ip;
	b->port = port;
	b->weight = weight;
	b->gen = gen;
	/* The slot is live before any table can pick it. */
	__atomic_store_n(&lb->be[b->slot],
			 lb_be_word(ip, rte_cpu_to_be_16(port), lb->ctl->slot_gen[b->slot], LB_BE_LIVE),
			 __ATOMIC_RELEASE);
	s->n_be++;
	lb->ctl->n_be++;
	rc = lb_rebuild(lb, s);
	if (rc != 0) {
		saved = *b;
		s->n_be--;
		lb->ctl->n_be--;
		lb->ctl->slot_used[saved.slot] = 0;
		__atomic_store_n(&lb->be[saved.slot], 0, __ATOMIC_RELEASE);
	}
	return rc;
}

static int lb_backend_del_locked(struct lb *lb, uint32_t svc_id, uint32_t be_id)
{
	struct lb_ctl_svc *s = svc_id ? lb_find_svc(lb, svc_id) : NULL;
	struct lb_ctl_be *b = s ? lb_find_be(s, be_id) : NULL;

	if (b == NULL)
		return -ENOENT;
	int rc = lb_slot_kill(lb, b->slot);
	if (rc != 0)
		return rc;
	*b = s->be[--s->n_be];
	return lb_rebuild(lb, s);
}

static int lb_backend_weight_locked(struct lb *lb, uint32_t svc_id, uint32_t be_id, uint32_t weight)
{
	struct lb_ctl_svc *s = svc_id ? lb_find_svc(lb, svc_id) : NULL;
	struct lb_ctl_be *b = s ? lb_find_be(s, be_id) : NULL;

	if (b == NULL)
		return -ENOENT;
	if (weight > MAGLEV_WEIGHT_MAX)
		return -EINVAL;
	uint32_t old = b->weight;
	if (old == weight)
		return 0;
	b->weight = weight;
	int rc = lb_rebuild(lb, s);
	if (rc != 0)
		b->weight = old;
	return rc;
}

static int lb_sweep_locked(struct lb *lb, uint32_t gen)
{
	int n = 0;

	for (unsigned i = 0; i < LB_SVC_MAX; i++) {
		struct lb_ctl_svc *s = &lb->ctl->svc[i];
		if (s->id == 0)
			continue;
		if (s->gen < gen) {
			n += (int)s->n_be + 1;
			(void)lb_svc_del_locked(lb, s->id);
			continue;
		}
		for (uint32_t j = 0; j < s->n_be;) {
			if (s->be[j].gen < gen) {
				(void)lb_backend_del_locked(lb, s->id, s->be[j].id);
				n++;
			} else {
				j++;
			}
		}
	}
	return n;
}

/* ---- the public control functions: one writer at a time, and never
 * while telemetry reads the control copy ---- */

int lb_svc_add(struct lb *lb, uint32_t id, uint32_t vip, uint16_t port, uint8_t proto,
	       uint32_t flags, uint32_t gen)
{
	pthread_mutex_lock(&lb->ctl->lock);
	int rc = lb_svc_add_locked(lb, id, vip, port, proto, flags, gen);
	pthread_mutex_unlock(&lb->ctl->lock);
	return rc;
}

int lb_svc_del(struct lb *lb, uint32_t id)
{
	pthread_mutex_lock(&lb->ctl->lock);
	int rc = lb_svc_del_locked(lb, id);
	pthread_mutex_unlock(&lb->ctl->lock);
	return rc;
}

int lb_backend_add(struct lb *lb, uint32_t svc_id, uint32_t be_id, uint32_t ip, uint16_t port,
		   uint32_t weight, uint32_t gen)
{
	pthread_mutex_lock(&lb->ctl->lock);
	int rc = lb_backend_add_locked(lb, svc_id, be_id, ip, port, weight, gen);
	pthread_mutex_unlock(&lb->ctl->lock);
	return rc;
}

int lb_backend_del(struct lb *lb, uint32_t svc_id, uint32_t be_id)
{
	pthread_mutex_lock(&lb->ctl->lock);
	int rc = lb_backend_del_locked(lb, svc_id, be_id);
	pthread_mutex_unlock(&lb->ctl->lock);
	return rc;
}

int lb_backend_weight(struct lb *lb, uint32_t svc_id, uint32_t be_id, uint32_t weight)
{
	pthread_mutex_lock(&lb->ctl->lock);
	int rc = lb_backend_weight_locked(lb, svc_id, be_id, weight);
	pthread_mutex_unlock(&lb->ctl->lock);
	return rc;
}

int lb_sweep(struct lb *lb, uint32_t gen)
{
	pthread_mutex_lock(&lb->ctl->lock);
	int rc = lb_sweep_locked(lb, gen);
	pthread_mutex_unlock(&lb->ctl->lock);
	return rc;
}

static unsigned lb_svc_count_locked(const struct lb *lb)
{
	unsigned n = 0;
	for (unsigned i = 0; i < LB_SVC_MAX; i++)
		n += lb->ctl->svc[i].id != 0;
	return n;
}

unsigned lb_svc_count(const struct lb *lb)
{
	pthread_mutex_lock(&lb->ctl->lock);
	unsigned n = lb_svc_count_locked(lb);
	pthread_mutex_unlock(&lb->ctl->lock);
	return n;
}

static int lb_u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

unsigned lb_vips(const struct lb *lb, uint32_t *out, unsigned cap)
{
	uint32_t all[LB_SVC_MAX];
	unsigned n = 0, k = 0;

	pthread_mutex_lock(&lb->ctl->lock);
	for (unsigned i = 0; i < LB_SVC_MAX; i++)
		if (lb->ctl->svc[i].id != 0)
			all[n++] = lb->ctl->svc[i].vip;
	pthread_mutex_unlock(&lb->ctl->lock);
	qsort(all, n, sizeof(all[0]), lb_u32_cmp);
	for (unsigned i = 0; i < n && k < cap; i++)
		if (i == 0 || all[i] != all[i - 1])
			out[k++] = all[i];
	return k;
}

unsigned lb_backend_count(const struct lb *lb)
{
	return __atomic_load_n(&lb->ctl->n_be, __ATOMIC_RELAXED);
}

/* ---- telemetry (docs/dp-telemetry.md) ---- */

/* rte_telemetry callbacks take no user pointer (DPDK 22.11): one lb per
 * process, as for /sluice/stats. The control copy is read without the
 * writer's lock: counts may be stale by one change, never out of bounds. */
static struct lb *lb_tel;

static int lb_tel_lb(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct lb *lb = lb_tel;
	uint64_t ev[LB_EV_MAX] = {0}, cts[CT_STAT_MAX] = {0}, count = 0, cap = 0;
	char key[64];

	(void)cmd;
	(void)params;
	if (lb == NULL)
		return -ENODEV;
	for (unsigned w = 0; w < lb->n_workers; w++) {
		uint64_t s[CT_STAT_MAX];
		for (unsigned e = 0; e < LB_EV_MAX; e++)
			ev[e] += __atomic_load_n(&lb->lc[w]->ev[e], __ATOMIC_RELAXED);
		ct_stats_get(lb->lc[w]->ct, s);
		for (unsigned e = 0; e < CT_STAT_MAX; e++)
			cts[e] += s[e];
		count += ct_count(lb->lc[w]->ct);
		cap += ct_capacity(lb->lc[w]->ct);
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "services", lb_svc_count(lb));
	rte_tel_data_add_dict_u64(d, "backends", lb_backend_count(lb));
	rte_tel_data_add_dict_u64(d, "ct_entries", count);
	rte_tel_data_add_dict_u64(d, "ct_capacity", cap);
	for (unsigned e = 0; e < LB_EV_MAX; e++)
		rte_tel_data_add_dict_u64(d, lb_ev_names[e], ev[e]);
	for (unsigned e = 0; e < CT_STAT_MAX; e++) {
		snprintf(key, sizeof(key), "ct_%s", ct_stat_name(e));
		for (char *k = key; *k; k++)
			*k = (char)(*k >= 'A' && *k <= 'Z' ? *k - 'A' + 'a' : *k);
		rte_tel_data_add_dict_u64(d, key, cts[e]);
	}
	return 0;
}

static int lb_tel_backends(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct lb *lb = lb_tel;
	char val[128];
	unsigned n = 0;

	(void)cmd;
	(void)params;
	if (lb == NULL)
		return -ENODEV;
	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	pthread_mutex_lock(&lb->ctl->lock);
	for (unsigned i = 0; i < LB_SVC_MAX; i++) {
		const struct lb_ctl_svc *s = &lb->ctl->svc[i];
		const uint8_t *v = (const uint8_t *)&s->vip;
		if (s->id == 0)
			continue;
		for (uint32_t j = 0; j < s->n_be && n < RTE_TEL_MAX_ARRAY_ENTRIES; j++, n++) {
			const struct lb_ctl_be *b = &s->be[j];
			const uint8_t *a = (const uint8_t *)&b->ip;
			/* "svc vip:port/proto be ip:port weight slot" */
			snprintf(val, sizeof(val), "%u %u.%u.%u.%u:%u/%s %u %u.%u.%u.%u:%u %u %u", s->id,
				 v[0], v[1], v[2], v[3], s->port, s->proto == 6 ? "tcp" : "udp", b->id,
				 a[0], a[1], a[2], a[3], b->port, b->weight, b->slot);
			rte_tel_data_add_array_string(d, val);
		}
	}
	pthread_mutex_unlock(&lb->ctl->lock);
	return 0;
}

int lb_telemetry_register(struct lb *lb)
{
	static int registered;

	lb_tel = lb;
	if (registered)
		return 0;
	if (rte_telemetry_register_cmd("/sluice/lb", lb_tel_lb,
				       "LB totals: services, backends, ct_entries, ct_capacity, events, ct_<stat>") ||
	    rte_telemetry_register_cmd("/sluice/lb_backends", lb_tel_backends,
				       "[\"<svc> <vip>:<port>/<proto> <backend> <ip>:<port> <weight> <slot>\", ...]"))
		return -EINVAL;
	registered = 1;
	return 0;
}

void lb_telemetry_unregister(struct lb *lb)
{
	if (lb_tel == lb)
		lb_tel = NULL;
}
