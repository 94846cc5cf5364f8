/*
 * raft.h: the consensus library's one public header.
 *
 * A Raft implementation after Ongaro's dissertation ("Consensus: Bridging
 * Theory and Practice", 2014): leader election with randomized timeouts,
 * pre-vote (§9.6) and check-quorum (§6.2) on by default, pipelined and
 * batched log replication (§10.2), commit of current-term entries only
 * (§3.6.2), linearizable reads by ReadIndex (§6.4), leadership transfer
 * (§3.10), single-server membership changes with learners that catch up
 * before promotion (§4.1, §4.2.1), snapshots with log compaction and chunked
 * InstallSnapshot (§5.1-§5.3).
 *
 * The core is pure protocol: it has no sockets, no files and no clock. All
 * effects go through two vtables the embedder provides:
 *   struct raft_io   storage (term/vote, log, snapshots), transport, time,
 *                    randomness;
 *   struct raft_fsm  the replicated state machine.
 * Inputs come back in through raft_step() (a received message), raft_tick()
 * (time passed) and the completion callbacks of raft_io requests.
 *
 * Threading: one raft instance and its io and fsm are driven by ONE thread,
 * called "the raft thread" below. Every raft_*() function taking a
 * struct raft * must be called on it, and every raft_io completion callback
 * must be invoked on it. No function here is thread-safe; the heap hooks are
 * process-wide and must be set before any instance is created.
 *
 * Memory: everything that crosses the io/fsm boundary with an ownership
 * transfer is allocated with raft_heap_malloc() and released with
 * raft_heap_free(), so that tests can fail allocations by countdown.
 *
 * Errors (STYLE 9): functions return enum raft_error (0 = RAFT_OK);
 * raft_strerror() names a code; raft_errmsg() returns the instance's last
 * message, wrapped with context on the way up. io implementations write a
 * message into io->errmsg when they fail.
 *
 * Change log (additive changes only after the first commit):
 *   v1  initial interface.
 *   v2  documentation only: raft_step() may also return RAFT_IOERR and
 *       RAFT_CORRUPT; callbacks may run inside any raft_*() call; changes
 *       need the leader's no-op committed first (RAFT_CANTCHANGE).
 */
#ifndef SLUICE_RAFT_H
#define SLUICE_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t raft_id;    /* server id, never 0 (0 means "none") */
typedef uint64_t raft_term;  /* election term, starts at 0 */
typedef uint64_t raft_index; /* log index, first entry is 1, 0 = none */
typedef uint64_t raft_time;  /* milliseconds, monotonic, any epoch */

#define RAFT_ERRMSG_SIZE 256

/* Error codes. Values are stable: they may be logged and compared. */
enum raft_error {
	RAFT_OK = 0,
	RAFT_NOMEM = 1,          /* raft_heap_malloc() failed */
	RAFT_INVALID = 2,        /* bad argument or call in wrong state */
	RAFT_NOTLEADER = 3,      /* request needs the leader */
	RAFT_LEADERSHIPLOST = 4, /* leader stepped down before completion */
	RAFT_SHUTDOWN = 5,       /* instance freed with request pending */
	RAFT_IOERR = 6,          /* storage failure */
	RAFT_CORRUPT = 7,        /* persisted state is inconsistent */
	RAFT_CANCELED = 8,       /* io request canceled by io->close */
	RAFT_MALFORMED = 9,      /* undecodable bytes */
	RAFT_CANTBOOTSTRAP = 10, /* bootstrap over existing state */
	RAFT_CANTCHANGE = 11,    /* a configuration change is in progress */
	RAFT_NOTFOUND = 12,      /* no such server / no snapshot */
	RAFT_DUPLICATE = 13,     /* server id already in configuration */
	RAFT_BUSY = 14,          /* transfer in progress, proposals paused */
	RAFT_NOCONNECTION = 15,  /* peer did not catch up / not reachable */
	RAFT_TOOBIG = 16,        /* value exceeds an encoding limit */
	RAFT_ERROR_COUNT_
};

/* Return a static, human-readable name for an enum raft_error value. Any
 * thread. Unknown values give "unknown error". */
const char *raft_strerror(int rv);

/* ------------------------------------------------------------------ heap */

/* Allocator hooks used for every allocation made by consensus/ (core, io
 * implementations and decoders alike). Process-wide; set before creating
 * instances, from one thread. */
struct raft_heap {
	void *data;
	void *(*malloc)(void *data, size_t size);
	void *(*realloc)(void *data, void *ptr, size_t size);
	void (*free)(void *data, void *ptr);
};

