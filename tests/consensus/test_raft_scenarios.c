/*
 * Scripted Raft scenarios on the deterministic fixture: each test drives a
 * small cluster through one situation from the dissertation and asserts
 * exact states and, where the protocol fixes them, exact (fake) times.
 *
 * Fixture defaults used below: election timeout T = 1000 ms, heartbeat
 * 100 ms, one-way latency 10 ms, disk latency 5 ms. With `staggered`,
 * server i times out at T + i*T/10, so server 0 is the first candidate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "raft_fixture.h"

static struct raft_fixture *fx_new(unsigned n, unsigned voters)
{
	struct raft_fixture_params p = {
		.n = n, .n_voters = voters, .seed = 1, .staggered = true,
	};
	struct raft_fixture *f = raft_fixture_create(&p);
	assert_non_null(f);
	return f;
}

static void fx_done(struct raft_fixture *f)
{
	assert_true(raft_fixture_check_logs(f));
	assert_null(raft_fixture_violation(f));
	/* every allocation made through the raft heap is returned once
	 * the servers are gone (a leak check that also runs without ASan) */
	for (unsigned i = 0; i < raft_fixture_n(f); i++)
		raft_fixture_kill(f, i);
	assert_int_equal(raft_fixture_heap_live(f), 0);
	raft_fixture_free(f);
}

static struct raft *S(struct raft_fixture *f, unsigned i)
{
	struct raft *r = raft_fixture_get(f, i);
	assert_non_null(r);
	return r;
}

static bool pred_state(struct raft_fixture *f, void *arg)
{
	const int *want = arg; /* {server, state} */
	struct raft *r = raft_fixture_get(f, (unsigned)want[0]);
	return r != NULL && raft_state(r) == want[1];
}

static bool step_until_state(struct raft_fixture *f, unsigned i, int state,
			     unsigned max_ms)
{
	int arg[2] = {(int)i, state};
	return raft_fixture_step_until(f, pred_state, arg, max_ms);
}

static void elect_first(struct raft_fixture *f)
{
	assert_true(raft_fixture_step_until_leader(f, 5000));
	assert_int_equal(raft_fixture_leader(f), 0);
}

/* §3.4 with pre-vote (§9.6): server 0 times out at T = 1000, its
 * pre-vote round trip takes 2 x 10 ms and the real vote another 2 x 10 ms,
 * so it leads at exactly 1040 in term 2 (term 1 is the bootstrap). */
static void test_election_timing(void **state)
{
	(void)state;
	struct raft_fixture *f = fx_new(3, 3);
	assert_true(step_until_state(f, 0, RAFT_CANDIDATE, 5000));
	assert_int_equal(raft_fixture_time(f), 1000);
	/* pre-vote: still term 1, nothing persisted */
	assert_int_equal(raft_current_term(S(f, 0)), 1);
	assert_int_equal(raft_fixture_disk_term(f, 0), 1);
	assert_true(step_until_state(f, 0, RAFT_LEADER, 5000));
	assert_int_equal(raft_fixture_time(f), 1040);
	assert_int_equal(raft_current_term(S(f, 0)), 2);
	assert_int_equal(raft_fixture_disk_term(f, 0), 2);
	for (unsigned i = 1; i < 3; i++) {
		assert_int_equal(raft_state(S(f, i)), RAFT_FOLLOWER);
		assert_int_equal(raft_current_term(S(f, i)), 2);
		assert_int_equal(raft_voted_for(S(f, i)), 1);
	}
	/* the first heartbeat (the new term's no-op) reaches them at 1050 */
	raft_fixture_step_for(f, 10);
	assert_int_equal(raft_leader(S(f, 1), NULL), 1);
	assert_int_equal(raft_leader(S(f, 2), NULL), 1);
	/* the no-op (and with it the bootstrap entry) commits once one
	 * follower stored it: 1040 + 10 (send) + 5 (disk) + 10 (reply) */
	raft_fixture_step_for(f, 14);
	assert_int_equal(raft_commit_index(S(f, 0)), 0);
	raft_fixture_step_for(f, 1);
	assert_int_equal(raft_commit_index(S(f, 0)), 2);
	fx_done(f);
}

