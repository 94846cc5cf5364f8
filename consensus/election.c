/*
 * election.c: leader election (§3.4) with pre-vote (§9.6), leader
 * stickiness (§4.2.3) and TimeoutNow for leadership transfer (§3.10).
 *
 * Pre-vote: before bumping its term a would-be candidate asks whether it
 * could win. Voters answer without changing any state, and refuse while
 * they still hear from a leader, so a server rejoining after a partition
 * cannot force the cluster into a new term (the disruption described in
 * §9.6). Only after a quorum of pre-votes does it run the real election.
 *
 * Stickiness: a server that heard from a leader within the minimum
 * election timeout ignores vote requests (real ones too) unless they carry
 * disrupt_leader, which only TimeoutNow sets (§4.2.3, §3.10).
 */
#include <assert.h>
#include <string.h>

#include "raft_int.h"

static bool election_log_up_to_date(struct raft *r, raft_term last_term,
				    raft_index last_index)
{
	/* §3.6.1: compare last terms, then lengths */
	raft_term my_term = log_last_term(&r->log);
	if (last_term != my_term)
		return last_term > my_term;
	return last_index >= log_last_index(&r->log);
}

static void election_send_requests(struct raft *r)
{
	struct raft_message m;
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_REQUEST_VOTE;
	m.request_vote.term = r->pre_vote ? r->term + 1 : r->term;
	m.request_vote.candidate_id = r->id;
	m.request_vote.last_log_index = log_last_index(&r->log);
	m.request_vote.last_log_term = log_last_term(&r->log);
	m.request_vote.disrupt_leader = r->disrupt_leader;
	m.request_vote.pre_vote = r->pre_vote;
	for (unsigned i = 0; i < r->conf.n; i++) {
		const struct raft_server *s = &r->conf.servers[i];
		if (s->id == r->id || s->role != RAFT_VOTER)
			continue;
		m.server_id = s->id;
		m.server_address = s->address;
		(void)raft_send(r, &m, NULL); /* a lost request is a lost vote */
	}
}

static bool election_add_vote(struct raft *r, raft_id id)
{
	for (unsigned i = 0; i < r->n_votes; i++)
		if (r->votes[i] == id)
			return false; /* duplicated message */
	r->votes[r->n_votes++] = id;
	return true;
}

int election_start(struct raft *r, bool pre_vote)
{
	if (!raft_is_voter(&r->conf, r->id) || r->state == RAFT_LEADER)
		return RAFT_INVALID;
	raft_id *votes = raft_heap_calloc(r->conf.n, sizeof(*votes));
	if (votes == NULL) {
		raft_reset_election_timer(r);
		return RAFT_NOMEM;
	}
	if (!pre_vote) {
		/* §3.4: increment the term and vote for ourselves, durably,
		 * before asking anyone */
		int rv = raft_persist_vote(r, r->term + 1, r->id);
		if (rv != RAFT_OK) {
			raft_heap_free(votes);
			raft_reset_election_timer(r);
			return rv;
		}
	}
	raft_heap_free(r->votes);
	r->votes = votes;
	r->n_votes = 0;
	r->state = RAFT_CANDIDATE;
	r->leader_id = 0;
	r->pre_vote = pre_vote;
	election_add_vote(r, r->id);
	raft_reset_election_timer(r);
	if (r->n_votes >= raft_n_voters(&r->conf) / 2 + 1) {
		if (pre_vote)
			return election_start(r, false);
		election_become_leader(r);
		return RAFT_OK;
	}
	election_send_requests(r);
	return RAFT_OK;
}

static void election_reply(struct raft *r, raft_id to, raft_term term,
			   bool granted, bool pre_vote)
{
	struct raft_message m;
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_REQUEST_VOTE_RESULT;
	m.server_id = to;
	const struct raft_server *s = raft_conf_get(&r->conf, to);
	m.server_address = s != NULL ? s->address : NULL;
	m.request_vote_result.term = term;
	m.request_vote_result.vote_granted = granted;
	m.request_vote_result.pre_vote = pre_vote;
	(void)raft_send(r, &m, NULL);
}