/* Install heap (NULL restores libc malloc). The struct is NOT copied: it
 * must outlive its use. */
void raft_heap_set(struct raft_heap *heap);
void *raft_heap_malloc(size_t size);
void *raft_heap_calloc(size_t nmemb, size_t size);
void *raft_heap_realloc(void *ptr, size_t size);
void raft_heap_free(void *ptr); /* accepts NULL */

/* ----------------------------------------------------------- basic types */

/* A byte buffer. Who owns base is stated wherever a buffer is passed. */
struct raft_buffer {
	void *base;
	size_t len;
};

enum raft_entry_type {
	RAFT_COMMAND = 1, /* opaque, applied to the FSM */
	RAFT_BARRIER = 2, /* empty; committed to learn the commit index */
	RAFT_CHANGE = 3,  /* buf is an encoded struct raft_configuration */
};

struct raft_entry {
	raft_term term;
	uint8_t type; /* enum raft_entry_type */
	struct raft_buffer buf;
};

enum raft_role {
	RAFT_VOTER = 1,   /* counts in quorums, may become leader */
	RAFT_LEARNER = 2, /* receives the log, never votes (§4.2.1) */
};

struct raft_server {
	raft_id id;
	char *address; /* NUL-terminated, owned by the configuration */
	uint8_t role;  /* enum raft_role */
};

struct raft_configuration {
	struct raft_server *servers; /* owned by the configuration */
	unsigned n;
};

/* Configuration helpers. Any thread (they touch only their arguments). */
void raft_configuration_init(struct raft_configuration *c);
/* Frees servers and addresses; c is left empty. Accepts an empty c. */
void raft_configuration_close(struct raft_configuration *c);
/* Add a server; address is copied. RAFT_DUPLICATE if id or address is
 * already present, RAFT_INVALID if id == 0 or role is unknown. */
int raft_configuration_add(struct raft_configuration *c, raft_id id,
			   const char *address, int role);
/* Deep copy of src into dst (dst must be empty). */
int raft_configuration_copy(const struct raft_configuration *src,
			    struct raft_configuration *dst);
/* Encode to a buffer allocated with raft_heap_malloc (ownership passes to
 * the caller). Format, little endian: u8 version=1, u32 n, then per server
 * u64 id, u8 role, u16 address length, address bytes (no NUL). */
int raft_configuration_encode(const struct raft_configuration *c,
			      struct raft_buffer *out);
/* Decode buf (not retained) into the empty c. RAFT_MALFORMED on any length
 * or value that does not check out. */
int raft_configuration_decode(const struct raft_buffer *buf,
			      struct raft_configuration *c);

/* Snapshot metadata: the last entry the snapshot covers and the
 * configuration in force at that point (§5.1). */
struct raft_snapshot_meta {
	raft_index index;
	raft_term term;
	struct raft_configuration conf; /* owned by the meta */
	raft_index conf_index;          /* index of the entry that set conf */
};

struct raft_snapshot {
	struct raft_snapshot_meta meta;
	struct raft_buffer data; /* FSM snapshot bytes */
};

/* Free a snapshot's conf and data (not s itself). Accepts zeroed s. */
void raft_snapshot_close(struct raft_snapshot *s);

/* -------------------------------------------------------------- messages */

enum raft_message_type {
	RAFT_MSG_REQUEST_VOTE = 1,
	RAFT_MSG_REQUEST_VOTE_RESULT = 2,
	RAFT_MSG_APPEND_ENTRIES = 3,
	RAFT_MSG_APPEND_ENTRIES_RESULT = 4,
	RAFT_MSG_INSTALL_SNAPSHOT = 5,
	RAFT_MSG_INSTALL_SNAPSHOT_RESULT = 6,
	RAFT_MSG_TIMEOUT_NOW = 7,
	RAFT_MSG_TYPE_COUNT_
};

/* RequestVote (§3.4) and its pre-vote variant (§9.6). A pre-vote carries
 * the term the candidate WOULD use (current + 1) without having bumped its
 * own; granting one changes no state on the voter. */
struct raft_request_vote {
	raft_term term;
	raft_id candidate_id;
	raft_index last_log_index;
	raft_term last_log_term;
	bool disrupt_leader; /* set after TimeoutNow (§3.10) */
	bool pre_vote;
};

