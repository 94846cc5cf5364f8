/*
 * raft.c: instance lifecycle, message dispatch, timers, local log writes
 * and the apply loop.
 *
 * The core is a pure state machine driven by three inputs: raft_step()
 * (a message), raft_tick() (time) and io completions. It never blocks and
 * never reads a clock itself, which is what makes the deterministic
 * simulation in fixture.c possible (STYLE 22).
 *
 * Local writes: the leader keeps at most one io->append() in flight and
 * gathers every proposal made meanwhile into the next one, so a burst of
 * proposals costs one write and one fsync (§10.2.1 "batching"). It sends
 * entries to followers before its own write completes (§10.2.1: the
 * leader's append and replication run in parallel); its own match index is
 * last_stored, so commit still requires durable copies on a quorum.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "raft_int.h"

static const char *const raft_error_names[RAFT_ERROR_COUNT_] = {
	[RAFT_OK] = "ok",
	[RAFT_NOMEM] = "out of memory",
	[RAFT_INVALID] = "invalid argument",
	[RAFT_NOTLEADER] = "not the leader",
	[RAFT_LEADERSHIPLOST] = "leadership lost",
	[RAFT_SHUTDOWN] = "shutting down",
	[RAFT_IOERR] = "I/O error",
	[RAFT_CORRUPT] = "persisted state is corrupt",
	[RAFT_CANCELED] = "canceled",
	[RAFT_MALFORMED] = "malformed data",
	[RAFT_CANTBOOTSTRAP] = "state already exists",
	[RAFT_CANTCHANGE] = "a configuration change is in progress",
	[RAFT_NOTFOUND] = "not found",
	[RAFT_DUPLICATE] = "duplicate server",
	[RAFT_BUSY] = "leadership transfer in progress",
	[RAFT_NOCONNECTION] = "server did not catch up",
	[RAFT_TOOBIG] = "too big",
};

const char *raft_strerror(int rv)
{
	if (rv < 0 || rv >= RAFT_ERROR_COUNT_ || raft_error_names[rv] == NULL)
		return "unknown error";
	return raft_error_names[rv];
}

void raft_errorf(struct raft *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->errmsg, sizeof(r->errmsg), fmt, ap);
	va_end(ap);
}

void raft_wrap_io_error(struct raft *r, const char *what)
{
	raft_errorf(r, "%s: %s", what, r->io->errmsg);
}

raft_time raft_now(struct raft *r)
{
	return r->io->time(r->io);
}

/* ---------------------------------------------------------------- create */

struct raft *raft_create(const struct raft_params *params)
{
	if (params == NULL || params->id == 0 || params->address == NULL ||
	    params->io == NULL || params->fsm == NULL)
		return NULL;
	struct raft *r = raft_heap_calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	size_t alen = strlen(params->address);
	r->address = raft_heap_malloc(alen + 1);
	if (r->address == NULL) {
		raft_heap_free(r);
		return NULL;
	}
	memcpy(r->address, params->address, alen + 1);
	r->p = *params;
	r->p.address = r->address;
	if (r->p.election_timeout == 0)
		r->p.election_timeout = 1000;
	if (r->p.heartbeat_timeout == 0)
		r->p.heartbeat_timeout = 100;
	if (r->p.max_batch == 0)
		r->p.max_batch = 64;
	if (r->p.max_inflight == 0)
		r->p.max_inflight = 8;
	if (r->p.max_inflight > PROGRESS_MAX_INFLIGHT)
		r->p.max_inflight = PROGRESS_MAX_INFLIGHT;
	if (r->p.snapshot_threshold == 0)
		r->p.snapshot_threshold = 1024;
	if (r->p.snapshot_trailing == 0)
		r->p.snapshot_trailing = 128;
	if (r->p.snapshot_chunk == 0)
		r->p.snapshot_chunk = 65536;
	if (r->p.max_catch_up_rounds == 0)
		r->p.max_catch_up_rounds = 10;
	r->id = params->id;
	r->io = params->io;
	r->fsm = params->fsm;
	r->state = RAFT_UNAVAILABLE;
	log_init(&r->log);
	raft_configuration_init(&r->conf);
	raft_configuration_init(&r->conf_prev);
	raft_configuration_init(&r->snap_conf);
	return r;
}

