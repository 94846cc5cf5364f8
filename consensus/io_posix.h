/*
 * raft_io_posix: the production struct raft_io (raft.h) over raft_disk
 * (disk.h), raft_codec (codec.h) and raft_net (net.h), with the real
 * monotonic clock.
 *
 * Event loop: the raft thread calls raft_io_posix_run() in a loop; each
 * call waits (poll on the nanomsg receive fd and the disk thread's eventfd)
 * until a frame arrives, a disk batch finished, a raft timer is due or
 * max_wait_ms passes, then
 *   1. receives and decodes up to a bounded number of frames and feeds them
 *      to raft_step() (sender id from the authenticated frame);
 *   2. runs raft_tick() when its deadline passed;
 *   3. runs the completions of the disk batches that finished, in issue
 *      order, and the deferred send / snapshot_get completions;
 *   4. hands every disk request queued so far to the disk thread as one
 *      batch: writes in issue order (truncates and snapshots in between),
 *      then ONE fdatasync for all appends of the batch.
 * Callbacks therefore run on the raft thread only, as raft.h requires, and
 * never inside the call that started the request. Batching falls out of
 * the loop: appends issued while a batch is syncing share the next
 * fdatasync, and the raft thread keeps serving the network meanwhile, so
 * the leader's fsync overlaps with the followers' (dissertation §10.2.1).
 * Sends are encoded and queued to nanomsg at once.
 *
 * Threads: one disk thread per instance, plus nanomsg's own. The log
 * callback in the params may be called from the disk thread.
 */
#ifndef SLUICE_CONSENSUS_IO_POSIX_H
#define SLUICE_CONSENSUS_IO_POSIX_H

#include <stddef.h>
#include <stdint.h>

#include "disk.h"
#include "net.h"
#include "raft.h"

struct raft_io_posix_params {
	raft_id id;		/* this server */
	const char *dir;	/* data directory (raft_disk) */
	const char *bind_url;	/* nanomsg URL this server listens on */
	const void *key;	/* cluster key, >= RAFT_NET_MIN_KEY bytes */
	size_t key_len;
	size_t segment_size;	/* 0 = raft_disk default */
	/* Test hook: system calls for raft_disk (fault injection); NULL =
	 * libc. */
	const struct raft_disk_sys *disk_sys;
	/* Log lines (torn tail recovered, wrong key...); NULL = stderr.
	 * May be called from the disk thread: must be thread-safe. */
	void (*log)(void *data, const char *line);
	void *log_data;
};

struct raft_io_posix;

/*
 * Open and recover the data directory (a corrupt log fails here, with the
 * file and offset in errmsg) and bind the transport. NULL on error.
 * Raft thread (the one that will call run).
 */
struct raft_io_posix *raft_io_posix_create(
	const struct raft_io_posix_params *params, char *errmsg,
	size_t errmsg_len);

/* The vtable to put in raft_params.io. Borrowed; lives as long as p. */
struct raft_io *raft_io_posix_io(struct raft_io_posix *p);

/*
 * One event-loop step as described above, driving r (created with this
 * io). Waits at most max_wait_ms (0 = do not block). Returns RAFT_OK, or
 * an error if polling failed. Raft thread.
 */
int raft_io_posix_run(struct raft_io_posix *p, struct raft *r,
		      int max_wait_ms);

/*
 * External event loops (e.g. libevent in sluice-ctrl --role=master): instead
 * of blocking in raft_io_posix_run(), watch these two descriptors for
 * readability (level-triggered: the nanomsg receive fd and the disk
 * thread's eventfd) and call raft_io_posix_run(p, r, 0) when one is
 * readable, when raft_io_posix_next_deadline() is reached, and after
 * submitting requests (raft_apply...) so they reach the disk thread. Raft
 * thread.
 */
void raft_io_posix_fds(const struct raft_io_posix *p, int fds[2]);

/*
 * Absolute time (io->time scale, ms) by which raft_io_posix_run(p, r, 0)
 * must be called again: raft's next timer, or "now" when completions are
 * already waiting (a run bounded by its per-call receive limit, deferred
 * send completions, finished disk batches). Raft thread.
 */
raft_time raft_io_posix_next_deadline(struct raft_io_posix *p,
				      const struct raft *r);

/* The io's monotonic clock in ms (what raft sees as io->time). */
raft_time raft_io_posix_now(void);

/*
 * Teach the transport where server id listens before any configuration
 * names it. A server that is not in its own configuration yet (a master
 * joining a running cluster) answers the leader's messages at the sender's
 * address, which it only knows this way. Returns RAFT_OK, RAFT_INVALID,
 * RAFT_NOMEM or RAFT_NOCONNECTION (peer table full, bad URL). Raft thread.
 */
int raft_io_posix_peer_hint(struct raft_io_posix *p, raft_id id,
			    const char *address);

/* When the last authenticated, decodable frame from server id arrived
 * (raft_io_posix_now() scale), 0 if never: a liveness hint for status
 * pages. Raft thread. */
raft_time raft_io_posix_last_heard(const struct raft_io_posix *p, raft_id id);

/*
 * Hand every queued disk request to the disk thread, wait until it has
 * executed them (one fdatasync for the batch), then run every pending
 * completion. For tests of the io without a raft instance, and for
 * embedders that need a synchronous barrier. Raft thread.
 */
void raft_io_posix_flush(struct raft_io_posix *p);

/* Disk batching counters: append requests completed, entries written,
 * fdatasync calls issued for them (append_reqs / syncs is the batching
 * factor). */
struct raft_io_posix_stats {
	uint64_t append_reqs;
	uint64_t entries;
	uint64_t syncs;
};

void raft_io_posix_stats_get(const struct raft_io_posix *p,
			     struct raft_io_posix_stats *st);

/* Transport counters (accepted frames and drops by reason). */
void raft_io_posix_net_stats(const struct raft_io_posix *p,
			     struct raft_net_stats *st);

/* Free everything. Call after raft_free() (which cancels pending requests
 * through io->close). Accepts NULL. */
void raft_io_posix_free(struct raft_io_posix *p);

#endif
