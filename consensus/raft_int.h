/*
 * raft_int.h: state shared by the core's files (raft.c, election.c,
 * replication.c, snapshot.c, membership.c). Not installed; the only public
 * header is raft.h.
 *
 * Index invariants (checked by assert in the test build):
 *   snapshot index <= last_applied <= commit_index
 *   last_applied <= last_stored <= last_index   (we never apply what we
 *                                                 have not made durable)
 *   last_stored <= last_issued <= last_index
 */
#ifndef SLUICE_CONSENSUS_RAFT_INT_H
#define SLUICE_CONSENSUS_RAFT_INT_H

#include <stdarg.h>

#include "log.h"
#include "raft.h"

/* Replication mode of one follower as seen by the leader (§10.2.1):
 * PROBE sends one AppendEntries at a time until the match point is found,
 * PIPELINE streams up to max_inflight batches without waiting, SNAPSHOT
 * sends InstallSnapshot chunks one at a time. */
enum progress_mode {
	PROGRESS_PROBE = 0,
	PROGRESS_PIPELINE,
	PROGRESS_SNAPSHOT,
};

#define PROGRESS_MAX_INFLIGHT 16

struct progress {
	raft_id id;
	raft_index next_index;
	raft_index match_index;
	int mode;
	raft_time last_send;
	raft_time last_recv;
	bool recent_active; /* replied since the last check-quorum */
	uint64_t read_ack;  /* highest read_ctx echoed this term */
	uint64_t snap_offset;
	bool snap_waiting; /* a chunk is in flight */
	bool probe_sent;   /* PROBE: an AppendEntries awaits its reply */
	raft_index hb_match; /* match_index at the previous heartbeat */
	/* PIPELINE: last index of each unacknowledged batch, oldest first */
	raft_index inflight[PROGRESS_MAX_INFLIGHT];
	unsigned n_inflight;
};

/* An outstanding io->append(). */
struct append_req {
	struct raft_io_append io;
	struct raft *r;
	struct log_batch batch;
	raft_index first;
	unsigned epoch;
	/* follower: reply to this leader once durable */
	raft_id reply_to;
	raft_term reply_term;
	raft_index reply_index; /* highest index known to match the leader */
	uint64_t read_ctx;
};

/* The snapshot being received from the leader (chunks accumulate). */
struct incoming_snapshot {
	bool active;
	bool installing; /* io->snapshot_put in flight */
	raft_index last_index;
	raft_term last_term;
	raft_term leader_term;
	raft_id leader;
	struct raft_snapshot snap; /* data.len = bytes received */
	size_t cap;
};

struct raft {
	raft_id id;
	char *address;
	struct raft_io *io;
	struct raft_fsm *fsm;
	struct raft_params p;

	/* persistent (§3.8) */
	raft_term term;
	raft_id voted_for;
	struct raft_log log;

	/* volatile */
	int state;
	raft_id leader_id;
	raft_index commit_index;
	raft_index last_applied;
	raft_index last_stored;
	raft_index last_issued;
	unsigned epoch; /* bumped when a write fails: ignore older acks */
	bool closing;
	bool leader_append_busy;

	/* configuration: latest in the log, and its index (§4.1) */
	struct raft_configuration conf;
	raft_index conf_index;
	/* The configuration before the latest one, so that truncating an
	 * uncommitted change (at most one can be uncommitted, §4.1) rolls
	 * back without allocating. Valid when conf_prev_valid. */
	struct raft_configuration conf_prev;
	raft_index conf_prev_index;
	bool conf_prev_valid;
	struct raft_configuration snap_conf;
	raft_index snap_conf_index;

	/* timers */
	raft_time election_start;    /* last reset (contact or vote) */
	unsigned election_rand;      /* randomized timeout, ms */
	raft_time last_leader_contact;
	raft_time heartbeat_due;
	raft_time quorum_check_due;

	/* candidate */
	bool pre_vote;
	bool disrupt_leader;
	raft_id *votes; /* ids that granted, sized conf.n */
	unsigned n_votes;