void raft_fail_leader_requests(struct raft *r, int status)
{
	/* Detach each list before invoking callbacks: a callback may submit
	 * a new request, which must not be failed by this same sweep. */
	struct raft_apply *a = r->applies_head;
	r->applies_head = r->applies_tail = NULL;
	while (a != NULL) {
		struct raft_apply *next = a->next_;
		a->cb(a, status, NULL);
		a = next;
	}
	struct raft_read *rd = r->reads_head;
	r->reads_head = r->reads_tail = NULL;
	while (rd != NULL) {
		struct raft_read *next = rd->next_;
		rd->cb(rd, status, 0);
		rd = next;
	}
	struct raft_change *c = r->change;
	r->change = NULL;
	if (c != NULL)
		c->cb(c, status);
	struct raft_transfer *t = r->transfer;
	r->transfer = NULL;
	if (t != NULL)
		t->cb(t, r->transfer_sent && status == RAFT_LEADERSHIPLOST
				 ? RAFT_OK
				 : status);
	r->transfer_sent = false;
}

void raft_free(struct raft *r)
{
	if (r == NULL)
		return;
	r->closing = true;
	/* io->close() runs every pending completion; with closing set they
	 * only release what their request holds. */
	r->io->close(r->io);
	raft_fail_leader_requests(r, RAFT_SHUTDOWN);
	snapshot_release_out(r);
	snapshot_incoming_reset(r);
	raft_heap_free(r->progress);
	raft_heap_free(r->votes);
	raft_configuration_close(&r->conf);
	raft_configuration_close(&r->conf_prev);
	raft_configuration_close(&r->snap_conf);
	log_close(&r->log);
	raft_heap_free(r->address);
	raft_heap_free(r);
}

/* ---------------------------------------------------------- configuration */

const struct raft_server *raft_conf_get(const struct raft_configuration *c,
					raft_id id)
{
	for (unsigned i = 0; i < c->n; i++)
		if (c->servers[i].id == id)
			return &c->servers[i];
	return NULL;
}

bool raft_is_voter(const struct raft_configuration *c, raft_id id)
{
	const struct raft_server *s = raft_conf_get(c, id);
	return s != NULL && s->role == RAFT_VOTER;
}

unsigned raft_n_voters(const struct raft_configuration *c)
{
	unsigned n = 0;
	for (unsigned i = 0; i < c->n; i++)
		n += c->servers[i].role == RAFT_VOTER;
	return n;
}

/* The configuration in force at index: the last RAFT_CHANGE entry at or
 * before it, else the snapshot's. Entries at or below the snapshot's
 * conf_index are superseded by it, so the scan stops there. */
int raft_conf_at(struct raft *r, raft_index index,
		 struct raft_configuration *out, raft_index *out_index)
{
	raft_index first = log_first_index(&r->log);
	for (raft_index i = index; i >= first && i > r->snap_conf_index; i--) {
		const struct raft_entry *e = log_get(&r->log, i);
		if (e == NULL || e->type != RAFT_CHANGE)
			continue;
		*out_index = i;
		return raft_configuration_decode(&e->buf, out);
	}
	*out_index = r->snap_conf_index;
	return raft_configuration_copy(&r->snap_conf, out);
}

static void conf_changed(struct raft *r)
{
	if (r->state == RAFT_LEADER &&
	    replication_progress_rebuild(r) != RAFT_OK)
		raft_mark_broken(r, "no memory for progress");
}

/* Recompute conf and conf_prev from the log (after load or after losing
 * the cached previous configuration). */
