/*
 * replication.c: log replication (§3.5), commitment (§3.6.2) and the
 * leadership confirmation behind ReadIndex (§6.4).
 *
 * Flow control per follower (§10.2.1 pipelining): in PROBE mode one
 * AppendEntries is outstanding until the follower's reply locates the
 * match point; then PIPELINE streams batches of max_batch entries while
 * fewer than max_inflight batches' worth of entries are unacknowledged.
 * A lost message shows up either as a rejection (the follower sees a gap)
 * or as no progress over a heartbeat interval; both fall back to PROBE.
 * Heartbeats in PIPELINE mode point prev at the match index, which the
 * follower is known to hold, so they never cause spurious rejections.
 */
#include <assert.h>
#include <string.h>

#include "raft_int.h"

struct progress *replication_progress(struct raft *r, raft_id id)
{
	for (unsigned i = 0; i < r->n_progress; i++)
		if (r->progress[i].id == id)
			return &r->progress[i];
	return NULL;
}

int replication_progress_rebuild(struct raft *r)
{
	struct progress *np = raft_heap_calloc(r->conf.n ? r->conf.n : 1,
					       sizeof(*np));
	if (np == NULL)
		return RAFT_NOMEM;
	raft_time now = raft_now(r);
	for (unsigned i = 0; i < r->conf.n; i++) {
		struct progress *old = replication_progress(r,
						r->conf.servers[i].id);
		if (old != NULL) {
			np[i] = *old;
			continue;
		}
		np[i].id = r->conf.servers[i].id;
		np[i].next_index = log_last_index(&r->log) + 1;
		np[i].match_index = 0;
		np[i].mode = PROGRESS_PROBE;
		np[i].last_recv = now;
		/* a new follower gets one check-quorum period of grace */
		np[i].recent_active = true;
	}
	raft_heap_free(r->progress);
	r->progress = np;
	r->n_progress = r->conf.n;
	return RAFT_OK;
}

static void replication_send_append(struct raft *r, struct progress *p,
				    raft_index prev, unsigned n)
{
	struct raft_message m;
	struct log_batch batch = {0};
	memset(&m, 0, sizeof(m));
	if (n > 0 && log_acquire(&r->log, prev + 1, n, &batch) != RAFT_OK)
		return; /* retried at the next heartbeat */
	m.type = RAFT_MSG_APPEND_ENTRIES;
	m.server_id = p->id;
	const struct raft_server *s = raft_conf_get(&r->conf, p->id);
	m.server_address = s != NULL ? s->address : NULL;
	m.append_entries.term = r->term;
	m.append_entries.prev_log_index = prev;
	m.append_entries.prev_log_term = log_term_of(&r->log, prev);
	m.append_entries.leader_commit = r->commit_index;
	m.append_entries.read_ctx = r->read_ctx;
	m.append_entries.entries = batch.entries;
	m.append_entries.n_entries = n;
	(void)raft_send(r, &m, n > 0 ? &batch : NULL);
	p->last_send = raft_now(r);
}

/* Can we send an AppendEntries with this prev index: its term is known
 * and the entries after it are still in memory (not compacted). */
static bool replication_term_known(struct raft *r, raft_index index)
{
	if (index < r->log.offset)
		return false;
	return index == 0 || log_term_of(&r->log, index) != 0;
}

void replication_send(struct raft *r, struct progress *p, bool heartbeat)
{
	if (p->id == r->id || r->state != RAFT_LEADER)
		return;
	if (p->mode != PROGRESS_SNAPSHOT &&
	    !replication_term_known(r, p->next_index - 1)) {
		/* the entries it needs were compacted away (§5.1) */
		p->mode = PROGRESS_SNAPSHOT;
		p->snap_offset = 0;
		p->snap_waiting = false;
		p->n_inflight = 0;
	}
	if (p->mode == PROGRESS_SNAPSHOT) {
		snapshot_send(r, p);
		return;
	}
	raft_index last = log_last_index(&r->log);
	if (p->mode == PROGRESS_PROBE) {
		if (p->probe_sent && !heartbeat)
			return;
		raft_index prev = p->next_index - 1;
		raft_index avail = last >= p->next_index ? last - prev : 0;
		unsigned n = avail > r->p.max_batch ? r->p.max_batch
						    : (unsigned)avail;
		replication_send_append(r, p, prev, n);
		p->probe_sent = true;
		return;
	}
	/* PIPELINE */
	bool sent = false;
	while (p->next_index <= last && p->n_inflight < r->p.max_inflight) {
		raft_index prev = p->next_index - 1;
		raft_index avail = last - prev;
		unsigned n = avail > r->p.max_batch ? r->p.max_batch
						    : (unsigned)avail;
		replication_send_append(r, p, prev, n);
		p->next_index += n;
		p->inflight[p->n_inflight++] = p->next_index - 1;
		sent = true;
	}
	if (heartbeat && !sent) {
		raft_index prev = replication_term_known(r, p->match_index)
					  ? p->match_index
					  : p->next_index - 1;
		replication_send_append(r, p, prev, 0);
	}
}

