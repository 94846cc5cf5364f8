/*
 * store_lease: lease expiry for the store (etcd v3 leases).
 *
 * A lease is granted with an id and a TTL in seconds by a replicated
 * command; keys attached to it (a put with lease = id) are deleted, in one
 * revision, when a revoke command for it is applied. Expiry itself is not
 * replicated: only the leader runs a clock, and when a lease's deadline
 * passes the leader proposes STORE_CMD_LEASE_REVOKE like any client would.
 *
 * Deadlines (why they survive failover): the replicated state holds each
 * lease's TTL, never a deadline, because replicas do not share a clock.
 * Each replica keeps a local deadline that is "not armed" after a grant or
 * keepalive is applied; store_lease_expired() arms it at now + TTL the
 * first time the leader looks, so a lease never expires early, and at most
 * one check period late. A new leader calls store_lease_promote() on
 * takeover, which re-arms every lease at now + full TTL: etcd's lessor
 * Promote() does the same, so that a failover never expires a lease whose
 * holder kept it alive through the old leader. The cost is that a lease
 * can live up to one TTL longer across a failover.
 *
 * Threading: same thread as the store.
 */
#ifndef SLUICE_CTRL_STORE_LEASE_H
#define SLUICE_CTRL_STORE_LEASE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Re-arm every lease at now_ms + TTL (call on becoming leader). */
void store_lease_promote(struct store *s, int64_t now_ms);

/*
 * List leases whose deadline is <= now_ms, in ascending id order, into
 * out[0..cap) and return how many expired in total (may exceed cap; call
 * again after revoking). Unarmed leases are armed at now_ms + TTL first.
 * The caller (the leader) proposes a revoke for each; listing does not
 * remove anything. now_ms is the leader's monotonic clock.
 */
size_t store_lease_expired(struct store *s, int64_t now_ms, int64_t *out,
			   size_t cap);

/* Look up a lease: STORE_OK with its TTL (seconds) and local deadline
 * (0 = not armed), or STORE_ERR_LEASE_NOT_FOUND. */
int store_lease_get(struct store *s, int64_t id, int64_t *ttl,
		    int64_t *deadline_ms);

/* Number of leases. */
size_t store_lease_count(const struct store *s);

#endif /* SLUICE_CTRL_STORE_LEASE_H */