void raft_conf_rebuild(struct raft *r)
{
	struct raft_configuration c, prev;
	raft_index ci, pi = 0;
	if (raft_conf_at(r, log_last_index(&r->log), &c, &ci) != RAFT_OK) {
		raft_mark_broken(r, "cannot rebuild configuration");
		return;
	}
	raft_configuration_init(&prev);
	bool prev_ok = ci > 0 && raft_conf_at(r, ci - 1, &prev, &pi) == RAFT_OK;
	raft_configuration_close(&r->conf);
	raft_configuration_close(&r->conf_prev);
	r->conf = c;
	r->conf_index = ci;
	r->conf_prev = prev;
	r->conf_prev_index = pi;
	r->conf_prev_valid = prev_ok;
	conf_changed(r);
}

/* A RAFT_CHANGE entry takes effect as soon as it is in the log, committed
 * or not (§4.1). Decode first so a failure leaves everything unchanged. */
void raft_conf_install(struct raft *r, raft_index index,
		       struct raft_configuration *c)
{
	raft_configuration_close(&r->conf_prev);
	r->conf_prev = r->conf;
	r->conf_prev_index = r->conf_index;
	r->conf_prev_valid = true;
	r->conf = *c;
	r->conf_index = index;
	conf_changed(r);
}

void raft_mark_broken(struct raft *r, const char *why)
{
	/* A state we cannot represent safely (e.g. no memory to roll back a
	 * configuration): stop participating rather than risk a wrong
	 * vote. The embedder sees RAFT_UNAVAILABLE and raft_errmsg(). */
	raft_errorf(r, "unavailable: %s", why);
	if (r->state == RAFT_LEADER)
		raft_fail_leader_requests(r, RAFT_LEADERSHIPLOST);
	r->state = RAFT_UNAVAILABLE;
}

/* ------------------------------------------------------------ bootstrap */

int raft_bootstrap(struct raft *r, const struct raft_configuration *conf)
{
	if (r->state != RAFT_UNAVAILABLE || conf->n == 0)
		return RAFT_INVALID;
	struct raft_entry e = {.term = 1, .type = RAFT_CHANGE};
	int rv = raft_configuration_encode(conf, &e.buf);
	if (rv != RAFT_OK)
		return rv;
	rv = r->io->bootstrap(r->io, &e);
	raft_heap_free(e.buf.base);
	if (rv != RAFT_OK)
		raft_wrap_io_error(r, "bootstrap");
	return rv;
}

/* ---------------------------------------------------------------- start */

static void load_free(struct raft_io_load *ld, unsigned from)
{
	for (unsigned i = from; i < ld->n_entries; i++)
		raft_heap_free(ld->entries[i].buf.base);
	raft_heap_free(ld->entries);
	if (ld->snapshot != NULL) {
		raft_snapshot_close(ld->snapshot);
		raft_heap_free(ld->snapshot);
	}
}

