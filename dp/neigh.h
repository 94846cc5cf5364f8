/*
 * neigh: sluice-dp's underlay neighbour table (IPv4 -> MAC of hosts on the
 * uplink's L2 segment), filled from ARP seen on the uplink.
 *
 * Who wants an entry: a route whose next hop is another node's underlay
 * address holds a reference (neigh_ref) from the moment it is added, so
 * resolution starts before the first packet and an entry lives exactly as
 * long as some route needs it. ARP never creates entries (an ARP flood
 * cannot fill the table); it only resolves or refreshes wanted ones.
 *
 * States (docs/multinode.md, "Neighbours"):
 *   INCOMPLETE  referenced, never resolved: probed every retrans_ms;
 *   REACHABLE   confirmed by ARP less than reachable_ms ago;
 *   STALE       older than that: still used, re-probed every retrans_ms;
 *   FAILED      max_probes re-probes went unanswered: no longer used (the
 *               fast path drops and counts), still probed every retrans_ms.
 * Packets to an unresolved next hop are dropped and counted, never queued:
 * next hops are known when routes are added, so only the first packets
 * after a route appears (or a node dies) meet an unresolved entry.
 *
 * Threads: one writer (dp's control side, serialised by the caller), any
 * number of fast-path readers. A reader sees an entry's MAC and validity
 * as one relaxed-atomic 64-bit word, so it never reads a torn MAC. Slots
 * are never reused before neigh_reap(), which the caller runs only after
 * an RCU grace period: a reader holding an index from an old route can
 * read a dead slot (invalid, so the packet is dropped) but never another
 * neighbour's MAC. Pure C: no DPDK, unit-tested without EAL.
 */
#ifndef SLUICE_DP_NEIGH_H
#define SLUICE_DP_NEIGH_H

#include <stddef.h>
#include <stdint.h>

enum neigh_state {
	NEIGH_FREE = 0,
	NEIGH_INCOMPLETE,
	NEIGH_REACHABLE,
	NEIGH_STALE,
	NEIGH_FAILED,
	NEIGH_DEAD, /* unreferenced, waiting for neigh_reap() */
};

struct neigh_params {
	uint32_t max;           /* slots, 1..65536 */
	uint32_t reachable_ms;  /* REACHABLE -> STALE after this, >= 1 */
	uint32_t retrans_ms;    /* probe interval, >= 1 */
	uint32_t max_probes;    /* unanswered STALE probes before FAILED, >= 1 */
};

/* A snapshot of one entry, for telemetry and tests. */
struct neigh_info {
	uint32_t ip;            /* network order */
	uint8_t mac[6];
	uint8_t state;          /* enum neigh_state */
	uint8_t valid;          /* the fast path uses the MAC */
	uint32_t refs;
	uint32_t probes;        /* probes since the last confirmation */
	uint64_t confirmed_ms;
};

struct neigh;

/** Create an empty table. @p copied. NULL + errno EINVAL/ENOMEM. */
struct neigh *neigh_create(const struct neigh_params *p);
/** Free. NULL ok. Readers must be gone. */
void neigh_free(struct neigh *n);

/**
 * Take a reference on the entry for @ip (network order), creating it
 * INCOMPLETE (due for a probe now) if absent. *@idx gets its slot.
 * @return 0, -EINVAL (0.0.0.0, multicast, broadcast), -ENOSPC (every slot
 * referenced or dead). Writer only.
 */
int neigh_ref(struct neigh *n, uint32_t ip, uint32_t *idx);

/** Drop a reference taken by neigh_ref. At zero the entry becomes DEAD:
 *  invalid for readers at once, reusable after neigh_reap(). Writer only. */
void neigh_unref(struct neigh *n, uint32_t idx);

/** Number of DEAD slots waiting for neigh_reap(). Writer only. */
unsigned neigh_dead(const struct neigh *n);

/** Make DEAD slots free. Call only after every reader that could hold one
 *  of their indices has passed a quiescent state. Writer only. */
void neigh_reap(struct neigh *n);

/**
 * ARP told us @ip is at @mac at time @now_ms: resolve or refresh the entry
 * if one is wanted (REACHABLE, probe count reset, MAC published).
 * @return 0 if an entry was updated, -ENOENT if @ip is not wanted,
 * -EINVAL for a multicast or zero MAC. Writer only.
 */
int neigh_learn(struct neigh *n, uint32_t ip, const uint8_t mac[6], uint64_t now_ms);

/**
 * Age entries at @now_ms and collect those that need an ARP request now
 * into @ips (at most @cap; the rest are due on the next call). Each one
 * collected counts as a probe sent. A STALE entry whose probes reach
 * max_probes becomes FAILED and invalid for readers.
 * @return the number written to @ips. Writer only.
 */
unsigned neigh_tick(struct neigh *n, uint64_t now_ms, uint32_t *ips, unsigned cap);

/** Snapshot of slot @idx; -ENOENT if free. Writer side. */
int neigh_get(const struct neigh *n, uint32_t idx, struct neigh_info *out);
/** Find the slot of @ip; -ENOENT if absent. Writer side. */
int neigh_find(const struct neigh *n, uint32_t ip, uint32_t *idx);
/** Live (referenced) entries. */
unsigned neigh_count(const struct neigh *n);

/**
 * Fast path: the MAC of slot @idx if it may be used. @return 1 and fills
 * @mac, or 0 (unresolved, failed, dead, idx out of range). Any thread,
 * lock-free, no syscall.
 */
int neigh_lookup(const struct neigh *n, uint32_t idx, uint8_t mac[6]);

#endif