/* §9.6: a follower cut off from the cluster keeps timing out, but its
 * pre-votes fail, so its term never grows; when it comes back it does not
 * depose the leader. Without pre-vote the same schedule bumps terms. */
static void run_rejoin(bool pre_vote, raft_term *isolated_term,
		       raft_term *final_term, int *final_leader)
{
	struct raft_fixture_params p = {.n = 3, .seed = 7, .staggered = true,
					.disable_pre_vote = !pre_vote};
	struct raft_fixture *f = raft_fixture_create(&p);
	assert_non_null(f);
	elect_first(f);
	assert_int_equal(raft_current_term(S(f, 0)), 2);
	raft_fixture_isolate(f, 2);
	raft_fixture_step_for(f, 10000);
	*isolated_term = raft_current_term(S(f, 2));
	assert_int_equal(raft_state(S(f, 0)), RAFT_LEADER);
	raft_fixture_heal(f);
	raft_fixture_step_for(f, 5000);
	assert_true(raft_fixture_step_until_leader(f, 10000));
	*final_term = raft_current_term(S(f, 0));
	*final_leader = raft_fixture_leader(f);
	fx_done(f);
}

static void test_prevote_rejoin(void **state)
{
	(void)state;
	raft_term iso, fin;
	int leader;
	run_rejoin(true, &iso, &fin, &leader);
	assert_int_equal(iso, 2);
	assert_int_equal(fin, 2);
	assert_int_equal(leader, 0);
	/* control: without pre-vote the isolated node inflates its term
	 * and its return forces a new election */
	run_rejoin(false, &iso, &fin, &leader);
	assert_true(iso > 2);
	assert_true(fin > 2);
}

/* §6.2 check-quorum: an isolated leader steps down within two election
 * timeouts (the check runs every T and needs a full period of silence),
 * and the majority elects a new leader in a higher term. */
static void test_check_quorum(void **state)
{
	(void)state;
	struct raft_fixture *f = fx_new(3, 3);
	elect_first(f);
	raft_time t0 = raft_fixture_time(f);
	raft_fixture_isolate(f, 0);
	assert_true(step_until_state(f, 0, RAFT_FOLLOWER, 5000));
	raft_time down = raft_fixture_time(f) - t0;
	assert_true(down > 1000);
	assert_true(down <= 2000);
	/* exactly: elected at 1040, checks at 2040 (quorum heard) and 3040
	 * (nobody heard since 2040) */
	assert_int_equal(raft_fixture_time(f), 3040);
	assert_true(raft_fixture_step_until_leader(f, 5000));
	int l = raft_fixture_leader(f);
	assert_true(l == 1 || l == 2);
	assert_int_equal(raft_current_term(S(f, (unsigned)l)), 3);
	assert_int_equal(raft_current_term(S(f, 0)), 2); /* pre-vote */
	fx_done(f);
}

/* §3.5 and §10.2.1: ten proposals made at once are applied in order by
 * every FSM; the leader writes them with two disk writes (the first
 * proposal's and one batch for the nine that queued behind it). */
static void test_replication(void **state)
{
	(void)state;
	struct raft_fixture *f = fx_new(3, 3);
	elect_first(f);
	raft_fixture_step_for(f, 100);
	uint64_t w0 = raft_fixture_disk_writes(f, 0);
	for (uint64_t v = 1; v <= 10; v++)
		assert_int_equal(raft_fixture_propose(f, 0, v), RAFT_OK);
	assert_int_equal(raft_last_index(S(f, 0)), 12);
	assert_int_equal(raft_fixture_propose(f, 1, 99), RAFT_NOTLEADER);
	assert_true(raft_fixture_step_until_applied(f, -1, 12, 2000));
	assert_int_equal(raft_fixture_disk_writes(f, 0) - w0, 2);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(raft_fixture_fsm_count(f, i), 10);
		assert_int_equal(raft_fixture_fsm_hash(f, i),
				 raft_fixture_fsm_hash(f, 0));
		assert_int_equal(raft_fixture_disk_last_index(f, i), 12);
	}
	uint64_t ok, failed;
	raft_fixture_proposals(f, &ok, &failed);
	assert_int_equal(ok, 10);
	assert_int_equal(failed, 0);
	fx_done(f);
}

