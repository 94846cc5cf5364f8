/*
 * master: one sluice-ctrl --role=master process core: a Raft member
 * (consensus/raft.h over raft_io_posix: disk log + authenticated nanomsg
 * transport) whose state machine is the replicated store (store_raft.h),
 * all driven by ONE libevent event_base that also runs the HTTPS server.
 *
 * Single thread: Raft, the store, the HTTP handlers and the store watch
 * callbacks all run on the loop thread, so a handler may read the store
 * directly and a watch callback may write to an HTTP stream. Only
 * master_is_leader_atomic() may be called from other threads (orch).
 *
 * Writes: master_propose() encodes a store command and appends it to the
 * Raft log (leader only). Proposals made in the same loop iteration share
 * one disk write + fdatasync and one AppendEntries (raft batches
 * consecutive proposals; raft_io_posix batches the disk work).
 *
 * Reads: master_read(linearizable=true) runs ReadIndex (§6.4): the callback
 * gets the store once the leader has confirmed its leadership with a quorum
 * and applied up to the read index. Reads arriving while a ReadIndex round
 * is in flight wait for the next round (joining the current one could miss
 * a write acknowledged after the round's index was taken), so one round
 * serves every read queued during the previous one. Serializable reads use
 * the local store as it is (any member, possibly stale).
 *
 * Lifetime of requests (STYLE 8): caller-allocated structs, untouched until
 * their callback runs; the callback runs exactly once, never inside the
 * call that started the request, always on the loop thread.
 *
 * Errors (STYLE 9): enum master_err; master_strerror(); errmsg buffers
 * carry one line naming the field or the cause.
 */
#ifndef SLUICE_CTRL_MASTER_H
#define SLUICE_CTRL_MASTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft.h"
#include "store.h"
#include "store_cmd.h"

struct event_base;

#define MASTER_ERRMSG_SIZE 256
#define MASTER_MAX_MEMBERS 9
#define MASTER_NAME_MAX 64
#define MASTER_URL_MAX 256

#define MASTER_ERRORS(X)                                                       \
	X(OK, "ok")                                                            \
	X(NOTLEADER, "not the leader")                                         \
	X(NOLEADER, "no leader")                                               \
	X(LEADERSHIP_LOST, "leadership lost before the request completed")     \
	X(SHUTDOWN, "master shutting down")                                    \
	X(BUSY, "leadership transfer in progress")                             \
	X(INVAL, "invalid argument")                                           \
	X(NOMEM, "out of memory")                                              \
	X(IO, "storage or transport failure")

enum master_err {
#define MASTER_ERR_ENUM(name, str) MASTER_ERR_##name,
	MASTER_ERRORS(MASTER_ERR_ENUM)
#undef MASTER_ERR_ENUM
};
#define MASTER_OK MASTER_ERR_OK

/* Static name of an enum master_err; never NULL. Any thread. */
const char *master_strerror(int err);

/* One member of the cluster. */
struct master_member {
	raft_id id;
	char name[MASTER_NAME_MAX];
	char peer_url[MASTER_URL_MAX]; /* nanomsg URL, tcp://host:port */
	char api_url[MASTER_URL_MAX];  /* https://host:port */
};

struct master_params {
	/* required; borrowed. Raft's events get priority 0: give the base 2
	 * priorities (event_base_priority_init) so that HTTP, at the default
	 * priority 1, runs only when Raft has nothing to do. */
	struct event_base *base;
	const char *name;         /* required: this member's name */
	const char *data_dir;     /* required: raft log + snapshots */
	const char *peer_listen;  /* nanomsg bind URL; NULL = own peer_url */
	const void *peer_key;     /* cluster HMAC key (pki peer.key) */
	size_t peer_key_len;
	/* Static bootstrap list (--members); must contain name. Used to
	 * bootstrap an empty data dir (every member of a new cluster passes
	 * the same list) and to learn the other members' API URLs. With
	 * join=true the data dir starts empty and the leader adds us. */
	const struct master_member *members;
	size_t n_members;
	bool join;
	unsigned election_timeout_ms; /* 0 = 1000 */
	unsigned heartbeat_ms;        /* 0 = 100 */
	uint64_t quota_bytes;         /* store quota; 0 = 2 GiB (etcd) */
	unsigned snapshot_threshold;  /* entries between snapshots; 0 = 10000 */
	/* Log lines; NULL = stderr. Called on the loop thread, and from the
	 * raft disk thread for disk messages: must be thread-safe. */
	void (*log)(void *data, const char *line);
	void *log_data;
};

struct master; /* opaque */

/*
 * Open the data dir (bootstrapping it from members if empty and !join),
 * start Raft and register its fds and timers on base. NULL with errmsg on
 * error (names the flag, the file or the URL). Loop thread.
 */
struct master *master_create(const struct master_params *p, char *errmsg,
			     size_t errlen);

/* Stop Raft (pending requests fail with MASTER_ERR_SHUTDOWN, their
 * callbacks run inside this call), flush the disk, free. Accepts NULL.
 * Loop thread. Free the HTTP server after this, so the callbacks can still
 * answer their requests. */
void master_free(struct master *m);

/* ------------------------------------------------------------- writes */

struct master_propose;
/*
 * status: MASTER_OK once the command is committed and applied locally
 * (res is the store's outcome, borrowed for the call: copy what you keep;
 * res->err may still be a store error such as STORE_ERR_NOSPACE), or
 * MASTER_ERR_LEADERSHIP_LOST / SHUTDOWN / IO with res == NULL (the command
 * may or may not have been committed: etcd's "request timed out" case).
 */
typedef void (*master_propose_cb)(struct master_propose *req, int status,
				  const struct store_result *res);
struct master_propose {
	void *data;
	master_propose_cb cb;
	/* private */
	struct raft_apply apply_;
	struct master *m_;
};

