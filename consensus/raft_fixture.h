/*
 * raft_fixture.h: deterministic simulation of a Raft cluster for tests.
 *
 * N servers run the real core (raft.h) over an in-memory io: a fake clock
 * shared by all, a simulated network with per-link drop, duplication,
 * delay (hence reordering) and partitions, and a simulated disk that
 * distinguishes what is durable from what is queued, so a crash loses
 * exactly the writes that had not completed. Every random choice comes
 * from one seeded PRNG and events are ordered by (time, sequence), so a
 * seed replays the same run bit for bit (STYLE 22).
 *
 * Faults by countdown (STYLE 23): raft_fixture_io_fault() fails the Nth
 * next disk operation of a server, raft_fixture_heap_fault() the Nth next
 * allocation made through the raft heap (the fixture's own bookkeeping uses
 * libc and is never failed).
 *
 * Invariant checks run after every step and record the first violation
 * (see raft_fixture_violation()): Election Safety, Leader Completeness,
 * agreement of committed entries, State Machine Safety (every FSM applies
 * the same command sequence) and, on demand, Log Matching.
 *
 * Server i (0-based) has raft id i + 1 and address "s<i+1>".
 * Threading: single-threaded; the fixture installs a process-wide raft heap
 * for its lifetime, so only one fixture may exist at a time.
 */
#ifndef SLUICE_RAFT_FIXTURE_H
#define SLUICE_RAFT_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "raft.h"

#define RAFT_FIXTURE_MAX 9

struct raft_fixture;

struct raft_fixture_params {
	unsigned n;        /* servers, 1..RAFT_FIXTURE_MAX */
	unsigned n_voters; /* servers 0..n_voters-1 are bootstrapped as
			    * voters; the rest start empty (0 = n) */
	uint64_t seed;
	unsigned election_timeout;  /* ms, 0 = 1000 */
	unsigned heartbeat_timeout; /* ms, 0 = 100 */
	unsigned latency_min;       /* one-way network delay, ms, 0 = 10 */
	unsigned latency_max;       /* 0 = latency_min */
	unsigned disk_latency;      /* ms per write, 0 = 5 */
	unsigned snapshot_threshold;
	unsigned snapshot_trailing;
	unsigned snapshot_chunk;
	unsigned fsm_pad;           /* extra bytes in each FSM snapshot */
	unsigned max_batch;
	unsigned max_inflight;
	bool disable_pre_vote;
	bool disable_check_quorum;
	/* deterministic election timeouts: server i uses T + i*T/10, so
	 * server 0 times out first (see raft_fixture_set_jitter) */
	bool staggered;
};

/* Create, bootstrap and start the cluster. NULL on bad params or OOM. */
struct raft_fixture *raft_fixture_create(const struct raft_fixture_params *p);
/* Free everything (live servers are shut down). Accepts NULL. */
void raft_fixture_free(struct raft_fixture *f);

unsigned raft_fixture_n(const struct raft_fixture *f);
/* The server's instance, NULL while it is dead. Borrowed. */
struct raft *raft_fixture_get(struct raft_fixture *f, unsigned i);
raft_time raft_fixture_time(const struct raft_fixture *f);

/* Process the next event (message delivery, disk completion or timer),
 * advancing the clock to it. false if nothing can ever happen. */
bool raft_fixture_step(struct raft_fixture *f);
/* Process every event due within ms, then set the clock to now + ms. */
void raft_fixture_step_for(struct raft_fixture *f, unsigned ms);
/* Step until pred holds (checked before each step) or max_ms elapsed. */
bool raft_fixture_step_until(struct raft_fixture *f,
			     bool (*pred)(struct raft_fixture *f, void *arg),
			     void *arg, unsigned max_ms);
/* Index of the live leader with the highest term, -1 if none. */
int raft_fixture_leader(struct raft_fixture *f);
/* Step until some server is leader and every live voter it can reach
 * knows it. */
