/*
 * raft_disk: durable storage for one Raft server (log, term+vote, snapshot).
 *
 * The log lives in segment files named after the index of their first
 * entry; every record carries a CRC32C so that recovery can tell a torn tail
 * (the last append did not finish before a crash: truncated and logged) from
 * corruption in the middle of the log (refused, naming file and offset,
 * because silently dropping acknowledged entries would break Raft's safety).
 * Term and vote live in a small metadata file and the snapshot in its own
 * file; both are replaced atomically (write temp, fsync, rename, fsync dir).
 * The byte layout is specified in docs/raft-disk-format.md.
 *
 * Appends are split from syncing on purpose: raft_disk_append() only write()s
 * and raft_disk_sync() issues one fdatasync for everything appended since the
 * previous sync, so the caller can batch many appends behind one flush and
 * fire their completions afterwards.
 *
 * Every system call goes through a struct raft_disk_sys table so tests can
 * inject faults (fail the Nth write/fsync/open). A failed call leaves the
 * handle usable when the on-disk state is known (e.g. a failed append is
 * rolled back with ftruncate); when it is not (rollback failed too) the
 * handle turns read-only and every later mutation returns RAFT_DISK_BROKEN.
 *
 * Threading: a handle is not thread-safe; one thread (the io thread) owns it.
 */
#ifndef SLUICE_CONSENSUS_DISK_H
#define SLUICE_CONSENSUS_DISK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RAFT_DISK_ERRMSG_SIZE 256

#define RAFT_DISK_ERRORS(X)                                          \
	X(OK, "ok")                                                  \
	X(NOMEM, "out of memory")                                    \
	X(INVAL, "invalid argument")                                 \
	X(IO, "I/O error")                                           \
	X(CORRUPT, "corrupt data on disk")                           \
	X(BUSY, "data directory in use by another process")          \
	X(BROKEN, "disk state unknown after a failed rollback")      \
	X(NOENT, "not found")

enum raft_disk_err {
#define RAFT_DISK_ENUM(name, str) RAFT_DISK_##name,
	RAFT_DISK_ERRORS(RAFT_DISK_ENUM)
#undef RAFT_DISK_ENUM
};

/* Static string for an error code; never NULL. */
const char *raft_disk_strerror(int err);

/*
 * System calls used by the module. Any member left NULL uses the libc
 * function, so a test shim only overrides what it wants to fail.
 */
struct raft_disk_sys {
	int (*open)(const char *path, int flags, mode_t mode);
	ssize_t (*write)(int fd, const void *buf, size_t len);
	ssize_t (*read)(int fd, void *buf, size_t len);
	int (*fsync)(int fd);
	int (*fdatasync)(int fd);
	int (*rename)(const char *from, const char *to);
	int (*ftruncate)(int fd, off_t len);
	int (*unlink)(const char *path);
};

struct raft_disk_params {
	const char *dir;	/* data directory, created if missing */
	size_t segment_size;	/* roll to a new segment past this; 0 = 8 MiB */
	/* Optional: recovery notices (torn tail truncated); NULL = stderr. */
	void (*log)(void *data, const char *line);
	void *log_data;
	const struct raft_disk_sys *sys;	/* NULL = libc */
	/* Allocator for buffers handed out by raft_disk_load (entry payloads,
	 * snapshot conf and data) so they can pass to an owner that frees
	 * them with its own allocator; NULL = malloc/free. */
	void *(*alloc)(size_t size);
	void (*dealloc)(void *ptr);
};

/* One log entry as stored. buf is borrowed on append, owned on load. */
struct raft_disk_entry {
	uint64_t term;
	uint8_t type;
	void *buf;
	size_t len;
};

/* Everything raft_disk_load() recovers. Release with raft_disk_state_free. */
struct raft_disk_state {
	uint64_t term;
	uint64_t voted_for;	/* 0 = none */
	/* Snapshot: index 0 means none; conf and data are malloc'ed. */
	uint64_t snap_index;
	uint64_t snap_term;
	uint64_t snap_conf_index;
	void *snap_conf;
	size_t snap_conf_len;
	void *snap_data;
	size_t snap_data_len;
	/* Log entries start_index .. start_index + n_entries - 1. */
	uint64_t start_index;
	struct raft_disk_entry *entries;
	size_t n_entries;
	/* Bytes cut off a torn tail during this load (0 if none). */
	uint64_t torn_bytes;
};