/* With max_inflight = 1 the window holds one batch: proposals arriving
 * while it is full share the next AppendEntries. */
static void test_batching(void **state)
{
	(void)state;
	struct raft_fixture_params p = {.n = 3, .seed = 1, .staggered = true,
					.max_inflight = 1, .max_batch = 64};
	struct raft_fixture *f = raft_fixture_create(&p);
	assert_non_null(f);
	elect_first(f);
	raft_fixture_step_for(f, 100);
	uint64_t ae0 = raft_fixture_sent(f, 0, RAFT_MSG_APPEND_ENTRIES);
	for (uint64_t v = 1; v <= 40; v++)
		assert_int_equal(raft_fixture_propose(f, 0, v), RAFT_OK);
	assert_true(raft_fixture_step_until_applied(f, 0, 42, 2000));
	uint64_t ae = raft_fixture_sent(f, 0, RAFT_MSG_APPEND_ENTRIES) - ae0;
	/* 2 followers x (first entry + one batch of 39) */
	assert_int_equal(ae, 4);
	/* followers learn the commit index from the next heartbeat */
	assert_true(raft_fixture_step_until_applied(f, -1, 42, 200));
	fx_done(f);
}

/* Figure 3.7 / §3.6.2: an entry from an older term stored on a majority is
 * NOT committed by counting replicas; it commits only together with an
 * entry of the leader's current term. */
static bool pred_last(struct raft_fixture *f, void *arg)
{
	const unsigned *a = arg; /* {server, index} */
	struct raft *r = raft_fixture_get(f, a[0]);
	return r != NULL && raft_last_index(r) >= a[1] &&
	       raft_fixture_disk_last_index(f, a[0]) >= a[1];
}

static void test_figure_3_7(void **state)
{
	(void)state;
	struct raft_fixture_params p = {.n = 5, .seed = 3, .staggered = true,
					.max_batch = 1};
	struct raft_fixture *f = raft_fixture_create(&p);
	assert_non_null(f);
	elect_first(f); /* S1 (index 0) leads term 2; no-op at 2 */
	/* make S5 the next to time out, and S1 after its restart */
	raft_fixture_set_jitter(f, 4, 0);
	for (unsigned j = 1; j < 4; j++)
		raft_fixture_set_jitter(f, j, 900);
	assert_true(raft_fixture_step_until_applied(f, -1, 2, 2000));
	raft_fixture_step_for(f, 200); /* heartbeats re-arm the timers */
	/* (a) S1 replicates index 3 (term 2) to S2 only */
	for (unsigned j = 2; j < 5; j++)
		raft_fixture_disconnect(f, 0, j);
	assert_int_equal(raft_fixture_propose(f, 0, 42), RAFT_OK);
	unsigned a1[2] = {1, 3};
	assert_true(raft_fixture_step_until(f, pred_last, a1, 1000));
	/* (b) S1 crashes; S5 wins term 3 with S3, S4 and appends its no-op
	 * at index 3, which reaches nobody */
	raft_fixture_kill(f, 0);
	raft_fixture_disconnect(f, 1, 4);
	assert_true(step_until_state(f, 4, RAFT_LEADER, 5000));
	raft_fixture_isolate(f, 4);
	assert_int_equal(raft_current_term(S(f, 4)), 3);
	assert_int_equal(raft_term_at(S(f, 4), 3), 3);
	/* (c) S5 crashes; S1 restarts and wins term 4 */
	raft_fixture_kill(f, 4);
	assert_int_equal(raft_fixture_revive(f, 0), RAFT_OK);
	raft_fixture_set_jitter(f, 0, 0);
	for (unsigned j = 1; j < 4; j++)
		raft_fixture_connect(f, 0, j);
	raft_fixture_disconnect(f, 0, 3); /* keep S4 out */
	/* S1 -> S3 carries one entry per message: let index 3 through,
	 * then drop S1 -> S3 so the term-4 no-op (index 4) cannot follow */
	assert_true(step_until_state(f, 0, RAFT_LEADER, 5000));
	assert_int_equal(raft_current_term(S(f, 0)), 4);
	assert_int_equal(raft_last_index(S(f, 0)), 4);
	unsigned a3[2] = {2, 3};
	assert_true(raft_fixture_step_until(f, pred_last, a3, 1000));
	struct raft_fixture_link drop = {.drop_pct = 100, .delay_min = 10,
					 .delay_max = 10};
	raft_fixture_set_link(f, 0, 2, &drop);
	assert_int_equal(raft_last_index(S(f, 2)), 3);
	raft_fixture_step_for(f, 300);
	/* index 3 (term 2) is on S1, S2, S3: a majority of 5 ... */
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(raft_term_at(S(f, i), 3), 2);
	/* ... but uncommitted: only S1 and S2 hold a term-4 entry (the
	 * restarted S1 has not learned any commit index yet) */
	for (unsigned i = 0; i < 3; i++)
		assert_true(raft_commit_index(S(f, i)) < 3);
	assert_int_equal(raft_state(S(f, 0)), RAFT_LEADER);
	/* once the no-op reaches S3, both commit together */
	struct raft_fixture_link ok = {.delay_min = 10, .delay_max = 10};
	raft_fixture_set_link(f, 0, 2, &ok);
	assert_true(raft_fixture_step_until_applied(f, 0, 4, 1000));
	assert_int_equal(raft_commit_index(S(f, 0)), 4);
	assert_int_equal(raft_fixture_fsm_count(f, 0), 1);
	fx_done(f);
}