bool raft_fixture_step_until_leader(struct raft_fixture *f, unsigned max_ms);
/* Step until server i (or every live server if i < 0) applied index. */
bool raft_fixture_step_until_applied(struct raft_fixture *f, int i,
				     raft_index index, unsigned max_ms);

/* Propose an 8-byte command on server i; the request is tracked by the
 * fixture. Returns raft_apply()'s result. */
int raft_fixture_propose(struct raft_fixture *f, unsigned i, uint64_t value);
/* Completion counts of fixture proposals: [0] ok, [1] failed. */
void raft_fixture_proposals(const struct raft_fixture *f, uint64_t *ok,
			    uint64_t *failed);

/* Network. Link settings are per direction; disconnect/connect act on
 * both directions. */
struct raft_fixture_link {
	unsigned drop_pct; /* 0..100 */
	unsigned dup_pct;  /* 0..100 */
	unsigned delay_min, delay_max; /* ms */
};
void raft_fixture_set_link(struct raft_fixture *f, unsigned from,
			   unsigned to, const struct raft_fixture_link *l);
void raft_fixture_disconnect(struct raft_fixture *f, unsigned i, unsigned j);
void raft_fixture_connect(struct raft_fixture *f, unsigned i, unsigned j);
bool raft_fixture_connected(const struct raft_fixture *f, unsigned i,
			    unsigned j);
/* Cut every link of i. */
void raft_fixture_isolate(struct raft_fixture *f, unsigned i);
/* Reconnect everything and restore default link settings. */
void raft_fixture_heal(struct raft_fixture *f);
/* Messages of a type sent so far by server i (type 0: all types). */
uint64_t raft_fixture_sent(const struct raft_fixture *f, unsigned i,
			   int type);

/* Crash: the instance is freed, queued (not yet durable) writes are lost,
 * the FSM is wiped. Revive restarts it from its durable disk. */
void raft_fixture_kill(struct raft_fixture *f, unsigned i);
int raft_fixture_revive(struct raft_fixture *f, unsigned i);
bool raft_fixture_alive(const struct raft_fixture *f, unsigned i);

/* Fail the delay-th next disk operation of server i (append,
 * snapshot_put, persist_vote; 1 = the very next), then `repeat` more in a
 * row (repeat < 0: every one from then on). delay == 0 disables. */
void raft_fixture_io_fault(struct raft_fixture *f, unsigned i, int delay,
			   int repeat);
/* The same for allocations through the raft heap (all servers). */
void raft_fixture_heap_fault(struct raft_fixture *f, int delay, int repeat);
/* Allocations through the raft heap not yet freed. */
uint64_t raft_fixture_heap_live(const struct raft_fixture *f);
/* Faults injected so far (heap + io). */
uint64_t raft_fixture_faults_fired(const struct raft_fixture *f);

/* The test FSM: counts commands and chains a hash of their values. */
uint64_t raft_fixture_fsm_count(const struct raft_fixture *f, unsigned i);
uint64_t raft_fixture_fsm_hash(const struct raft_fixture *f, unsigned i);
/* Fix server i's election-timeout jitter: io->random(min, max) returns
 * min + ms (ms < 0 restores the PRNG). Makes election times exact. */
void raft_fixture_set_jitter(struct raft_fixture *f, unsigned i, int ms);
/* io->append() calls made by server i (each is one write + fsync). */
uint64_t raft_fixture_disk_writes(const struct raft_fixture *f, unsigned i);
/* Durable state of server i's simulated disk. */
raft_term raft_fixture_disk_term(const struct raft_fixture *f, unsigned i);
raft_index raft_fixture_disk_last_index(const struct raft_fixture *f,
					unsigned i);
raft_index raft_fixture_disk_snapshot_index(const struct raft_fixture *f,
					    unsigned i);

/* Check Log Matching across all live servers now (also done by
 * raft_fixture_free is NOT implied; call it). Returns false and records
 * a violation on failure. */
bool raft_fixture_check_logs(struct raft_fixture *f);
/* First invariant violation seen, or NULL. */
const char *raft_fixture_violation(const struct raft_fixture *f);

#endif
