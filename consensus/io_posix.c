/*
 * raft_io_posix: struct raft_io over raft_disk + raft_codec + raft_net,
 * driven by a poll loop on the raft thread (see io_posix.h for the loop).
 *
 * Disk requests (append, truncate, snapshot_put) go into one FIFO so they
 * take effect in issue order, as raft.h requires. A disk thread executes
 * the FIFO in batches: head to tail, then a single fdatasync if anything
 * was appended; the raft thread then runs the completions in order. After
 * the first failure in a batch the rest of that batch fails too: raft.h
 * lets us drop later appends, and the core answers a failed append with a
 * truncate.
 *
 * Why a disk thread: while it waits for fdatasync, the raft thread keeps
 * receiving acknowledgements and sending AppendEntries, so the leader's
 * own write overlaps with the followers' (dissertation §10.2.1). The raft
 * thread "kicks" the disk thread once per loop iteration, after it has
 * handled every message that arrived, so the requests produced by one
 * iteration share one fdatasync; requests queued while a batch is syncing
 * form the next batch. Locks: `mu` guards the queues and flags, `disk_mu`
 * the raft_disk handle (the disk thread holds it for a whole batch; the
 * raft thread takes it for persist_vote and snapshot reads). Everything
 * the disk thread needs is prepared on the raft thread at enqueue time
 * (entry descriptors, the encoded configuration), so it never allocates
 * from the raft heap, whose hooks are not thread-safe.
 *
 * All allocations go through raft_heap_* (raft.h, "Memory"), including the
 * buffers raft_disk hands back at load, which pass to the core as is.
 */
#include "io_posix.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "disk.h"

#define POSIX_MAX_RECV_PER_RUN 256
#define POSIX_MAX_PEERS RAFT_NET_MAX_PEERS

enum posix_op_kind {
	POSIX_OP_APPEND,
	POSIX_OP_TRUNCATE,
	POSIX_OP_SNAPSHOT_PUT,
	POSIX_OP_SEND_DONE,
	POSIX_OP_SNAPSHOT_GET,
};

struct posix_op {
	struct posix_op *next;
	enum posix_op_kind kind;
	int status;
	union {
		struct {
			struct raft_io_append *req;
			raft_index first;
			const struct raft_entry *entries;
			unsigned n;
			raft_io_append_cb cb;
			struct raft_disk_entry *dents;	/* built at enqueue */
		} append;
		raft_index truncate;
		struct {
			struct raft_io_snapshot_put *req;
			unsigned trailing;
			const struct raft_snapshot *snap;
			raft_io_snapshot_put_cb cb;
			struct raft_buffer conf;	/* encoded at enqueue */
		} put;
		struct {
			struct raft_io_send *req;
			raft_io_send_cb cb;
		} send;
		struct {
			struct raft_io_snapshot_get *req;
			raft_io_snapshot_get_cb cb;
		} get;
	};
};

struct posix_queue {
	struct posix_op *head;
	struct posix_op *tail;
};

struct posix_peer {
	raft_id id;
	char *address;
};

struct raft_io_posix {
	struct raft_io io;
	raft_id id;
	struct raft_disk *disk;
	struct raft_net *net;
	struct raft_disk_state loaded;	/* handed over by io->load */
	bool load_taken;
	/* Shared with the disk thread, under mu. */
	pthread_mutex_t mu;
	pthread_cond_t wake;		/* disk thread: kicked or stop */
	pthread_cond_t idle;		/* raft thread: a batch finished */
	struct posix_queue disk_q;	/* append / truncate / snapshot_put */
	struct posix_queue disk_done;	/* executed, completions pending */
	bool kicked;
	bool busy;
	bool stop;
	/* The raft_disk handle and the stats, under disk_mu. */
	pthread_mutex_t disk_mu;
	pthread_t worker;
	bool worker_started;
	bool sync_init;
	int efd;			/* eventfd: the disk thread finished */
	/* Raft thread only. */
	struct posix_queue done_q;	/* send and snapshot_get completions */
	struct posix_peer peers[POSIX_MAX_PEERS];
	/* Last authenticated frame per sender (raft_io_posix_last_heard). */
	struct { raft_id id; raft_time at; } heard[POSIX_MAX_PEERS];
	uint8_t *sbuf;
	size_t sbuf_cap;
	uint64_t rng;
	struct raft_io_posix_stats stats;
	void (*log)(void *data, const char *line);
	void *log_data;
	bool closed;
	bool broken_logged;
};

static struct raft_io_posix *posix_of(struct raft_io *io)
{
	return io->impl;
}

__attribute__((format(printf, 3, 4)))
static int posix_err(struct raft_io *io, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(io->errmsg, sizeof(io->errmsg), fmt, ap);
	va_end(ap);
	return code;
}

__attribute__((format(printf, 2, 3)))
static void posix_log(struct raft_io_posix *p, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (p->log != NULL)
		p->log(p->log_data, line);
	else
		fprintf(stderr, "%s\n", line);
}