int raft_start(struct raft *r)
{
	struct raft_io_load ld;
	memset(&ld, 0, sizeof(ld));
	if (r->state != RAFT_UNAVAILABLE || r->closing)
		return RAFT_INVALID;
	int rv = r->io->load(r->io, &ld);
	if (rv != RAFT_OK) {
		raft_wrap_io_error(r, "load");
		return rv;
	}
	r->term = ld.term;
	r->voted_for = ld.voted_for;
	raft_index snap_index = 0;
	if (ld.snapshot != NULL) {
		struct raft_snapshot *s = ld.snapshot;
		snap_index = s->meta.index;
		/* entries must join the snapshot without a gap */
		if (ld.n_entries > 0 && ld.start_index > snap_index + 1) {
			raft_errorf(r, "load: gap after snapshot %llu",
				    (unsigned long long)snap_index);
			load_free(&ld, 0);
			return RAFT_CORRUPT;
		}
		rv = r->fsm->restore(r->fsm, &s->data);
		if (rv != RAFT_OK) {
			raft_errorf(r, "load: fsm restore failed (%d)", rv);
			load_free(&ld, 0);
			return rv;
		}
		s->data.base = NULL; /* now the FSM's */
		s->data.len = 0;
		log_restart(&r->log, snap_index, s->meta.term);
		r->snap_conf = s->meta.conf;
		raft_configuration_init(&s->meta.conf);
		r->snap_conf_index = s->meta.conf_index;
		r->commit_index = r->last_applied = snap_index;
	} else if (ld.n_entries > 0 && ld.start_index != 1) {
		raft_errorf(r, "load: log starts at %llu without snapshot",
			    (unsigned long long)ld.start_index);
		load_free(&ld, 0);
		return RAFT_CORRUPT;
	}
	if (ld.n_entries > 0)
		r->log.offset = ld.start_index - 1;
	for (unsigned i = 0; i < ld.n_entries; i++) {
		rv = log_append(&r->log, ld.entries[i].term,
				ld.entries[i].type, &ld.entries[i].buf);
		if (rv != RAFT_OK) {
			load_free(&ld, i);
			ld.entries = NULL;
			raft_errorf(r, "load: out of memory");
			return rv;
		}
	}
	raft_heap_free(ld.entries);
	ld.entries = NULL;
	ld.n_entries = 0;
	load_free(&ld, 0);
	r->last_stored = r->last_issued = log_last_index(&r->log);
	r->state = RAFT_FOLLOWER;
	raft_conf_rebuild(r);
	if (r->state == RAFT_UNAVAILABLE)
		return RAFT_NOMEM;
	raft_reset_election_timer(r);
	return RAFT_OK;
}

/* ---------------------------------------------------------------- state */

void raft_reset_election_timer(struct raft *r)
{
	unsigned et = r->p.election_timeout;
	r->election_start = raft_now(r);
	r->election_rand = r->io->random(r->io, et, 2 * et);
}

int raft_persist_vote(struct raft *r, raft_term term, raft_id vote)
{
	if (term == r->term && vote == r->voted_for)
		return RAFT_OK;
	int rv = r->io->persist_vote(r->io, term, vote);
	if (rv != RAFT_OK) {
		raft_wrap_io_error(r, "persist term and vote");
		return rv;
	}
	r->term = term;
	r->voted_for = vote;
	return RAFT_OK;
}

void raft_convert_to_follower(struct raft *r)
{
	if (r->state == RAFT_LEADER) {
		raft_fail_leader_requests(r, RAFT_LEADERSHIPLOST);
		snapshot_release_out(r);
		raft_heap_free(r->progress);
		r->progress = NULL;
		r->n_progress = 0;
	}
	raft_heap_free(r->votes);
	r->votes = NULL;
	r->n_votes = 0;
	r->state = RAFT_FOLLOWER;
	r->leader_id = 0;
	r->pre_vote = false;
	raft_reset_election_timer(r);
}

/* A message from a peer carries a newer term: adopt it durably before
 * acting on the message (§3.3 "if a server receives a request with a
 * stale term..."; §3.8 persistence). */
int raft_observe_term(struct raft *r, raft_term term)
{
	if (term <= r->term)
		return RAFT_OK;
	int rv = raft_persist_vote(r, term, 0);
	if (rv != RAFT_OK)
		return rv;
	raft_convert_to_follower(r);
	return RAFT_OK;
}

/* ----------------------------------------------------------------- send */

struct send_req {
	struct raft_io_send io;
	struct raft_message msg;
	struct log_batch batch;
};

static void send_req_free(struct send_req *s)
{
	log_batch_release(&s->batch);
	if (s->msg.type == RAFT_MSG_INSTALL_SNAPSHOT) {
		raft_configuration_close(&s->msg.install_snapshot.conf);
		raft_heap_free(s->msg.install_snapshot.data.base);
	}
	raft_heap_free(s);
}

static void send_cb(struct raft_io_send *req, int status)
{
	(void)status; /* a lost message is recovered by retries */
	send_req_free(req->data);
}