/* §6.4 ReadIndex: no log write, completes after one heartbeat round
 * (2 x 10 ms) with the commit index as read index; a partitioned leader's
 * read never succeeds and fails when check-quorum deposes it. */
struct read_out {
	int calls;
	int status;
	raft_index index;
};

static void read_cb(struct raft_read *req, int status, raft_index index)
{
	struct read_out *o = req->data;
	o->calls++;
	o->status = status;
	o->index = index;
}

static bool pred_read(struct raft_fixture *f, void *arg)
{
	(void)f;
	return ((struct read_out *)arg)->calls > 0;
}

static void test_read_index(void **state)
{
	(void)state;
	struct raft_fixture *f = fx_new(3, 3);
	elect_first(f);
	for (uint64_t v = 1; v <= 3; v++)
		assert_int_equal(raft_fixture_propose(f, 0, v), RAFT_OK);
	assert_true(raft_fixture_step_until_applied(f, 0, 5, 2000));
	raft_fixture_step_for(f, 50);
	raft_index last = raft_last_index(S(f, 0));
	uint64_t writes = raft_fixture_disk_writes(f, 0);
	struct read_out o = {0};
	struct raft_read rd = {.data = &o};
	raft_time t0 = raft_fixture_time(f);
	assert_int_equal(raft_read_index(S(f, 0), &rd, read_cb), RAFT_OK);
	assert_int_equal(o.calls, 0); /* needs a quorum round first */
	assert_true(raft_fixture_step_until(f, pred_read, &o, 1000));
	assert_int_equal(raft_fixture_time(f) - t0, 20);
	assert_int_equal(o.status, RAFT_OK);
	assert_int_equal(o.index, 5);
	assert_int_equal(raft_last_index(S(f, 0)), last);
	assert_int_equal(raft_fixture_disk_writes(f, 0), writes);
	struct raft_read bad;
	assert_int_equal(raft_read_index(S(f, 1), &bad, read_cb),
			 RAFT_NOTLEADER);

	raft_fixture_isolate(f, 0);
	struct read_out o2 = {0};
	struct raft_read rd2 = {.data = &o2};
	assert_int_equal(raft_read_index(S(f, 0), &rd2, read_cb), RAFT_OK);
	assert_true(raft_fixture_step_until(f, pred_read, &o2, 5000));
	assert_int_equal(o2.status, RAFT_LEADERSHIPLOST);
	assert_int_equal(raft_state(S(f, 0)), RAFT_FOLLOWER);
	fx_done(f);
}

