/*
 * store_raft: the thin adapter that plugs a store into the Raft library as
 * its replicated state machine (struct raft_fsm), plus the two leader-side
 * duties the store cannot do alone: encoding proposals into raft-heap
 * buffers and turning the leader's clock into lease revocations.
 *
 * Result hand-off: raft calls fsm->apply and then, on the proposing leader,
 * the raft_apply callback with the *result the FSM returned, synchronously,
 * before the next entry is applied. The adapter therefore keeps one
 * struct store_result slot that each apply overwrites; the callback gets a
 * pointer to it (const struct store_result *) and must copy what it keeps.
 * fsm->apply always returns 0: the store's outcome (including request
 * errors such as NOSPACE) is in result->err, so that raft status codes and
 * store codes never share one integer.
 *
 * Index: raft_fsm.apply carries no Raft index, so the store counts applied
 * commands itself (store_apply with index 0). The count is identical on
 * every replica and is saved in snapshots, which is all the store needs.
 *
 * Threading: the raft thread only.
 */
#ifndef SLUICE_CTRL_STORE_RAFT_H
#define SLUICE_CTRL_STORE_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft.h"
#include "store.h"
#include "store_cmd.h"

struct store_raft; /* opaque */

struct store_raft_params {
	struct store *store; /* borrowed; must outlive the adapter */
};

/* NULL with errno (EINVAL, ENOMEM) on error. */
struct store_raft *store_raft_create(const struct store_raft_params *p);

/* Accepts NULL. Raft must no longer use the FSM (after raft_free). */
void store_raft_free(struct store_raft *sr);

/* The FSM to put in struct raft_params.fsm; owned by the adapter. */
struct raft_fsm *store_raft_fsm(struct store_raft *sr);

/*
 * Encode cmd into a raft_heap_malloc'ed buffer ready for raft_apply()
 * (ownership passes to the caller, then to raft on RAFT_OK).
 * Returns STORE_OK, STORE_ERR_INVAL (errmsg names the field) or NOMEM.
 */
int store_raft_encode(const struct store_cmd *cmd, struct raft_buffer *out,
		      char *errmsg);

/*
 * Leader duties, called periodically with the raft state and the local
 * monotonic clock. On the transition to leader it re-arms every lease at a
 * full TTL (store_lease_promote, see store_lease.h); while leader it lists
 * expired leases into out[0..cap) and returns their count, for the caller
 * to propose STORE_CMD_LEASE_REVOKE for each. Returns 0 when not leader.
 */
size_t store_raft_leader_tick(struct store_raft *sr, bool is_leader,
			      int64_t now_ms, int64_t *out, size_t cap);

#endif /* SLUICE_CTRL_STORE_RAFT_H */