/* Send msg; the entries it references must be held by batch, whose
 * references move into the request. InstallSnapshot conf and data are
 * copied so the cached snapshot can be released independently. */
int raft_send(struct raft *r, const struct raft_message *msg,
	      struct log_batch *batch)
{
	struct send_req *s = raft_heap_calloc(1, sizeof(*s));
	if (s == NULL) {
		if (batch != NULL)
			log_batch_release(batch);
		return RAFT_NOMEM;
	}
	s->io.data = s;
	s->msg = *msg;
	if (batch != NULL) {
		s->batch = *batch;
		batch->n = 0;
		batch->entries = NULL;
		batch->refs = NULL;
	}
	if (msg->type == RAFT_MSG_INSTALL_SNAPSHOT) {
		const struct raft_install_snapshot *is = &msg->install_snapshot;
		s->msg.install_snapshot.data.base = NULL;
		raft_configuration_init(&s->msg.install_snapshot.conf);
		if (raft_configuration_copy(&is->conf,
					    &s->msg.install_snapshot.conf) !=
		    RAFT_OK) {
			send_req_free(s);
			return RAFT_NOMEM;
		}
		void *d = raft_heap_malloc(is->data.len);
		if (d == NULL) {
			send_req_free(s);
			return RAFT_NOMEM;
		}
		if (is->data.len > 0)
			memcpy(d, is->data.base, is->data.len);
		s->msg.install_snapshot.data.base = d;
	}
	int rv = r->io->send(r->io, &s->io, &s->msg, send_cb);
	if (rv != RAFT_OK) {
		send_req_free(s);
		return rv;
	}
	return RAFT_OK;
}

/* ---------------------------------------------------------- local writes */

static void append_cb(struct raft_io_append *io_req, int status)
{
	struct append_req *req = io_req->data;
	struct raft *r = req->r;
	unsigned n = req->batch.n;
	raft_term last_term = n > 0 ? req->batch.entries[n - 1].term : 0;
	raft_index last = req->first + n - 1;
	log_batch_release(&req->batch);
	bool mine = req->reply_to == 0;
	if (r->closing) {
		raft_heap_free(req);
		return;
	}
	/* Clear the flag whatever the epoch: a leader that was deposed and
	 * re-elected while this write was in flight must not wait forever
	 * for a completion it will ignore. */
	if (mine)
		r->leader_append_busy = false;
	if (req->epoch != r->epoch) {
		/* issued before a failed write (or before a snapshot
		 * install): superseded by the truncate or install that
		 * followed */
		raft_heap_free(req);
		raft_leader_flush(r);
		return;
	}
	if (status != RAFT_OK) {
		raft_heap_free(req);
		raft_errorf(r, "append: %s", r->io->errmsg);
		raft_append_failed(r, status);
		return;
	}
	/* Same index and term means same entry (Log Matching, §3.5): if it
	 * is still in the log, everything up to it is now durable. */
	if (n > 0 && log_term_of(&r->log, last) == last_term &&
	    last > r->last_stored)
		r->last_stored = last;
	/* the written run may extend past what the leader's message
	 * matched (entries held in memory but never written, e.g. left by
	 * a deposed leader); acknowledge only the matching part */
	raft_index ack = last < req->reply_index ? last : req->reply_index;
	if (!mine && req->reply_term == r->term &&
	    r->state == RAFT_FOLLOWER && r->last_stored >= ack)
		replication_send_append_result(r, req->reply_to, false, ack,
					       req->read_ctx);
	raft_heap_free(req);
	if (r->state == RAFT_LEADER) {
		replication_maybe_commit(r);
		raft_leader_flush(r);
	}
	raft_apply_committed(r);
}

