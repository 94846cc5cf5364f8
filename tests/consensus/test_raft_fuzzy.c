/*
 * Randomized Raft runs on the deterministic fixture (STYLE 22).
 *
 * Each seed builds a 3- or 5-server cluster with random timing parameters
 * and then plays a random schedule of proposals, ReadIndex reads,
 * leadership transfers, learner add/promote/remove, partitions, lossy /
 * duplicating / slow links, crashes, restarts, disk faults and allocation
 * failures.
 * After every simulated event the fixture checks Election Safety, Leader
 * Completeness, agreement on committed entries and State Machine Safety;
 * Log Matching is checked after every round. At the end the network heals,
 * everyone restarts, and liveness is required: a leader must emerge and a
 * new proposal must be applied by every member within 30 s of fake time
 * (FSM agreement is checked by the fixture at every apply); in half the
 * runs one
 * server is then crashed and the remaining quorum must still elect a
 * leader and commit.
 *
 * Seeds: SLUICE_RAFT_SEEDS=N runs seeds 1..N (default 1000, the CI bound);
 * SLUICE_RAFT_SEED=S runs only seed S (a failing seed prints this line).
 * SLUICE_RAFT_SEED_BASE=B shifts the range, for soak runs in parallel.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raft_fixture.h"

struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *g)
{
	/* xorshift64*: independent from the fixture's own stream */
	g->s ^= g->s >> 12;
	g->s ^= g->s << 25;
	g->s ^= g->s >> 27;
	return g->s * 2685821657736338717ULL;
}

static unsigned rng_range(struct rng *g, unsigned lo, unsigned hi)
{
	return lo + (unsigned)(rng_next(g) % (hi - lo + 1));
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);
	if (v == NULL || *v == '\0')
		return def;
	return strtoull(v, NULL, 10);
}

static char fail_why[300];

static bool seed_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool seed_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(fail_why, sizeof(fail_why), fmt, ap);
	va_end(ap);
	return false;
}

struct stats {
	uint64_t proposals, kills, partitions, faults, elections;
	uint64_t reads_ok, transfers_ok, changes_ok;
};

static struct stats *cur_stats;
static uint64_t last_digest;
static bool read_violation;

/* ReadIndex must observe every write committed before the read started
 * (§6.4): floor is the highest commit index any server knew at the call. */
struct fz_read {
	struct raft_read req;
	raft_index floor;
};

static void fz_read_cb(struct raft_read *req, int status, raft_index index)
{
	struct fz_read *rd = req->data;
	if (status == RAFT_OK) {
		if (index < rd->floor)
			read_violation = true;
		cur_stats->reads_ok++;
	}
	free(rd);
}

static void fz_transfer_cb(struct raft_transfer *req, int status)
{
	if (status == RAFT_OK)
		cur_stats->transfers_ok++;
	free(req);
}

static void fz_change_cb(struct raft_change *req, int status)
{
	if (status == RAFT_OK)
		cur_stats->changes_ok++;
	free(req);
}

static raft_index max_commit(struct raft_fixture *f)
{
	raft_index m = 0;
	for (unsigned i = 0; i < raft_fixture_n(f); i++) {
		struct raft *r = raft_fixture_get(f, i);
		if (r != NULL && raft_commit_index(r) > m)
			m = raft_commit_index(r);
	}
	return m;
}

/* Membership churn on the last server: add as learner, promote, remove. */
static void fz_change(struct raft_fixture *f, unsigned leader, unsigned n)
{
	struct raft *r = raft_fixture_get(f, leader);
	const struct raft_configuration *c = raft_configuration_get(r);
	raft_id id = n; /* server n-1 */
	int role = 0;
	for (unsigned i = 0; i < c->n; i++)
		if (c->servers[i].id == id)
			role = c->servers[i].role;
	struct raft_change *req = calloc(1, sizeof(*req));
	assert_non_null(req);
	int rv;
	if (role == 0) {
		char addr[16];
		snprintf(addr, sizeof(addr), "s%u", n);
		rv = raft_add(r, req, id, addr, fz_change_cb);
	} else if (role == RAFT_LEARNER) {
		rv = raft_promote(r, req, id, fz_change_cb);
	} else {
		rv = raft_remove(r, req, id, fz_change_cb);
	}
	if (rv != RAFT_OK)
		free(req);
}

struct props_arg {
	uint64_t ok0, fail0;
};