static void posix_push(struct posix_queue *q, struct posix_op *op)
{
	op->next = NULL;
	if (q->tail != NULL)
		q->tail->next = op;
	else
		q->head = op;
	q->tail = op;
}

static struct posix_op *posix_take(struct posix_queue *q)
{
	struct posix_op *h = q->head;
	q->head = q->tail = NULL;
	return h;
}

static struct posix_op *posix_op_new(struct raft_io *io,
				     enum posix_op_kind kind)
{
	struct posix_op *op = raft_heap_calloc(1, sizeof(*op));
	if (op == NULL) {
		posix_err(io, RAFT_NOMEM, "out of memory");
		return NULL;
	}
	op->kind = kind;
	return op;
}

/* Map a raft_disk error to the raft.h convention. */
static int posix_disk_rv(int rv)
{
	switch (rv) {
	case RAFT_DISK_OK: return RAFT_OK;
	case RAFT_DISK_NOMEM: return RAFT_NOMEM;
	case RAFT_DISK_CORRUPT: return RAFT_CORRUPT;
	case RAFT_DISK_INVAL: return RAFT_INVALID;
	default: return RAFT_IOERR;
	}
}

static int posix_peer_ensure(struct raft_io_posix *p, raft_id id,
			     const char *address);

/*
 * Connect to every server of a configuration ahead of need. nanomsg
 * connects asynchronously and a non-blocking send before the connection is
 * up is dropped, so connecting lazily on first send would lose the first
 * RequestVote or AppendEntries to each peer after every restart or
 * leadership change, and cost a retry interval each time.
 */
static void posix_connect_conf(struct raft_io_posix *p,
			       const struct raft_configuration *c)
{
	for (unsigned i = 0; i < c->n; i++)
		if (c->servers[i].id != p->id && c->servers[i].address != NULL)
			posix_peer_ensure(p, c->servers[i].id,
					  c->servers[i].address);
}

static void posix_connect_buf(struct raft_io_posix *p, const void *base,
			      size_t len)
{
	struct raft_configuration c;
	struct raft_buffer b = { (void *)(uintptr_t)base, len };
	raft_configuration_init(&c);
	if (raft_configuration_decode(&b, &c) == RAFT_OK)
		posix_connect_conf(p, &c);
	raft_configuration_close(&c);
}

/* ---- load / bootstrap / vote ---- */

static int posix_load(struct raft_io *io, struct raft_io_load *out)
{
	struct raft_io_posix *p = posix_of(io);
	struct raft_disk_state *st = &p->loaded;
	if (p->load_taken)
		return posix_err(io, RAFT_INVALID, "load called twice");
	if (st->n_entries > UINT32_MAX)
		return posix_err(io, RAFT_TOOBIG, "log too long to load");
	memset(out, 0, sizeof(*out));
	struct raft_snapshot *snap = NULL;
	struct raft_entry *entries = NULL;
	if (st->snap_index != 0) {
		snap = raft_heap_calloc(1, sizeof(*snap));
		if (snap == NULL)
			return posix_err(io, RAFT_NOMEM, "out of memory");
		struct raft_buffer cb = { st->snap_conf, st->snap_conf_len };
		int rv = raft_configuration_decode(&cb, &snap->meta.conf);
		if (rv != RAFT_OK) {
			raft_heap_free(snap);
			return posix_err(io, rv == RAFT_NOMEM ? rv : RAFT_CORRUPT,
					 "snapshot configuration undecodable");
		}
	}
	if (st->n_entries > 0) {
		entries = raft_heap_calloc(st->n_entries, sizeof(*entries));
		if (entries == NULL) {
			if (snap != NULL)
				raft_snapshot_close(snap);
			raft_heap_free(snap);
			return posix_err(io, RAFT_NOMEM, "out of memory");
		}
	}
	/* Pre-connect to the latest configuration: the last RAFT_CHANGE
	 * entry, else the snapshot's. */
	bool found = false;
	for (size_t i = st->n_entries; i > 0 && !found; i--) {
		if (st->entries[i - 1].type == RAFT_CHANGE) {
			posix_connect_buf(p, st->entries[i - 1].buf,
					  st->entries[i - 1].len);
			found = true;
		}
	}
	if (!found && snap != NULL)
		posix_connect_conf(p, &snap->meta.conf);
	/* Nothing can fail from here: move ownership to the core. */
	if (snap != NULL) {
		snap->meta.index = st->snap_index;
		snap->meta.term = st->snap_term;
		snap->meta.conf_index = st->snap_conf_index;
		snap->data.base = st->snap_data;
		snap->data.len = st->snap_data_len;
		st->snap_data = NULL;
	}
	for (size_t i = 0; i < st->n_entries; i++) {
		entries[i].term = st->entries[i].term;
		entries[i].type = st->entries[i].type;
		entries[i].buf.base = st->entries[i].buf;
		entries[i].buf.len = st->entries[i].len;
		st->entries[i].buf = NULL;
	}
	out->term = st->term;
	out->voted_for = st->voted_for;
	out->snapshot = snap;
	out->start_index = st->start_index;
	out->entries = entries;
	out->n_entries = (unsigned)st->n_entries;
	raft_disk_state_free(p->disk, st);
	p->load_taken = true;
	return RAFT_OK;
}