int raft_issue_append(struct raft *r, raft_index first, unsigned n,
		      raft_id reply_to, raft_index reply_index,
		      uint64_t read_ctx)
{
	struct append_req *req = raft_heap_calloc(1, sizeof(*req));
	if (req == NULL)
		return RAFT_NOMEM;
	int rv = log_acquire(&r->log, first, n, &req->batch);
	if (rv != RAFT_OK) {
		raft_heap_free(req);
		return rv;
	}
	req->io.data = req;
	req->r = r;
	req->first = first;
	req->epoch = r->epoch;
	req->reply_to = reply_to;
	req->reply_term = r->term;
	req->reply_index = reply_index;
	req->read_ctx = read_ctx;
	rv = r->io->append(r->io, &req->io, first, req->batch.entries, n,
			   append_cb);
	if (rv != RAFT_OK) {
		raft_wrap_io_error(r, "append");
		log_batch_release(&req->batch);
		raft_heap_free(req);
		return rv;
	}
	r->last_issued = first + n - 1;
	return RAFT_OK;
}

/* Issue everything appended since the last write as one io->append. */
void raft_leader_flush(struct raft *r)
{
	if (r->state != RAFT_LEADER || r->leader_append_busy)
		return;
	raft_index last = log_last_index(&r->log);
	if (r->last_issued >= last)
		return;
	int rv = raft_issue_append(r, r->last_issued + 1,
				   (unsigned)(last - r->last_issued), 0, 0, 0);
	if (rv != RAFT_OK) {
		raft_append_failed(r, rv);
		return;
	}
	r->leader_append_busy = true;
}

/* Leader side: add an entry of the current term to the in-memory log.
 * Ownership of buf->base passes on success. */
int raft_append_local(struct raft *r, raft_term term, int type,
		      struct raft_buffer *buf)
{
	raft_index index = log_last_index(&r->log) + 1;
	struct raft_configuration c;
	raft_configuration_init(&c);
	if (type == RAFT_CHANGE) {
		/* decode before the entry becomes visible so that a failure
		 * leaves log and configuration untouched */
		int rv = raft_configuration_decode(buf, &c);
		if (rv != RAFT_OK)
			return rv;
	}
	int rv = log_append(&r->log, term, type, buf);
	if (rv != RAFT_OK) {
		raft_configuration_close(&c);
		return rv;
	}
	if (type == RAFT_CHANGE)
		raft_conf_install(r, index, &c);
	return RAFT_OK;
}

/* Remove entries >= index from memory and disk, rolling the configuration
 * back if its entry goes (§4.1: a server uses the latest configuration in
 * its log, so a removed change entry un-does the change). */
void raft_truncate_suffix(struct raft *r, raft_index index)
{
	if (index > log_last_index(&r->log))
		return;
	log_truncate(&r->log, index);
	if (r->io->truncate(r->io, index) != RAFT_OK) {
		raft_wrap_io_error(r, "truncate");
		raft_mark_broken(r, r->errmsg);
	}
	if (r->last_stored >= index)
		r->last_stored = index - 1;
	if (r->last_issued >= index)
		r->last_issued = index - 1;
	if (r->conf_index >= index) {
		if (r->conf_prev_valid && r->conf_prev_index < index) {
			raft_configuration_close(&r->conf);
			r->conf = r->conf_prev;
			r->conf_index = r->conf_prev_index;
			raft_configuration_init(&r->conf_prev);
			r->conf_prev_valid = false;
			conf_changed(r);
		} else {
			raft_conf_rebuild(r);
		}
	}
}

/* A local write failed. Entries after last_stored may or may not be on
 * disk; drop them from memory and disk so memory and disk agree again, and
 * ignore completions of writes issued before (epoch). A leader steps down:
 * it may not re-use the indexes it already sent in this term (Log
 * Matching), and a new term from a new election makes that impossible. */
void raft_append_failed(struct raft *r, int status)
{
	(void)status;
	r->epoch++;
	r->leader_append_busy = false;
	if (r->state == RAFT_LEADER) {
		raft_index keep = r->last_stored;
		raft_convert_to_follower(r);
		r->leader_id = 0;
		raft_truncate_suffix(r, keep + 1);
	} else {
		raft_truncate_suffix(r, r->last_stored + 1);
	}
	if (r->commit_index > r->last_stored)
		r->commit_index = r->last_stored > r->last_applied
					  ? r->last_stored
					  : r->last_applied;
}