static bool pred_props(struct raft_fixture *f, void *arg)
{
	struct props_arg *a = arg;
	uint64_t ok, failed;
	raft_fixture_proposals(f, &ok, &failed);
	return ok > a->ok0 || failed > a->fail0;
}

/* On failure with SLUICE_RAFT_SEED set, show every server's state. */
static void dump(struct raft_fixture *f)
{
	for (unsigned i = 0; i < raft_fixture_n(f); i++) {
		struct raft *r = raft_fixture_get(f, i);
		if (r == NULL) {
			fprintf(stderr, "  s%u dead\n", i);
			continue;
		}
		const struct raft_configuration *c = raft_configuration_get(r);
		fprintf(stderr,
			"  s%u state %d term %llu leader %llu first %llu last "
			"%llu commit %llu applied %llu snap %llu disk %llu "
			"conf",
			i, raft_state(r),
			(unsigned long long)raft_current_term(r),
			(unsigned long long)raft_leader(r, NULL),
			(unsigned long long)raft_first_index(r),
			(unsigned long long)raft_last_index(r),
			(unsigned long long)raft_commit_index(r),
			(unsigned long long)raft_last_applied(r),
			(unsigned long long)raft_snapshot_index(r),
			(unsigned long long)raft_fixture_disk_last_index(f, i));
		for (unsigned k = 0; k < c->n; k++)
			fprintf(stderr, " %llu%s",
				(unsigned long long)c->servers[k].id,
				c->servers[k].role == RAFT_VOTER ? "v" : "l");
		fprintf(stderr, " err '%s'\n", raft_errmsg(r));
	}
}

