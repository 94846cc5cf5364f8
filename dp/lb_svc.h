/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lb_svc: the L4 service load balancer of sluice-dp, control side. A
 * service is VIP:port:proto with a weighted backend set; this module keeps
 * the services, gives every backend a node-wide slot, builds each
 * service's Maglev table (dp/maglev.h) off the fast path and publishes an
 * immutable service map by pointer swap, freeing the replaced map and its
 * tables after an rte_rcu_qsbr grace period (STYLE 16). The fast path that
 * reads the map is dp/lb_fwd.c.
 *
 * Backend slots. Conntrack entries name their backend by a u32 slot (the
 * Maglev id) plus the slot's 8-bit generation, kept in the entry's caller
 * flags. Each slot is one 64-bit word (address, port, generation, state),
 * written with one atomic store and read with one atomic load, so a worker
 * never sees a torn backend. A removed backend's slot is marked dead at
 * once (its flows re-pick: see docs/lb.md, "removed backends") and reused
 * only after the map that could still pick it has been retired; reuse bumps
 * the generation, so a stale flow can never follow a slot to a new backend.
 *
 * SNAT. Full NAT: a new flow's client address is replaced by the LB's own
 * address (the pod gateway IP, which every pod routes through) and a port
 * unique for (backend, port), so replies come back through dp wherever the
 * backend is. Ports are partitioned by worker (port % workers == worker),
 * so two workers never hand out the same one.
 *
 * Threads: every function here is control side (the ring thread or the
 * main thread), serialised by the caller (one writer); telemetry reads are
 * relaxed and may be a little stale.
 */
#ifndef SLUICE_DP_LB_SVC_H
#define SLUICE_DP_LB_SVC_H

#include <stdint.h>

#include "ct.h"
#include "maglev.h"

struct rte_rcu_qsbr;
struct rte_ring;
struct rte_mbuf;

#define LB_SVC_MAX 1024u     /* services per node */
#define LB_SVC_BE_MAX 4096u  /* backends per service */
#define LB_BE_SLOTS 65536u   /* backend slots per node (all services) */
#define LB_WORKERS_MAX 16u
#define LB_CT_CAPACITY_DEFAULT (1u << 18) /* 128K flows, 18 MB per worker */
#define LB_HANDOFF_RING 1024u /* mbufs waiting for another worker, per worker */

/* ---- events counted per worker (not drops: those are in dp_stats.h) ---- */
#define LB_FOREACH_EVENT(_)                                                     \
	_(NEW_FLOW, "new_flows")         /* ct miss, backend picked, entry made */ \
	_(ORIG, "orig_pkts")             /* client -> VIP packets NATed */          \
	_(REPLY, "reply_pkts")           /* backend -> client packets NATed */      \
	_(FRAG, "frag_pkts")             /* non-first fragments rewritten */        \
	_(ICMP, "icmp_errors_mapped")    /* ICMP errors about LB flows passed on */ \
	_(REPICK, "repicks")             /* flow's backend removed: picked again */ \
	_(REUSED, "tuple_reuses")        /* SYN on a finished flow: scheduled anew */ \
	_(SNAT_RETRY, "snat_port_retries")                                        \
	_(HANDOFF, "handoffs")           /* replies passed to the flow's worker */ \
	_(DSR_ENCAP, "dsr_encap")        /* client -> DSR VIP, sent to a backend's tunnel */ \
	_(DSR_DECAP, "dsr_decap")        /* tunneled to a local backend, rewritten */ \
	_(DSR_REPLY, "dsr_reply_pkts")   /* backend -> client, source made the VIP */

enum lb_ev {
#define LB_EV_ENUM(e, n) LB_EV_##e,
	LB_FOREACH_EVENT(LB_EV_ENUM)
#undef LB_EV_ENUM
	LB_EV_MAX
};
extern const char *const lb_ev_names[LB_EV_MAX];

struct lb_params {
	struct rte_rcu_qsbr *qsbr; /* the workers' QSBR variable (not owned) */
	unsigned n_workers;        /* 1..LB_WORKERS_MAX */
	uint32_t ct_capacity;      /* flows per worker, power of two; 0 = default */
	uint32_t snat_ip;          /* network order, the LB's own address */
	uint64_t tsc_hz;
	uint32_t maglev_m;         /* prime table size; 0 = MAGLEV_M_DEFAULT */
	uint32_t ct_timeout_ms[CT_STATE_MAX]; /* 0 = ct's default per state */
};

struct lb;

/*
 * Create an empty LB: backend slots, an empty map, one conntrack table and
 * fragment table per worker. Control thread. NULL + errno (EINVAL, ENOMEM).
 */
struct lb *lb_create(const struct lb_params *p);

/* Free everything. The caller guarantees no worker uses lb any more (it
 * unpublished it and waited for a grace period). NULL ok. */
