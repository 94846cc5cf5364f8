/*
 * snapshot.c: log compaction by snapshots (§5.1) and InstallSnapshot sent
 * in chunks (§5.3, Figure 5.3: offset + done).
 *
 * Taking: once snapshot_threshold entries were applied since the last
 * snapshot, the FSM serializes itself synchronously and io->snapshot_put()
 * stores it and drops the log up to index - snapshot_trailing. The trailing
 * entries let a slightly lagging follower catch up from the log instead of
 * needing the whole snapshot.
 *
 * Sending: the leader loads its latest snapshot once (io->snapshot_get) and
 * streams it to every follower in SNAPSHOT mode, one chunk in flight per
 * follower, so a follower's disk sets the pace. The follower reports the
 * bytes it holds, so a lost chunk is resent from that offset rather than
 * from zero.
 *
 * Installing: chunks accumulate in memory; the last one triggers
 * io->snapshot_put(trailing = 0), which replaces the whole log, then the FSM
 * is restored and the log restarts after the snapshot. If the follower
 * already holds the snapshot's last entry it keeps its log instead (§5.1:
 * "If existing log entry has same index and term ... retain log entries
 * following it").
 */
#include <assert.h>
#include <string.h>

#include "raft_int.h"

struct snap_put_req {
	struct raft_io_snapshot_put io;
	struct raft *r;
	struct raft_snapshot snap;
};

struct snap_get_req {
	struct raft_io_snapshot_get io;
	struct raft *r;
};

/* ---------------------------------------------------------------- take */

static void snapshot_take_cb(struct raft_io_snapshot_put *io_req, int status)
{
	struct snap_put_req *req = io_req->data;
	struct raft *r = req->r;
	if (!r->closing) {
		r->snap_taking = false;
		if (status == RAFT_OK &&
		    req->snap.meta.index > r->log.snap_index) {
			raft_index idx = req->snap.meta.index;
			r->log.snap_index = idx;
			r->log.snap_term = req->snap.meta.term;
			raft_configuration_close(&r->snap_conf);
			r->snap_conf = req->snap.meta.conf;
			raft_configuration_init(&req->snap.meta.conf);
			r->snap_conf_index = req->snap.meta.conf_index;
			if (idx > r->p.snapshot_trailing)
				log_compact(&r->log,
					    idx - r->p.snapshot_trailing);
			r->n_snapshots_taken++;
			/* followers that were sent the old one continue from
			 * their offset of the new one only if it is the same
			 * snapshot; a reload starts them over */
			if (r->snap_out != NULL && r->snap_out->meta.index < idx)
				snapshot_release_out(r);
		} else if (status != RAFT_OK) {
			raft_errorf(r, "snapshot: %s", r->io->errmsg);
		}
	}
	raft_snapshot_close(&req->snap);
	raft_heap_free(req);
}

void snapshot_maybe_take(struct raft *r)
{
	if (r->snap_taking || r->in.installing || r->closing ||
	    r->state == RAFT_UNAVAILABLE)
		return;
	if (r->last_applied - r->log.snap_index < r->p.snapshot_threshold)
		return;
	raft_index index = r->last_applied;
	struct snap_put_req *req = raft_heap_calloc(1, sizeof(*req));
	if (req == NULL)
		return;
	req->io.data = req;
	req->r = r;
	struct raft_snapshot_meta *meta = &req->snap.meta;
	meta->index = index;
	meta->term = log_term_of(&r->log, index);
	raft_configuration_init(&meta->conf);
	/* the configuration in force at index (§5.1) */
	int rv;
	if (r->conf_index <= index) {
		meta->conf_index = r->conf_index;
		rv = raft_configuration_copy(&r->conf, &meta->conf);
	} else if (r->conf_prev_valid && r->conf_prev_index <= index) {
		meta->conf_index = r->conf_prev_index;
		rv = raft_configuration_copy(&r->conf_prev, &meta->conf);
	} else {
		rv = raft_conf_at(r, index, &meta->conf, &meta->conf_index);
	}
	if (rv != RAFT_OK)
		goto err;
	rv = r->fsm->snapshot(r->fsm, &req->snap.data);
	if (rv != RAFT_OK) {
		req->snap.data.base = NULL;
		goto err;
	}
	rv = r->io->snapshot_put(r->io, &req->io, r->p.snapshot_trailing,
				 &req->snap, snapshot_take_cb);
	if (rv != RAFT_OK) {
		raft_wrap_io_error(r, "snapshot put");
		goto err;
	}
	r->snap_taking = true;
	return;
err:
	/* not fatal: retried after the next applied entry */
	raft_snapshot_close(&req->snap);
	raft_heap_free(req);
}