static int posix_bootstrap(struct raft_io *io, const struct raft_entry *entry)
{
	struct raft_io_posix *p = posix_of(io);
	struct raft_disk_state *st = &p->loaded;
	char err[RAFT_DISK_ERRMSG_SIZE];
	if (p->load_taken || st->term != 0 || st->n_entries != 0 ||
	    st->snap_index != 0 || raft_disk_last_index(p->disk) != 0)
		return posix_err(io, RAFT_CANTBOOTSTRAP,
				 "data directory already holds state");
	struct raft_disk_entry de = { .term = entry->term, .type = entry->type,
				      .buf = entry->buf.base,
				      .len = entry->buf.len };
	/* Keep the loaded view in step so the coming io->load sees it. The
	 * payload comes from the raft heap (it passes to the core); the array
	 * from malloc, as raft_disk_state_free expects of its own arrays. */
	void *copy = raft_heap_malloc(entry->buf.len ? entry->buf.len : 1);
	struct raft_disk_entry *own = malloc(sizeof(*own));
	if (copy == NULL || own == NULL) {
		raft_heap_free(copy);
		free(own);
		return posix_err(io, RAFT_NOMEM, "out of memory");
	}
	pthread_mutex_lock(&p->disk_mu);
	int rv = raft_disk_set_term_vote(p->disk, 1, 0, err, sizeof(err));
	if (rv == RAFT_DISK_OK)
		rv = raft_disk_append(p->disk, 1, &de, 1, err, sizeof(err));
	if (rv == RAFT_DISK_OK)
		rv = raft_disk_sync(p->disk, err, sizeof(err));
	pthread_mutex_unlock(&p->disk_mu);
	if (rv != RAFT_DISK_OK) {
		raft_heap_free(copy);
		free(own);
		return posix_err(io, posix_disk_rv(rv), "bootstrap: %s", err);
	}
	if (entry->buf.len)
		memcpy(copy, entry->buf.base, entry->buf.len);
	own[0] = (struct raft_disk_entry){ .term = entry->term, .type = entry->type,
					   .buf = copy, .len = entry->buf.len };
	st->term = 1;
	st->voted_for = 0;
	st->entries = own;
	st->n_entries = 1;
	st->start_index = 1;
	return RAFT_OK;
}

static int posix_persist_vote(struct raft_io *io, raft_term term,
			      raft_id voted_for)
{
	struct raft_io_posix *p = posix_of(io);
	char err[RAFT_DISK_ERRMSG_SIZE];
	/* Waits for a batch in progress: the metadata file is separate from
	 * the log, but the raft_disk handle is not thread-safe. */
	pthread_mutex_lock(&p->disk_mu);
	int rv = raft_disk_set_term_vote(p->disk, term, voted_for, err,
					 sizeof(err));
	pthread_mutex_unlock(&p->disk_mu);
	if (rv != RAFT_DISK_OK)
		return posix_err(io, posix_disk_rv(rv), "persist vote: %s", err);
	return RAFT_OK;
}

/* ---- queued disk requests ---- */

static void posix_enqueue(struct raft_io_posix *p, struct posix_op *op)
{
	pthread_mutex_lock(&p->mu);
	posix_push(&p->disk_q, op);
	pthread_mutex_unlock(&p->mu);
}

/* Let the disk thread take what is queued (raft thread). */
static void posix_kick(struct raft_io_posix *p)
{
	pthread_mutex_lock(&p->mu);
	if (p->disk_q.head != NULL && !p->kicked) {
		p->kicked = true;
		pthread_cond_signal(&p->wake);
	}
	pthread_mutex_unlock(&p->mu);
}

static int posix_append(struct raft_io *io, struct raft_io_append *req,
			raft_index first_index,
			const struct raft_entry *entries, unsigned n,
			raft_io_append_cb cb)
{
	struct raft_io_posix *p = posix_of(io);
	if (p->closed || n == 0 || entries == NULL)
		return posix_err(io, RAFT_INVALID, "append: bad call");
	struct posix_op *op = posix_op_new(io, POSIX_OP_APPEND);
	if (op == NULL)
		return RAFT_NOMEM;
	op->append.dents = raft_heap_malloc(n * sizeof(*op->append.dents));
	if (op->append.dents == NULL) {
		raft_heap_free(op);
		return posix_err(io, RAFT_NOMEM, "out of memory");
	}
	for (unsigned i = 0; i < n; i++)
		op->append.dents[i] = (struct raft_disk_entry){
			.term = entries[i].term, .type = entries[i].type,
			.buf = entries[i].buf.base, .len = entries[i].buf.len };
	op->append.req = req;
	op->append.first = first_index;
	op->append.entries = entries;
	op->append.n = n;
	op->append.cb = cb;
	posix_enqueue(p, op);
	for (unsigned i = 0; i < n; i++)
		if (entries[i].type == RAFT_CHANGE)
			posix_connect_buf(p, entries[i].buf.base,
					  entries[i].buf.len);
	return RAFT_OK;
}

