/*
 * tbl: the pod table (IPv4 -> port, MAC; rte_hash) and the route table
 * (prefix -> port, next-hop MAC; rte_lpm) of sluice-dp.
 *
 * One writer (the dp control side, serialised by dp's mutex), any number
 * of lock-free readers on worker lcores that are registered with the
 * rte_rcu_qsbr variable given at creation. Entries live in fixed arrays
 * of slots referenced by u32 index (STYLE 15). A change never edits a
 * published slot: it fills a free slot, publishes the index (rte_hash /
 * rte_lpm store it with release semantics) and queues the old slot on an
 * rte_rcu_qsbr defer queue; the slot (and the hash key position) is reused
 * only after every reader has reported a quiescent state (STYLE 16).
 *
 * tables.c is the control side, tables_fp.c the fast-path lookups.
 */
#ifndef SLUICE_DP_TABLES_H
#define SLUICE_DP_TABLES_H

#include <stdint.h>

struct rte_rcu_qsbr;

/* A published pod. Immutable while published. */
struct tbl_pod {
	uint32_t ip;      /* network order */
	uint32_t gen;
	uint16_t port_id;
	uint8_t mac[6];
	uint8_t in_use;   /* control side only: published and not deleted */
};

/* How a route's next hop is reached (docs/multinode.md). */
enum tbl_nh_kind {
	TBL_NH_MAC = 0,   /* static next-hop MAC on port_id (config/ring routes) */
	TBL_NH_DIRECT,    /* underlay next hop nh_ip on the uplink, MAC by ARP */
	TBL_NH_VXLAN,     /* VXLAN to nh_ip (outer next hop nh_ip, MAC by ARP) */
};

/* Next-hop part of a route. For DIRECT/VXLAN, neigh is the slot of nh_ip
 * in dp's neighbour table (dp/neigh.h) and mac is unused. */
struct tbl_nh {
	uint8_t kind;     /* enum tbl_nh_kind */
	uint16_t port_id;
	uint8_t mac[6];
	uint32_t nh_ip;   /* network order */
	uint32_t neigh;
	uint32_t vni;
};

/* A published route. Immutable while published. */
struct tbl_route {
	uint32_t prefix;  /* network order */
	uint32_t gen;
	uint16_t port_id;
	uint8_t mac[6];
	uint8_t depth;
	uint8_t in_use;
	uint8_t nh_kind;  /* enum tbl_nh_kind */
	uint32_t nh_ip;
	uint32_t neigh;
	uint32_t vni;
};

struct tbl_params {
	const char *name;          /* unique per process, <= 16 chars */
	int socket_id;
	uint32_t max_pods;         /* >= 1 */
	uint32_t max_routes;       /* >= 1, < 2^24 */
	struct rte_rcu_qsbr *qsbr; /* readers' QSBR variable, not owned */
	/* Optional: called (writer side) for each route that stops being
	 * published, replaced or deleted, so its owner can drop what the
	 * route referenced (dp: the neighbour entry). */
	void (*route_gone)(void *arg, const struct tbl_route *r);
	void *route_gone_arg;
};

struct tbl;

/** Create empty tables. @p copied. NULL + errno (EINVAL, ENOMEM, EEXIST).
 *  Control thread; EAL initialised. */
struct tbl *tbl_create(const struct tbl_params *p);

/** Free the tables, waiting for a grace period first. NULL ok. */
void tbl_free(struct tbl *t);

/** Add or replace pod @ip. 0, -ENOSPC. Writer only. */
int tbl_pod_add(struct tbl *t, uint32_t ip, const uint8_t mac[6], uint16_t port_id, uint32_t gen);
/** Remove pod @ip. 0, -ENOENT. Writer only. */
int tbl_pod_del(struct tbl *t, uint32_t ip);
/** Add or replace route @prefix/@depth. 0, -EINVAL, -ENOSPC. Writer only. */
int tbl_route_add(struct tbl *t, uint32_t prefix, uint8_t depth, const uint8_t mac[6],
		  uint16_t port_id, uint32_t gen);
/** Add or replace route @prefix/@depth with next hop @nh (copied).
 *  0, -EINVAL, -ENOSPC. Writer only. */
int tbl_route_add_nh(struct tbl *t, uint32_t prefix, uint8_t depth, const struct tbl_nh *nh,
		     uint32_t gen);
/** Writer-side lookup of the route @prefix/@depth (exact). NULL if absent. */
const struct tbl_route *tbl_route_find(const struct tbl *t, uint32_t prefix, uint8_t depth);
/** Remove route @prefix/@depth. 0, -ENOENT. Writer only. */
int tbl_route_del(struct tbl *t, uint32_t prefix, uint8_t depth);
/** Remove every pod and route with generation < @gen. Returns the count. */
int tbl_sweep(struct tbl *t, uint32_t gen);
/** Reuse slots whose grace period has passed. Writer only, periodic.
 *  Returns the number still pending. */
unsigned tbl_reclaim(struct tbl *t);
/** Count live pods and routes that use @port_id. Writer only. */
unsigned tbl_port_refs(const struct tbl *t, uint16_t port_id);
/** Call @fn for each live pod, in slot order, until it returns non-zero.
 *  Writer side (the caller holds the writer's lock). */
int tbl_pod_walk(const struct tbl *t, int (*fn)(const struct tbl_pod *, void *), void *arg);
/** Number of live pods / routes. */
unsigned tbl_pod_count(const struct tbl *t);
unsigned tbl_route_count(const struct tbl *t);
/** Writer-side lookup of one pod (NULL if absent). */
const struct tbl_pod *tbl_pod_find(const struct tbl *t, uint32_t ip);

/* ---- fast path: QSBR readers (online), lock-free ---- */

#define TBL_BULK_MAX 32

/**
 * Look up @n (<= TBL_BULK_MAX) destination IPs at once (rte_hash bulk
 * lookup). out[i] is the pod or NULL. Valid until the caller's next
 * quiescent state report.
 */
void tbl_pod_lookup_bulk(const struct tbl *t, const uint32_t *ips, unsigned n,
			 const struct tbl_pod **out);

/** Longest-prefix route for @ip, or NULL. Same validity as above. */
const struct tbl_route *tbl_route_lookup(const struct tbl *t, uint32_t ip);

#endif