struct raft_request_vote_result {
	raft_term term; /* voter's term (for a pre-vote: the request's term
			 * when granted, else the voter's term) */
	bool vote_granted;
	bool pre_vote; /* echoes the request */
};

/* AppendEntries (§3.5). Heartbeats have n_entries == 0. read_ctx lets the
 * leader confirm leadership for ReadIndex (§6.4): followers echo it. */
struct raft_append_entries {
	raft_term term;
	raft_index prev_log_index;
	raft_term prev_log_term;
	raft_index leader_commit;
	uint64_t read_ctx;
	struct raft_entry *entries;
	unsigned n_entries;
};

struct raft_append_entries_result {
	raft_term term;
	bool rejected;
	/* accepted: index of the last entry now stored (match index);
	 * rejected: the rejected prev_log_index. */
	raft_index index;
	/* follower's last log index: a hint for fast back-off (§3.5). */
	raft_index last_log_index;
	uint64_t read_ctx; /* echoed from the request */
};

/* One chunk of InstallSnapshot (§5.1, chunked as in Figure 5.3). The
 * chunk starting at offset 0 begins a new transfer; done marks the last. */
struct raft_install_snapshot {
	raft_term term;
	raft_index last_index;
	raft_term last_term;
	struct raft_configuration conf;
	raft_index conf_index;
	uint64_t offset;
	bool done;
	struct raft_buffer data;
};

struct raft_install_snapshot_result {
	raft_term term;
	raft_index last_index; /* echoed, identifies the transfer */
	uint64_t next_offset;  /* bytes received so far (resume point) */
	bool rejected;
	bool done; /* the whole snapshot is stored and restored */
};

/* TimeoutNow (§3.10): the target starts an election at once. */
struct raft_timeout_now {
	raft_term term;
	raft_index last_log_index;
	raft_term last_log_term;
};

struct raft_message {
	uint8_t type; /* enum raft_message_type */
	/* Outgoing: the destination. Incoming: the sender (the io fills it
	 * from what it authenticated; address may be NULL). */
	raft_id server_id;
	const char *server_address;
	union {
		struct raft_request_vote request_vote;
		struct raft_request_vote_result request_vote_result;
		struct raft_append_entries append_entries;
		struct raft_append_entries_result append_entries_result;
		struct raft_install_snapshot install_snapshot;
		struct raft_install_snapshot_result install_snapshot_result;
		struct raft_timeout_now timeout_now;
	};
};

/* -------------------------------------------------------------------- io */

/* What raft_io.load() returns. Ownership of snapshot (and its conf and
 * data) and of entries (the array and each entry's buf.base) passes to the
 * core; all must come from raft_heap_malloc. */
struct raft_io_load {
	raft_term term;
	raft_id voted_for;
	struct raft_snapshot *snapshot; /* NULL if none */
	raft_index start_index;         /* index of entries[0] */
	struct raft_entry *entries;
	unsigned n_entries;
};

struct raft_io_append;
struct raft_io_snapshot_put;
struct raft_io_snapshot_get;
struct raft_io_send;

typedef void (*raft_io_append_cb)(struct raft_io_append *req, int status);
typedef void (*raft_io_snapshot_put_cb)(struct raft_io_snapshot_put *req,
					int status);
/* On success the snapshot (allocated with raft_heap_malloc, conf and data
 * included) passes to the core; on failure snapshot is NULL. */
typedef void (*raft_io_snapshot_get_cb)(struct raft_io_snapshot_get *req,
					struct raft_snapshot *snapshot,
					int status);
typedef void (*raft_io_send_cb)(struct raft_io_send *req, int status);

/* Request structs are allocated by the core and stay valid until their
 * callback runs. impl is scratch space for the io (e.g. a queue link). */
struct raft_io_append {
	void *data;
	void *impl[4];
};
struct raft_io_snapshot_put {
	void *data;
	void *impl[4];
};
struct raft_io_snapshot_get {
	void *data;
	void *impl[4];
};
struct raft_io_send {
	void *data;
	void *impl[4];
};

/*
 * The pluggable I/O interface. The embedder fills the function pointers and
 * impl, and keeps the struct alive until raft_free() returns.
 *
 * Ordering: append, truncate and snapshot_put take effect on disk in the
 * order they were issued and their callbacks run in that order. A callback
 * is never invoked from inside the call that started the request (only
 * from the event loop, on the raft thread), except from close().
 *
 * Durability: a request's callback with status 0 means the data is
 * durable (fsynced). An implementation may batch several queued requests
 * into one write and one fsync.
 *
 * Errors: methods return 0 or an enum raft_error and write io->errmsg.
 * A method returning an error did NOT start the request: its callback
 * will never run.
 */