static int posix_truncate(struct raft_io *io, raft_index index)
{
	struct raft_io_posix *p = posix_of(io);
	if (p->closed || index == 0)
		return posix_err(io, RAFT_INVALID, "truncate: bad call");
	struct posix_op *op = posix_op_new(io, POSIX_OP_TRUNCATE);
	if (op == NULL)
		return RAFT_NOMEM;
	op->truncate = index;
	posix_enqueue(p, op);
	return RAFT_OK;
}

static int posix_snapshot_put(struct raft_io *io,
			      struct raft_io_snapshot_put *req,
			      unsigned trailing,
			      const struct raft_snapshot *snapshot,
			      raft_io_snapshot_put_cb cb)
{
	struct raft_io_posix *p = posix_of(io);
	if (p->closed || snapshot == NULL || snapshot->meta.index == 0)
		return posix_err(io, RAFT_INVALID, "snapshot_put: bad call");
	struct posix_op *op = posix_op_new(io, POSIX_OP_SNAPSHOT_PUT);
	if (op == NULL)
		return RAFT_NOMEM;
	if (raft_configuration_encode(&snapshot->meta.conf, &op->put.conf) !=
	    RAFT_OK) {
		raft_heap_free(op);
		return posix_err(io, RAFT_NOMEM,
				 "snapshot_put: cannot encode configuration");
	}
	op->put.req = req;
	op->put.trailing = trailing;
	op->put.snap = snapshot;
	op->put.cb = cb;
	posix_enqueue(p, op);
	posix_connect_conf(p, &snapshot->meta.conf);
	return RAFT_OK;
}

static int posix_snapshot_get(struct raft_io *io,
			      struct raft_io_snapshot_get *req,
			      raft_io_snapshot_get_cb cb)
{
	struct raft_io_posix *p = posix_of(io);
	if (p->closed)
		return posix_err(io, RAFT_INVALID, "snapshot_get: closed");
	struct posix_op *op = posix_op_new(io, POSIX_OP_SNAPSHOT_GET);
	if (op == NULL)
		return RAFT_NOMEM;
	op->get.req = req;
	op->get.cb = cb;
	posix_push(&p->done_q, op);
	return RAFT_OK;
}

static int posix_exec_append(struct raft_io_posix *p, struct posix_op *op,
			     char *err, size_t err_len)
{
	return raft_disk_append(p->disk, op->append.first, op->append.dents,
				op->append.n, err, err_len);
}

static int posix_exec_snapshot(struct raft_io_posix *p, struct posix_op *op,
			       char *err, size_t err_len)
{
	const struct raft_snapshot *s = op->put.snap;
	const struct raft_buffer conf = op->put.conf;
	raft_index idx = s->meta.index;
	unsigned trailing = op->put.trailing;
	uint64_t compact = trailing == 0 || idx <= trailing ? 0 : idx - trailing;
	int rv = raft_disk_snapshot_put(p->disk, idx, s->meta.term,
					s->meta.conf_index, conf.base, conf.len,
					s->data.base, s->data.len, compact, err,
					err_len);
	/* trailing == 0: a snapshot from the leader replaces the whole log,
	 * including entries after it (raft.h). Only after the snapshot is
	 * durable, so a crash in between keeps the data somewhere. */
	if (rv == RAFT_DISK_OK && trailing == 0)
		rv = raft_disk_truncate(p->disk, raft_disk_first_index(p->disk),
					err, err_len);
	return rv;
}

/* Disk thread, holding disk_mu: execute a batch, then one fdatasync. */
static void posix_execute(struct raft_io_posix *p, struct posix_op *ops)
{
	char err[RAFT_DISK_ERRMSG_SIZE];
	bool failed = false, appended = false;
	for (struct posix_op *op = ops; op != NULL; op = op->next) {
		if (failed) {
			op->status = RAFT_IOERR;
			continue;
		}
		int rv = RAFT_DISK_OK;
		switch (op->kind) {
		case POSIX_OP_APPEND:
			rv = posix_exec_append(p, op, err, sizeof(err));
			if (rv == RAFT_DISK_OK) {
				appended = true;
				p->stats.append_reqs++;
				p->stats.entries += op->append.n;
			}
			break;
		case POSIX_OP_TRUNCATE:
			rv = raft_disk_truncate(p->disk, op->truncate, err,
						sizeof(err));
			break;
		case POSIX_OP_SNAPSHOT_PUT:
			rv = posix_exec_snapshot(p, op, err, sizeof(err));
			break;
		default:
			break;
		}
		if (rv != RAFT_DISK_OK) {
			/* Once the disk is broken every request fails the
			 * same way: say so once, not per request. */
			if (rv != RAFT_DISK_BROKEN || !p->broken_logged)
				posix_log(p, "raft_io_posix: %s", err);
			p->broken_logged = rv == RAFT_DISK_BROKEN;
			op->status = posix_disk_rv(rv);
			failed = true;
		}
	}
	if (appended) {
		p->stats.syncs++;
		int rv = raft_disk_sync(p->disk, err, sizeof(err));
		if (rv != RAFT_DISK_OK) {
			posix_log(p, "raft_io_posix: %s", err);
			for (struct posix_op *op = ops; op != NULL; op = op->next)
				if (op->kind == POSIX_OP_APPEND &&
				    op->status == RAFT_OK)
					op->status = RAFT_IOERR;
		}
	}
}