/* §3.10 leadership transfer: the target is caught up, gets TimeoutNow and
 * wins at once (disrupt_leader bypasses stickiness and pre-vote);
 * proposals are refused meanwhile. */
struct xfer_out {
	int calls;
	int status;
};

static void xfer_cb(struct raft_transfer *req, int status)
{
	struct xfer_out *o = req->data;
	o->calls++;
	o->status = status;
}

static void test_transfer(void **state)
{
	(void)state;
	struct raft_fixture *f = fx_new(3, 3);
	elect_first(f);
	assert_true(raft_fixture_step_until_applied(f, -1, 2, 2000));
	struct xfer_out o = {0};
	struct raft_transfer t = {.data = &o};
	raft_time t0 = raft_fixture_time(f);
	assert_int_equal(raft_transfer(S(f, 0), &t, 3, xfer_cb), RAFT_OK);
	assert_int_equal(raft_fixture_propose(f, 0, 1), RAFT_BUSY);
	assert_true(step_until_state(f, 2, RAFT_LEADER, 1000));
	/* TimeoutNow 10 ms, vote request 10 ms, vote 10 ms */
	assert_int_equal(raft_fixture_time(f) - t0, 30);
	assert_int_equal(raft_current_term(S(f, 2)), 3);
	raft_fixture_step_for(f, 20);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.status, RAFT_OK);
	assert_int_equal(raft_state(S(f, 0)), RAFT_FOLLOWER);
	assert_int_equal(raft_leader(S(f, 0), NULL), 3);
	/* a transfer to a server that cannot answer times out after T */
	raft_fixture_isolate(f, 1);
	struct xfer_out o2 = {0};
	struct raft_transfer t2 = {.data = &o2};
	assert_int_equal(raft_transfer(S(f, 2), &t2, 2, xfer_cb), RAFT_OK);
	raft_fixture_step_for(f, 1200);
	assert_int_equal(o2.calls, 1);
	assert_int_equal(o2.status, RAFT_NOCONNECTION);
	assert_int_equal(raft_state(S(f, 2)), RAFT_LEADER);
	assert_int_equal(raft_fixture_propose(f, 2, 5), RAFT_OK);
	fx_done(f);
}

/* §4.1 / §4.2.1: add server 4 as a learner, let it catch up, promote it;
 * then remove a follower and finally the leader itself (§4.2.2). */
struct change_out {
	int calls;
	int status;
};

static void change_cb(struct raft_change *req, int status)
{
	struct change_out *o = req->data;
	o->calls++;
	o->status = status;
}

static bool pred_change(struct raft_fixture *f, void *arg)
{
	(void)f;
	return ((struct change_out *)arg)->calls > 0;
}