struct raft_disk;

/*
 * Open the data directory, creating it if needed, and take an exclusive
 * lock on it. Returns NULL on error with a message in errmsg (which may be
 * NULL). Nothing is read until raft_disk_load().
 */
struct raft_disk *raft_disk_create(const struct raft_disk_params *params,
				   char *errmsg, size_t errmsg_len);

/* Close files and free the handle. Accepts NULL. Does not sync. */
void raft_disk_free(struct raft_disk *d);

/*
 * Recover and read everything: metadata, snapshot, log. A torn tail is cut
 * off (and reported through params->log); a corrupt record anywhere else
 * fails with RAFT_DISK_CORRUPT and an errmsg naming file and offset. Must be
 * called once before any mutation. On success *st is filled and owned by the
 * caller (entry buffers included; free them or take them, then call
 * raft_disk_state_free which frees what is left non-NULL).
 */
int raft_disk_load(struct raft_disk *d, struct raft_disk_state *st,
		   char *errmsg, size_t errmsg_len);
void raft_disk_state_free(struct raft_disk *d, struct raft_disk_state *st);

/*
 * Persist term and vote atomically and durably (temp file, fsync, rename,
 * fsync dir) before returning.
 */
int raft_disk_set_term_vote(struct raft_disk *d, uint64_t term,
			    uint64_t voted_for, char *errmsg, size_t errmsg_len);

/*
 * Write entries first_index.. at the end of the log. first_index must be
 * last_index + 1, or anything if the log is empty. Data is written but not
 * durable until raft_disk_sync(). Entry buffers are copied (borrowed).
 * On error nothing of this call remains in the log.
 */
int raft_disk_append(struct raft_disk *d, uint64_t first_index,
		     const struct raft_disk_entry *entries, size_t n,
		     char *errmsg, size_t errmsg_len);

/* Make every append so far durable with one fdatasync. */
int raft_disk_sync(struct raft_disk *d, char *errmsg, size_t errmsg_len);

/*
 * Delete entries with index >= index (a suffix), durably. index at or below
 * the first stored index empties the log.
 */
int raft_disk_truncate(struct raft_disk *d, uint64_t index, char *errmsg,
		       size_t errmsg_len);

/*
 * Install a snapshot atomically and durably. conf is the encoded cluster
 * configuration at conf_index; both buffers are copied. Then delete closed
 * segments whose entries all have index <= compact_up_to (pass 0 to keep
 * the whole log). Entries past the snapshot are never deleted here.
 */
int raft_disk_snapshot_put(struct raft_disk *d, uint64_t index, uint64_t term,
			   uint64_t conf_index, const void *conf,
			   size_t conf_len, const void *data, size_t data_len,
			   uint64_t compact_up_to, char *errmsg,
			   size_t errmsg_len);

/*
 * Read the stored snapshot again (e.g. to send it to a follower): fills
 * only the snap_* fields of *st (zeroed first; snap_index 0 = none). Free
 * with raft_disk_state_free.
 */
int raft_disk_snapshot_read(struct raft_disk *d, struct raft_disk_state *st,
			    char *errmsg, size_t errmsg_len);

/* Index range of the stored log; last < first means empty. */
uint64_t raft_disk_first_index(const struct raft_disk *d);
uint64_t raft_disk_last_index(const struct raft_disk *d);
/* True once a failed sync (or rollback) made the on-disk state unknown:
 * every later mutation fails with RAFT_DISK_BROKEN until reopened. */
int raft_disk_broken(const struct raft_disk *d);
/* Number of segment files (tests and stats). */
size_t raft_disk_n_segments(const struct raft_disk *d);

/* CRC32C (Castagnoli) used for every on-disk checksum; crc starts at 0. */
uint32_t raft_disk_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