/* ---------------------------------------------------------------- apply */

void raft_apply_committed(struct raft *r)
{
	/* never apply what is not durable here: a crash would otherwise
	 * leave the FSM ahead of the log it restarts from */
	raft_index bound = r->commit_index < r->last_stored ? r->commit_index
							    : r->last_stored;
	while (r->last_applied < bound && !r->closing) {
		raft_index i = r->last_applied + 1;
		const struct raft_entry *e = log_get(&r->log, i);
		assert(e != NULL);
		void *result = NULL;
		int rv = RAFT_OK;
		raft_term term = e->term;
		if (e->type == RAFT_COMMAND)
			rv = r->fsm->apply(r->fsm, &e->buf, &result);
		r->last_applied = i;
		struct raft_apply *a = r->applies_head;
		if (a != NULL && a->index_ == i) {
			r->applies_head = a->next_;
			if (r->applies_head == NULL)
				r->applies_tail = NULL;
			a->cb(a, a->term_ == term ? rv : RAFT_LEADERSHIPLOST,
			      result);
		}
	}
	membership_on_commit(r);
	if (r->state == RAFT_LEADER)
		replication_reads_progress(r);
	snapshot_maybe_take(r);
}

static int propose(struct raft *r, struct raft_apply *req, int type,
		   struct raft_buffer *buf, raft_apply_cb cb)
{
	if (r->state != RAFT_LEADER)
		return RAFT_NOTLEADER;
	if (r->transfer != NULL)
		return RAFT_BUSY;
	if (cb == NULL)
		return RAFT_INVALID;
	int rv = raft_append_local(r, r->term, type, buf);
	if (rv != RAFT_OK)
		return rv;
	req->cb = cb;
	req->index_ = log_last_index(&r->log);
	req->term_ = r->term;
	req->type_ = type;
	req->next_ = NULL;
	if (r->applies_tail != NULL)
		r->applies_tail->next_ = req;
	else
		r->applies_head = req;
	r->applies_tail = req;
	raft_leader_flush(r);
	if (r->state == RAFT_LEADER)
		replication_broadcast(r, false);
	return RAFT_OK;
}

int raft_apply(struct raft *r, struct raft_apply *req,
	       const struct raft_buffer *buf, raft_apply_cb cb)
{
	struct raft_buffer b = *buf;
	if (b.base == NULL && b.len != 0)
		return RAFT_INVALID;
	return propose(r, req, RAFT_COMMAND, &b, cb);
}

int raft_barrier(struct raft *r, struct raft_apply *req, raft_apply_cb cb)
{
	struct raft_buffer b = {NULL, 0};
	return propose(r, req, RAFT_BARRIER, &b, cb);
}

/* ------------------------------------------------------------ dispatch */

int raft_step(struct raft *r, const struct raft_message *m)
{
	if (r->state == RAFT_UNAVAILABLE || r->closing)
		return RAFT_INVALID;
	if (m == NULL || m->server_id == 0 || m->server_id == r->id)
		return RAFT_INVALID;
	switch (m->type) {
	case RAFT_MSG_REQUEST_VOTE:
		return election_recv_request_vote(r, m);
	case RAFT_MSG_REQUEST_VOTE_RESULT:
		return election_recv_result(r, m);
	case RAFT_MSG_APPEND_ENTRIES:
		if (m->append_entries.n_entries > 0 &&
		    m->append_entries.entries == NULL)
			return RAFT_INVALID;
		return replication_recv_append(r, m);
	case RAFT_MSG_APPEND_ENTRIES_RESULT:
		return replication_recv_append_result(r, m);
	case RAFT_MSG_INSTALL_SNAPSHOT:
		if (m->install_snapshot.data.len > 0 &&
		    m->install_snapshot.data.base == NULL)
			return RAFT_INVALID;
		return snapshot_recv(r, m);
	case RAFT_MSG_INSTALL_SNAPSHOT_RESULT:
		return snapshot_recv_result(r, m);
	case RAFT_MSG_TIMEOUT_NOW:
		return election_recv_timeout_now(r, m);
	default:
		return RAFT_INVALID;
	}
}