static void posix_op_free(struct posix_op *op)
{
	if (op->kind == POSIX_OP_APPEND)
		raft_heap_free(op->append.dents);
	else if (op->kind == POSIX_OP_SNAPSHOT_PUT)
		raft_heap_free(op->put.conf.base);
	raft_heap_free(op);
}

/* Raft thread: run executed requests' callbacks in order; status
 * overrides theirs when non-zero (close cancels). */
static void posix_complete(struct posix_op *ops, int status)
{
	while (ops != NULL) {
		struct posix_op *op = ops;
		ops = op->next;
		int st = status != RAFT_OK ? status : op->status;
		if (op->kind == POSIX_OP_APPEND)
			op->append.cb(op->append.req, st);
		else if (op->kind == POSIX_OP_SNAPSHOT_PUT)
			op->put.cb(op->put.req, st);
		posix_op_free(op);
	}
}

static void *posix_worker(void *arg)
{
	struct raft_io_posix *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && !(p->kicked && p->disk_q.head != NULL))
			pthread_cond_wait(&p->wake, &p->mu);
		if (p->stop)
			break;
		struct posix_op *ops = posix_take(&p->disk_q);
		p->kicked = false;
		p->busy = true;
		pthread_mutex_unlock(&p->mu);

		pthread_mutex_lock(&p->disk_mu);
		posix_execute(p, ops);
		pthread_mutex_unlock(&p->disk_mu);

		pthread_mutex_lock(&p->mu);
		while (ops != NULL) {
			struct posix_op *op = ops;
			ops = op->next;
			posix_push(&p->disk_done, op);
		}
		p->busy = false;
		pthread_cond_broadcast(&p->idle);
		/* Wake the raft thread's poll. A full counter (never, in
		 * practice) would only mean it is already readable. */
		uint64_t one = 1;
		if (write(p->efd, &one, sizeof(one)) < 0) {
			/* EAGAIN: already signalled */
		}
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Raft thread: take and complete what the disk thread finished. */
static void posix_reap(struct raft_io_posix *p)
{
	uint64_t cnt;
	if (read(p->efd, &cnt, sizeof(cnt)) < 0) {
		/* EAGAIN: nothing signalled since the last read */
	}
	pthread_mutex_lock(&p->mu);
	struct posix_op *ops = posix_take(&p->disk_done);
	pthread_mutex_unlock(&p->mu);
	posix_complete(ops, RAFT_OK);
}

/* ---- transport ---- */

static const char *posix_peer_address(struct raft_io_posix *p, raft_id id)
{
	for (int i = 0; i < POSIX_MAX_PEERS; i++)
		if (p->peers[i].id == id)
			return p->peers[i].address;
	return NULL;
}

/* Make sure the transport has a socket to id at address. */
static int posix_peer_ensure(struct raft_io_posix *p, raft_id id,
			     const char *address)
{
	struct posix_peer *slot = NULL;
	for (int i = 0; i < POSIX_MAX_PEERS; i++) {
		if (p->peers[i].id == id) {
			if (address == NULL ||
			    strcmp(p->peers[i].address, address) == 0)
				return RAFT_OK;
			slot = &p->peers[i];
			break;
		}
		if (p->peers[i].id == 0 && slot == NULL)
			slot = &p->peers[i];
	}
	if (slot == NULL || address == NULL)
		return RAFT_NOCONNECTION;
	size_t len = strlen(address);
	char *copy = raft_heap_malloc(len + 1);
	if (copy == NULL)
		return RAFT_NOMEM;
	memcpy(copy, address, len + 1);
	char err[256];
	if (raft_net_peer_add(p->net, id, address, err, sizeof(err)) !=
	    RAFT_NET_OK) {
		posix_log(p, "raft_io_posix: %s", err);
		raft_heap_free(copy);
		return RAFT_NOCONNECTION;
	}
	raft_heap_free(slot->address);
	slot->id = id;
	slot->address = copy;
	return RAFT_OK;
}

int raft_io_posix_peer_hint(struct raft_io_posix *p, raft_id id,
			    const char *address)
{
	if (id == 0 || address == NULL || id == p->id)
		return RAFT_INVALID;
	return posix_peer_ensure(p, id, address);
}