void replication_broadcast(struct raft *r, bool heartbeat)
{
	for (unsigned i = 0; i < r->n_progress && r->state == RAFT_LEADER;
	     i++)
		replication_send(r, &r->progress[i], heartbeat);
}

void replication_heartbeat_tick(struct raft *r)
{
	for (unsigned i = 0; i < r->n_progress; i++) {
		struct progress *p = &r->progress[i];
		if (p->id == r->id)
			continue;
		/* no progress over a whole heartbeat interval with entries
		 * outstanding: assume a message was lost and re-probe */
		if (p->mode == PROGRESS_PIPELINE &&
		    p->next_index > p->match_index + 1 &&
		    p->hb_match == p->match_index) {
			p->mode = PROGRESS_PROBE;
			p->next_index = p->match_index + 1;
			p->probe_sent = false;
			p->n_inflight = 0;
		}
		p->hb_match = p->match_index;
		replication_send(r, p, true);
	}
}

/* §3.6.2: the largest index stored on a quorum of voters is committed only
 * if its entry is from the current term (Figure 3.7 shows why counting
 * replicas of an older term's entry is unsafe). */
void replication_maybe_commit(struct raft *r)
{
	if (r->state != RAFT_LEADER)
		return;
	unsigned nv = 0;
	raft_index matches[64];
	raft_index *m = matches;
	if (r->conf.n > 64) {
		m = raft_heap_malloc(r->conf.n * sizeof(*m));
		if (m == NULL)
			return; /* retried on the next acknowledgement */
	}
	for (unsigned i = 0; i < r->conf.n; i++) {
		if (r->conf.servers[i].role != RAFT_VOTER)
			continue;
		struct progress *p = &r->progress[i];
		m[nv++] = p->id == r->id ? r->last_stored : p->match_index;
	}
	if (nv == 0)
		goto out;
	/* insertion sort, descending; configurations are small */
	for (unsigned i = 1; i < nv; i++) {
		raft_index v = m[i];
		unsigned j = i;
		while (j > 0 && m[j - 1] < v) {
			m[j] = m[j - 1];
			j--;
		}
		m[j] = v;
	}
	raft_index n = m[nv / 2]; /* held by nv/2 + 1 voters */
	if (n > r->commit_index && log_term_of(&r->log, n) == r->term) {
		r->commit_index = n;
		raft_apply_committed(r);
	}
out:
	if (m != matches)
		raft_heap_free(m);
}

void replication_send_append_result(struct raft *r, raft_id to,
				    bool rejected, raft_index index,
				    uint64_t read_ctx)
{
	struct raft_message m;
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_APPEND_ENTRIES_RESULT;
	m.server_id = to;
	const struct raft_server *s = raft_conf_get(&r->conf, to);
	m.server_address = s != NULL ? s->address : NULL;
	m.append_entries_result.term = r->term;
	m.append_entries_result.rejected = rejected;
	m.append_entries_result.index = index;
	m.append_entries_result.last_log_index = log_last_index(&r->log);
	m.append_entries_result.read_ctx = read_ctx;
	(void)raft_send(r, &m, NULL);
}

static void replication_follower_commit(struct raft *r, raft_index leader,
					raft_index matched)
{
	/* §3.5: commit up to min(leaderCommit, index of last new entry) */
	raft_index c = leader < matched ? leader : matched;
	if (c > r->commit_index) {
		r->commit_index = c;
		raft_apply_committed(r);
	}
}

