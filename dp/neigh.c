/*
 * neigh: see neigh.h. A flat array of slots searched linearly by the
 * writer: the table holds one entry per remote node on the segment
 * (hundreds), and the writer runs on the control thread, so a hash would
 * buy nothing the fast path uses. The fast path indexes by slot.
 *
 * Each slot's word "pub" is what readers see: MAC in the low 48 bits,
 * NEIGH_PUB_VALID above it. It is written with relaxed atomic stores; a
 * reader loads it once, so MAC and validity always belong together.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "neigh.h"

#define NEIGH_PUB_VALID (1ull << 48)

struct neigh_slot {
	uint64_t pub;          /* read by the fast path */
	uint32_t ip;
	uint32_t refs;
	uint32_t probes;
	uint8_t state;
	uint64_t confirmed_ms;
	uint64_t next_probe_ms;
};

struct neigh {
	struct neigh_params p;
	unsigned live, dead;
	struct neigh_slot *slots;
};

struct neigh *neigh_create(const struct neigh_params *p)
{
	if (p == NULL || p->max == 0 || p->max > 65536 || p->reachable_ms == 0 ||
	    p->retrans_ms == 0 || p->max_probes == 0) {
		errno = EINVAL;
		return NULL;
	}
	struct neigh *n = calloc(1, sizeof(*n));
	if (n == NULL)
		return NULL;
	n->p = *p;
	n->slots = calloc(p->max, sizeof(*n->slots));
	if (n->slots == NULL) {
		free(n);
		errno = ENOMEM;
		return NULL;
	}
	return n;
}

void neigh_free(struct neigh *n)
{
	if (n == NULL)
		return;
	free(n->slots);
	free(n);
}

static void neigh_publish(struct neigh_slot *s, const uint8_t *mac, int valid)
{
	uint64_t w = 0;
	if (mac != NULL)
		for (int i = 0; i < 6; i++)
			w |= (uint64_t)mac[i] << (8 * i);
	else
		w = s->pub & (NEIGH_PUB_VALID - 1); /* keep the MAC for telemetry */
	if (valid)
		w |= NEIGH_PUB_VALID;
	__atomic_store_n(&s->pub, w, __ATOMIC_RELAXED);
}

static int neigh_ip_ok(uint32_t ip)
{
	const uint8_t *b = (const uint8_t *)&ip;
	return ip != 0 && ip != 0xffffffffu && (b[0] & 0xf0) != 0xe0;
}

int neigh_find(const struct neigh *n, uint32_t ip, uint32_t *idx)
{
	for (uint32_t i = 0; i < n->p.max; i++) {
		const struct neigh_slot *s = &n->slots[i];
		if (s->state != NEIGH_FREE && s->state != NEIGH_DEAD && s->ip == ip) {
			*idx = i;
			return 0;
		}
	}
	return -ENOENT;
}

int neigh_ref(struct neigh *n, uint32_t ip, uint32_t *idx)
{
	if (!neigh_ip_ok(ip))
		return -EINVAL;
	if (neigh_find(n, ip, idx) == 0) {
		n->slots[*idx].refs++;
		return 0;
	}
	for (uint32_t i = 0; i < n->p.max; i++) {
		struct neigh_slot *s = &n->slots[i];
		if (s->state != NEIGH_FREE)
			continue;
		s->ip = ip;
		s->refs = 1;
		s->probes = 0;
		s->confirmed_ms = 0;
		s->next_probe_ms = 0; /* due at once */
		s->state = NEIGH_INCOMPLETE;
		neigh_publish(s, (const uint8_t *)"\0\0\0\0\0\0", 0);
		n->live++;
		*idx = i;
		return 0;
	}
	return -ENOSPC;
}