static int posix_send(struct raft_io *io, struct raft_io_send *req,
		      const struct raft_message *msg, raft_io_send_cb cb)
{
	struct raft_io_posix *p = posix_of(io);
	if (p->closed)
		return posix_err(io, RAFT_INVALID, "send: closed");
	struct posix_op *op = posix_op_new(io, POSIX_OP_SEND_DONE);
	if (op == NULL)
		return RAFT_NOMEM;
	op->send.req = req;
	op->send.cb = cb;
	size_t size;
	int rv = raft_codec_size(msg, &size);
	if (rv == RAFT_OK && size > p->sbuf_cap) {
		uint8_t *b = raft_heap_realloc(p->sbuf, size);
		if (b == NULL)
			rv = RAFT_NOMEM;
		else {
			p->sbuf = b;
			p->sbuf_cap = size;
		}
	}
	if (rv == RAFT_OK)
		rv = raft_codec_encode_to(msg, p->sbuf, size);
	if (rv != RAFT_OK) {
		raft_heap_free(op);
		return posix_err(io, rv, "send: cannot encode message type %u",
				 msg->type);
	}
	/* Encoded now, so the core's buffers are free as soon as the
	 * deferred callback runs. Delivery is best effort (raft.h). */
	rv = posix_peer_ensure(p, msg->server_id, msg->server_address);
	if (rv == RAFT_OK &&
	    raft_net_send(p->net, msg->server_id, p->sbuf, size, NULL, 0) !=
		    RAFT_NET_OK)
		rv = RAFT_NOCONNECTION;
	op->status = rv;
	posix_push(&p->done_q, op);
	return RAFT_OK;
}

static void posix_run_get(struct raft_io_posix *p, struct posix_op *op)
{
	struct raft_disk_state st;
	char err[RAFT_DISK_ERRMSG_SIZE];
	pthread_mutex_lock(&p->disk_mu);
	int rv = raft_disk_snapshot_read(p->disk, &st, err, sizeof(err));
	pthread_mutex_unlock(&p->disk_mu);
	if (rv != RAFT_DISK_OK) {
		posix_log(p, "raft_io_posix: %s", err);
		op->get.cb(op->get.req, NULL, posix_disk_rv(rv));
		return;
	}
	if (st.snap_index == 0) {
		op->get.cb(op->get.req, NULL, RAFT_NOTFOUND);
		return;
	}
	struct raft_snapshot *s = raft_heap_calloc(1, sizeof(*s));
	struct raft_buffer cb = { st.snap_conf, st.snap_conf_len };
	if (s == NULL || raft_configuration_decode(&cb, &s->meta.conf) != RAFT_OK) {
		raft_heap_free(s);
		raft_disk_state_free(p->disk, &st);
		op->get.cb(op->get.req, NULL, RAFT_NOMEM);
		return;
	}
	s->meta.index = st.snap_index;
	s->meta.term = st.snap_term;
	s->meta.conf_index = st.snap_conf_index;
	s->data.base = st.snap_data;
	s->data.len = st.snap_data_len;
	st.snap_data = NULL;
	raft_disk_state_free(p->disk, &st);	/* frees only buffers */
	op->get.cb(op->get.req, s, RAFT_OK);
}

static void posix_run_done(struct raft_io_posix *p)
{
	struct posix_op *ops = posix_take(&p->done_q);
	while (ops != NULL) {
		struct posix_op *op = ops;
		ops = op->next;
		if (op->kind == POSIX_OP_SEND_DONE)
			op->send.cb(op->send.req, op->status);
		else
			posix_run_get(p, op);
		raft_heap_free(op);
	}
}

/* ---- clock, randomness, close ---- */

static raft_time posix_time(struct raft_io *io)
{
	(void)io;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (raft_time)ts.tv_sec * 1000u + (raft_time)ts.tv_nsec / 1000000u;
}

static unsigned posix_random(struct raft_io *io, unsigned min, unsigned max)
{
	struct raft_io_posix *p = posix_of(io);
	if (max <= min)
		return min;
	/* xorshift64*: election jitter needs spread, not secrecy. */
	p->rng ^= p->rng >> 12;
	p->rng ^= p->rng << 25;
	p->rng ^= p->rng >> 27;
	uint64_t r = p->rng * 2685821657736338717ull;
	return min + (unsigned)((r >> 32) % (max - min));
}

static void posix_cancel(struct posix_queue *q)
{
	struct posix_op *ops = posix_take(q);
	while (ops != NULL) {
		struct posix_op *op = ops;
		ops = op->next;
		switch (op->kind) {
		case POSIX_OP_APPEND:
			op->append.cb(op->append.req, RAFT_CANCELED);
			break;
		case POSIX_OP_SNAPSHOT_PUT:
			op->put.cb(op->put.req, RAFT_CANCELED);
			break;
		case POSIX_OP_SEND_DONE:
			op->send.cb(op->send.req, RAFT_CANCELED);
			break;
		case POSIX_OP_SNAPSHOT_GET:
			op->get.cb(op->get.req, NULL, RAFT_CANCELED);
			break;
		default:
			break;
		}
		posix_op_free(op);
	}
}

