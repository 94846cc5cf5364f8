/*
 * log.h: the in-memory cache of the Raft log.
 *
 * Holds every entry from the compaction point (snapshot index minus the
 * trailing amount) to the last index, including entries not yet durable.
 * Entry payloads are reference counted: an entry handed to io->append() or
 * io->send() must stay valid until that request completes even if the log
 * truncates or compacts it in the meantime (a follower can truncate a
 * conflicting suffix while the write of that suffix is still in flight).
 */
#ifndef SLUICE_CONSENSUS_LOG_H
#define SLUICE_CONSENSUS_LOG_H

#include "raft.h"

struct log_ref; /* refcount cell of one payload */

struct log_slot {
	struct raft_entry entry;
	struct log_ref *ref; /* NULL when entry.buf.base is NULL */
};

struct raft_log {
	struct log_slot *slots; /* ring buffer */
	size_t cap;
	size_t head;           /* slot of the first entry */
	size_t n;
	raft_index offset;     /* index of the entry before the first one */
	raft_index snap_index; /* last index covered by a snapshot */
	raft_term snap_term;
};

/* A borrowed run of entries for an io request: entries[] points at the
 * shared payloads, refs[] keeps them alive until log_batch_release(). */
struct log_batch {
	struct raft_entry *entries;
	struct log_ref **refs;
	unsigned n;
};

void log_init(struct raft_log *l);
void log_close(struct raft_log *l);
raft_index log_last_index(const struct raft_log *l);
raft_term log_last_term(const struct raft_log *l);
raft_index log_first_index(const struct raft_log *l); /* offset + 1 */
/* Term of index: entry's term, snap_term at snap_index, else 0. */
raft_term log_term_of(const struct raft_log *l, raft_index index);
const struct raft_entry *log_get(const struct raft_log *l, raft_index index);
/* Append one entry taking ownership of buf->base (raft_heap_malloc'ed or
 * NULL). On RAFT_NOMEM nothing changed and the caller keeps buf. */
int log_append(struct raft_log *l, raft_term term, int type,
	       const struct raft_buffer *buf);
/* Append a copy of e (payload copied). */
int log_append_copy(struct raft_log *l, const struct raft_entry *e);
/* Delete entries >= index (payloads freed once unreferenced). */
void log_truncate(struct raft_log *l, raft_index index);
/* Delete entries <= index from the front. */
void log_compact(struct raft_log *l, raft_index index);
/* Forget every entry and restart the log after a snapshot at index. */
void log_restart(struct raft_log *l, raft_index index, raft_term term);
/* Take references to entries [from, from + n). RAFT_NOMEM possible. */
int log_acquire(struct raft_log *l, raft_index from, unsigned n,
		struct log_batch *b);
void log_batch_release(struct log_batch *b);

#endif
