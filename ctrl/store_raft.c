/*
 * store_raft: raft_fsm glue for the store (see store_raft.h).
 *
 * Snapshots cross into raft-heap memory because raft frees them with
 * raft_heap_free; the store's own buffer is copied once, which is cheap
 * next to writing the snapshot to disk and keeps the store independent of
 * the raft allocator.
 */
#include "store_raft.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_lease.h"
#include "store_snap.h"

struct store_raft {
	struct raft_fsm fsm;
	struct store *store;
	struct store_result last; /* handed to the proposer; see header */
	bool was_leader;
};

static int store_raft_apply(struct raft_fsm *fsm, const struct raft_buffer *buf,
			    void **result)
{
	struct store_raft *sr = fsm->data;
	store_result_clear(&sr->last);
	store_apply(sr->store, 0, buf->base, buf->len, &sr->last);
	if (result)
		*result = &sr->last;
	return 0;
}

static int store_raft_snapshot(struct raft_fsm *fsm, struct raft_buffer *out)
{
	struct store_raft *sr = fsm->data;
	uint8_t *snap;
	size_t len;
	if (store_snapshot(sr->store, &snap, &len) != STORE_OK)
		return RAFT_NOMEM;
	out->base = raft_heap_malloc(len);
	if (out->base == NULL) {
		free(snap);
		return RAFT_NOMEM;
	}
	memcpy(out->base, snap, len);
	out->len = len;
	free(snap);
	return 0;
}

static int store_raft_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct store_raft *sr = fsm->data;
	int rc = store_restore(sr->store, buf->base, buf->len);
	if (rc == STORE_ERR_NOMEM)
		return RAFT_NOMEM;
	if (rc != STORE_OK)
		return RAFT_CORRUPT;
	/* Ownership passed to us on success; the state is copied. */
	raft_heap_free(buf->base);
	buf->base = NULL;
	buf->len = 0;
	return 0;
}

struct store_raft *store_raft_create(const struct store_raft_params *p)
{
	if (p == NULL || p->store == NULL) {
		errno = EINVAL;
		return NULL;
	}
	struct store_raft *sr = calloc(1, sizeof(*sr));
	if (sr == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	sr->store = p->store;
	sr->fsm.data = sr;
	sr->fsm.apply = store_raft_apply;
	sr->fsm.snapshot = store_raft_snapshot;
	sr->fsm.restore = store_raft_restore;
	return sr;
}

void store_raft_free(struct store_raft *sr)
{
	if (sr == NULL)
		return;
	store_result_clear(&sr->last);
	free(sr);
}

struct raft_fsm *store_raft_fsm(struct store_raft *sr)
{
	return sr ? &sr->fsm : NULL;
}

int store_raft_encode(const struct store_cmd *cmd, struct raft_buffer *out,
		      char *errmsg)
{
	uint8_t *b;
	size_t len;
	if (out == NULL)
		return STORE_ERR_INVAL;
	int rc = store_cmd_encode(cmd, &b, &len, errmsg);
	if (rc != STORE_OK)
		return rc;
	out->base = raft_heap_malloc(len);
	if (out->base == NULL) {
		free(b);
		return STORE_ERR_NOMEM;
	}
	memcpy(out->base, b, len);
	out->len = len;
	free(b);
	return STORE_OK;
}

size_t store_raft_leader_tick(struct store_raft *sr, bool is_leader,
			      int64_t now_ms, int64_t *out, size_t cap)
{
	if (sr == NULL)
		return 0;
	if (!is_leader) {
		sr->was_leader = false;
		return 0;
	}
	if (!sr->was_leader) {
		/* etcd lessor Promote(): a new leader cannot know how long
		 * the old one had left, so every lease gets a full TTL. */
		store_lease_promote(sr->store, now_ms);
		sr->was_leader = true;
	}
	return store_lease_expired(sr->store, now_ms, out, cap);
}