static void posix_close(struct raft_io *io)
{
	struct raft_io_posix *p = posix_of(io);
	p->closed = true;
	if (!p->sync_init)
		return;
	/* Requests not yet taken are abandoned; a batch in progress must
	 * finish before close returns (raft.h), then the disk thread stops.
	 * Everything completes with RAFT_CANCELED, in issue order. */
	pthread_mutex_lock(&p->mu);
	struct posix_queue pending = p->disk_q;
	p->disk_q.head = p->disk_q.tail = NULL;
	while (p->busy)
		pthread_cond_wait(&p->idle, &p->mu);
	struct posix_queue done = p->disk_done;
	p->disk_done.head = p->disk_done.tail = NULL;
	p->stop = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->mu);
	if (p->worker_started) {
		pthread_join(p->worker, NULL);
		p->worker_started = false;
	}
	posix_cancel(&done);
	posix_cancel(&pending);
	posix_cancel(&p->done_q);
}

/* ---- public ---- */

struct raft_io_posix *raft_io_posix_create(
	const struct raft_io_posix_params *params, char *errmsg,
	size_t errmsg_len)
{
	if (params == NULL || params->id == 0 || params->dir == NULL ||
	    params->bind_url == NULL) {
		if (errmsg != NULL && errmsg_len > 0)
			snprintf(errmsg, errmsg_len,
				 "raft_io_posix: id, dir and bind_url required");
		errno = EINVAL;
		return NULL;
	}
	struct raft_io_posix *p = raft_heap_calloc(1, sizeof(*p));
	if (p == NULL) {
		if (errmsg != NULL && errmsg_len > 0)
			snprintf(errmsg, errmsg_len, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	/* Before any failure: raft_io_posix_free() closes through p->io. */
	p->io.impl = p;
	p->id = params->id;
	p->log = params->log;
	p->log_data = params->log_data;
	p->efd = -1;
	struct raft_disk_params dp = {
		.dir = params->dir, .segment_size = params->segment_size,
		.log = params->log, .log_data = params->log_data,
		.alloc = raft_heap_malloc, .dealloc = raft_heap_free,
		.sys = params->disk_sys,
	};
	char err[RAFT_DISK_ERRMSG_SIZE];
	p->disk = raft_disk_create(&dp, err, sizeof(err));
	if (p->disk == NULL ||
	    raft_disk_load(p->disk, &p->loaded, err, sizeof(err)) !=
		    RAFT_DISK_OK) {
		if (errmsg != NULL && errmsg_len > 0)
			snprintf(errmsg, errmsg_len, "raft_io_posix: %s", err);
		goto fail;
	}
	struct raft_net_params np = {
		.id = params->id, .bind_url = params->bind_url,
		.key = params->key, .key_len = params->key_len,
		.log = params->log, .log_data = params->log_data,
	};
	p->net = raft_net_create(&np, errmsg, errmsg_len);
	if (p->net == NULL)
		goto fail;
	p->rng = params->id * 0x9E3779B97F4A7C15ull ^ posix_time(NULL);
	if (p->rng == 0)
		p->rng = 1;
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->efd < 0) {
		if (errmsg != NULL && errmsg_len > 0)
			snprintf(errmsg, errmsg_len, "raft_io_posix: eventfd: %s",
				 strerror(errno));
		goto fail;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_mutex_init(&p->disk_mu, NULL);
	pthread_cond_init(&p->wake, NULL);
	pthread_cond_init(&p->idle, NULL);
	p->sync_init = true;
	int e = pthread_create(&p->worker, NULL, posix_worker, p);
	if (e != 0) {
		if (errmsg != NULL && errmsg_len > 0)
			snprintf(errmsg, errmsg_len,
				 "raft_io_posix: disk thread: %s", strerror(e));
		goto fail;
	}
	p->worker_started = true;
	p->io = (struct raft_io){
		.impl = p,
		.load = posix_load,
		.bootstrap = posix_bootstrap,
		.persist_vote = posix_persist_vote,
		.append = posix_append,
		.truncate = posix_truncate,
		.snapshot_put = posix_snapshot_put,
		.snapshot_get = posix_snapshot_get,
		.send = posix_send,
		.time = posix_time,
		.random = posix_random,
		.close = posix_close,
	};
	return p;
fail:
	raft_io_posix_free(p);
	errno = EIO;
	return NULL;
}

struct raft_io *raft_io_posix_io(struct raft_io_posix *p)
{
	return &p->io;
}

static void posix_heard(struct raft_io_posix *p, raft_id from)
{
	int slot = -1;
	for (int i = 0; i < POSIX_MAX_PEERS; i++) {
		if (p->heard[i].id == from) {
			slot = i;
			break;
		}
		if (slot < 0 && p->heard[i].id == 0)
			slot = i;
	}
	if (slot < 0)
		slot = (int)(from % POSIX_MAX_PEERS); /* table full: recycle */
	p->heard[slot].id = from;
	p->heard[slot].at = posix_time(NULL);
}

raft_time raft_io_posix_last_heard(const struct raft_io_posix *p, raft_id id)
{
	for (int i = 0; i < POSIX_MAX_PEERS; i++)
		if (p->heard[i].id == id)
			return p->heard[i].at;
	return 0;
}

int raft_io_posix_run(struct raft_io_posix *p, struct raft *r,
		      int max_wait_ms)
{
	/* Requests the embedder queued since the last call (e.g. proposals)
	 * go to disk before we sleep. */
	posix_kick(p);
	raft_time now = posix_time(NULL);
	raft_time due = raft_next_timeout(r);
	int wait = max_wait_ms < 0 ? 0 : max_wait_ms;
	pthread_mutex_lock(&p->mu);
	bool disk_done = p->disk_done.head != NULL;
	pthread_mutex_unlock(&p->mu);
	if (disk_done || p->done_q.head != NULL)
		wait = 0;
	else if (due <= now)
		wait = 0;
	else if (due - now < (raft_time)wait)
		wait = (int)(due - now);
	struct pollfd pfd[2] = {
		{ .fd = raft_net_fd(p->net), .events = POLLIN },
		{ .fd = p->efd, .events = POLLIN },
	};
	if (wait > 0 && poll(pfd, 2, wait) < 0 && errno != EINTR)
		return posix_err(&p->io, RAFT_IOERR, "poll: %s",
				 strerror(errno));

	for (int i = 0; i < POSIX_MAX_RECV_PER_RUN; i++) {
		uint64_t from;
		const void *buf;
		size_t len;
		if (raft_net_recv(p->net, &from, &buf, &len) != RAFT_NET_OK)
			break;
		struct raft_message msg;
		char err[160];
		if (raft_codec_decode(buf, len, &msg, err, sizeof(err)) !=
		    RAFT_OK) {
			/* Authentic but undecodable: a peer bug or a newer
			 * version; never guessed at. */
			posix_log(p, "raft_io_posix: from %" PRIu64 ": %s",
				  from, err);
			continue;
		}
		msg.server_id = from;
		msg.server_address = posix_peer_address(p, from);
		posix_heard(p, from);
		raft_step(r, &msg);
		raft_codec_release(&msg);
	}
	if (posix_time(NULL) >= raft_next_timeout(r))
		raft_tick(r);
	posix_reap(p);
	posix_run_done(p);
	/* Everything this iteration produced shares the next batch. */
	posix_kick(p);
	return RAFT_OK;
}

void raft_io_posix_fds(const struct raft_io_posix *p, int fds[2])
{
	fds[0] = raft_net_fd(p->net);
	fds[1] = p->efd;
}

raft_time raft_io_posix_next_deadline(struct raft_io_posix *p,
				      const struct raft *r)
{
	raft_time now = posix_time(NULL);
	pthread_mutex_lock(&p->mu);
	bool disk_done = p->disk_done.head != NULL;
	pthread_mutex_unlock(&p->mu);
	if (disk_done || p->done_q.head != NULL)
		return now;
	return raft_next_timeout(r);
}

raft_time raft_io_posix_now(void)
{
	return posix_time(NULL);
}

void raft_io_posix_flush(struct raft_io_posix *p)
{
	if (p->sync_init && !p->closed) {
		posix_kick(p);
		pthread_mutex_lock(&p->mu);
		while (p->disk_q.head != NULL || p->busy)
			pthread_cond_wait(&p->idle, &p->mu);
		pthread_mutex_unlock(&p->mu);
		posix_reap(p);
	}
	posix_run_done(p);
}

void raft_io_posix_stats_get(const struct raft_io_posix *p,
			     struct raft_io_posix_stats *st)
{
	struct raft_io_posix *q = (struct raft_io_posix *)(uintptr_t)p;
	pthread_mutex_lock(&q->disk_mu);
	*st = p->stats;
	pthread_mutex_unlock(&q->disk_mu);
}

void raft_io_posix_net_stats(const struct raft_io_posix *p,
			     struct raft_net_stats *st)
{
	raft_net_stats_get(p->net, st);
}

void raft_io_posix_free(struct raft_io_posix *p)
{
	if (p == NULL)
		return;
	posix_close(&p->io);	/* idempotent: joins the disk thread */
	if (p->sync_init) {
		pthread_mutex_destroy(&p->mu);
		pthread_mutex_destroy(&p->disk_mu);
		pthread_cond_destroy(&p->wake);
		pthread_cond_destroy(&p->idle);
	}
	if (p->efd >= 0)
		close(p->efd);
	if (p->disk != NULL)
		raft_disk_state_free(p->disk, &p->loaded);
	raft_disk_free(p->disk);
	raft_net_free(p->net);
	for (int i = 0; i < POSIX_MAX_PEERS; i++)
		raft_heap_free(p->peers[i].address);
	raft_heap_free(p->sbuf);
	raft_heap_free(p);
}