static bool run_seed(uint64_t seed, struct stats *st)
{
	struct rng g = {seed * 0x9e3779b97f4a7c15ULL + 1};
	unsigned n = rng_range(&g, 0, 1) ? 5 : 3;
	/* half the 5-server runs start with server 5 outside the cluster */
	unsigned voters = n == 5 && rng_range(&g, 0, 1) ? 4 : n;
	struct raft_fixture_params p = {
		.n = n,
		.n_voters = voters,
		.seed = seed,
		.latency_min = rng_range(&g, 1, 10),
		.latency_max = rng_range(&g, 10, 60),
		/* a quarter of the runs get disks slower than heartbeats,
		 * so writes overlap role changes and snapshot installs */
		.disk_latency = rng_range(&g, 0, 3) ? rng_range(&g, 1, 20)
						    : rng_range(&g, 50, 400),
		.election_timeout = rng_range(&g, 0, 1) ? 1000
						       : rng_range(&g, 300, 999),
		.snapshot_threshold = rng_range(&g, 8, 64),
		.snapshot_trailing = rng_range(&g, 1, 8),
		.snapshot_chunk = rng_range(&g, 16, 128),
		.fsm_pad = rng_range(&g, 0, 300),
		.max_batch = rng_range(&g, 1, 16),
		.max_inflight = rng_range(&g, 1, 4),
	};
	struct raft_fixture *f = raft_fixture_create(&p);
	if (f == NULL)
		return seed_fail("fixture create failed");
	uint64_t value = seed << 20;
	bool ok = true;
	read_violation = false;
	cur_stats = st;
	unsigned rounds = rng_range(&g, 20, 40);
	for (unsigned round = 0; round < rounds && ok; round++) {
		unsigned action = rng_range(&g, 0, 99);
		unsigned a = rng_range(&g, 0, n - 1);
		unsigned b = rng_range(&g, 0, n - 1);
		int lead = raft_fixture_leader(f);
		if (action < 12 && lead >= 0) {
			struct raft *lr = raft_fixture_get(f, (unsigned)lead);
			unsigned what = rng_range(&g, 0, 9);
			if (what < 6) {
				struct fz_read *rd = calloc(1, sizeof(*rd));
				assert_non_null(rd);
				rd->req.data = rd;
				rd->floor = max_commit(f);
				if (raft_read_index(lr, &rd->req, fz_read_cb) !=
				    RAFT_OK)
					free(rd);
			} else if (what < 8) {
				struct raft_transfer *t = calloc(1, sizeof(*t));
				assert_non_null(t);
				if (raft_transfer(lr, t, 0, fz_transfer_cb) !=
				    RAFT_OK)
					free(t);
			} else if (n == 5) {
				fz_change(f, (unsigned)lead, n);
			}
		} else if (action < 40) {
			int l = raft_fixture_leader(f);
			unsigned k = rng_range(&g, 1, 8);
			for (unsigned i = 0; i < k && l >= 0; i++) {
				if (raft_fixture_propose(f, (unsigned)l,
							 value++) == RAFT_OK)
					st->proposals++;
			}
		} else if (action < 50) {
			raft_fixture_isolate(f, a);
			st->partitions++;
		} else if (action < 58) {
			if (a != b)
				raft_fixture_disconnect(f, a, b);
			st->partitions++;
		} else if (action < 70) {
			raft_fixture_heal(f);
		} else if (action < 78) {
			struct raft_fixture_link l = {
				.drop_pct = rng_range(&g, 0, 40),
				.dup_pct = rng_range(&g, 0, 30),
				.delay_min = rng_range(&g, 1, 20),
				.delay_max = rng_range(&g, 20, 400),
			};
			if (a != b)
				raft_fixture_set_link(f, a, b, &l);
		} else if (action < 86) {
			raft_fixture_kill(f, a);
			st->kills++;
		} else if (action < 94) {
			(void)raft_fixture_revive(f, a);
		} else if (action < 97) {
			raft_fixture_io_fault(f, a, (int)rng_range(&g, 1, 6),
					      (int)rng_range(&g, 0, 2));
			st->faults++;
		} else {
			/* transient allocation failures anywhere */
			raft_fixture_heap_fault(f, (int)rng_range(&g, 1, 200),
						(int)rng_range(&g, 0, 3));
			st->faults++;
		}
		raft_fixture_step_for(f, rng_range(&g, 50, 1500));
		if (read_violation)
			ok = seed_fail("round %u: stale ReadIndex", round);
		else if (raft_fixture_violation(f) != NULL ||
		    !raft_fixture_check_logs(f))
			ok = seed_fail("round %u: %s", round,
				  raft_fixture_violation(f));
	}
	if (ok) {
		/* liveness once a quorum (here: everyone) is stable */
		raft_fixture_heal(f);
		raft_fixture_heap_fault(f, 0, 0);
		for (unsigned i = 0; i < n; i++) {
			raft_fixture_io_fault(f, i, 0, 0);
			struct raft *r = raft_fixture_get(f, i);
			if (r != NULL && raft_state(r) == RAFT_UNAVAILABLE)
				raft_fixture_kill(f, i);
			if (raft_fixture_revive(f, i) != RAFT_OK)
				ok = seed_fail("revive %u failed", i);
		}
	}
	if (ok && !raft_fixture_step_until_leader(f, 30000))
		ok = seed_fail("no leader within 30 s of a healed cluster");
	if (ok && rng_range(&g, 0, 1)) {
		/* liveness with a minority down: one server may crash as
		 * long as any single-server change in flight keeps a quorum
		 * alive in both configurations (3 fixed voters, or >= 4) */
		int l = raft_fixture_leader(f);
		const struct raft_configuration *c = raft_configuration_get(
			raft_fixture_get(f, (unsigned)l));
		unsigned nv = 0;
		for (unsigned k = 0; k < c->n; k++)
			nv += c->servers[k].role == RAFT_VOTER;
		if (n == 3 || nv >= 4) {
			raft_fixture_kill(f, rng_range(&g, 0, n - 1));
			st->kills++;
			if (!raft_fixture_step_until_leader(f, 30000))
				ok = seed_fail("no leader with one server "
					       "down");
		}
	}
	raft_index idx = 0;
	for (unsigned tries = 0; ok && idx == 0 && tries < 20; tries++) {
		/* A proposal is retried when refused (RAFT_BUSY during a
		 * transfer, leadership moved) or lost (its leader stepped
		 * down before committing it); both are legitimate. */
		if (!raft_fixture_step_until_leader(f, 30000)) {
			ok = seed_fail("no leader at the final proposal");
			break;
		}
		int l = raft_fixture_leader(f);
		uint64_t ok0, fail0, ok1, fail1;
		raft_fixture_proposals(f, &ok0, &fail0);
		if (raft_fixture_propose(f, (unsigned)l, value++) != RAFT_OK) {
			raft_fixture_step_for(f, 100);
			continue;
		}
		struct props_arg pa = {ok0, fail0};
		(void)raft_fixture_step_until(f, pred_props, &pa, 30000);
		raft_fixture_proposals(f, &ok1, &fail1);
		if (ok1 > ok0) {
			struct raft *lr = raft_fixture_get(f, (unsigned)l);
			idx = lr != NULL ? raft_last_applied(lr) : 0;
			if (lr != NULL)
				st->elections += raft_current_term(lr);
		}
	}
	if (ok && idx == 0)
		ok = seed_fail("no final proposal committed in 20 tries");
	if (ok) {
		int l = raft_fixture_leader(f);
		if (l < 0 && !raft_fixture_step_until_leader(f, 30000))
			ok = seed_fail("leader lost after the final proposal");
		l = raft_fixture_leader(f);
		const struct raft_configuration *c =
			ok ? raft_configuration_get(
				     raft_fixture_get(f, (unsigned)l))
			   : NULL;
		for (unsigned k = 0; c != NULL && k < c->n && ok; k++) {
			int i = (int)c->servers[k].id - 1;
			if (!raft_fixture_step_until_applied(f, i, idx, 30000))
				ok = seed_fail("final entry %llu not applied "
					       "on %d",
					       (unsigned long long)idx, i);
		}
	}
	/* Every member applied the final entry; that they applied the same
	 * commands is State Machine Safety, which the fixture checks at every
	 * apply (the k-th command's chained hash must agree everywhere). */
	if (ok && (raft_fixture_violation(f) != NULL ||
		   !raft_fixture_check_logs(f)))
		ok = seed_fail("end: %s", raft_fixture_violation(f));
	if (ok) {
		for (unsigned i = 0; i < n; i++)
			raft_fixture_kill(f, i);
		if (raft_fixture_heap_live(f) != 0)
			ok = seed_fail("%llu allocations leaked",
				  (unsigned long long)raft_fixture_heap_live(f));
	}
	if (!ok && getenv("SLUICE_RAFT_SEED") != NULL)
		dump(f);
	/* digest of the run, for the determinism test */
	last_digest = raft_fixture_time(f);
	for (unsigned i = 0; i < n; i++) {
		last_digest = last_digest * 31 + raft_fixture_sent(f, i, 0);
		last_digest = last_digest * 31 + raft_fixture_fsm_hash(f, i);
		last_digest = last_digest * 31 + raft_fixture_disk_term(f, i);
	}
	raft_fixture_free(f);
	return ok;
}

