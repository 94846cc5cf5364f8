/*
 * Countdown fault injection (STYLE 23) for the Raft core.
 *
 * For each phase (start-up, election, replication, snapshot and its
 * chunked installation) and each fault kind (allocation through the raft
 * heap, disk operation on every server), and for N = 1, 2, ...: fail the
 * Nth call once (transient) or from the Nth call on (persistent), run the
 * phase, lift the fault, and require
 *   - API calls made during the phase to fail cleanly (RAFT_OK or the
 *     injected error, never anything else),
 *   - no invariant violation at any point,
 *   - a consistent, live cluster afterwards: a leader, a new entry applied
 *     by every server, identical FSMs, matching logs,
 *   - no allocation left behind once the servers are shut down (counted by
 *     the fixture heap, and by ASan in the sanitizer build).
 * N takes every value from 1 until the first N whose fault never fires:
 * the phase then made fewer than N calls, so every call was failed once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "raft_fixture.h"

enum phase {
	PHASE_START,
	PHASE_ELECTION,
	PHASE_REPLICATION,
	PHASE_SNAPSHOT,
};

enum kind {
	KIND_HEAP,
	KIND_IO,
};

static struct raft_fixture *make(enum phase ph)
{
	struct raft_fixture_params p = {
		.n = 3, .seed = 11, .staggered = true,
		.snapshot_threshold = ph == PHASE_SNAPSHOT ? 6 : 0,
		.snapshot_trailing = 2, .snapshot_chunk = 32, .fsm_pad = 100,
	};
	struct raft_fixture *f = raft_fixture_create(&p);
	assert_non_null(f);
	return f;
}

static void arm(struct raft_fixture *f, enum kind k, int n, bool persistent)
{
	int repeat = persistent ? -1 : 0;
	if (k == KIND_HEAP) {
		raft_fixture_heap_fault(f, n, repeat);
		return;
	}
	for (unsigned i = 0; i < raft_fixture_n(f); i++)
		raft_fixture_io_fault(f, i, n, repeat);
}

static void disarm(struct raft_fixture *f)
{
	raft_fixture_heap_fault(f, 0, 0);
	for (unsigned i = 0; i < raft_fixture_n(f); i++)
		raft_fixture_io_fault(f, i, 0, 0);
}

static void propose_some(struct raft_fixture *f, unsigned count,
			 uint64_t base)
{
	for (unsigned v = 0; v < count; v++) {
		int l = raft_fixture_leader(f);
		if (l < 0)
			return;
		int rv = raft_fixture_propose(f, (unsigned)l, base + v);
		/* a clean error: the injected one, nothing else */
		assert_true(rv == RAFT_OK || rv == RAFT_NOMEM ||
			    rv == RAFT_IOERR);
		raft_fixture_step_for(f, 3);
	}
}

/* The phase itself, run with the fault armed. */
static void run_phase(struct raft_fixture *f, enum phase ph)
{
	switch (ph) {
	case PHASE_START:
		raft_fixture_kill(f, 1);
		raft_fixture_kill(f, 2);
		for (unsigned i = 1; i < 3; i++) {
			int rv = raft_fixture_revive(f, i);
			assert_true(rv == RAFT_OK || rv == RAFT_NOMEM);
			assert_true(raft_fixture_alive(f, i) == (rv == RAFT_OK));
		}
		raft_fixture_step_for(f, 300);
		break;
	case PHASE_ELECTION:
		raft_fixture_step_for(f, 2500);
		break;
	case PHASE_REPLICATION:
		propose_some(f, 6, 100);
		raft_fixture_step_for(f, 400);
		break;
	case PHASE_SNAPSHOT:
		/* server 3 is behind a snapshot: takes snapshots, loads it,
		 * sends chunks, installs */
		raft_fixture_heal(f);
		propose_some(f, 8, 200);
		raft_fixture_step_for(f, 1500);
		break;
	}
}

/* Bring the cluster to the start of the phase, fault-free. */
static void prepare(struct raft_fixture *f, enum phase ph)
{
	if (ph == PHASE_ELECTION)
		return;
	assert_true(raft_fixture_step_until_leader(f, 5000));
	int l = raft_fixture_leader(f);
	assert_true(raft_fixture_step_until_applied(f, l, 2, 1000));
	if (ph == PHASE_SNAPSHOT) {
		raft_fixture_isolate(f, 2);
		propose_some(f, 14, 1);
		assert_true(raft_fixture_step_until_applied(f, l, 16, 2000));
		raft_fixture_step_for(f, 200);
		assert_true(raft_snapshot_index(raft_fixture_get(
				    f, (unsigned)l)) > 0);
	}
}