	/* leader */
	struct progress *progress; /* parallel to conf.servers */
	unsigned n_progress;
	raft_index term_start_index; /* the no-op appended at election */
	struct raft_apply *applies_head, *applies_tail;
	struct raft_read *reads_head, *reads_tail;
	uint64_t read_ctx;
	struct raft_change *change;
	struct raft_transfer *transfer;
	bool transfer_sent;
	struct raft_snapshot *snap_out; /* loaded for InstallSnapshot */
	bool snap_loading;

	/* snapshots */
	bool snap_taking;
	struct incoming_snapshot in;

	/* counters for tests and metrics */
	uint64_t n_snapshots_taken;

	char errmsg[RAFT_ERRMSG_SIZE];
};

/* raft.c */
void raft_errorf(struct raft *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void raft_wrap_io_error(struct raft *r, const char *what);
const struct raft_server *raft_conf_get(const struct raft_configuration *c,
					raft_id id);
bool raft_is_voter(const struct raft_configuration *c, raft_id id);
unsigned raft_n_voters(const struct raft_configuration *c);
int raft_persist_vote(struct raft *r, raft_term term, raft_id vote);
void raft_convert_to_follower(struct raft *r);
void raft_reset_election_timer(struct raft *r);
int raft_send(struct raft *r, const struct raft_message *msg,
	      struct log_batch *batch);
int raft_append_local(struct raft *r, raft_term term, int type,
		      struct raft_buffer *buf);
int raft_issue_append(struct raft *r, raft_index first, unsigned n,
		      raft_id reply_to, raft_index reply_index,
		      uint64_t read_ctx);
void raft_truncate_suffix(struct raft *r, raft_index index);
void raft_apply_committed(struct raft *r);
void raft_conf_rebuild(struct raft *r);
int raft_conf_at(struct raft *r, raft_index index,
		 struct raft_configuration *out, raft_index *out_index);
/* Make c (moved in) the latest configuration, set by the entry at index. */
void raft_conf_install(struct raft *r, raft_index index,
		       struct raft_configuration *c);
void raft_fail_leader_requests(struct raft *r, int status);
void raft_append_failed(struct raft *r, int status);
void raft_leader_flush(struct raft *r);
int raft_observe_term(struct raft *r, raft_term term);
void raft_mark_broken(struct raft *r, const char *why);
raft_time raft_now(struct raft *r);

/* election.c */
int election_start(struct raft *r, bool pre_vote);
int election_recv_request_vote(struct raft *r, const struct raft_message *m);
int election_recv_result(struct raft *r, const struct raft_message *m);
int election_recv_timeout_now(struct raft *r, const struct raft_message *m);
void election_become_leader(struct raft *r);

/* replication.c */
int replication_progress_rebuild(struct raft *r);
struct progress *replication_progress(struct raft *r, raft_id id);
void replication_send(struct raft *r, struct progress *p, bool heartbeat);
void replication_broadcast(struct raft *r, bool heartbeat);
void replication_heartbeat_tick(struct raft *r);
void replication_maybe_commit(struct raft *r);
int replication_recv_append(struct raft *r, const struct raft_message *m);
int replication_recv_append_result(struct raft *r,
				   const struct raft_message *m);
void replication_reads_progress(struct raft *r);
void replication_send_append_result(struct raft *r, raft_id to,
				    bool rejected, raft_index index,
				    uint64_t read_ctx);

/* snapshot.c */
void snapshot_maybe_take(struct raft *r);
void snapshot_send(struct raft *r, struct progress *p);
int snapshot_recv(struct raft *r, const struct raft_message *m);
int snapshot_recv_result(struct raft *r, const struct raft_message *m);
void snapshot_release_out(struct raft *r);
void snapshot_incoming_reset(struct raft *r);

/* membership.c */
void membership_tick(struct raft *r);
void membership_on_commit(struct raft *r);
void membership_on_progress(struct raft *r, struct progress *p);
void membership_transfer_tick(struct raft *r);
void membership_transfer_on_progress(struct raft *r, struct progress *p);

#endif