int replication_recv_append(struct raft *r, const struct raft_message *m)
{
	const struct raft_append_entries *ae = &m->append_entries;
	raft_id from = m->server_id;
	if (ae->term < r->term) {
		replication_send_append_result(r, from, true,
					       ae->prev_log_index, 0);
		return RAFT_OK;
	}
	int err = raft_observe_term(r, ae->term);
	if (err != RAFT_OK)
		return err;
	if (r->state == RAFT_LEADER) {
		/* two leaders in one term would break Election Safety */
		assert(!"append entries from another leader of our term");
		return RAFT_INVALID;
	}
	if (r->state == RAFT_CANDIDATE)
		raft_convert_to_follower(r);
	r->leader_id = from;
	r->last_leader_contact = raft_now(r);
	raft_reset_election_timer(r);
	if (r->in.installing)
		return RAFT_OK; /* the snapshot will replace the log */

	raft_index prev = ae->prev_log_index;
	raft_index last = log_last_index(&r->log);
	if (prev > last) {
		replication_send_append_result(r, from, true, prev, 0);
		return RAFT_OK;
	}
	raft_term t = log_term_of(&r->log, prev);
	if (prev != 0 && t == 0) {
		/* prev was compacted: it is below our snapshot, hence
		 * committed, hence identical on the leader (§3.6.3) */
		if (prev > r->commit_index) {
			replication_send_append_result(r, from, true, prev, 0);
			return RAFT_OK;
		}
	} else if (t != ae->prev_log_term) {
		replication_send_append_result(r, from, true, prev, 0);
		return RAFT_OK;
	}

	/* skip what we already have; truncate at the first conflict */
	unsigned k = 0;
	for (; k < ae->n_entries; k++) {
		raft_index idx = prev + 1 + k;
		if (idx <= r->log.offset)
			continue; /* compacted, committed */
		if (idx > log_last_index(&r->log))
			break;
		if (log_term_of(&r->log, idx) == ae->entries[k].term)
			continue;
		if (idx <= r->commit_index) {
			/* a leader disagreeing on a committed entry would
			 * violate Leader Completeness: refuse it */
			raft_errorf(r, "append: conflict at committed %llu",
				    (unsigned long long)idx);
			return RAFT_CORRUPT;
		}
		raft_truncate_suffix(r, idx);
		if (r->state == RAFT_UNAVAILABLE)
			return RAFT_NOMEM;
		break;
	}
	raft_index first_new = prev + 1 + k;
	unsigned appended = 0;
	for (; k < ae->n_entries; k++) {
		const struct raft_entry *e = &ae->entries[k];
		struct raft_configuration c;
		raft_configuration_init(&c);
		if (e->type == RAFT_CHANGE &&
		    raft_configuration_decode(&e->buf, &c) != RAFT_OK)
			break;
		if (log_append_copy(&r->log, e) != RAFT_OK) {
			raft_configuration_close(&c);
			break;
		}
		if (e->type == RAFT_CHANGE)
			raft_conf_install(r, prev + 1 + k, &c);
		appended++;
	}
	raft_index matched = first_new + appended - 1;
	raft_index mem_last = log_last_index(&r->log);
	if (r->last_issued < mem_last) {
		/* Write everything not yet issued, not just this message's
		 * new entries: a deposed leader can hold entries it never
		 * wrote, and a write must start right after the previous
		 * one (the disk log has no holes). */
		raft_index wfrom = r->last_issued + 1;
		err = raft_issue_append(r, wfrom,
					(unsigned)(mem_last - wfrom + 1), from,
					matched, ae->read_ctx);
		if (err != RAFT_OK) {
			raft_append_failed(r, err);
			return err;
		}
		/* reply when durable, from append_cb */
		replication_follower_commit(r, ae->leader_commit, matched);
		return RAFT_OK;
	}
	if (k < ae->n_entries && matched < prev + ae->n_entries) {
		/* out of memory before anything new: as if lost */
		replication_follower_commit(r, ae->leader_commit, matched);
		return RAFT_NOMEM;
	}
	replication_follower_commit(r, ae->leader_commit, matched);
	/* nothing new: report what is durable of the matching prefix */
	raft_index durable = matched < r->last_stored ? matched
						       : r->last_stored;
	replication_send_append_result(r, from, false, durable, ae->read_ctx);
	return RAFT_OK;
}

