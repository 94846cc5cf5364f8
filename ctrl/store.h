/*
 * store: the replicated key-value state machine of the masters, with etcd v3
 * semantics (revisions, range, put, delete range, txn, leases, compaction,
 * watch, quota), independent of the consensus layer.
 *
 * Every replica applies the same sequence of encoded commands (store_cmd.h)
 * with store_apply() and reaches the same state: nothing in the replicated
 * state depends on a clock, an address or an allocation order, so two stores
 * that applied the same commands serialize (store_snap.h) to identical bytes.
 * The only non-replicated state is each lease's local expiry deadline, which
 * the leader arms from its own clock (store_lease.h).
 *
 * Revisions follow etcd's mvcc: a global main revision grows by one per write
 * transaction (a put, a delete that deleted something, a txn whose executed
 * branch wrote, a lease revoke that deleted keys); the writes inside one txn
 * share the main revision and are told apart by a sub revision. Each key
 * carries create_revision (main revision of the put that created its current
 * incarnation), mod_revision (of its last write) and version (writes since
 * creation; a delete resets it to 0). History is kept for reads at older
 * revisions until store compaction (STORE_CMD_COMPACT) drops it.
 *
 * Reads (store_range) are local and do not go through consensus; the caller
 * decides linearizability (ReadIndex) before calling.
 *
 * Errors (STYLE 9): functions return enum store_err (0 = STORE_OK);
 * store_strerror() names a code; store_errmsg() holds the last message of the
 * handle, naming the offending field. store_apply() reports request errors in
 * its result, because they are part of the replicated outcome.
 *
 * Threading: a store and its watchers are not thread-safe; one control thread
 * (the raft thread on a master) owns them.
 */
#ifndef SLUICE_CTRL_STORE_H
#define SLUICE_CTRL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_ERRMSG_SIZE 256

/* Limits enforced by the codec and by direct calls. etcd's defaults are a
 * 1.5 MiB request and 128 ops per txn; a key is a path, so 4 KiB is ample. */
#define STORE_KEY_MAX (4u * 1024u)
#define STORE_VALUE_MAX (1u * 1024u * 1024u)
#define STORE_TXN_MAX_OPS 128u
#define STORE_LEASE_MAX_TTL (365ll * 24 * 3600) /* seconds */

/* Bytes charged per stored revision on top of key and value, so a flood of
 * empty values still consumes quota (etcd's quota counts bolt pages). */
#define STORE_REC_OVERHEAD 64u
#define STORE_LEASE_COST 64u

/* 8< store-errors */
#define STORE_ERRORS(X)                                                        \
	X(OK, "ok")                                                            \
	X(NOMEM, "out of memory")                                              \
	X(INVAL, "invalid argument")                                           \
	X(MALFORMED, "malformed command")                                      \
	X(COMPACTED, "required revision has been compacted")                   \
	X(FUTURE_REV, "required revision is a future revision")                \
	X(NOSPACE, "database space exceeded")                                  \
	X(LEASE_NOT_FOUND, "requested lease not found")                        \
	X(LEASE_EXISTS, "lease already exists")                                \
	X(DUPLICATE_KEY, "duplicate key given in txn request")                 \
	X(STALE_INDEX, "command index already applied")                        \
	X(WATCH_SLOW, "watcher fell too far behind and was canceled")          \
	X(WATCH_CANCELED, "watcher canceled")                                  \
	X(CORRUPT, "corrupt snapshot")                                         \
	X(BROKEN, "store state unknown after a failed apply; restore it")

enum store_err {
#define STORE_ERR_ENUM(name, str) STORE_ERR_##name,
	STORE_ERRORS(STORE_ERR_ENUM)
#undef STORE_ERR_ENUM
};
#define STORE_OK STORE_ERR_OK
/* >8 store-errors */

/* Static string for an error code; never NULL. */
const char *store_strerror(int err);

struct store; /* opaque */

struct store_params {
	/* Byte budget for stored data, history included (key + value +
	 * STORE_REC_OVERHEAD per revision, STORE_LEASE_COST per lease). A put,
	 * a txn whose executed branch puts, or a lease grant that would go over
	 * it fails with STORE_ERR_NOSPACE; deletes, revokes and compaction
	 * always work, so an operator can free space. 0 = unlimited. Must be
	 * the same on every replica: it decides the replicated outcome. */
	uint64_t quota_bytes;
};

/*
 * Create an empty store at revision 1 (etcd starts at 1 so that a watch or
 * read "at revision 0" can mean "current"). Returns NULL with errno set
 * (ENOMEM, EINVAL). params may be NULL for defaults. Control thread only.
 */
struct store *store_create(const struct store_params *params);

/* Free the store; accepts NULL. Watchers still registered are detached:
 * their later polls return STORE_ERR_WATCH_CANCELED and store_watch_free()
 * must still be called on them. */
void store_free(struct store *s);

/* Last error message of s (never NULL, "" if none). */
const char *store_errmsg(const struct store *s);