struct raft_io {
	void *impl; /* the implementation's state */
	char errmsg[RAFT_ERRMSG_SIZE];

	/* Read all persisted state, synchronously. Called once, from
	 * raft_start(). Entries are those after the snapshot (if any) that
	 * are still on disk; entries may start before snapshot->index + 1
	 * (trailing entries kept for lagging followers). */
	int (*load)(struct raft_io *io, struct raft_io_load *out);

	/* Write term 1 and the single entry at index 1 (a RAFT_CHANGE entry
	 * holding the initial configuration), durably and synchronously.
	 * RAFT_CANTBOOTSTRAP if any state already exists. entry is borrowed. */
	int (*bootstrap)(struct raft_io *io, const struct raft_entry *entry);

	/* Durably store current term and vote (0 = none) before returning
	 * (§3.8: both must survive a crash before a reply is sent). */
	int (*persist_vote)(struct raft_io *io, raft_term term,
			    raft_id voted_for);

	/* Append n entries, the first one at index first_index, which is
	 * always exactly one past the last entry on disk once preceding
	 * requests took effect. entries (array and buffers) are owned by the
	 * core and stay valid until cb. If an append fails, the io need not
	 * preserve later queued appends: the core will issue a truncate. */
	int (*append)(struct raft_io *io, struct raft_io_append *req,
		      raft_index first_index, const struct raft_entry *entries,
		      unsigned n, raft_io_append_cb cb);

	/* Delete all entries with index >= index, ordered after preceding
	 * requests. No callback: completion of any later append or
	 * snapshot_put implies it took effect. */
	int (*truncate)(struct raft_io *io, raft_index index);

	/* Store snapshot and compact the log: delete entries with index <=
	 * snapshot->meta.index - trailing. With trailing == 0 (a snapshot
	 * installed from the leader) delete the WHOLE log, including entries
	 * after the snapshot index. snapshot is owned by the core until cb.
	 * Older snapshots may be deleted once this one is durable. */
	int (*snapshot_put)(struct raft_io *io, struct raft_io_snapshot_put *req,
			    unsigned trailing,
			    const struct raft_snapshot *snapshot,
			    raft_io_snapshot_put_cb cb);

	/* Load the most recent durable snapshot (to send to a follower). */
	int (*snapshot_get)(struct raft_io *io,
			    struct raft_io_snapshot_get *req,
			    raft_io_snapshot_get_cb cb);

	/* Send msg to msg->server_id at msg->server_address, best effort.
	 * msg and every buffer it references are owned by the core until cb;
	 * an implementation that encodes at once may call cb early (but
	 * not from inside send). A status != 0 in cb only means "not sent";
	 * Raft retries by itself. */
	int (*send)(struct raft_io *io, struct raft_io_send *req,
		    const struct raft_message *msg, raft_io_send_cb cb);

	/* Current time in ms (monotonic). The core never reads a clock. */
	raft_time (*time)(struct raft_io *io);

	/* A random integer in [min, max). Used for election timeouts. */
	unsigned (*random)(struct raft_io *io, unsigned min, unsigned max);

	/* Called by raft_free(): complete every pending request by invoking
	 * its callback with RAFT_CANCELED (writes not yet durable may be
	 * lost; writes in progress must finish or be abandoned before close
	 * returns), from inside close. After close returns no callback may
	 * run. The io struct itself belongs to the embedder. */
	void (*close)(struct raft_io *io);
};

/* ------------------------------------------------------------------- fsm */

/*
 * The replicated state machine, called on the raft thread only.
 *   apply:    apply one committed RAFT_COMMAND; buf is borrowed for the
 *             call. *result is handed to the raft_apply callback on the
 *             leader that proposed it (NULL elsewhere is fine; the FSM
 *             owns whatever it points to). A non-zero return is reported
 *             to the proposer but the entry counts as applied: the FSM
 *             must be deterministic, errors included.
 *   snapshot: serialize the whole state into *out, allocated with
 *             raft_heap_malloc (ownership passes to the core on success).
 *   restore:  replace the state with buf (ownership passes to the FSM on
 *             success; on failure the core frees it).
 */
struct raft_fsm {
	void *data;
	int (*apply)(struct raft_fsm *fsm, const struct raft_buffer *buf,
		     void **result);
	int (*snapshot)(struct raft_fsm *fsm, struct raft_buffer *out);
	int (*restore)(struct raft_fsm *fsm, struct raft_buffer *buf);
};