/* ---------------------------------------------------------------- send */

void snapshot_release_out(struct raft *r)
{
	if (r->snap_out != NULL) {
		raft_snapshot_close(r->snap_out);
		raft_heap_free(r->snap_out);
		r->snap_out = NULL;
	}
}

static void snapshot_get_cb(struct raft_io_snapshot_get *io_req,
			    struct raft_snapshot *snap, int status)
{
	struct snap_get_req *req = io_req->data;
	struct raft *r = req->r;
	raft_heap_free(req);
	if (r->closing || status != RAFT_OK || r->state != RAFT_LEADER) {
		if (!r->closing)
			r->snap_loading = false;
		if (snap != NULL) {
			raft_snapshot_close(snap);
			raft_heap_free(snap);
		}
		return;
	}
	r->snap_loading = false;
	snapshot_release_out(r);
	r->snap_out = snap;
	for (unsigned i = 0; i < r->n_progress && r->state == RAFT_LEADER;
	     i++)
		if (r->progress[i].mode == PROGRESS_SNAPSHOT)
			snapshot_send(r, &r->progress[i]);
}

void snapshot_send(struct raft *r, struct progress *p)
{
	raft_time now = raft_now(r);
	if (p->snap_waiting && now < p->last_send + r->p.heartbeat_timeout)
		return;
	if (r->snap_out != NULL &&
	    r->snap_out->meta.index + 1 < log_first_index(&r->log))
		snapshot_release_out(r); /* too old to join our log */
	if (r->snap_out == NULL) {
		if (r->snap_loading)
			return;
		struct snap_get_req *req = raft_heap_calloc(1, sizeof(*req));
		if (req == NULL)
			return;
		req->io.data = req;
		req->r = r;
		if (r->io->snapshot_get(r->io, &req->io, snapshot_get_cb) !=
		    RAFT_OK) {
			raft_heap_free(req);
			return;
		}
		r->snap_loading = true;
		return;
	}
	const struct raft_snapshot *s = r->snap_out;
	if (p->snap_offset > s->data.len)
		p->snap_offset = 0;
	size_t left = s->data.len - (size_t)p->snap_offset;
	size_t len = left < r->p.snapshot_chunk ? left : r->p.snapshot_chunk;
	struct raft_message m;
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_INSTALL_SNAPSHOT;
	m.server_id = p->id;
	const struct raft_server *sv = raft_conf_get(&r->conf, p->id);
	m.server_address = sv != NULL ? sv->address : NULL;
	struct raft_install_snapshot *is = &m.install_snapshot;
	is->term = r->term;
	is->last_index = s->meta.index;
	is->last_term = s->meta.term;
	is->conf = s->meta.conf;
	is->conf_index = s->meta.conf_index;
	is->offset = p->snap_offset;
	is->done = len == left;
	is->data.base = (uint8_t *)s->data.base + p->snap_offset;
	is->data.len = len;
	(void)raft_send(r, &m, NULL); /* raft_send copies conf and data */
	p->snap_waiting = true;
	p->last_send = now;
}