void raft_tick(struct raft *r)
{
	if (r->state == RAFT_UNAVAILABLE || r->closing)
		return;
	raft_time now = raft_now(r);
	if (r->state != RAFT_LEADER) {
		if (now >= r->election_start + r->election_rand) {
			if (raft_is_voter(&r->conf, r->id))
				election_start(r, !r->p.disable_pre_vote);
			else
				raft_reset_election_timer(r);
		}
		return;
	}
	if (now >= r->heartbeat_due) {
		r->heartbeat_due = now + r->p.heartbeat_timeout;
		replication_heartbeat_tick(r);
		if (r->state != RAFT_LEADER)
			return;
	}
	/* Check-quorum (§6.2): a leader that has not heard from a quorum
	 * within an election timeout steps down, so a partitioned leader
	 * stops serving stale reads and clients find the real leader. */
	if (now >= r->quorum_check_due) {
		r->quorum_check_due = now + r->p.election_timeout;
		unsigned active = 0;
		for (unsigned i = 0; i < r->n_progress; i++) {
			struct progress *p = &r->progress[i];
			bool voter = r->conf.servers[i].role == RAFT_VOTER;
			if (voter && (p->id == r->id || p->recent_active))
				active++;
			p->recent_active = false;
		}
		if (!r->p.disable_check_quorum &&
		    active < raft_n_voters(&r->conf) / 2 + 1) {
			raft_errorf(r, "check-quorum: %u of %u voters active",
				    active, raft_n_voters(&r->conf));
			raft_convert_to_follower(r);
			return;
		}
	}
	membership_tick(r);
	membership_transfer_tick(r);
}

raft_time raft_next_timeout(const struct raft *r)
{
	if (r->state == RAFT_UNAVAILABLE)
		return UINT64_MAX;
	if (r->state != RAFT_LEADER)
		return r->election_start + r->election_rand;
	return r->heartbeat_due < r->quorum_check_due ? r->heartbeat_due
						      : r->quorum_check_due;
}

/* -------------------------------------------------------------- queries */

int raft_state(const struct raft *r)
{
	return r->state;
}
raft_id raft_id_get(const struct raft *r)
{
	return r->id;
}
raft_term raft_current_term(const struct raft *r)
{
	return r->term;
}
raft_id raft_voted_for(const struct raft *r)
{
	return r->voted_for;
}
raft_id raft_leader(const struct raft *r, const char **address)
{
	if (address != NULL) {
		const struct raft_server *s = raft_conf_get(&r->conf,
							    r->leader_id);
		*address = s != NULL ? s->address : NULL;
	}
	return r->leader_id;
}
raft_index raft_commit_index(const struct raft *r)
{
	return r->commit_index;
}
raft_index raft_last_applied(const struct raft *r)
{
	return r->last_applied;
}
raft_index raft_last_index(const struct raft *r)
{
	return log_last_index(&r->log);
}
raft_term raft_last_term(const struct raft *r)
{
	return log_last_term(&r->log);
}
raft_index raft_snapshot_index(const struct raft *r)
{
	return r->log.snap_index;
}
raft_index raft_first_index(const struct raft *r)
{
	return log_first_index(&r->log);
}
raft_term raft_term_at(const struct raft *r, raft_index index)
{
	return log_term_of(&r->log, index);
}
const struct raft_entry *raft_entry_at(const struct raft *r,
				       raft_index index)
{
	return log_get(&r->log, index);
}
const struct raft_configuration *raft_configuration_get(const struct raft *r)
{
	return &r->conf;
}
const char *raft_errmsg(const struct raft *r)
{
	return r->errmsg;
}