void lb_free(struct lb *lb);

/*
 * Services and backends. Addresses are IPv4, network order; ports host
 * order. Each change rebuilds what it touches, publishes a new map and
 * waits for one grace period before freeing the old one (bounded by the
 * workers' poll loop; idle workers are offline and do not delay it).
 * Returns 0 or -errno:
 *   lb_svc_add: -EINVAL (proto not 6/17, port 0, vip 0, flags), -EEXIST
 *     (another service has that VIP:port:proto, or this id has another one
 *     or the other mode: RING_SVC_F_DSR cannot change in place),
 *     -ENOSPC; re-adding the same service refreshes its generation.
 *   lb_backend_add: -ENOENT (service), -EINVAL (weight 0 or > 65535, ip 0,
 *     port 0), -EEXIST (another id has that address:port), -ENOSPC;
 *     re-adding an id updates address/port/weight and the generation.
 *   lb_backend_weight: weight 0 drains (no new flows, existing ones stay).
 *   lb_*_del: -ENOENT.
 */
int lb_svc_add(struct lb *lb, uint32_t id, uint32_t vip, uint16_t port, uint8_t proto,
	       uint32_t flags, uint32_t gen);
int lb_svc_del(struct lb *lb, uint32_t id);
int lb_backend_add(struct lb *lb, uint32_t svc_id, uint32_t be_id, uint32_t ip, uint16_t port,
		   uint32_t weight, uint32_t gen);
int lb_backend_del(struct lb *lb, uint32_t svc_id, uint32_t be_id);
int lb_backend_weight(struct lb *lb, uint32_t svc_id, uint32_t be_id, uint32_t weight);

/* Remove services and backends installed under a generation older than
 * gen (after a ctrl replay). Returns the number removed. */
int lb_sweep(struct lb *lb, uint32_t gen);

/* Counts, for telemetry and tests. Control side. */
unsigned lb_svc_count(const struct lb *lb);
unsigned lb_backend_count(const struct lb *lb);
/* The distinct VIP addresses of the services (network order), sorted
 * by value, at most @cap of them, into @out; returns the count. Control side (dp steers
 * them on the uplink: docs/lb.md, "External clients"). */
unsigned lb_vips(const struct lb *lb, uint32_t *out, unsigned cap);

/* Register /sluice/lb and /sluice/lb_backends (one lb per process is
 * served; a later call replaces the earlier). 0 or -errno. */
int lb_telemetry_register(struct lb *lb);
void lb_telemetry_unregister(struct lb *lb);

/* ---- layouts shared with the fast path (dp/lb_fwd.c) only ---- */

/* A backend slot word: ip (bits 0-31, network order as stored in memory),
 * port (32-47, network order), generation (48-55), state (56-63). */
#define LB_BE_FREE 0u
#define LB_BE_LIVE 1u
#define LB_BE_DEAD 2u

static inline uint64_t lb_be_word(uint32_t ip, uint16_t port_be, uint8_t gen, uint8_t state)
{
	return (uint64_t)ip | (uint64_t)port_be << 32 | (uint64_t)gen << 48 |
	       (uint64_t)state << 56;
}
#define LB_BE_IP(w) ((uint32_t)(w))
#define LB_BE_PORT(w) ((uint16_t)((w) >> 32))
#define LB_BE_GEN(w) ((uint8_t)((w) >> 48))
#define LB_BE_STATE(w) ((uint8_t)((w) >> 56))

/* A service's backends sorted by address, for DSR: the node of a backend
 * pod finds the target port from the address the tunnel was sent to. */
struct lb_be_ip {
	uint32_t ip;   /* network order; sorted by host-order value */
	uint16_t port; /* network order */
	uint16_t pad;
	uint32_t slot;
};

/* One service as workers see it. Immutable while published. */
struct lb_svc_fp {
	uint32_t vip;    /* network order; 0 = empty map slot */
	uint16_t port;   /* network order */
	uint8_t proto;
	uint8_t flags;   /* RING_SVC_F_* */
	uint32_t id;
	uint32_t n_be_ip;
	const struct maglev_table *mt; /* ids are backend slots; NULL = no backend */
	const struct lb_be_ip *be_ip;  /* [n_be_ip], by address */
};