static void recover_and_check(struct raft_fixture *f)
{
	unsigned n = raft_fixture_n(f);
	raft_fixture_heal(f);
	for (unsigned i = 0; i < n; i++) {
		struct raft *r = raft_fixture_get(f, i);
		if (r != NULL && raft_state(r) == RAFT_UNAVAILABLE)
			raft_fixture_kill(f, i);
		assert_int_equal(raft_fixture_revive(f, i), RAFT_OK);
	}
	assert_true(raft_fixture_step_until_leader(f, 30000));
	int l = raft_fixture_leader(f);
	assert_int_equal(raft_fixture_propose(f, (unsigned)l, 999), RAFT_OK);
	raft_index idx = raft_last_index(raft_fixture_get(f, (unsigned)l));
	assert_true(raft_fixture_step_until_applied(f, -1, idx, 30000));
	for (unsigned i = 1; i < n; i++) {
		assert_int_equal(raft_fixture_fsm_count(f, i),
				 raft_fixture_fsm_count(f, 0));
		assert_int_equal(raft_fixture_fsm_hash(f, i),
				 raft_fixture_fsm_hash(f, 0));
	}
	assert_true(raft_fixture_check_logs(f));
	assert_null(raft_fixture_violation(f));
	for (unsigned i = 0; i < n; i++)
		raft_fixture_kill(f, i);
	assert_int_equal(raft_fixture_heap_live(f), 0);
}

/* Returns the number of N values whose fault fired. */
static unsigned sweep(enum phase ph, enum kind k, bool persistent)
{
	unsigned fired_runs = 0;
	int n = 1;
	for (;;) {
		struct raft_fixture *f = make(ph);
		prepare(f, ph);
		uint64_t before = raft_fixture_faults_fired(f);
		arm(f, k, n, persistent);
		run_phase(f, ph);
		bool fired = raft_fixture_faults_fired(f) > before;
		disarm(f);
		assert_null(raft_fixture_violation(f));
		recover_and_check(f);
		raft_fixture_free(f);
		if (!fired)
			break;
		fired_runs++;
		n++;
		assert_true(n < 100000); /* the phase is bounded */
	}
	return fired_runs;
}

static void check_sweep(enum phase ph, enum kind k)
{
	unsigned t = sweep(ph, k, false);
	unsigned p = sweep(ph, k, true);
	printf("  phase %d %s: %u transient, %u persistent fault points\n",
	       ph, k == KIND_HEAP ? "heap" : "io", t, p);
	assert_true(t > 0);
	assert_true(p > 0);
}

static void test_start_heap(void **s)
{
	(void)s;
	check_sweep(PHASE_START, KIND_HEAP);
}
static void test_election_heap(void **s)
{
	(void)s;
	check_sweep(PHASE_ELECTION, KIND_HEAP);
}
static void test_election_io(void **s)
{
	(void)s;
	check_sweep(PHASE_ELECTION, KIND_IO);
}
static void test_replication_heap(void **s)
{
	(void)s;
	check_sweep(PHASE_REPLICATION, KIND_HEAP);
}
static void test_replication_io(void **s)
{
	(void)s;
	check_sweep(PHASE_REPLICATION, KIND_IO);
}
static void test_snapshot_heap(void **s)
{
	(void)s;
	check_sweep(PHASE_SNAPSHOT, KIND_HEAP);
}
static void test_snapshot_io(void **s)
{
	(void)s;
	check_sweep(PHASE_SNAPSHOT, KIND_IO);
}

/* A persistent append failure on the leader: it steps down (it may not
 * reuse the indexes it already sent, §3.5), fails its pending proposals
 * with a clean error, and the others carry on. */
static void test_leader_disk_failure(void **s)
{
	(void)s;
	struct raft_fixture *f = make(PHASE_REPLICATION);
	prepare(f, PHASE_REPLICATION);
	int l = raft_fixture_leader(f);
	raft_fixture_io_fault(f, (unsigned)l, 1, -1);
	assert_int_equal(raft_fixture_propose(f, (unsigned)l, 5), RAFT_OK);
	raft_fixture_step_for(f, 50);
	struct raft *r = raft_fixture_get(f, (unsigned)l);
	assert_int_equal(raft_state(r), RAFT_FOLLOWER);
	assert_non_null(strstr(raft_errmsg(r), "injected fault"));
	uint64_t ok, failed;
	raft_fixture_proposals(f, &ok, &failed);
	assert_int_equal(ok + failed, 1);
	/* with a dead disk it cannot even adopt a new term (§3.8), so it
	 * sits out; the other two elect a leader among themselves */
	raft_fixture_kill(f, (unsigned)l);
	assert_true(raft_fixture_step_until_leader(f, 10000));
	assert_true(raft_fixture_leader(f) != l);
	disarm(f);
	recover_and_check(f);
	raft_fixture_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_heap),
		cmocka_unit_test(test_election_heap),
		cmocka_unit_test(test_election_io),
		cmocka_unit_test(test_replication_heap),
		cmocka_unit_test(test_replication_io),
		cmocka_unit_test(test_snapshot_heap),
		cmocka_unit_test(test_snapshot_io),
		cmocka_unit_test(test_leader_disk_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