static void test_membership(void **state)
{
	(void)state;
	struct raft_fixture *f = fx_new(4, 3);
	elect_first(f);
	for (uint64_t v = 1; v <= 50; v++)
		assert_int_equal(raft_fixture_propose(f, 0, v), RAFT_OK);
	assert_true(raft_fixture_step_until_applied(f, 0, 52, 3000));
	/* server 4 is not a member: no elections, nothing stored */
	assert_int_equal(raft_state(S(f, 3)), RAFT_FOLLOWER);
	assert_int_equal(raft_last_index(S(f, 3)), 0);

	struct change_out o = {0};
	struct raft_change c = {.data = &o};
	assert_int_equal(raft_add(S(f, 0), &c, 4, "s4", change_cb), RAFT_OK);
	struct raft_change c2 = {.data = &o};
	assert_int_equal(raft_add(S(f, 0), &c2, 5, "s5", change_cb),
			 RAFT_CANTCHANGE);
	assert_true(raft_fixture_step_until(f, pred_change, &o, 3000));
	assert_int_equal(o.status, RAFT_OK);
	const struct raft_configuration *conf =
		raft_configuration_get(S(f, 0));
	assert_int_equal(conf->n, 4);
	assert_int_equal(conf->servers[3].role, RAFT_LEARNER);
	/* a learner does not count: commitment still needs 2 of 3 */
	assert_true(raft_fixture_step_until_applied(f, 3, 53, 3000));
	assert_int_equal(raft_fixture_fsm_count(f, 3), 50);
	assert_int_equal(raft_fixture_fsm_hash(f, 3),
			 raft_fixture_fsm_hash(f, 0));

	memset(&o, 0, sizeof(o));
	assert_int_equal(raft_promote(S(f, 0), &c, 4, change_cb), RAFT_OK);
	assert_true(raft_fixture_step_until(f, pred_change, &o, 3000));
	assert_int_equal(o.status, RAFT_OK);
	conf = raft_configuration_get(S(f, 0));
	assert_int_equal(conf->servers[3].role, RAFT_VOTER);
	assert_int_equal(raft_configuration_get(S(f, 3))->servers[3].role,
			 RAFT_VOTER);

	/* remove follower 2 */
	memset(&o, 0, sizeof(o));
	assert_int_equal(raft_remove(S(f, 0), &c, 2, change_cb), RAFT_OK);
	assert_true(raft_fixture_step_until(f, pred_change, &o, 3000));
	assert_int_equal(o.status, RAFT_OK);
	assert_int_equal(raft_configuration_get(S(f, 0))->n, 3);
	assert_int_equal(raft_fixture_propose(f, 0, 77), RAFT_OK);
	raft_index idx = raft_last_index(S(f, 0));
	assert_true(raft_fixture_step_until_applied(f, 2, idx, 3000));
	assert_true(raft_fixture_step_until_applied(f, 3, idx, 3000));

	/* remove the leader: it steps down once the change commits */
	memset(&o, 0, sizeof(o));
	assert_int_equal(raft_remove(S(f, 0), &c, 1, change_cb), RAFT_OK);
	assert_true(raft_fixture_step_until(f, pred_change, &o, 3000));
	assert_int_equal(o.status, RAFT_OK);
	assert_int_equal(raft_state(S(f, 0)), RAFT_FOLLOWER);
	raft_fixture_kill(f, 0);
	raft_fixture_kill(f, 1);
	assert_true(raft_fixture_step_until_leader(f, 5000));
	int l = raft_fixture_leader(f);
	assert_true(l == 2 || l == 3);
	fx_done(f);
}

/* §4.2.1: a learner that cannot keep up is not promoted. */
static void test_promote_unreachable(void **state)
{
	(void)state;
	struct raft_fixture *f = fx_new(4, 3);
	elect_first(f);
	struct change_out o = {0};
	struct raft_change c = {.data = &o};
	/* a new leader may change membership only after committing an
	 * entry of its own term (the bootstrap entry is not yet known
	 * committed) */
	assert_int_equal(raft_add(S(f, 0), &c, 4, "s4", change_cb),
			 RAFT_CANTCHANGE);
	assert_true(raft_fixture_step_until_applied(f, 0, 2, 1000));
	assert_int_equal(raft_add(S(f, 0), &c, 4, "s4", change_cb), RAFT_OK);
	assert_true(raft_fixture_step_until(f, pred_change, &o, 3000));
	raft_fixture_isolate(f, 3);
	memset(&o, 0, sizeof(o));
	assert_int_equal(raft_promote(S(f, 0), &c, 4, change_cb), RAFT_OK);
	assert_int_equal(raft_fixture_propose(f, 0, 1), RAFT_OK);
	assert_true(raft_fixture_step_until(f, pred_change, &o, 20000));
	assert_int_equal(o.status, RAFT_NOCONNECTION);
	assert_int_equal(raft_configuration_get(S(f, 0))->servers[3].role,
			 RAFT_LEARNER);
	fx_done(f);
}

