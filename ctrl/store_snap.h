/*
 * store_snap: serialize the whole replicated state of a store (revision,
 * compact revision, applied index, leases with their TTLs, and every kept
 * revision record, history since compaction included) and restore it.
 *
 * The encoding is canonical: records go out in revision order and leases in
 * id order, so two stores in the same replicated state produce identical
 * bytes, and snapshot(restore(b)) == b. Local lease deadlines are not part
 * of it (see store_lease.h). This is the payload of a Raft snapshot; the
 * layout is in docs/store.md ("Snapshot format").
 *
 * Threading: same thread as the store.
 */
#ifndef SLUICE_CTRL_STORE_SNAP_H
#define SLUICE_CTRL_STORE_SNAP_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Serialize into a malloc'ed buffer (ownership passes to the caller).
 * Returns STORE_OK or STORE_ERR_NOMEM / STORE_ERR_INVAL. */
int store_snapshot(struct store *s, uint8_t **out, size_t *out_len);

/*
 * Replace the state of s with a snapshot (buf borrowed). The input is
 * untrusted: every length, ordering and cross-reference is validated and a
 * bad snapshot returns STORE_ERR_CORRUPT (errmsg names the field and
 * offset) leaving s unchanged. Quota is not enforced on restore: the
 * replicated state is what it is. Clears BROKEN. Watchers stay registered
 * and resume from their cursor (or report COMPACTED if the snapshot
 * compacted past it). Lease deadlines restart unarmed.
 */
int store_restore(struct store *s, const uint8_t *buf, size_t len);

#endif /* SLUICE_CTRL_STORE_SNAP_H */