/* --------------------------------------------------------------- instance */

struct raft; /* opaque */

enum raft_state {
	RAFT_FOLLOWER = 1,
	RAFT_CANDIDATE = 2,
	RAFT_LEADER = 3,
	RAFT_UNAVAILABLE = 4, /* created but not started, or failed */
};

/* Parameters for raft_create(). Zero fields take the default shown. */
struct raft_params {
	raft_id id;                 /* required, != 0 */
	const char *address;        /* required; copied */
	struct raft_io *io;         /* required; borrowed until raft_free */
	struct raft_fsm *fsm;       /* required; borrowed until raft_free */
	unsigned election_timeout;  /* ms, 1000; actual is random in [T, 2T) */
	unsigned heartbeat_timeout; /* ms, 100 */
	bool disable_pre_vote;      /* pre-vote is on by default */
	bool disable_check_quorum;  /* check-quorum is on by default */
	unsigned max_batch;         /* entries per AppendEntries, 64 */
	unsigned max_inflight;      /* AppendEntries pipelined per peer, 8 */
	unsigned snapshot_threshold; /* entries between snapshots, 1024 */
	unsigned snapshot_trailing;  /* entries kept after a snapshot, 128 */
	unsigned snapshot_chunk;     /* InstallSnapshot chunk bytes, 65536 */
	unsigned max_catch_up_rounds; /* learner promotion rounds, 10 */
};

/* Create an instance (STYLE 5). Copies params; allocates; touches no io.
 * Returns NULL if out of memory or a required field is missing. Any thread
 * (it becomes the raft thread for this instance). */
struct raft *raft_create(const struct raft_params *params);

/* Free the instance: calls io->close(), fails pending raft_apply /
 * raft_read_index / change / transfer requests with RAFT_SHUTDOWN (their
 * callbacks run inside raft_free), frees all memory. Accepts NULL. Raft
 * thread. */
void raft_free(struct raft *r);

/* Store the initial configuration through io->bootstrap() (before
 * raft_start, on exactly one node of a new cluster, or on all with the same
 * conf). conf is borrowed. RAFT_CANTBOOTSTRAP if state exists. */
int raft_bootstrap(struct raft *r, const struct raft_configuration *conf);

/* Load persisted state (io->load), restore the FSM from the snapshot and
 * become follower. A node whose configuration does not contain it stays
 * a follower without election timer until it is added. */
int raft_start(struct raft *r);

/* Deliver a received message. msg and all buffers it references remain
 * owned by the caller: the core copies what it keeps. Returns RAFT_OK, or
 * RAFT_NOMEM (the message was dropped as if lost), RAFT_IOERR (a newer
 * term or a vote could not be persisted: dropped, see raft_errmsg()),
 * RAFT_CORRUPT (a leader contradicted a committed entry: refused), or
 * RAFT_INVALID for a message that is not well formed. None of these is
 * fatal to the instance. Raft thread.
 *
 * Request callbacks (raft_apply, raft_read_index, ...) may run from inside
 * raft_step(), raft_tick() and the io completions; they may submit new
 * requests but must not call raft_free(). */
int raft_step(struct raft *r, const struct raft_message *msg);

/* Run timers: election timeout, heartbeats, check-quorum, retries. Cheap
 * when nothing is due; call it at least at raft_next_timeout(). */
void raft_tick(struct raft *r);

/* Absolute time (io->time scale) of the next timer deadline. */
raft_time raft_next_timeout(const struct raft *r);

/* ------------------------------------------------------------- requests */

/* Async requests are caller-allocated (STYLE 8): the struct must stay valid
 * and untouched until its callback runs. Fields after "private" belong to
 * the library. */

struct raft_apply;
typedef void (*raft_apply_cb)(struct raft_apply *req, int status,
			      void *result);
struct raft_apply {
	void *data;
	raft_apply_cb cb;
	/* private */
	raft_index index_;
	raft_term term_;
	int type_;
	struct raft_apply *next_;
};

/* Propose a command (leader only). On RAFT_OK, ownership of buf->base
 * (raft_heap_malloc'ed) passes to the library and cb will run exactly once:
 * status 0 with the FSM's result once applied locally, or
 * RAFT_LEADERSHIPLOST / RAFT_SHUTDOWN / RAFT_IOERR. On error the caller
 * keeps buf and cb never runs. Consecutive proposals are batched into the
 * same disk write and AppendEntries (§10.2.1). */
