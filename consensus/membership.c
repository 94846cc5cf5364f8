/*
 * membership.c: single-server configuration changes (§4.1), learner
 * catch-up before promotion (§4.2.1), removal of the leader (§4.2.2) and
 * leadership transfer (§3.10).
 *
 * One change at a time: a new change is refused until the previous
 * configuration entry is committed, which is what makes single-server
 * changes safe without joint consensus (any two majorities of C and C+1
 * overlap).
 *
 * Promotion: a new server that joined as a learner only becomes a voter
 * after replication rounds show it keeps up: each round replicates up to
 * the leader's last index at the round's start; a round that completes
 * within an election timeout ends catch-up (§4.2.1). Promoting a server
 * that cannot keep up would stall commitment.
 */
#include <string.h>

#include "raft_int.h"

enum {
	CHANGE_ADD = 1,
	CHANGE_PROMOTE,
	CHANGE_REMOVE,
};

static int membership_check(struct raft *r, struct raft_change *req,
			    raft_change_cb cb)
{
	if (r->state != RAFT_LEADER)
		return RAFT_NOTLEADER;
	if (req == NULL || cb == NULL)
		return RAFT_INVALID;
	/* §4.1: the previous change must be committed first */
	if (r->change != NULL || r->conf_index > r->commit_index)
		return RAFT_CANTCHANGE;
	if (r->transfer != NULL)
		return RAFT_BUSY;
	return RAFT_OK;
}

/* Append conf (borrowed) as a RAFT_CHANGE entry on behalf of req. */
static int membership_append(struct raft *r, struct raft_change *req,
			     const struct raft_configuration *conf)
{
	struct raft_buffer buf;
	int rv = raft_configuration_encode(conf, &buf);
	if (rv != RAFT_OK)
		return rv;
	rv = raft_append_local(r, r->term, RAFT_CHANGE, &buf);
	if (rv != RAFT_OK) {
		raft_heap_free(buf.base);
		return rv;
	}
	req->index_ = log_last_index(&r->log);
	r->change = req;
	raft_leader_flush(r);
	if (r->state == RAFT_LEADER)
		replication_broadcast(r, false);
	return RAFT_OK;
}

int raft_add(struct raft *r, struct raft_change *req, raft_id id,
	     const char *address, raft_change_cb cb)
{
	int rv = membership_check(r, req, cb);
	if (rv != RAFT_OK)
		return rv;
	struct raft_configuration c;
	rv = raft_configuration_copy(&r->conf, &c);
	if (rv != RAFT_OK)
		return rv;
	rv = raft_configuration_add(&c, id, address, RAFT_LEARNER);
	if (rv == RAFT_OK) {
		req->cb = cb;
		req->id_ = id;
		req->kind_ = CHANGE_ADD;
		rv = membership_append(r, req, &c);
	}
	raft_configuration_close(&c);
	return rv;
}

int raft_remove(struct raft *r, struct raft_change *req, raft_id id,
		raft_change_cb cb)
{
	int rv = membership_check(r, req, cb);
	if (rv != RAFT_OK)
		return rv;
	if (raft_conf_get(&r->conf, id) == NULL)
		return RAFT_NOTFOUND;
	struct raft_configuration c;
	raft_configuration_init(&c);
	for (unsigned i = 0; i < r->conf.n && rv == RAFT_OK; i++) {
		const struct raft_server *s = &r->conf.servers[i];
		if (s->id != id)
			rv = raft_configuration_add(&c, s->id, s->address,
						    s->role);
	}
	if (rv == RAFT_OK && raft_n_voters(&c) == 0)
		rv = RAFT_INVALID; /* would leave nobody to elect */
	if (rv == RAFT_OK) {
		req->cb = cb;
		req->id_ = id;
		req->kind_ = CHANGE_REMOVE;
		rv = membership_append(r, req, &c);
	}
	raft_configuration_close(&c);
	return rv;
}

int raft_promote(struct raft *r, struct raft_change *req, raft_id id,
		 raft_change_cb cb)
{
	int rv = membership_check(r, req, cb);
	if (rv != RAFT_OK)
		return rv;
	const struct raft_server *s = raft_conf_get(&r->conf, id);
	if (s == NULL)
		return RAFT_NOTFOUND;
	if (s->role != RAFT_LEARNER)
		return RAFT_INVALID;
	req->cb = cb;
	req->id_ = id;
	req->kind_ = CHANGE_PROMOTE;
	req->index_ = 0; /* not appended until caught up */
	req->round_ = 1;
	req->round_index_ = log_last_index(&r->log);
	req->round_start_ = raft_now(r);
	r->change = req;
	struct progress *p = replication_progress(r, id);
	if (p != NULL) {
		membership_on_progress(r, p); /* may rebuild progress */
		p = replication_progress(r, id);
		if (p != NULL && r->state == RAFT_LEADER && r->change == req &&
		    req->index_ == 0)
			replication_send(r, p, false);
	}
	return RAFT_OK;
}

static void membership_finish(struct raft *r, int status)
{
	struct raft_change *req = r->change;
	r->change = NULL;
	req->cb(req, status);
}