int replication_recv_append_result(struct raft *r,
				   const struct raft_message *m)
{
	const struct raft_append_entries_result *res =
		&m->append_entries_result;
	if (res->term > r->term)
		return raft_observe_term(r, res->term);
	if (r->state != RAFT_LEADER || res->term != r->term)
		return RAFT_OK;
	struct progress *p = replication_progress(r, m->server_id);
	if (p == NULL)
		return RAFT_OK;
	p->recent_active = true;
	p->last_recv = raft_now(r);
	if (res->read_ctx > p->read_ack)
		p->read_ack = res->read_ctx;
	if (p->mode == PROGRESS_SNAPSHOT) {
		replication_reads_progress(r);
		return RAFT_OK;
	}
	if (res->rejected) {
		if (res->index < p->match_index ||
		    (p->mode == PROGRESS_PROBE && res->index != p->next_index - 1))
			return RAFT_OK; /* stale */
		/* §3.5: back off; the follower's last index bounds the
		 * search so a short log is found in one round trip */
		raft_index next = res->index;
		if (res->last_log_index + 1 < next)
			next = res->last_log_index + 1;
		if (next <= p->match_index)
			next = p->match_index + 1;
		p->next_index = next;
		p->mode = PROGRESS_PROBE;
		p->probe_sent = false;
		p->n_inflight = 0;
		replication_send(r, p, false);
		return RAFT_OK;
	}
	if (res->index > log_last_index(&r->log))
		return RAFT_INVALID; /* cannot match entries we lack */
	if (res->index > p->match_index)
		p->match_index = res->index;
	/* acknowledged batches leave the window */
	unsigned k = 0;
	while (k < p->n_inflight && p->inflight[k] <= p->match_index)
		k++;
	memmove(p->inflight, p->inflight + k,
		(p->n_inflight - k) * sizeof(p->inflight[0]));
	p->n_inflight -= k;
	if (p->next_index <= p->match_index)
		p->next_index = p->match_index + 1;
	if (p->mode == PROGRESS_PROBE) {
		p->mode = PROGRESS_PIPELINE;
		p->probe_sent = false;
	}
	/* Commit and read completions run user callbacks, and a promotion
	 * appends a configuration: either can rebuild the progress array,
	 * so p is looked up again after each. */
	raft_id id = p->id;
	replication_maybe_commit(r);
	if (r->state != RAFT_LEADER)
		return RAFT_OK;
	replication_reads_progress(r);
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

/* ------------------------------------------------------------ ReadIndex */

int raft_read_index(struct raft *r, struct raft_read *req, raft_read_cb cb)
{
	if (r->state != RAFT_LEADER)
		return RAFT_NOTLEADER;
	if (cb == NULL)
		return RAFT_INVALID;
	req->cb = cb;
	req->index_ = 0;
	req->ctx_ = 0;
	req->next_ = NULL;
	if (r->reads_tail != NULL)
		r->reads_tail->next_ = req;
	else
		r->reads_head = req;
	r->reads_tail = req;
	replication_reads_progress(r);
	return RAFT_OK;
}

/* §6.4: (1) wait until an entry of this term is committed, (2) record the
 * commit index as the read index, (3) confirm leadership with a round of
 * heartbeats acknowledged by a quorum, (4) wait until applied. read_ctx
 * numbers the rounds: an echo of ctx proves the follower accepted us as
 * leader after the read was registered. */
void replication_reads_progress(struct raft *r)
{
	if (r->state != RAFT_LEADER || r->reads_head == NULL)
		return;
	if (r->commit_index < r->term_start_index)
		return; /* step 1 */
	bool assigned = false;
	for (struct raft_read *q = r->reads_head; q != NULL; q = q->next_) {
		if (q->ctx_ != 0)
			continue;
		if (!assigned) {
			r->read_ctx++;
			assigned = true;
		}
		q->index_ = r->commit_index;
		q->ctx_ = r->read_ctx;
	}
	if (assigned)
		replication_broadcast(r, true);
	if (r->state != RAFT_LEADER)
		return;
	while (r->reads_head != NULL) {
		struct raft_read *q = r->reads_head;
		unsigned acks = 0;
		for (unsigned i = 0; i < r->conf.n; i++) {
			if (r->conf.servers[i].role != RAFT_VOTER)
				continue;
			struct progress *p = &r->progress[i];
			if (p->id == r->id || p->read_ack >= q->ctx_)
				acks++;
		}
		if (acks < raft_n_voters(&r->conf) / 2 + 1 ||
		    r->last_applied < q->index_)
			break;
		r->reads_head = q->next_;
		if (r->reads_head == NULL)
			r->reads_tail = NULL;
		q->cb(q, RAFT_OK, q->index_);
		if (r->state != RAFT_LEADER)
			break;
	}
}