/* §5.1-§5.3: the leader snapshots every 20 entries and compacts its log
 * (keeping 5 trailing entries); a follower that missed everything gets
 * the snapshot in 64-byte chunks, then the rest by AppendEntries. */
static void test_snapshot_install(void **state)
{
	(void)state;
	struct raft_fixture_params p = {
		.n = 3, .seed = 5, .staggered = true,
		.snapshot_threshold = 20, .snapshot_trailing = 5,
		.snapshot_chunk = 64, .fsm_pad = 300,
	};
	struct raft_fixture *f = raft_fixture_create(&p);
	assert_non_null(f);
	elect_first(f);
	raft_fixture_isolate(f, 2);
	for (uint64_t v = 1; v <= 60; v++) {
		assert_int_equal(raft_fixture_propose(f, 0, v), RAFT_OK);
		raft_fixture_step_for(f, 5);
	}
	assert_true(raft_fixture_step_until_applied(f, 0, 62, 3000));
	raft_fixture_step_for(f, 100);
	raft_index si = raft_snapshot_index(S(f, 0));
	assert_true(si >= 40);
	assert_int_equal(raft_first_index(S(f, 0)), si - 5 + 1);
	assert_int_equal(raft_fixture_disk_snapshot_index(f, 0), si);
	assert_int_equal(raft_last_index(S(f, 2)), 2); /* bootstrap+no-op */
	uint64_t is0 = raft_fixture_sent(f, 0, RAFT_MSG_INSTALL_SNAPSHOT);
	raft_fixture_heal(f);
	assert_true(raft_fixture_step_until_applied(f, 2, 62, 5000));
	/* 316 bytes in 64-byte chunks: 5 chunks, one at a time */
	assert_int_equal(raft_fixture_sent(f, 0, RAFT_MSG_INSTALL_SNAPSHOT) -
				 is0,
			 5);
	assert_int_equal(raft_snapshot_index(S(f, 2)), si);
	assert_int_equal(raft_fixture_fsm_count(f, 2), 60);
	assert_int_equal(raft_fixture_fsm_hash(f, 2),
			 raft_fixture_fsm_hash(f, 0));
	/* and it keeps replicating normally afterwards */
	assert_int_equal(raft_fixture_propose(f, 0, 61), RAFT_OK);
	assert_true(raft_fixture_step_until_applied(f, -1, 63, 3000));
	fx_done(f);
}

/* §5.3 chunking: a lost chunk is resent from the follower's offset, not
 * from the start: 5 chunks + exactly 1 resend. */
static bool pred_sent_is(struct raft_fixture *f, void *arg)
{
	const uint64_t *want = arg;
	return raft_fixture_sent(f, 0, RAFT_MSG_INSTALL_SNAPSHOT) >= *want;
}

static void test_snapshot_chunk_loss(void **state)
{
	(void)state;
	struct raft_fixture_params p = {
		.n = 3, .seed = 5, .staggered = true,
		.snapshot_threshold = 20, .snapshot_trailing = 5,
		.snapshot_chunk = 64, .fsm_pad = 300,
	};
	struct raft_fixture *f = raft_fixture_create(&p);
	assert_non_null(f);
	elect_first(f);
	raft_fixture_isolate(f, 2);
	for (uint64_t v = 1; v <= 60; v++) {
		assert_int_equal(raft_fixture_propose(f, 0, v), RAFT_OK);
		raft_fixture_step_for(f, 5);
	}
	assert_true(raft_fixture_step_until_applied(f, 0, 62, 3000));
	raft_fixture_step_for(f, 100);
	uint64_t is0 = raft_fixture_sent(f, 0, RAFT_MSG_INSTALL_SNAPSHOT);
	raft_fixture_heal(f);
	uint64_t want = is0 + 3;
	assert_true(raft_fixture_step_until(f, pred_sent_is, &want, 3000));
	/* chunk 3 is on the wire; chunk 4, sent when it is acknowledged,
	 * is lost */
	struct raft_fixture_link drop = {.drop_pct = 100, .delay_min = 10,
					 .delay_max = 10};
	raft_fixture_set_link(f, 0, 2, &drop);
	want = is0 + 4;
	assert_true(raft_fixture_step_until(f, pred_sent_is, &want, 3000));
	raft_fixture_step_for(f, 30);
	struct raft_fixture_link ok = {.delay_min = 10, .delay_max = 10};
	raft_fixture_set_link(f, 0, 2, &ok);
	assert_true(raft_fixture_step_until_applied(f, 2, 62, 5000));
	assert_int_equal(raft_fixture_sent(f, 0, RAFT_MSG_INSTALL_SNAPSHOT) -
				 is0,
			 6);
	assert_int_equal(raft_fixture_fsm_hash(f, 2),
			 raft_fixture_fsm_hash(f, 0));
	fx_done(f);
}