static void membership_promote_now(struct raft *r)
{
	struct raft_change *req = r->change;
	struct raft_configuration c;
	int rv = raft_configuration_copy(&r->conf, &c);
	if (rv == RAFT_OK) {
		for (unsigned i = 0; i < c.n; i++)
			if (c.servers[i].id == req->id_)
				c.servers[i].role = RAFT_VOTER;
		r->change = NULL; /* membership_append sets it again */
		rv = membership_append(r, req, &c);
		raft_configuration_close(&c);
	}
	if (rv != RAFT_OK) {
		r->change = req;
		membership_finish(r, rv);
	}
}

void membership_on_progress(struct raft *r, struct progress *p)
{
	struct raft_change *req = r->change;
	if (req == NULL || req->kind_ != CHANGE_PROMOTE || req->index_ != 0 ||
	    p->id != req->id_ || p->match_index < req->round_index_)
		return;
	raft_time now = raft_now(r);
	if (now - req->round_start_ < r->p.election_timeout) {
		/* this round finished within an election timeout (§4.2.1) */
		membership_promote_now(r);
		return;
	}
	req->round_++;
	if (req->round_ > r->p.max_catch_up_rounds) {
		membership_finish(r, RAFT_NOCONNECTION);
		return;
	}
	req->round_index_ = log_last_index(&r->log);
	req->round_start_ = now;
}

void membership_tick(struct raft *r)
{
	struct raft_change *req = r->change;
	if (req == NULL || req->kind_ != CHANGE_PROMOTE || req->index_ != 0)
		return;
	raft_time now = raft_now(r);
	/* a round that never completes: give up after the allowed rounds'
	 * worth of election timeouts */
	if (now - req->round_start_ >= r->p.election_timeout) {
		req->round_++;
		req->round_index_ = log_last_index(&r->log);
		req->round_start_ = now;
		if (req->round_ > r->p.max_catch_up_rounds)
			membership_finish(r, RAFT_NOCONNECTION);
	}
}

void membership_on_commit(struct raft *r)
{
	struct raft_change *req = r->change;
	if (req != NULL && req->index_ != 0 &&
	    r->last_applied >= req->index_ && r->state == RAFT_LEADER)
		membership_finish(r, RAFT_OK);
	/* §4.2.2: a leader removed from the configuration steps down once
	 * the change is committed (it managed the cluster until then) */
	if (r->state == RAFT_LEADER && r->commit_index >= r->conf_index &&
	    !raft_is_voter(&r->conf, r->id)) {
		raft_convert_to_follower(r);
	}
}

/* ------------------------------------------------------------- transfer */

int raft_transfer(struct raft *r, struct raft_transfer *req, raft_id id,
		  raft_transfer_cb cb)
{
	if (r->state != RAFT_LEADER)
		return RAFT_NOTLEADER;
	if (req == NULL || cb == NULL)
		return RAFT_INVALID;
	if (r->transfer != NULL)
		return RAFT_BUSY;
	if (id == 0) {
		/* the most up-to-date voter is the quickest to take over */
		raft_index best = 0;
		for (unsigned i = 0; i < r->n_progress; i++) {
			struct progress *p = &r->progress[i];
			if (p->id != r->id &&
			    r->conf.servers[i].role == RAFT_VOTER &&
			    (id == 0 || p->match_index > best)) {
				id = p->id;
				best = p->match_index;
			}
		}
		if (id == 0)
			return RAFT_NOTFOUND;
	}
	if (id == r->id)
		return RAFT_INVALID;
	if (!raft_is_voter(&r->conf, id))
		return raft_conf_get(&r->conf, id) ? RAFT_INVALID
						   : RAFT_NOTFOUND;
	req->cb = cb;
	req->id_ = id;
	req->start_ = raft_now(r);
	r->transfer = req;
	r->transfer_sent = false;
	struct progress *p = replication_progress(r, id);
	membership_transfer_on_progress(r, p);
	if (r->state == RAFT_LEADER && !r->transfer_sent)
		replication_send(r, p, false);
	return RAFT_OK;
}

void membership_transfer_on_progress(struct raft *r, struct progress *p)
{
	struct raft_transfer *t = r->transfer;
	if (t == NULL || r->transfer_sent || p->id != t->id_ ||
	    p->match_index != log_last_index(&r->log))
		return;
	/* §3.10: the target's log is current, so it can win at once */
	struct raft_message m;
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_TIMEOUT_NOW;
	m.server_id = p->id;
	const struct raft_server *s = raft_conf_get(&r->conf, p->id);
	m.server_address = s != NULL ? s->address : NULL;
	m.timeout_now.term = r->term;
	m.timeout_now.last_log_index = log_last_index(&r->log);
	m.timeout_now.last_log_term = log_last_term(&r->log);
	if (raft_send(r, &m, NULL) == RAFT_OK)
		r->transfer_sent = true;
}

void membership_transfer_tick(struct raft *r)
{
	struct raft_transfer *t = r->transfer;
	if (t == NULL)
		return;
	raft_time now = raft_now(r);
	/* §3.10: abort after an election timeout so the leader resumes
	 * accepting client requests */
	if (now - t->start_ >= r->p.election_timeout) {
		r->transfer = NULL;
		r->transfer_sent = false;
		t->cb(t, RAFT_NOCONNECTION);
	}
}