/* Current main revision, last compacted revision (0 = never), last applied
 * command index and bytes charged against the quota. */
int64_t store_revision(const struct store *s);
int64_t store_compact_revision(const struct store *s);
uint64_t store_applied_index(const struct store *s);
uint64_t store_used_bytes(const struct store *s);

/* A key-value pair at one revision. In results, key and value are copies
 * owned by the result; in watch events they point into the store. */
struct store_kv {
	const uint8_t *key;
	size_t key_len;
	const uint8_t *value;
	size_t value_len;
	int64_t create_revision;
	int64_t mod_revision;
	int64_t version;
	int64_t lease;
};

enum store_op_type {
	STORE_OP_RANGE = 1,
	STORE_OP_PUT = 2,
	STORE_OP_DELETE = 3,
};

/*
 * One request: a range, put or delete range. Pointers are borrowed.
 *
 * Key ranges follow etcd: range_end_len == 0 selects the single key; a
 * range_end of one zero byte selects every key >= key; otherwise the
 * half-open interval [key, range_end) in bytewise order (a prefix p is
 * [p, p with its last byte incremented)).
 */
struct store_op {
	enum store_op_type type;
	const uint8_t *key;
	size_t key_len;
	const uint8_t *range_end;
	size_t range_end_len;
	const uint8_t *value; /* put */
	size_t value_len;
	int64_t lease;    /* put: 0 = none; an existing lease to attach */
	bool prev_kv;     /* put, delete: return the previous pair(s) */
	int64_t limit;    /* range: 0 = unlimited */
	bool count_only;  /* range: count, return no pairs */
	int64_t revision; /* range: 0 = current; must be 0 inside a txn */
};

/* Result of one op; kvs and their bytes are owned by the enclosing result. */
struct store_op_result {
	enum store_op_type type;
	struct store_kv *kvs; /* range: matches; put/delete: previous pairs */
	size_t n_kvs;
	int64_t count;   /* range: matches ignoring limit */
	bool more;       /* range: limit cut the result */
	int64_t deleted; /* delete: keys deleted */
};

/*
 * Read a range at op->revision (0 = current). op->type must be
 * STORE_OP_RANGE. Errors: INVAL (bad key/range/limit, message names the
 * field), COMPACTED (revision < compact revision), FUTURE_REV, NOMEM,
 * BROKEN (see store_apply).
 * out is filled on success (free with store_op_result_clear) and zeroed on
 * failure. Control thread only.
 */
int store_range(struct store *s, const struct store_op *op,
		struct store_op_result *out);

/* Free what an op result owns and zero it; accepts a zeroed result. */
void store_op_result_clear(struct store_op_result *r);

/* Outcome of store_apply(). */
struct store_result {
	int err; /* enum store_err: the replicated outcome of the command */
	char errmsg[STORE_ERRMSG_SIZE];
	int64_t revision; /* store revision after the command */
	bool succeeded;   /* txn: compares held and the success branch ran */
	struct store_op_result *ops; /* put/delete: 1; txn: executed branch */
	size_t n_ops;
	int64_t lease_id; /* lease grant/keepalive/revoke */
	int64_t ttl;      /* lease grant/keepalive: granted TTL, seconds */
};

/* Free what a result owns and zero it; accepts a zeroed result. */
void store_result_clear(struct store_result *r);

/*
 * Apply one encoded command (store_cmd.h) as Raft entry `index`.
 *
 * index must be greater than the last applied index (gaps are fine: Raft
 * entries that are not store commands are never passed in); 0 means "the
 * next one" for callers that do not know the Raft index. An index already
 * applied returns STORE_ERR_STALE_INDEX without touching the state, so a
 * replay after restart is harmless.
 *
 * Every other outcome consumes the index, including a malformed command
 * (STORE_ERR_MALFORMED) and request errors (NOSPACE, LEASE_NOT_FOUND,
 * COMPACTED, ...): those leave the key space unchanged, identically on
 * every replica. The returned value equals result->err (result may be NULL).
 *
 * A failed allocation in the middle of a write cannot be rolled back
 * deterministically, so it turns the store BROKEN: every later apply
 * returns STORE_ERR_BROKEN until store_restore() replaces the state.
 *
 * cmd is borrowed. Control thread only; watcher notify callbacks run before
 * it returns and must not call store_apply() or store_restore().
 */
int store_apply(struct store *s, uint64_t index, const uint8_t *cmd,
		size_t len, struct store_result *result);

/*
 * Fault injection for tests (STYLE 23): fail the delay-th next allocation
 * made by the store modules (1 = the very next), then `repeat` more in a
 * row (repeat < 0: every one from then on); delay 0 disables. Returns
 * nothing; store_alloc_faults_fired() counts failures injected so far.
 * Process-wide and not thread-safe: tests only.
 */
void store_alloc_fault(int delay, int repeat);
uint64_t store_alloc_faults_fired(void);

#endif /* SLUICE_CTRL_STORE_H */