static void test_fuzzy(void **state)
{
	(void)state;
	uint64_t only = env_u64("SLUICE_RAFT_SEED", 0);
	uint64_t count = env_u64("SLUICE_RAFT_SEEDS", 1000);
	uint64_t base = env_u64("SLUICE_RAFT_SEED_BASE", 0);
	uint64_t first = only ? only : base + 1;
	uint64_t last = only ? only : base + count;
	struct stats st = {0};
	unsigned failures = 0;
	for (uint64_t seed = first; seed <= last; seed++) {
		if (!run_seed(seed, &st)) {
			failures++;
			fprintf(stderr,
				"raft fuzzy: seed %llu failed: %s\n"
				"  rerun: SLUICE_RAFT_SEED=%llu %s\n",
				(unsigned long long)seed, fail_why,
				(unsigned long long)seed,
				"tests/consensus/test_raft_fuzzy");
		}
	}
	printf("raft fuzzy: %llu seeds, %u failed; %llu proposals, %llu "
	       "crashes, %llu partitions, %llu disk faults, %llu terms "
	       "(sum over final leaders), %llu reads, %llu transfers, %llu "
	       "membership changes completed\n",
	       (unsigned long long)(last - first + 1), failures,
	       (unsigned long long)st.proposals,
	       (unsigned long long)st.kills,
	       (unsigned long long)st.partitions,
	       (unsigned long long)st.faults,
	       (unsigned long long)st.elections,
	       (unsigned long long)st.reads_ok,
	       (unsigned long long)st.transfers_ok,
	       (unsigned long long)st.changes_ok);
	assert_int_equal(failures, 0);
}

/* The same seed replays the same run: time, messages, FSMs and terms. */
static void test_deterministic(void **state)
{
	(void)state;
	struct stats st = {0};
	for (uint64_t seed = 1; seed <= 20; seed++) {
		run_seed(seed, &st);
		uint64_t a = last_digest;
		run_seed(seed, &st);
		assert_int_equal(a, last_digest);
		run_seed(seed + 1000, &st);
		assert_int_not_equal(a, last_digest);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_fuzzy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