/*
 * Propose cmd (encoded here; cmd is borrowed for the call). Leader only:
 * MASTER_ERR_NOTLEADER on a follower (the caller forwards, http_forward()),
 * MASTER_ERR_BUSY during a leadership transfer, MASTER_ERR_INVAL with
 * errmsg naming the field for a command the codec refuses. On MASTER_OK cb
 * runs exactly once, later. Loop thread.
 */
int master_propose(struct master *m, struct master_propose *req,
		   const struct store_cmd *cmd, master_propose_cb cb,
		   char *errmsg, size_t errlen);

/* ------------------------------------------------------------- reads */

struct master_read;
/* status MASTER_OK: store is safe to read now (for the duration of the
 * call; it is the same object master_store() returns). Otherwise
 * LEADERSHIP_LOST / SHUTDOWN with store == NULL. */
typedef void (*master_read_cb)(struct master_read *req, int status,
			       struct store *store);
struct master_read {
	void *data;
	master_read_cb cb;
	/* private */
	struct master *m_;
	struct master_read *next_;
};

/*
 * Wait until reading the local store is safe, then call cb.
 * linearizable: ReadIndex on the leader (MASTER_ERR_NOTLEADER on a
 * follower: forward); false: cb runs on the next loop iteration with the
 * local store, on any member (a handler may as well read master_store()
 * directly). Loop thread.
 */
int master_read(struct master *m, struct master_read *req, bool linearizable,
		master_read_cb cb);

/* The local store: for serializable reads and for watches (store_watch.h),
 * which every member serves from its own store (events arrive as this
 * member applies them, each exactly once in revision order). Borrowed;
 * lives until master_free. Loop thread. */
struct store *master_store(struct master *m);

/* ------------------------------------------------------------- status */

bool master_is_leader(const struct master *m); /* loop thread */

/* Any thread (an atomic copy updated by the loop thread). Its signature
 * fits struct orch_params.is_leader with arg = the master. */
bool master_is_leader_atomic(void *m);

/* The event_base the master runs on. */
struct event_base *master_base(const struct master *m);

/* This member. Borrowed. */
const struct master_member *master_self(const struct master *m);

/* Known leader: its id (0 if none) and, if known, its member record
 * (*leader may be NULL). Loop thread. */
raft_id master_leader(const struct master *m,
		      const struct master_member **leader);

enum master_role {
	MASTER_ROLE_FOLLOWER = 1,
	MASTER_ROLE_CANDIDATE = 2,
	MASTER_ROLE_LEADER = 3,
	MASTER_ROLE_LEARNER = 4, /* member not yet promoted to voter */
};

struct master_member_status {
	struct master_member member;
	int role;       /* enum master_role; leader's view for others */
	bool reachable; /* heard from it lately (leader: acked; follower:
			 * self always, the leader if it heartbeats us) */
};

struct master_status {
	raft_id self;
	raft_id leader; /* 0 = none */
	raft_term term;
	raft_index commit_index;
	raft_index applied_index;
	int64_t revision; /* store revision */
	int64_t compact_revision;
	uint64_t db_bytes; /* store quota use */
	struct master_member_status members[MASTER_MAX_MEMBERS];
	size_t n_members;
};

/* Fill *st. Loop thread. */
void master_status_get(const struct master *m, struct master_status *st);

/* Members of the current Raft configuration (n written, up to cap).
 * Loop thread. */
size_t master_members(const struct master *m, struct master_member *out,
		      size_t cap);

/* ---------------------------------------------------------- membership */

struct master_change;
typedef void (*master_change_cb)(struct master_change *req, int status,
				 const char *errmsg);
struct master_change {
	void *data;
	master_change_cb cb;
	/* private */
	struct raft_change change_;
	struct master_propose prop_;
	struct master *m_;
	struct master_member member_;
	int step_;
};

/*
 * Add a member (leader only): record it in the store (so every master
 * learns its API URL), add it to Raft as a learner, then promote it to
 * voter once it caught up (the new master must be running, started with
 * join=true). mem->id 0 lets the leader pick max id + 1; a retry with the
 * same name reuses its id. mem is copied. cb runs when it is a voter, or
 * with the error and a one-line message. Loop thread.
 */
int master_add_member(struct master *m, struct master_change *req,
		      const struct master_member *mem, master_change_cb cb,
		      char *errmsg, size_t errlen);

/* ------------------------------------------------------------ shutdown */

struct master_transfer;
typedef void (*master_transfer_cb)(struct master_transfer *req, int status);
struct master_transfer {
	void *data;
	master_transfer_cb cb;
	/* private */
	struct raft_transfer tr_;
	struct master *m_;
};

/*
 * Hand leadership to the most up-to-date voter (§3.10), e.g. before a
 * clean shutdown, so clients see a new leader at once instead of after an
 * election timeout. MASTER_ERR_NOTLEADER if not the leader, INVAL if there
 * is no other voter. cb runs later with MASTER_OK once another member
 * leads, or an error (the caller just goes on shutting down). Loop thread.
 */
int master_transfer_leadership(struct master *m, struct master_transfer *req,
			       master_transfer_cb cb);

/*
 * Remove member id from the configuration (leader only; §4.1). Used to
 * replace a master that is gone for good; a leader removing itself steps
 * down once the change commits. MASTER_ERR_INVAL for an unknown id or the
 * last voter. cb runs once the new configuration is committed. Loop thread.
 */
int master_remove_member(struct master *m, struct master_change *req, raft_id id,
			 master_change_cb cb, char *errmsg, size_t errlen);

/* The id master_add_member() assigned (valid once it returned OK). */
raft_id master_change_id(const struct master_change *req);

#endif /* SLUICE_CTRL_MASTER_H */