int snapshot_recv_result(struct raft *r, const struct raft_message *m)
{
	const struct raft_install_snapshot_result *res =
		&m->install_snapshot_result;
	if (res->term > r->term)
		return raft_observe_term(r, res->term);
	if (r->state != RAFT_LEADER || res->term != r->term)
		return RAFT_OK;
	struct progress *p = replication_progress(r, m->server_id);
	if (p == NULL)
		return RAFT_OK;
	p->recent_active = true;
	p->last_recv = raft_now(r);
	if (p->mode != PROGRESS_SNAPSHOT)
		return RAFT_OK;
	if (res->done) {
		if (res->last_index > log_last_index(&r->log))
			return RAFT_INVALID;
		if (res->last_index > p->match_index)
			p->match_index = res->last_index;
		p->next_index = p->match_index + 1;
		p->mode = PROGRESS_PROBE;
		p->probe_sent = false;
		p->snap_waiting = false;
		raft_id id = p->id;
		/* callbacks and promotions may rebuild progress */
		replication_maybe_commit(r);
		p = replication_progress(r, id);
		if (p == NULL || r->state != RAFT_LEADER)
			return RAFT_OK;
		membership_on_progress(r, p);
		p = replication_progress(r, id);
		if (p == NULL || r->state != RAFT_LEADER)
			return RAFT_OK;
		membership_transfer_on_progress(r, p);
		if (r->state == RAFT_LEADER)
			replication_send(r, p, false);
		return RAFT_OK;
	}
	if (r->snap_out == NULL || res->last_index != r->snap_out->meta.index)
		return RAFT_OK; /* about a snapshot we no longer send */
	p->snap_offset = res->next_offset;
	p->snap_waiting = false;
	snapshot_send(r, p);
	return RAFT_OK;
}

/* --------------------------------------------------------------- receive */

void snapshot_incoming_reset(struct raft *r)
{
	raft_snapshot_close(&r->in.snap);
	memset(&r->in, 0, sizeof(r->in));
}

static void snapshot_reply(struct raft *r, raft_id to, raft_index last_index,
			   uint64_t next_offset, bool rejected, bool done)
{
	struct raft_message m;
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_INSTALL_SNAPSHOT_RESULT;
	m.server_id = to;
	const struct raft_server *s = raft_conf_get(&r->conf, to);
	m.server_address = s != NULL ? s->address : NULL;
	m.install_snapshot_result.term = r->term;
	m.install_snapshot_result.last_index = last_index;
	m.install_snapshot_result.next_offset = next_offset;
	m.install_snapshot_result.rejected = rejected;
	m.install_snapshot_result.done = done;
	(void)raft_send(r, &m, NULL);
}

static void snapshot_install_cb(struct raft_io_snapshot_put *io_req,
				int status)
{
	struct snap_put_req *req = io_req->data;
	struct raft *r = req->r;
	raft_heap_free(req);
	if (r->closing)
		return; /* raft_free resets r->in */
	if (status != RAFT_OK) {
		raft_errorf(r, "install snapshot: %s", r->io->errmsg);
		snapshot_incoming_reset(r);
		/* completions of earlier writes were ignored (epoch): make
		 * memory and disk agree on the durable prefix again */
		raft_truncate_suffix(r, r->last_stored + 1);
		return;
	}
	struct incoming_snapshot *in = &r->in;
	raft_index idx = in->last_index;
	int rv = r->fsm->restore(r->fsm, &in->snap.data);
	if (rv != RAFT_OK) {
		/* the disk already holds the snapshot and no log: the FSM
		 * and the disk disagree until a restart reloads it */
		snapshot_incoming_reset(r);
		raft_mark_broken(r, "fsm restore failed");
		return;
	}
	in->snap.data.base = NULL; /* the FSM's now */
	in->snap.data.len = 0;
	log_restart(&r->log, idx, in->last_term);
	raft_configuration_close(&r->snap_conf);
	r->snap_conf = in->snap.meta.conf;
	raft_configuration_init(&in->snap.meta.conf);
	r->snap_conf_index = in->snap.meta.conf_index;
	r->commit_index = r->last_applied = idx;
	r->last_stored = r->last_issued = idx;
	raft_id leader = in->leader;
	raft_term lterm = in->leader_term;
	snapshot_incoming_reset(r);
	raft_conf_rebuild(r);
	if (r->state == RAFT_UNAVAILABLE)
		return;
	if (lterm == r->term)
		snapshot_reply(r, leader, idx, 0, false, true);
}