int election_recv_request_vote(struct raft *r, const struct raft_message *m)
{
	const struct raft_request_vote *rv = &m->request_vote;
	raft_time now = raft_now(r);
	if (rv->candidate_id != m->server_id)
		return RAFT_INVALID;
	bool has_leader =
		r->state == RAFT_LEADER ||
		(r->state == RAFT_FOLLOWER && r->leader_id != 0 &&
		 now < r->last_leader_contact + r->p.election_timeout);
	if (has_leader && !rv->disrupt_leader) {
		/* §4.2.3: a live leader exists; neither a pre-vote nor a
		 * real vote may disturb it, and we keep our term */
		election_reply(r, m->server_id, r->term, false, rv->pre_vote);
		return RAFT_OK;
	}
	if (rv->term < r->term) {
		election_reply(r, m->server_id, r->term, false, rv->pre_vote);
		return RAFT_OK;
	}
	bool up_to_date = election_log_up_to_date(r, rv->last_log_term,
						  rv->last_log_index);
	if (rv->pre_vote) {
		/* §9.6: grant without touching term, vote or timer */
		election_reply(r, m->server_id,
			       up_to_date ? rv->term : r->term, up_to_date,
			       true);
		return RAFT_OK;
	}
	int err = raft_observe_term(r, rv->term);
	if (err != RAFT_OK)
		return err; /* dropped: we could not persist the new term */
	bool granted = false;
	if (up_to_date &&
	    (r->voted_for == 0 || r->voted_for == rv->candidate_id)) {
		/* §3.8: the vote must be durable before it is sent */
		err = raft_persist_vote(r, r->term, rv->candidate_id);
		if (err != RAFT_OK)
			return err;
		granted = true;
		/* §3.4: granting a vote resets the election timer */
		raft_reset_election_timer(r);
	}
	election_reply(r, m->server_id, r->term, granted, false);
	return RAFT_OK;
}

int election_recv_result(struct raft *r, const struct raft_message *m)
{
	const struct raft_request_vote_result *res = &m->request_vote_result;
	/* a granted pre-vote carries the hypothetical next term: not news */
	if (!(res->pre_vote && res->vote_granted) && res->term > r->term) {
		int err = raft_observe_term(r, res->term);
		return err;
	}
	if (r->state != RAFT_CANDIDATE || res->pre_vote != r->pre_vote ||
	    !res->vote_granted)
		return RAFT_OK;
	raft_term expect = r->pre_vote ? r->term + 1 : r->term;
	if (res->term != expect || !raft_is_voter(&r->conf, m->server_id))
		return RAFT_OK; /* stale or not a voter */
	if (!election_add_vote(r, m->server_id))
		return RAFT_OK;
	if (r->n_votes < raft_n_voters(&r->conf) / 2 + 1)
		return RAFT_OK;
	if (r->pre_vote)
		return election_start(r, false);
	election_become_leader(r);
	return RAFT_OK;
}

void election_become_leader(struct raft *r)
{
	raft_heap_free(r->votes);
	r->votes = NULL;
	r->n_votes = 0;
	r->state = RAFT_LEADER;
	r->leader_id = r->id;
	r->pre_vote = false;
	r->disrupt_leader = false;
	r->read_ctx = 0;
	if (replication_progress_rebuild(r) != RAFT_OK) {
		raft_convert_to_follower(r);
		return;
	}
	raft_time now = raft_now(r);
	r->heartbeat_due = now + r->p.heartbeat_timeout;
	r->quorum_check_due = now + r->p.election_timeout;
	/* §6.4 / §3.6.2: a blank entry of the new term lets the leader learn
	 * which entries are committed (it may only count replicas of
	 * current-term entries), which ReadIndex waits for. */
	struct raft_buffer empty = {NULL, 0};
	if (raft_append_local(r, r->term, RAFT_BARRIER, &empty) != RAFT_OK) {
		raft_convert_to_follower(r);
		return;
	}
	r->term_start_index = log_last_index(&r->log);
	raft_leader_flush(r);
	if (r->state == RAFT_LEADER)
		replication_broadcast(r, true);
}

int election_recv_timeout_now(struct raft *r, const struct raft_message *m)
{
	const struct raft_timeout_now *tn = &m->timeout_now;
	if (tn->term < r->term)
		return RAFT_OK;
	int err = raft_observe_term(r, tn->term);
	if (err != RAFT_OK)
		return err;
	/* §3.10: only a follower whose log matches the leader's starts */
	if (r->state != RAFT_FOLLOWER || !raft_is_voter(&r->conf, r->id) ||
	    tn->last_log_index != log_last_index(&r->log) ||
	    tn->last_log_term != log_last_term(&r->log))
		return RAFT_OK;
	r->disrupt_leader = true;
	err = election_start(r, false);
	r->disrupt_leader = false;
	return err;
}