int raft_apply(struct raft *r, struct raft_apply *req,
	       const struct raft_buffer *buf, raft_apply_cb cb);

/* Append a no-op barrier; cb runs when it (and so everything before it)
 * is applied. result is NULL. */
int raft_barrier(struct raft *r, struct raft_apply *req, raft_apply_cb cb);

struct raft_read;
typedef void (*raft_read_cb)(struct raft_read *req, int status,
			     raft_index read_index);
struct raft_read {
	void *data;
	raft_read_cb cb;
	/* private */
	raft_index index_;
	uint64_t ctx_;
	struct raft_read *next_;
};

/* Linearizable read without a log write (ReadIndex, §6.4). Leader only.
 * cb runs with status 0 once the leader has confirmed it still leads
 * (a heartbeat round acknowledged by a quorum) and has applied up to
 * read_index; the caller may then read its local FSM. Waits for the
 * leader's first current-term entry to commit first (§6.4 step 1). */
int raft_read_index(struct raft *r, struct raft_read *req, raft_read_cb cb);

struct raft_change;
typedef void (*raft_change_cb)(struct raft_change *req, int status);
struct raft_change {
	void *data;
	raft_change_cb cb;
	/* private */
	raft_index index_;
	raft_id id_;
	unsigned round_;
	raft_index round_index_;
	raft_time round_start_;
	int kind_;
};

/* Single-server changes (§4.1), leader only, one at a time (else
 * RAFT_CANTCHANGE, also returned until the leader's first entry of its term
 * is committed: a change appended before that could overlap an
 * uncommitted change of a previous leader). cb runs when the new
 * configuration is committed (and applied on this leader).
 *   raft_add:     add id as a learner (address copied).
 *   raft_promote: make a learner a voter after it caught up: rounds of
 *                 replication, each must finish within an election timeout
 *                 (§4.2.1), at most max_catch_up_rounds, else
 *                 RAFT_NOCONNECTION.
 *   raft_remove:  remove id (a leader removing itself steps down after the
 *                 change commits, §4.2.2). */
int raft_add(struct raft *r, struct raft_change *req, raft_id id,
	     const char *address, raft_change_cb cb);
int raft_promote(struct raft *r, struct raft_change *req, raft_id id,
		 raft_change_cb cb);
int raft_remove(struct raft *r, struct raft_change *req, raft_id id,
		raft_change_cb cb);

struct raft_transfer;
typedef void (*raft_transfer_cb)(struct raft_transfer *req, int status);
struct raft_transfer {
	void *data;
	raft_transfer_cb cb;
	/* private */
	raft_id id_;
	raft_time start_;
};

/* Leadership transfer (§3.10), leader only. id 0 picks the most up to date
 * voter. New proposals get RAFT_BUSY meanwhile. cb runs with 0 once this
 * node is no longer leader and another leader is known, or
 * RAFT_NOCONNECTION after an election timeout. */
int raft_transfer(struct raft *r, struct raft_transfer *req, raft_id id,
		  raft_transfer_cb cb);

/* --------------------------------------------------------------- queries */
/* Raft thread. */

int raft_state(const struct raft *r); /* enum raft_state */
raft_id raft_id_get(const struct raft *r);
raft_term raft_current_term(const struct raft *r);
raft_id raft_voted_for(const struct raft *r);
/* Known leader id (0 if none); *address (may be NULL) is borrowed. */
raft_id raft_leader(const struct raft *r, const char **address);
raft_index raft_commit_index(const struct raft *r);
raft_index raft_last_applied(const struct raft *r);
raft_index raft_last_index(const struct raft *r);
raft_term raft_last_term(const struct raft *r);
/* Index of the last snapshot taken or installed (0 if none). */
raft_index raft_snapshot_index(const struct raft *r);
/* First index held in memory (entries before it were compacted). */
raft_index raft_first_index(const struct raft *r);
/* Term of entry index, 0 if unknown (compacted or past the end). */
raft_term raft_term_at(const struct raft *r, raft_index index);
/* Entry at index or NULL; borrowed until the next raft call. */
const struct raft_entry *raft_entry_at(const struct raft *r,
				       raft_index index);
/* The latest configuration (committed or not); borrowed. */
const struct raft_configuration *raft_configuration_get(const struct raft *r);
/* Last error message, "" if none. Borrowed. */
const char *raft_errmsg(const struct raft *r);

#endif /* SLUICE_RAFT_H */