/* A single voter elects itself at its first timeout without messages,
 * commits on its own disk write, and serves ReadIndex without a round. */
static void test_single_node(void **state)
{
	(void)state;
	struct raft_fixture *f = fx_new(1, 1);
	assert_true(step_until_state(f, 0, RAFT_LEADER, 5000));
	assert_int_equal(raft_fixture_time(f), 1000);
	assert_int_equal(raft_current_term(S(f, 0)), 2);
	assert_int_equal(raft_fixture_sent(f, 0, 0), 0);
	assert_int_equal(raft_fixture_propose(f, 0, 9), RAFT_OK);
	assert_true(raft_fixture_step_until_applied(f, 0, 3, 100));
	/* the no-op's write takes 1000-1005; the proposal, queued behind
	 * it (one write in flight), is written 1005-1010 */
	assert_int_equal(raft_fixture_time(f), 1010);
	struct read_out o = {0};
	struct raft_read rd = {.data = &o};
	assert_int_equal(raft_read_index(S(f, 0), &rd, read_cb), RAFT_OK);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.index, 3);
	fx_done(f);
}

/* A crash loses what was not yet durable, and restart reloads the rest. */
static void test_crash_restart(void **state)
{
	(void)state;
	struct raft_fixture *f = fx_new(3, 3);
	elect_first(f);
	for (uint64_t v = 1; v <= 5; v++)
		assert_int_equal(raft_fixture_propose(f, 0, v), RAFT_OK);
	assert_true(raft_fixture_step_until_applied(f, -1, 7, 2000));
	/* propose on a cut-off leader and crash before the 5 ms write
	 * completes: the entry exists nowhere durable */
	raft_fixture_isolate(f, 0);
	assert_int_equal(raft_fixture_propose(f, 0, 6), RAFT_OK);
	assert_int_equal(raft_last_index(S(f, 0)), 8);
	raft_fixture_step_for(f, 1);
	for (unsigned i = 0; i < 3; i++)
		raft_fixture_kill(f, i);
	uint64_t ok, failed;
	raft_fixture_proposals(f, &ok, &failed);
	assert_int_equal(failed, 1); /* RAFT_SHUTDOWN */
	assert_int_equal(raft_fixture_disk_last_index(f, 0), 7);
	raft_fixture_heal(f);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(raft_fixture_revive(f, i), RAFT_OK);
	assert_int_equal(raft_last_index(S(f, 0)), 7);
	assert_true(raft_fixture_step_until_leader(f, 5000));
	assert_true(raft_fixture_step_until_applied(f, -1, 8, 3000));
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(raft_fixture_fsm_count(f, i), 5);
	fx_done(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_election_timing),
		cmocka_unit_test(test_prevote_rejoin),
		cmocka_unit_test(test_check_quorum),
		cmocka_unit_test(test_replication),
		cmocka_unit_test(test_batching),
		cmocka_unit_test(test_figure_3_7),
		cmocka_unit_test(test_read_index),
		cmocka_unit_test(test_transfer),
		cmocka_unit_test(test_membership),
		cmocka_unit_test(test_promote_unreachable),
		cmocka_unit_test(test_snapshot_install),
		cmocka_unit_test(test_snapshot_chunk_loss),
		cmocka_unit_test(test_crash_restart),
		cmocka_unit_test(test_single_node),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