void neigh_unref(struct neigh *n, uint32_t idx)
{
	if (idx >= n->p.max)
		return;
	struct neigh_slot *s = &n->slots[idx];
	if (s->state == NEIGH_FREE || s->state == NEIGH_DEAD || s->refs == 0)
		return;
	if (--s->refs != 0)
		return;
	neigh_publish(s, NULL, 0);
	s->state = NEIGH_DEAD;
	n->live--;
	n->dead++;
}

unsigned neigh_dead(const struct neigh *n)
{
	return n->dead;
}

void neigh_reap(struct neigh *n)
{
	for (uint32_t i = 0; i < n->p.max && n->dead != 0; i++) {
		struct neigh_slot *s = &n->slots[i];
		if (s->state == NEIGH_DEAD) {
			memset(s, 0, sizeof(*s));
			n->dead--;
		}
	}
}

int neigh_learn(struct neigh *n, uint32_t ip, const uint8_t mac[6], uint64_t now_ms)
{
	uint32_t idx;
	static const uint8_t zero[6];

	if ((mac[0] & 1) || memcmp(mac, zero, 6) == 0)
		return -EINVAL;
	if (neigh_find(n, ip, &idx) != 0)
		return -ENOENT;
	struct neigh_slot *s = &n->slots[idx];
	s->state = NEIGH_REACHABLE;
	s->probes = 0;
	s->confirmed_ms = now_ms;
	s->next_probe_ms = now_ms + n->p.reachable_ms;
	neigh_publish(s, mac, 1);
	return 0;
}

unsigned neigh_tick(struct neigh *n, uint64_t now_ms, uint32_t *ips, unsigned cap)
{
	unsigned k = 0;

	for (uint32_t i = 0; i < n->p.max; i++) {
		struct neigh_slot *s = &n->slots[i];
		switch (s->state) {
		case NEIGH_REACHABLE:
			if (now_ms - s->confirmed_ms < n->p.reachable_ms)
				continue;
			/* RFC 1122 2.3.2.1: revalidate an aging entry while still
			 * using it, so traffic does not stall on a refresh. */
			s->state = NEIGH_STALE;
			s->next_probe_ms = now_ms;
			break;
		case NEIGH_STALE:
			/* the last probe had its retrans_ms to be answered */
			if (s->probes >= n->p.max_probes && now_ms >= s->next_probe_ms) {
				s->state = NEIGH_FAILED;
				neigh_publish(s, NULL, 0);
			}
			break;
		case NEIGH_INCOMPLETE:
		case NEIGH_FAILED:
			break;
		default:
			continue;
		}
		if (now_ms < s->next_probe_ms || k == cap)
			continue;
		ips[k++] = s->ip;
		s->probes++;
		s->next_probe_ms = now_ms + n->p.retrans_ms;
	}
	return k;
}

int neigh_get(const struct neigh *n, uint32_t idx, struct neigh_info *out)
{
	if (idx >= n->p.max || n->slots[idx].state == NEIGH_FREE)
		return -ENOENT;
	const struct neigh_slot *s = &n->slots[idx];
	uint64_t w = __atomic_load_n(&s->pub, __ATOMIC_RELAXED);
	memset(out, 0, sizeof(*out));
	out->ip = s->ip;
	for (int i = 0; i < 6; i++)
		out->mac[i] = (uint8_t)(w >> (8 * i));
	out->state = s->state;
	out->valid = (w & NEIGH_PUB_VALID) != 0;
	out->refs = s->refs;
	out->probes = s->probes;
	out->confirmed_ms = s->confirmed_ms;
	return 0;
}

unsigned neigh_count(const struct neigh *n)
{
	return n->live;
}

int neigh_lookup(const struct neigh *n, uint32_t idx, uint8_t mac[6])
{
	if (idx >= n->p.max)
		return 0;
	uint64_t w = __atomic_load_n(&n->slots[idx].pub, __ATOMIC_RELAXED);
	if (!(w & NEIGH_PUB_VALID))
		return 0;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)(w >> (8 * i));
	return 1;
}