/* The backend of s at address ip (network order), or NULL. */
static inline const struct lb_be_ip *lb_svc_be_by_ip(const struct lb_svc_fp *s, uint32_t ip)
{
	uint32_t lo = 0, hi = s->n_be_ip, key = __builtin_bswap32(ip);

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2, v = __builtin_bswap32(s->be_ip[mid].ip);
		if (v == key)
			return &s->be_ip[mid];
		if (v < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

#define LB_MAP_SLOTS (2u * LB_SVC_MAX) /* open addressing, load <= 1/2 */

#define LB_DSR_FILTER_BITS 65536u

/* The published service map: (vip, port, proto) -> service, and the set
 * of VIP addresses (for fragments and ICMP, which carry no port). With DSR
 * services, a filter of their backends' addresses: a packet from one may
 * be a reply to reverse-NAT (false positives only cost a lookup). */
struct lb_map {
	uint32_t n_svc;
	uint32_t snat_ip;
	uint32_t n_dsr; /* DSR services */
	uint32_t pad;
	struct lb_svc_fp svc[LB_MAP_SLOTS];
	uint32_t vip_set[LB_MAP_SLOTS]; /* network order; 0 = empty */
	uint64_t dsr_src[LB_DSR_FILTER_BITS / 64];
};

static inline uint32_t lb_dsr_filter_bit(uint32_t ip)
{
	return (uint32_t)(((uint64_t)ip * 0x9e3779b97f4a7c15ULL) >> 48);
}

static inline int lb_map_dsr_src(const struct lb_map *m, uint32_t ip)
{
	uint32_t b = lb_dsr_filter_bit(ip);
	return (m->dsr_src[b / 64] >> (b % 64)) & 1u;
}

static inline uint32_t lb_map_hash(uint32_t vip, uint16_t port, uint8_t proto)
{
	uint64_t h = ((uint64_t)vip << 24 | (uint64_t)port << 8 | proto) * 0x9e3779b97f4a7c15ULL;
	return (uint32_t)(h >> 40);
}

static inline const struct lb_svc_fp *lb_map_find(const struct lb_map *m, uint32_t vip,
						  uint16_t port, uint8_t proto)
{
	for (uint32_t i = lb_map_hash(vip, port, proto), n = 0; n < LB_MAP_SLOTS; i++, n++) {
		const struct lb_svc_fp *s = &m->svc[i & (LB_MAP_SLOTS - 1)];
		if (s->vip == 0)
			return NULL;
		if (s->vip == vip && s->port == port && s->proto == proto)
			return s;
	}
	return NULL;
}

static inline int lb_map_is_vip(const struct lb_map *m, uint32_t ip)
{
	for (uint32_t i = lb_map_hash(ip, 0, 0), n = 0; n < LB_MAP_SLOTS; i++, n++) {
		uint32_t v = m->vip_set[i & (LB_MAP_SLOTS - 1)];
		if (v == 0)
			return 0;
		if (v == ip)
			return 1;
	}
	return 0;
}

/* Fragment table: non-first fragments carry no ports, so they follow the
 * first fragment's rewrite by (src, dst, IP id, proto) (Maglev §4.3). */
#define LB_FRAG_SLOTS 1024u /* power of two, direct mapped */
struct lb_frag {
	uint32_t src, dst;         /* as received, network order */
	uint32_t new_src, new_dst; /* as rewritten */
	uint16_t id;
	uint8_t proto;
	uint8_t used;
	uint8_t dsr; /* DSR, LB side: not rewritten, tunneled to new_dst */
	uint8_t pad[3];
	uint64_t expire_tsc;
};

struct lb_lcore {
	struct ct *ct;
	struct lb_frag frag[LB_FRAG_SLOTS];
	/* Several workers: first fragments this worker handed to another
	 * (the flow's) worker; new_dst holds that worker, so the datagram's
	 * later fragments, which carry no port, follow it there. */
	struct lb_frag frag_ho[LB_FRAG_SLOTS];
	uint64_t ev[LB_EV_MAX];
	uint32_t sweep_pkts;     /* LB packets since the last conntrack slice */
	uint32_t port_next;      /* SNAT port cursor */
	uint64_t idle_sweep_tsc; /* last slice swept from an idle poll */
} __attribute__((aligned(64)));

struct lb {
	/* ---- read by workers ---- */
	struct lb_map *map;  /* published */
	uint64_t *be;        /* [LB_BE_SLOTS] slot words, atomic */
	struct lb_lcore *lc[LB_WORKERS_MAX];
	/* Replies that reached a worker other than the flow's (the SNAT
	 * port's class says which) wait here for it; MP/SC. Also tunneled
	 * packets for a DSR backend on this node (any number of workers). */
	struct rte_ring *handoff[LB_WORKERS_MAX];
	unsigned n_workers;
	uint32_t snat_ip;
	uint64_t frag_ttl_tsc;
	uint64_t idle_sweep_gap_tsc; /* between conntrack slices from idle polls */
	/* conntrack refresh windows, as TSC bit numbers (lb_fwd.c) */
	uint8_t refresh_shift; /* an entry's own expiry: ~1/4 s */
	uint8_t partner_shift; /* its partner's: ~2 s */
	/* ---- control side ---- */
	struct lb_params params;
	struct lb_ctl *ctl;
};

#endif
