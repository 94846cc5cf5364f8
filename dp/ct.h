/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ct: per-lcore connection tracking for the load balancer, control side
 * (create, free, sweep, stats). The fast path (bulk lookup, insert, state
 * update) is in ct_node.h / ct_node.c.
 *
 * A ct table maps a flow's 5-tuple to the backend Maglev picked for it, its
 * NAT state, a TCP (or UDP) state and the last-seen TSC. Each worker lcore
 * owns one table and is its only user, so there are no locks and no atomics:
 * flows reach the same lcore by RSS. Maglev keeps most flows on their
 * backend when the backend set changes, but not all (§3.4: "minimal
 * disruption", not none); conntrack pins the rest (paper §3.3).
 *
 * The table is bounded: two-choice, 8-way set-associative buckets of one
 * cache line each. When both candidate buckets are full an insert evicts, in
 * this order, an expired flow, an embryonic one (SYN only, or UDP never
 * answered), a closing one; it never evicts a live established flow, so a
 * SYN flood churns embryonic slots among themselves and cannot push out
 * established connections. Rationale and numbers in docs/lb.md.
 */
#ifndef SLUICE_DP_CT_H
#define SLUICE_DP_CT_H

#include <stdint.h>

/* Flow key. IPv4 addresses sit in src[0..3] / dst[0..3] (network order)
 * with the rest zero, so IPv6 fits the same key later without a layout
 * change. 40 bytes, hashed as five u64 words; padding must be zero. */
struct ct_key {
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t sport; /* network order, as in the packet */
	uint16_t dport;
	uint8_t proto;  /* IPPROTO_TCP / IPPROTO_UDP */
	uint8_t family; /* 4 or 6 */
	uint16_t zone;  /* service/VIP table id; 0 if unused */
};

/* Eviction classes, cheapest to lose first (after expired flows). */
enum ct_class {
	CT_CLASS_EMPTY = 0,
	CT_CLASS_EMBRYONIC = 1,   /* evicted first */
	CT_CLASS_CLOSING = 2,     /* evicted next */
	CT_CLASS_ESTABLISHED = 3, /* never evicted while live */
};

/* X(name, class, default timeout in ms). Timeouts follow IPVS's spirit but
 * keep the handshake short: a lost embryonic entry costs nothing, because
 * Maglev re-picks the same backend for the retransmitted SYN unless the
 * backend set changed in between. TCP_MIDSTREAM is the state to insert a
 * non-SYN TCP packet's flow in (its connection began on another LB node, or
 * before a restart; §3.3): it is evictable like a handshake until the backend
 * answers, so an ACK flood cannot pin table space the way a SYN flood
 * cannot. */
/* 8< ct-states (docs/lb.md pulls this region) */
#define CT_STATE_LIST(X)                                                       \
	X(TCP_SYN_SENT, CT_CLASS_EMBRYONIC, 10000)                             \
	X(TCP_SYN_RECV, CT_CLASS_EMBRYONIC, 10000)                             \
	X(TCP_ESTABLISHED, CT_CLASS_ESTABLISHED, 900000)                       \
	X(TCP_FIN_WAIT, CT_CLASS_CLOSING, 30000)                               \
	X(TCP_CLOSE_WAIT, CT_CLASS_CLOSING, 30000)                             \
	X(TCP_TIME_WAIT, CT_CLASS_CLOSING, 10000)                              \
	X(TCP_CLOSE, CT_CLASS_CLOSING, 5000)                                   \
	X(TCP_MIDSTREAM, CT_CLASS_EMBRYONIC, 60000)                            \
	X(UDP_NEW, CT_CLASS_EMBRYONIC, 30000)                                  \
	X(UDP_REPLIED, CT_CLASS_ESTABLISHED, 120000)
/* >8 ct-states */

enum ct_state {
#define CT_X_ENUM(name, cls, tmo) CT_##name,
	CT_STATE_LIST(CT_X_ENUM)
#undef CT_X_ENUM
	CT_STATE_MAX
};

/* Per-table counters, one X-macro list (STYLE 11). */
#define CT_STAT_LIST(X)                                                        \
	X(LOOKUP_HIT)                                                          \
	X(LOOKUP_MISS)                                                         \
	X(LOOKUP_EXPIRED)     /* found but timed out: reported as a miss */  \
	X(INSERT)                                                              \
	X(INSERT_REUSE)       /* same key, expired entry reused in place */  \
	X(EVICT_EXPIRED)                                                       \
	X(EVICT_EMBRYONIC)                                                     \
	X(EVICT_CLOSING)                                                       \
	X(INSERT_FULL)        /* both buckets hold live established flows */ \
	X(INSERT_EXISTS)                                                       \
	X(DELETE)                                                              \
	X(SWEEP_EXPIRED)                                                       \
	X(SWEEP_BACKEND)

enum ct_stat {
#define CT_X_ENUM(name) CT_STAT_##name,
	CT_STAT_LIST(CT_X_ENUM)
#undef CT_X_ENUM
	CT_STAT_MAX
};

#define CT_CAPACITY_MIN 16u
#define CT_CAPACITY_MAX (1u << 28)
/* Bound on any timeout: expiry times are u32 milliseconds compared by
 * signed difference, valid within 2^31 ms (24.8 days). */
#define CT_TIMEOUT_MAX_MS (7u * 24 * 3600 * 1000)

struct ct_params {
	uint32_t capacity; /* flows; power of two in [CT_CAPACITY_MIN, CT_CAPACITY_MAX] */
	uint64_t tsc_hz;   /* TSC ticks per second (rte_get_tsc_hz()); >= 1000 */
	uint32_t timeout_ms[CT_STATE_MAX]; /* 0 = default from CT_STATE_LIST */
};

struct ct;

/*
 * Create an empty table. Control thread (at lcore setup); allocates about
 * capacity * 72 bytes. Returns NULL with errno EINVAL (capacity not a power
 * of two or out of range, tsc_hz < 1000, timeout > CT_TIMEOUT_MAX_MS) or
 * ENOMEM.
 */
struct ct *ct_create(const struct ct_params *params);

/* Free a table; NULL is ok. Only once its lcore no longer uses it. */
void ct_free(struct ct *ct);

/* Owner lcore (or any thread for a stale telemetry read). */
uint32_t ct_capacity(const struct ct *ct);
/* Occupied entries, expired-but-not-yet-reclaimed ones included. */
uint32_t ct_count(const struct ct *ct);

/* Static names and classes: any thread. "?" / CT_CLASS_EMPTY if out of range. */
const char *ct_state_name(unsigned state);
enum ct_class ct_state_class(unsigned state);
const char *ct_stat_name(unsigned stat);
/* Copy the counters into out[CT_STAT_MAX]. Owner lcore, or any thread if a
 * torn, slightly stale read is acceptable (telemetry). */
void ct_stats_get(const struct ct *ct, uint64_t out[CT_STAT_MAX]);

struct ct_sweep_req {
	uint64_t now_tsc;
	uint32_t max_buckets; /* work bound per call; 0 = whole table */
	/* Optional bitmap of removed backends: bit b of dead[b / 64] set means
	 * flows pinned to backend b are dropped (their backend is gone;
	 * draining backends keep their flows and must not be marked). */
	const uint64_t *dead;
	uint32_t nb_dead_bits;
};

/*
 * Free expired entries and entries of dead backends, visiting at most
 * max_buckets buckets from where the previous call stopped (so a large
 * table is swept in slices between bursts). Owner lcore only: it writes the
 * table the fast path reads. Returns the number of entries freed.
 */
unsigned ct_sweep(struct ct *ct, const struct ct_sweep_req *req);

#endif /* SLUICE_DP_CT_H */