int snapshot_recv(struct raft *r, const struct raft_message *m)
{
	const struct raft_install_snapshot *is = &m->install_snapshot;
	raft_id from = m->server_id;
	if (is->term < r->term) {
		snapshot_reply(r, from, is->last_index, 0, true, false);
		return RAFT_OK;
	}
	int err = raft_observe_term(r, is->term);
	if (err != RAFT_OK)
		return err;
	if (r->state == RAFT_LEADER)
		return RAFT_INVALID;
	if (r->state == RAFT_CANDIDATE)
		raft_convert_to_follower(r);
	r->leader_id = from;
	r->last_leader_contact = raft_now(r);
	raft_reset_election_timer(r);
	if (r->in.installing || r->snap_taking)
		return RAFT_OK; /* dropped; the leader resends */

	/* Already have it: committed here, or the same last entry stored
	 * (§5.1 retain the log). Report it so the leader resumes with
	 * AppendEntries. */
	if (is->last_index <= r->last_applied ||
	    (is->last_index <= r->last_stored &&
	     log_term_of(&r->log, is->last_index) == is->last_term)) {
		if (is->last_index > r->commit_index) {
			r->commit_index = is->last_index;
			raft_apply_committed(r);
		}
		snapshot_incoming_reset(r);
		snapshot_reply(r, from, is->last_index, 0, false, true);
		return RAFT_OK;
	}
	struct incoming_snapshot *in = &r->in;
	if (!in->active || in->last_index != is->last_index ||
	    in->last_term != is->last_term) {
		if (is->offset != 0) {
			snapshot_reply(r, from, is->last_index, 0, true, false);
			return RAFT_OK;
		}
		snapshot_incoming_reset(r);
		if (raft_configuration_copy(&is->conf, &in->snap.meta.conf) !=
		    RAFT_OK)
			return RAFT_NOMEM;
		in->active = true;
		in->last_index = is->last_index;
		in->last_term = is->last_term;
		in->snap.meta.index = is->last_index;
		in->snap.meta.term = is->last_term;
		in->snap.meta.conf_index = is->conf_index;
	}
	in->leader = from;
	in->leader_term = r->term;
	if (is->offset != in->snap.data.len) {
		/* a gap or a duplicate: tell the leader where we are */
		snapshot_reply(r, from, is->last_index, in->snap.data.len,
			       true, false);
		return RAFT_OK;
	}
	size_t need = in->snap.data.len + is->data.len;
	if (need > in->cap) {
		size_t cap = in->cap ? in->cap : 4096;
		while (cap < need)
			cap *= 2;
		void *b = raft_heap_realloc(in->snap.data.base, cap);
		if (b == NULL)
			return RAFT_NOMEM;
		in->snap.data.base = b;
		in->cap = cap;
	}
	if (is->data.len > 0)
		memcpy((uint8_t *)in->snap.data.base + in->snap.data.len,
		       is->data.base, is->data.len);
	in->snap.data.len = need;
	if (!is->done) {
		snapshot_reply(r, from, is->last_index, need, false, false);
		return RAFT_OK;
	}
	struct snap_put_req *req = raft_heap_calloc(1, sizeof(*req));
	if (req == NULL)
		return RAFT_NOMEM; /* the leader resends the last chunk */
	req->io.data = req;
	req->r = r;
	/* in->snap stays owned by r->in; req->snap stays zeroed */
	int rv = r->io->snapshot_put(r->io, &req->io, 0, &in->snap,
				     snapshot_install_cb);
	if (rv != RAFT_OK) {
		raft_wrap_io_error(r, "install snapshot");
		raft_heap_free(req);
		return rv;
	}
	in->installing = true;
	/* the disk log is being replaced wholesale: writes issued before
	 * are moot, and the in-memory suffix must not be reported */
	r->epoch++;
	return RAFT_OK;
}
