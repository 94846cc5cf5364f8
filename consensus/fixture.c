/*
 * fixture.c: deterministic cluster simulation (see raft_fixture.h).
 *
 * All pending activity is a list of events ordered by (time, sequence
 * number): message deliveries, disk completions, send completions and
 * snapshot loads. Timers are not events: each step compares the earliest
 * event with the earliest raft_next_timeout() of the live servers. The
 * lists are scanned linearly; simulated clusters are small and a scan keeps
 * ordering obviously deterministic.
 *
 * The simulated disk applies queued writes to its durable image only when
 * they complete, in order, so killing a server drops exactly the writes an
 * fsync had not yet covered. After a failed append the disk refuses later
 * queued appends until a truncate arrives (the io contract in raft.h), and
 * any other gap in the appended indexes is recorded as a violation: it
 * would be a core bug.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft_fixture.h"

enum {
	EV_MSG = 1,
	EV_DISK,
	EV_SENDCB,
	EV_SNAPGET,
};

enum {
	OP_APPEND = 1,
	OP_TRUNCATE,
	OP_SNAP_PUT,
};

struct fault {
	bool armed;
	int countdown;
	int repeat;
};

struct fev {
	raft_time at;
	uint64_t seq;
	int kind;
	unsigned server; /* destination (EV_MSG) or owner */
	unsigned from;
	struct raft_message msg; /* EV_MSG: deep copy, libc */
	int op;
	bool fail;
	void *req;
	union {
		raft_io_append_cb append;
		raft_io_snapshot_put_cb put;
		raft_io_snapshot_get_cb get;
		raft_io_send_cb send;
	} cb;
	raft_index first;
	unsigned n;
	const struct raft_entry *entries;
	unsigned trailing;
	const struct raft_snapshot *snap;
};

struct fserver {
	struct raft_fixture *f;
	unsigned idx;
	bool alive;
	struct raft *r;
	struct raft_io io;
	struct raft_fsm fsm;
	uint64_t count, hash;
	/* durable disk image (libc memory) */
	raft_term term;
	raft_id vote;
	struct raft_snapshot *snap;
	raft_index start;
	struct raft_entry *ents;
	unsigned n, cap;
	raft_time disk_busy_until;
	bool poisoned;
	struct fault io_fault;
	bool jitter_set;
	unsigned jitter;
	uint64_t disk_writes;
	raft_index checked_commit;
	uint64_t sent[RAFT_MSG_TYPE_COUNT_];
};

struct flink {
	bool up;
	struct raft_fixture_link l;
};

struct fcommit {
	raft_term term;
	uint64_t hash;
	raft_term obs_term;
	bool set;
};

struct fprop {
	struct raft_apply req;
	struct raft_fixture *f;
};

struct raft_fixture {
	struct raft_fixture_params p;
	raft_time now;
	uint64_t seq;
	uint64_t rng;
	struct fserver s[RAFT_FIXTURE_MAX];
	struct flink links[RAFT_FIXTURE_MAX][RAFT_FIXTURE_MAX];
	struct fev **evs;
	size_t n_evs, cap_evs;
	/* heap */
	struct raft_heap heap;
	struct fault heap_fault;
	uint64_t heap_live;
	uint64_t faults_fired;
	/* invariants */
	raft_id *leaders; /* by term */
	size_t n_leaders;
	struct fcommit *committed; /* by index */
	size_t n_committed;
	uint64_t *history; /* FSM hash after k commands */
	size_t n_history;
	char violation[256];
	uint64_t props_ok, props_failed;
};

/* ---------------------------------------------------------------- utils */

static uint64_t fx_rand(struct raft_fixture *f)
{
	/* splitmix64: tiny, good enough, fully determined by the seed */
	uint64_t z = (f->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned fx_range(struct raft_fixture *f, unsigned min, unsigned max)
{
	if (max <= min)
		return min;
	return min + (unsigned)(fx_rand(f) % (max - min));
}

static uint64_t fx_hash_bytes(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;
	h ^= 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* SLUICE_RAFT_TRACE=1 prints disk and lifecycle events (stderr). */
static bool fx_tracing = false;

static void fx_trace(struct raft_fixture *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void fx_trace(struct raft_fixture *f, const char *fmt, ...)
{
	if (!fx_tracing)
		return;
	va_list ap;
	fprintf(stderr, "%8llu ", (unsigned long long)f->now);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void fx_violation(struct raft_fixture *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void fx_violation(struct raft_fixture *f, const char *fmt, ...)
{
	if (f->violation[0] != '\0')
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->violation, sizeof(f->violation), fmt, ap);
	va_end(ap);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL) {
		/* the fixture's own memory: a test cannot continue */
		fprintf(stderr, "fixture: out of memory\n");
		abort();
	}
	return p;
}

static void *xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);
	if (p == NULL) {
		fprintf(stderr, "fixture: out of memory\n");
		abort();
	}
	return p;
}

static bool fault_fire(struct raft_fixture *f, struct fault *x)
{
	if (!x->armed)
		return false;
	if (x->countdown > 1) {
		x->countdown--;
		return false;
	}
	f->faults_fired++;
	if (x->repeat == 0)
		x->armed = false;
	else if (x->repeat > 0)
		x->repeat--;
	return true;
}

static void fault_set(struct fault *x, int delay, int repeat)
{
	x->armed = delay > 0;
	x->countdown = delay;
	x->repeat = repeat;
}

/* ----------------------------------------------------------------- heap */

static void *fx_heap_malloc(void *data, size_t size)
{
	struct raft_fixture *f = data;
	if (fault_fire(f, &f->heap_fault))
		return NULL;
	void *p = malloc(size);
	if (p != NULL)
		f->heap_live++;
	return p;
}

static void *fx_heap_realloc(void *data, void *ptr, size_t size)
{
	struct raft_fixture *f = data;
	if (fault_fire(f, &f->heap_fault))
		return NULL;
	void *p = realloc(ptr, size);
	if (p != NULL && ptr == NULL)
		f->heap_live++;
	return p;
}

static void fx_heap_free(void *data, void *ptr)
{
	struct raft_fixture *f = data;
	f->heap_live--;
	free(ptr);
}

/* ------------------------------------------------------- deep copies */

static void conf_copy_libc(const struct raft_configuration *src,
			   struct raft_configuration *dst)
{
	dst->n = src->n;
	dst->servers = xcalloc(src->n, sizeof(*dst->servers));
	for (unsigned i = 0; i < src->n; i++) {
		dst->servers[i] = src->servers[i];
		dst->servers[i].address = strdup(src->servers[i].address);
		if (dst->servers[i].address == NULL)
			abort();
	}
}

static void conf_free_libc(struct raft_configuration *c)
{
	for (unsigned i = 0; i < c->n; i++)
		free(c->servers[i].address);
	free(c->servers);
	c->servers = NULL;
	c->n = 0;
}

static void buf_copy_libc(const struct raft_buffer *src,
			  struct raft_buffer *dst)
{
	dst->len = src->len;
	dst->base = NULL;
	if (src->len > 0) {
		dst->base = xcalloc(1, src->len);
		memcpy(dst->base, src->base, src->len);
	}
}

static void msg_copy(const struct raft_message *src, struct raft_message *dst)
{
	*dst = *src;
	dst->server_address = NULL;
	if (src->type == RAFT_MSG_APPEND_ENTRIES) {
		unsigned n = src->append_entries.n_entries;
		dst->append_entries.entries = NULL;
		if (n > 0) {
			struct raft_entry *e = xcalloc(n, sizeof(*e));
			for (unsigned i = 0; i < n; i++) {
				e[i] = src->append_entries.entries[i];
				buf_copy_libc(&src->append_entries.entries[i].buf,
					      &e[i].buf);
			}
			dst->append_entries.entries = e;
		}
	} else if (src->type == RAFT_MSG_INSTALL_SNAPSHOT) {
		conf_copy_libc(&src->install_snapshot.conf,
			       &dst->install_snapshot.conf);
		buf_copy_libc(&src->install_snapshot.data,
			      &dst->install_snapshot.data);
	}
}

static void msg_free(struct raft_message *m)
{
	if (m->type == RAFT_MSG_APPEND_ENTRIES) {
		for (unsigned i = 0; i < m->append_entries.n_entries; i++)
			free(m->append_entries.entries[i].buf.base);
		free(m->append_entries.entries);
	} else if (m->type == RAFT_MSG_INSTALL_SNAPSHOT) {
		conf_free_libc(&m->install_snapshot.conf);
		free(m->install_snapshot.data.base);
	}
}

static void snap_free_libc(struct raft_snapshot *s)
{
	if (s == NULL)
		return;
	conf_free_libc(&s->meta.conf);
	free(s->data.base);
	free(s);
}

static struct raft_snapshot *snap_copy_libc(const struct raft_snapshot *src)
{
	struct raft_snapshot *s = xcalloc(1, sizeof(*s));
	s->meta = src->meta;
	conf_copy_libc(&src->meta.conf, &s->meta.conf);
	buf_copy_libc(&src->data, &s->data);
	return s;
}

/* Copy into raft-heap memory (ownership goes to the core): may fail. */
static int buf_copy_heap(const struct raft_buffer *src,
			 struct raft_buffer *dst)
{
	dst->len = src->len;
	dst->base = NULL;
	if (src->len == 0)
		return RAFT_OK;
	dst->base = raft_heap_malloc(src->len);
	if (dst->base == NULL)
		return RAFT_NOMEM;
	memcpy(dst->base, src->base, src->len);
	return RAFT_OK;
}

static struct raft_snapshot *snap_copy_heap(const struct raft_snapshot *src)
{
	struct raft_snapshot *s = raft_heap_calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->meta = src->meta;
	if (raft_configuration_copy(&src->meta.conf, &s->meta.conf) !=
	    RAFT_OK) {
		raft_heap_free(s);
		return NULL;
	}
	if (buf_copy_heap(&src->data, &s->data) != RAFT_OK) {
		raft_configuration_close(&s->meta.conf);
		raft_heap_free(s);
		return NULL;
	}
	return s;
}

/* --------------------------------------------------------------- events */

static struct fev *ev_new(struct raft_fixture *f, int kind, unsigned server,
			  raft_time at)
{
	struct fev *e = xcalloc(1, sizeof(*e));
	e->kind = kind;
	e->server = server;
	e->at = at;
	e->seq = f->seq++;
	if (f->n_evs == f->cap_evs) {
		f->cap_evs = f->cap_evs ? f->cap_evs * 2 : 64;
		f->evs = xrealloc(f->evs, f->cap_evs * sizeof(*f->evs));
	}
	f->evs[f->n_evs++] = e;
	return e;
}

static bool ev_before(const struct fev *a, const struct fev *b)
{
	return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static size_t ev_min(struct raft_fixture *f)
{
	size_t best = SIZE_MAX;
	for (size_t i = 0; i < f->n_evs; i++)
		if (best == SIZE_MAX || ev_before(f->evs[i], f->evs[best]))
			best = i;
	return best;
}

static struct fev *ev_take(struct raft_fixture *f, size_t i)
{
	struct fev *e = f->evs[i];
	f->evs[i] = f->evs[--f->n_evs];
	return e;
}

/* ------------------------------------------------------------------ disk */

static raft_index disk_last(const struct fserver *s)
{
	if (s->n > 0)
		return s->start + s->n - 1;
	return s->start > 0 ? s->start - 1 : 0;
}

static void disk_drop_front(struct fserver *s, raft_index upto)
{
	unsigned k = 0;
	while (k < s->n && s->start + k <= upto)
		free(s->ents[k++].buf.base);
	memmove(s->ents, s->ents + k, (s->n - k) * sizeof(*s->ents));
	s->n -= k;
	s->start += k;
}

static void disk_truncate(struct fserver *s, raft_index index)
{
	while (s->n > 0 && disk_last(s) >= index) {
		free(s->ents[s->n - 1].buf.base);
		s->n--;
	}
	if (s->n == 0 && index < s->start)
		s->start = index;
}

static void disk_push(struct fserver *s, const struct raft_entry *e)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->ents = xrealloc(s->ents, s->cap * sizeof(*s->ents));
	}
	s->ents[s->n] = *e;
	buf_copy_libc(&e->buf, &s->ents[s->n].buf);
	s->n++;
}

/* ------------------------------------------------------------------- io */

static struct fserver *io_server(struct raft_io *io)
{
	return io->impl;
}

static int io_load(struct raft_io *io, struct raft_io_load *out)
{
	struct fserver *s = io_server(io);
	memset(out, 0, sizeof(*out));
	out->term = s->term;
	out->voted_for = s->vote;
	if (s->snap != NULL) {
		out->snapshot = snap_copy_heap(s->snap);
		if (out->snapshot == NULL)
			goto nomem;
	}
	out->start_index = s->start;
	if (s->n > 0) {
		out->entries = raft_heap_calloc(s->n, sizeof(*out->entries));
		if (out->entries == NULL)
			goto nomem;
		for (unsigned i = 0; i < s->n; i++) {
			out->entries[i] = s->ents[i];
			if (buf_copy_heap(&s->ents[i].buf,
					  &out->entries[i].buf) != RAFT_OK) {
				for (unsigned j = 0; j < i; j++)
					raft_heap_free(out->entries[j].buf.base);
				goto nomem;
			}
			out->n_entries = i + 1;
		}
	}
	return RAFT_OK;
nomem:
	raft_heap_free(out->entries);
	if (out->snapshot != NULL) {
		raft_snapshot_close(out->snapshot);
		raft_heap_free(out->snapshot);
	}
	memset(out, 0, sizeof(*out));
	snprintf(io->errmsg, sizeof(io->errmsg), "load: out of memory");
	return RAFT_NOMEM;
}

static int io_bootstrap(struct raft_io *io, const struct raft_entry *entry)
{
	struct fserver *s = io_server(io);
	if (s->term != 0 || s->n != 0 || s->snap != NULL) {
		snprintf(io->errmsg, sizeof(io->errmsg), "state exists");
		return RAFT_CANTBOOTSTRAP;
	}
	s->term = 1;
	s->start = 1;
	disk_push(s, entry);
	return RAFT_OK;
}

static int io_persist_vote(struct raft_io *io, raft_term term, raft_id vote)
{
	struct fserver *s = io_server(io);
	if (fault_fire(s->f, &s->io_fault)) {
		snprintf(io->errmsg, sizeof(io->errmsg),
			 "persist: injected fault");
		return RAFT_IOERR;
	}
	s->term = term;
	s->vote = vote;
	return RAFT_OK;
}

static raft_time disk_slot(struct fserver *s)
{
	raft_time at = s->f->now + s->f->p.disk_latency;
	if (at < s->disk_busy_until)
		at = s->disk_busy_until;
	s->disk_busy_until = at;
	return at;
}

static int io_append(struct raft_io *io, struct raft_io_append *req,
		     raft_index first, const struct raft_entry *entries,
		     unsigned n, raft_io_append_cb cb)
{
	struct fserver *s = io_server(io);
	struct fev *e = ev_new(s->f, EV_DISK, s->idx, disk_slot(s));
	e->op = OP_APPEND;
	fx_trace(s->f, "s%u append %llu+%u issued", s->idx,
		 (unsigned long long)first, n);
	s->disk_writes++;
	e->req = req;
	e->cb.append = cb;
	e->first = first;
	e->n = n;
	e->entries = entries;
	e->fail = fault_fire(s->f, &s->io_fault);
	return RAFT_OK;
}

static int io_truncate(struct raft_io *io, raft_index index)
{
	struct fserver *s = io_server(io);
	struct fev *e = ev_new(s->f, EV_DISK, s->idx, disk_slot(s));
	e->op = OP_TRUNCATE;
	fx_trace(s->f, "s%u truncate %llu issued", s->idx,
		 (unsigned long long)index);
	e->first = index;
	return RAFT_OK;
}

static int io_snapshot_put(struct raft_io *io, struct raft_io_snapshot_put *req,
			   unsigned trailing, const struct raft_snapshot *snap,
			   raft_io_snapshot_put_cb cb)
{
	struct fserver *s = io_server(io);
	struct fev *e = ev_new(s->f, EV_DISK, s->idx, disk_slot(s));
	e->op = OP_SNAP_PUT;
	fx_trace(s->f, "s%u snapshot_put %llu trailing %u issued", s->idx,
		 (unsigned long long)snap->meta.index, trailing);
	e->req = req;
	e->cb.put = cb;
	e->trailing = trailing;
	e->snap = snap;
	e->fail = fault_fire(s->f, &s->io_fault);
	return RAFT_OK;
}

static int io_snapshot_get(struct raft_io *io, struct raft_io_snapshot_get *req,
			   raft_io_snapshot_get_cb cb)
{
	struct fserver *s = io_server(io);
	struct fev *e = ev_new(s->f, EV_SNAPGET, s->idx,
			       s->f->now + s->f->p.disk_latency);
	e->req = req;
	e->cb.get = cb;
	return RAFT_OK;
}

static int io_send(struct raft_io *io, struct raft_io_send *req,
		   const struct raft_message *msg, raft_io_send_cb cb)
{
	struct fserver *s = io_server(io);
	struct raft_fixture *f = s->f;
	if (msg->server_id == 0 || msg->server_id > f->p.n) {
		snprintf(io->errmsg, sizeof(io->errmsg), "no such server");
		return RAFT_NOCONNECTION;
	}
	unsigned to = (unsigned)msg->server_id - 1;
	s->sent[0]++;
	if (msg->type < RAFT_MSG_TYPE_COUNT_)
		s->sent[msg->type]++;
	struct flink *l = &f->links[s->idx][to];
	unsigned copies = 1;
	if (!l->up || fx_range(f, 0, 100) < l->l.drop_pct)
		copies = 0;
	else if (fx_range(f, 0, 100) < l->l.dup_pct)
		copies = 2;
	for (unsigned c = 0; c < copies; c++) {
		raft_time at = f->now + fx_range(f, l->l.delay_min,
						  l->l.delay_max + 1);
		struct fev *e = ev_new(f, EV_MSG, to, at);
		e->from = s->idx;
		msg_copy(msg, &e->msg);
		e->msg.server_id = s->r != NULL ? raft_id_get(s->r)
						: s->idx + 1;
	}
	struct fev *e = ev_new(f, EV_SENDCB, s->idx, f->now);
	e->req = req;
	e->cb.send = cb;
	return RAFT_OK;
}

static raft_time io_time(struct raft_io *io)
{
	return io_server(io)->f->now;
}

static unsigned io_random(struct raft_io *io, unsigned min, unsigned max)
{
	struct fserver *s = io_server(io);
	if (s->jitter_set)
		return min + s->jitter < max ? min + s->jitter : min;
	return fx_range(s->f, min, max);
}

static void ev_cancel(struct fev *e)
{
	switch (e->kind) {
	case EV_DISK:
		if (e->op == OP_APPEND)
			e->cb.append(e->req, RAFT_CANCELED);
		else if (e->op == OP_SNAP_PUT)
			e->cb.put(e->req, RAFT_CANCELED);
		break;
	case EV_SENDCB:
		e->cb.send(e->req, RAFT_CANCELED);
		break;
	case EV_SNAPGET:
		e->cb.get(e->req, NULL, RAFT_CANCELED);
		break;
	default:
		break;
	}
}

static void io_close(struct raft_io *io)
{
	struct fserver *s = io_server(io);
	struct raft_fixture *f = s->f;
	/* cancel this server's requests in issue order (deterministic) */
	for (;;) {
		size_t best = SIZE_MAX;
		for (size_t i = 0; i < f->n_evs; i++) {
			struct fev *e = f->evs[i];
			if (e->kind == EV_MSG || e->server != s->idx)
				continue;
			if (best == SIZE_MAX || e->seq < f->evs[best]->seq)
				best = i;
		}
		if (best == SIZE_MAX)
			break;
		struct fev *e = ev_take(f, best);
		ev_cancel(e);
		free(e);
	}
	s->disk_busy_until = 0;
	/* the refusal after a failed append belongs to the write queue,
	 * which a crash empties */
	s->poisoned = false;
}

/* ------------------------------------------------------------------ fsm */

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf,
		     void **result)
{
	struct fserver *s = fsm->data;
	struct raft_fixture *f = s->f;
	uint64_t v = 0;
	if (buf->len == sizeof(v))
		memcpy(&v, buf->base, sizeof(v));
	s->count++;
	s->hash = fx_hash_bytes(s->hash, &v, sizeof(v));
	/* State Machine Safety: the k-th command applied is the same
	 * everywhere, so the chained hash after k commands is too */
	if (s->count <= f->n_history) {
		if (f->history[s->count - 1] != s->hash)
			fx_violation(f, "state machine safety: server %u "
					"command %llu differs",
				     s->idx, (unsigned long long)s->count);
	} else {
		f->history = xrealloc(f->history,
				      s->count * sizeof(*f->history));
		f->history[s->count - 1] = s->hash;
		f->n_history = s->count;
	}
	*result = NULL;
	return RAFT_OK;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *out)
{
	struct fserver *s = fsm->data;
	size_t len = 16 + s->f->p.fsm_pad;
	uint8_t *b = raft_heap_malloc(len);
	if (b == NULL)
		return RAFT_NOMEM;
	memcpy(b, &s->count, 8);
	memcpy(b + 8, &s->hash, 8);
	for (size_t i = 16; i < len; i++)
		b[i] = (uint8_t)(s->hash >> (8 * (i % 8)));
	out->base = b;
	out->len = len;
	return RAFT_OK;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct fserver *s = fsm->data;
	if (buf->len < 16)
		return RAFT_MALFORMED;
	memcpy(&s->count, buf->base, 8);
	memcpy(&s->hash, (uint8_t *)buf->base + 8, 8);
	for (size_t i = 16; i < buf->len; i++)
		if (((uint8_t *)buf->base)[i] !=
		    (uint8_t)(s->hash >> (8 * (i % 8))))
			return RAFT_MALFORMED;
	if (s->count > 0 && s->count <= s->f->n_history &&
	    s->f->history[s->count - 1] != s->hash)
		fx_violation(s->f, "snapshot of server %u disagrees at %llu",
			     s->idx, (unsigned long long)s->count);
	raft_heap_free(buf->base);
	return RAFT_OK;
}

/* -------------------------------------------------------------- servers */

static int server_start(struct raft_fixture *f, unsigned i)
{
	struct fserver *s = &f->s[i];
	char addr[16];
	snprintf(addr, sizeof(addr), "s%u", i + 1);
	memset(&s->io, 0, sizeof(s->io));
	s->io.impl = s;
	s->io.load = io_load;
	s->io.bootstrap = io_bootstrap;
	s->io.persist_vote = io_persist_vote;
	s->io.append = io_append;
	s->io.truncate = io_truncate;
	s->io.snapshot_put = io_snapshot_put;
	s->io.snapshot_get = io_snapshot_get;
	s->io.send = io_send;
	s->io.time = io_time;
	s->io.random = io_random;
	s->io.close = io_close;
	s->fsm.data = s;
	s->fsm.apply = fsm_apply;
	s->fsm.snapshot = fsm_snapshot;
	s->fsm.restore = fsm_restore;
	s->count = 0;
	s->hash = 0;
	s->checked_commit = 0;
	struct raft_params rp = {
		.id = i + 1,
		.address = addr,
		.io = &s->io,
		.fsm = &s->fsm,
		.election_timeout = f->p.election_timeout,
		.heartbeat_timeout = f->p.heartbeat_timeout,
		.disable_pre_vote = f->p.disable_pre_vote,
		.disable_check_quorum = f->p.disable_check_quorum,
		.max_batch = f->p.max_batch,
		.max_inflight = f->p.max_inflight,
		.snapshot_threshold = f->p.snapshot_threshold,
		.snapshot_trailing = f->p.snapshot_trailing,
		.snapshot_chunk = f->p.snapshot_chunk,
	};
	s->r = raft_create(&rp);
	if (s->r == NULL)
		return RAFT_NOMEM;
	int rv = raft_start(s->r);
	if (rv != RAFT_OK) {
		raft_free(s->r);
		s->r = NULL;
		return rv;
	}
	s->alive = true;
	fx_trace(f, "s%u started: disk last %llu, term %llu", i,
		 (unsigned long long)disk_last(s), (unsigned long long)s->term);
	return RAFT_OK;
}

struct raft_fixture *raft_fixture_create(const struct raft_fixture_params *p)
{
	if (p == NULL || p->n == 0 || p->n > RAFT_FIXTURE_MAX ||
	    p->n_voters > p->n)
		return NULL;
	struct raft_fixture *f = xcalloc(1, sizeof(*f));
	f->p = *p;
	if (f->p.n_voters == 0)
		f->p.n_voters = f->p.n;
	if (f->p.election_timeout == 0)
		f->p.election_timeout = 1000;
	if (f->p.heartbeat_timeout == 0)
		f->p.heartbeat_timeout = 100;
	if (f->p.latency_min == 0)
		f->p.latency_min = 10;
	if (f->p.latency_max < f->p.latency_min)
		f->p.latency_max = f->p.latency_min;
	if (f->p.disk_latency == 0)
		f->p.disk_latency = 5;
	f->rng = p->seed;
	fx_tracing = getenv("SLUICE_RAFT_TRACE") != NULL;
	f->heap.data = f;
	f->heap.malloc = fx_heap_malloc;
	f->heap.realloc = fx_heap_realloc;
	f->heap.free = fx_heap_free;
	raft_heap_set(&f->heap);
	raft_fixture_heal(f);

	struct raft_configuration conf;
	raft_configuration_init(&conf);
	for (unsigned i = 0; i < f->p.n_voters; i++) {
		char addr[16];
		snprintf(addr, sizeof(addr), "s%u", i + 1);
		if (raft_configuration_add(&conf, i + 1, addr, RAFT_VOTER))
			abort();
	}
	struct raft_entry e = {.term = 1, .type = RAFT_CHANGE};
	if (raft_configuration_encode(&conf, &e.buf) != RAFT_OK)
		abort();
	raft_configuration_close(&conf);
	for (unsigned i = 0; i < f->p.n; i++) {
		f->s[i].f = f;
		f->s[i].idx = i;
		f->s[i].start = 1;
		if (f->p.staggered) {
			/* timeouts T, T+T/10, T+2T/10...: server 0 first */
			f->s[i].jitter_set = true;
			f->s[i].jitter = i * (f->p.election_timeout / 10);
		}
		if (i < f->p.n_voters) {
			f->s[i].io.impl = &f->s[i];
			io_bootstrap(&f->s[i].io, &e);
		}
	}
	raft_heap_free(e.buf.base);
	for (unsigned i = 0; i < f->p.n; i++) {
		if (server_start(f, i) != RAFT_OK) {
			raft_fixture_free(f);
			return NULL;
		}
	}
	return f;
}

void raft_fixture_kill(struct raft_fixture *f, unsigned i)
{
	struct fserver *s = &f->s[i];
	if (!s->alive)
		return;
	s->alive = false;
	fx_trace(f, "s%u killed", i);
	raft_free(s->r);
	s->r = NULL;
}

int raft_fixture_revive(struct raft_fixture *f, unsigned i)
{
	if (f->s[i].alive)
		return RAFT_OK;
	return server_start(f, i);
}

bool raft_fixture_alive(const struct raft_fixture *f, unsigned i)
{
	return f->s[i].alive;
}

void raft_fixture_free(struct raft_fixture *f)
{
	if (f == NULL)
		return;
	for (unsigned i = 0; i < f->p.n; i++)
		raft_fixture_kill(f, i);
	for (size_t i = 0; i < f->n_evs; i++) {
		if (f->evs[i]->kind == EV_MSG)
			msg_free(&f->evs[i]->msg);
		free(f->evs[i]);
	}
	free(f->evs);
	for (unsigned i = 0; i < f->p.n; i++) {
		struct fserver *s = &f->s[i];
		disk_truncate(s, 0);
		free(s->ents);
		snap_free_libc(s->snap);
	}
	free(f->leaders);
	free(f->committed);
	free(f->history);
	raft_heap_set(NULL);
	free(f);
}

/* ------------------------------------------------------------ invariants */

static const struct raft_entry *fx_entry(struct fserver *s, raft_index i)
{
	return raft_entry_at(s->r, i);
}

static void fx_check_leader_complete(struct raft_fixture *f,
				     struct fserver *s, raft_term term)
{
	/* Leader Completeness (§3.6.3): an entry seen committed by a server
	 * whose term was below this leader's must be in this leader's log */
	raft_index first = raft_first_index(s->r);
	for (size_t i = 1; i < f->n_committed; i++) {
		struct fcommit *c = &f->committed[i];
		if (!c->set || c->obs_term >= term || i < first)
			continue;
		if (raft_term_at(s->r, i) != c->term) {
			fx_violation(f, "leader completeness: leader %u term "
					"%llu lacks committed index %zu",
				     s->idx, (unsigned long long)term, i);
			return;
		}
	}
}

static void fx_check(struct raft_fixture *f)
{
	for (unsigned i = 0; i < f->p.n; i++) {
		struct fserver *s = &f->s[i];
		if (!s->alive || raft_state(s->r) == RAFT_UNAVAILABLE)
			continue;
		raft_term term = raft_current_term(s->r);
		if (raft_state(s->r) == RAFT_LEADER) {
			/* Election Safety (§3.6.3) */
			if (term >= f->n_leaders) {
				size_t n = (size_t)term * 2 + 8;
				f->leaders = xrealloc(f->leaders,
						      n * sizeof(*f->leaders));
				memset(f->leaders + f->n_leaders, 0,
				       (n - f->n_leaders) *
					       sizeof(*f->leaders));
				f->n_leaders = n;
			}
			raft_id id = raft_id_get(s->r);
			if (f->leaders[term] == 0) {
				f->leaders[term] = id;
				fx_check_leader_complete(f, s, term);
			} else if (f->leaders[term] != id) {
				fx_violation(f, "election safety: term %llu "
						"has leaders %llu and %llu",
					     (unsigned long long)term,
					     (unsigned long long)f->leaders[term],
					     (unsigned long long)id);
			}
		}
		raft_index commit = raft_commit_index(s->r);
		raft_index from = s->checked_commit + 1;
		if (from < raft_first_index(s->r))
			from = raft_first_index(s->r);
		for (raft_index k = from; k <= commit; k++) {
			const struct raft_entry *e = fx_entry(s, k);
			if (e == NULL)
				break;
			uint64_t h = fx_hash_bytes(e->type, e->buf.base,
						   e->buf.len);
			if (k >= f->n_committed) {
				size_t n = (size_t)k * 2 + 16;
				f->committed = xrealloc(
					f->committed, n * sizeof(*f->committed));
				memset(f->committed + f->n_committed, 0,
				       (n - f->n_committed) *
					       sizeof(*f->committed));
				f->n_committed = n;
			}
			struct fcommit *c = &f->committed[k];
			if (!c->set) {
				c->set = true;
				c->term = e->term;
				c->hash = h;
				c->obs_term = term;
			} else {
				if (c->term != e->term || c->hash != h)
					fx_violation(f, "committed entry %llu "
							"differs on server %u",
						     (unsigned long long)k, i);
				if (term < c->obs_term)
					c->obs_term = term;
			}
		}
		if (commit > s->checked_commit)
			s->checked_commit = commit;
	}
}

bool raft_fixture_check_logs(struct raft_fixture *f)
{
	/* Log Matching (§3.5): same index and term imply identical entries
	 * and identical prefixes */
	for (unsigned a = 0; a < f->p.n; a++) {
		for (unsigned b = a + 1; b < f->p.n; b++) {
			struct fserver *x = &f->s[a], *y = &f->s[b];
			if (!x->alive || !y->alive)
				continue;
			raft_index lo = raft_first_index(x->r);
			if (raft_first_index(y->r) > lo)
				lo = raft_first_index(y->r);
			raft_index hi = raft_last_index(x->r);
			if (raft_last_index(y->r) < hi)
				hi = raft_last_index(y->r);
			raft_index top = 0;
			for (raft_index k = hi; k >= lo && k > 0; k--) {
				if (raft_term_at(x->r, k) ==
				    raft_term_at(y->r, k)) {
					top = k;
					break;
				}
			}
			for (raft_index k = lo; k <= top; k++) {
				const struct raft_entry *ex = fx_entry(x, k);
				const struct raft_entry *ey = fx_entry(y, k);
				if (ex->term != ey->term ||
				    ex->type != ey->type ||
				    ex->buf.len != ey->buf.len ||
				    (ex->buf.len > 0 &&
				     memcmp(ex->buf.base, ey->buf.base,
					    ex->buf.len) != 0)) {
					fx_violation(f, "log matching: servers "
							"%u and %u differ at "
							"%llu",
						     a, b,
						     (unsigned long long)k);
					return false;
				}
			}
		}
	}
	return f->violation[0] == '\0';
}

const char *raft_fixture_violation(const struct raft_fixture *f)
{
	return f->violation[0] != '\0' ? f->violation : NULL;
}

/* ---------------------------------------------------------------- steps */

static void ev_process(struct raft_fixture *f, struct fev *e)
{
	struct fserver *s = &f->s[e->server];
	switch (e->kind) {
	case EV_MSG:
		if (s->alive && f->links[e->from][e->server].up)
			(void)raft_step(s->r, &e->msg);
		msg_free(&e->msg);
		break;
	case EV_SENDCB:
		e->cb.send(e->req, RAFT_OK);
		break;
	case EV_SNAPGET: {
		if (s->snap == NULL) {
			e->cb.get(e->req, NULL, RAFT_NOTFOUND);
			break;
		}
		struct raft_snapshot *c = snap_copy_heap(s->snap);
		e->cb.get(e->req, c, c != NULL ? RAFT_OK : RAFT_NOMEM);
		break;
	}
	case EV_DISK:
		fx_trace(f, "s%u disk op %d first %llu n %u done (disk last "
			    "%llu%s%s)",
			 e->server, e->op, (unsigned long long)e->first, e->n,
			 (unsigned long long)disk_last(s),
			 e->fail ? ", fail" : "", s->poisoned ? ", poisoned" : "");
		if (e->op == OP_TRUNCATE) {
			/* only a truncate that makes the log contiguous
			 * again lifts the refusal after a failed append */
			if (e->first <= disk_last(s) + 1)
				s->poisoned = false;
			disk_truncate(s, e->first);
		} else if (e->op == OP_APPEND) {
			int st = RAFT_OK;
			if (e->fail || s->poisoned) {
				st = RAFT_IOERR;
				s->poisoned = true;
				snprintf(s->io.errmsg, sizeof(s->io.errmsg),
					 "append: injected fault");
			} else if (e->n > 0 && e->first != disk_last(s) + 1) {
				fx_violation(f, "server %u appended %llu after "
						"%llu",
					     e->server,
					     (unsigned long long)e->first,
					     (unsigned long long)disk_last(s));
				st = RAFT_IOERR;
			} else {
				if (s->n == 0)
					s->start = e->first;
				for (unsigned k = 0; k < e->n; k++)
					disk_push(s, &e->entries[k]);
			}
			e->cb.append(e->req, st);
		} else {
			int st = RAFT_OK;
			if (e->fail) {
				st = RAFT_IOERR;
				snprintf(s->io.errmsg, sizeof(s->io.errmsg),
					 "snapshot: injected fault");
			} else {
				raft_index idx = e->snap->meta.index;
				snap_free_libc(s->snap);
				s->snap = snap_copy_libc(e->snap);
				if (e->trailing == 0) {
					disk_truncate(s, 0);
					s->start = idx + 1;
				} else if (idx > e->trailing) {
					disk_drop_front(s, idx - e->trailing);
				}
				if (s->n == 0 && s->start <= idx)
					s->start = idx + 1;
			}
			e->cb.put(e->req, st);
		}
		break;
	default:
		break;
	}
}

/* Earliest timer among live servers: returns its server or -1. */
static int fx_next_timer(struct raft_fixture *f, raft_time *at)
{
	int best = -1;
	for (unsigned i = 0; i < f->p.n; i++) {
		if (!f->s[i].alive)
			continue;
		raft_time t = raft_next_timeout(f->s[i].r);
		if (t == UINT64_MAX)
			continue;
		if (best < 0 || t < *at) {
			best = (int)i;
			*at = t;
		}
	}
	return best;
}

static bool fx_peek(struct raft_fixture *f, raft_time *at)
{
	raft_time t = 0;
	int srv = fx_next_timer(f, &t);
	size_t ev = ev_min(f);
	if (srv < 0 && ev == SIZE_MAX)
		return false;
	if (ev != SIZE_MAX && (srv < 0 || f->evs[ev]->at <= t))
		*at = f->evs[ev]->at;
	else
		*at = t;
	if (*at < f->now)
		*at = f->now;
	return true;
}

bool raft_fixture_step(struct raft_fixture *f)
{
	raft_time t = 0;
	int srv = fx_next_timer(f, &t);
	size_t ev = ev_min(f);
	if (srv < 0 && ev == SIZE_MAX)
		return false;
	if (ev != SIZE_MAX && (srv < 0 || f->evs[ev]->at <= t)) {
		struct fev *e = ev_take(f, ev);
		if (e->at > f->now)
			f->now = e->at;
		ev_process(f, e);
		free(e);
	} else {
		if (t > f->now)
			f->now = t;
		struct raft *r = f->s[srv].r;
		raft_tick(r);
		if (f->s[srv].alive && raft_next_timeout(r) <= f->now) {
			fx_violation(f, "server %d timer did not advance", srv);
			return false;
		}
	}
	fx_check(f);
	return true;
}

void raft_fixture_step_for(struct raft_fixture *f, unsigned ms)
{
	raft_time end = f->now + ms;
	raft_time at;
	while (fx_peek(f, &at) && at <= end) {
		if (!raft_fixture_step(f))
			break;
	}
	if (f->now < end)
		f->now = end;
}

bool raft_fixture_step_until(struct raft_fixture *f,
			     bool (*pred)(struct raft_fixture *f, void *arg),
			     void *arg, unsigned max_ms)
{
	raft_time end = f->now + max_ms;
	raft_time at;
	while (!pred(f, arg)) {
		if (!fx_peek(f, &at) || at > end) {
			if (f->now < end)
				f->now = end;
			return pred(f, arg);
		}
		if (!raft_fixture_step(f))
			return pred(f, arg);
	}
	return true;
}

int raft_fixture_leader(struct raft_fixture *f)
{
	int best = -1;
	for (unsigned i = 0; i < f->p.n; i++) {
		struct fserver *s = &f->s[i];
		if (!s->alive || raft_state(s->r) != RAFT_LEADER)
			continue;
		if (best < 0 || raft_current_term(s->r) >
					raft_current_term(f->s[best].r))
			best = (int)i;
	}
	return best;
}

static bool pred_leader(struct raft_fixture *f, void *arg)
{
	(void)arg;
	int l = raft_fixture_leader(f);
	if (l < 0)
		return false;
	raft_id lid = raft_id_get(f->s[l].r);
	const struct raft_configuration *c =
		raft_configuration_get(f->s[l].r);
	for (unsigned i = 0; i < c->n; i++) {
		unsigned k = (unsigned)c->servers[i].id - 1;
		if (k == (unsigned)l || !f->s[k].alive ||
		    !raft_fixture_connected(f, (unsigned)l, k))
			continue;
		if (raft_leader(f->s[k].r, NULL) != lid)
			return false;
	}
	return true;
}

bool raft_fixture_step_until_leader(struct raft_fixture *f, unsigned max_ms)
{
	return raft_fixture_step_until(f, pred_leader, NULL, max_ms);
}

struct applied_arg {
	int i;
	raft_index index;
};

static bool pred_applied(struct raft_fixture *f, void *arg)
{
	struct applied_arg *a = arg;
	for (unsigned i = 0; i < f->p.n; i++) {
		if ((a->i >= 0 && (unsigned)a->i != i) || !f->s[i].alive)
			continue;
		if (raft_last_applied(f->s[i].r) < a->index)
			return false;
	}
	return true;
}

bool raft_fixture_step_until_applied(struct raft_fixture *f, int i,
				     raft_index index, unsigned max_ms)
{
	struct applied_arg a = {i, index};
	return raft_fixture_step_until(f, pred_applied, &a, max_ms);
}

/* ------------------------------------------------------------ proposals */

static void prop_cb(struct raft_apply *req, int status, void *result)
{
	struct fprop *p = req->data;
	(void)result;
	if (status == RAFT_OK)
		p->f->props_ok++;
	else
		p->f->props_failed++;
	free(p);
}

int raft_fixture_propose(struct raft_fixture *f, unsigned i, uint64_t value)
{
	if (!f->s[i].alive)
		return RAFT_INVALID;
	struct raft_buffer buf = {raft_heap_malloc(8), 8};
	if (buf.base == NULL)
		return RAFT_NOMEM;
	memcpy(buf.base, &value, 8);
	struct fprop *p = xcalloc(1, sizeof(*p));
	p->f = f;
	p->req.data = p;
	int rv = raft_apply(f->s[i].r, &p->req, &buf, prop_cb);
	if (rv != RAFT_OK) {
		raft_heap_free(buf.base);
		free(p);
	}
	return rv;
}

void raft_fixture_proposals(const struct raft_fixture *f, uint64_t *ok,
			    uint64_t *failed)
{
	*ok = f->props_ok;
	*failed = f->props_failed;
}

/* -------------------------------------------------------------- network */

void raft_fixture_set_link(struct raft_fixture *f, unsigned from,
			   unsigned to, const struct raft_fixture_link *l)
{
	f->links[from][to].l = *l;
	if (f->links[from][to].l.delay_max < l->delay_min)
		f->links[from][to].l.delay_max = l->delay_min;
}

void raft_fixture_disconnect(struct raft_fixture *f, unsigned i, unsigned j)
{
	f->links[i][j].up = false;
	f->links[j][i].up = false;
}

void raft_fixture_connect(struct raft_fixture *f, unsigned i, unsigned j)
{
	f->links[i][j].up = true;
	f->links[j][i].up = true;
}

bool raft_fixture_connected(const struct raft_fixture *f, unsigned i,
			    unsigned j)
{
	return f->links[i][j].up && f->links[j][i].up;
}

void raft_fixture_isolate(struct raft_fixture *f, unsigned i)
{
	for (unsigned j = 0; j < f->p.n; j++)
		if (j != i)
			raft_fixture_disconnect(f, i, j);
}

void raft_fixture_heal(struct raft_fixture *f)
{
	for (unsigned i = 0; i < RAFT_FIXTURE_MAX; i++) {
		for (unsigned j = 0; j < RAFT_FIXTURE_MAX; j++) {
			struct flink *l = &f->links[i][j];
			l->up = true;
			l->l.drop_pct = 0;
			l->l.dup_pct = 0;
			l->l.delay_min = f->p.latency_min;
			l->l.delay_max = f->p.latency_max;
		}
	}
}

uint64_t raft_fixture_sent(const struct raft_fixture *f, unsigned i,
			   int type)
{
	if (type < 0 || type >= RAFT_MSG_TYPE_COUNT_)
		return 0;
	return f->s[i].sent[type];
}

/* --------------------------------------------------------------- faults */

void raft_fixture_io_fault(struct raft_fixture *f, unsigned i, int delay,
			   int repeat)
{
	fault_set(&f->s[i].io_fault, delay, repeat);
}

void raft_fixture_heap_fault(struct raft_fixture *f, int delay, int repeat)
{
	fault_set(&f->heap_fault, delay, repeat);
}

uint64_t raft_fixture_heap_live(const struct raft_fixture *f)
{
	return f->heap_live;
}

uint64_t raft_fixture_faults_fired(const struct raft_fixture *f)
{
	return f->faults_fired;
}

/* -------------------------------------------------------------- queries */

unsigned raft_fixture_n(const struct raft_fixture *f)
{
	return f->p.n;
}

struct raft *raft_fixture_get(struct raft_fixture *f, unsigned i)
{
	return f->s[i].alive ? f->s[i].r : NULL;
}

raft_time raft_fixture_time(const struct raft_fixture *f)
{
	return f->now;
}

uint64_t raft_fixture_fsm_count(const struct raft_fixture *f, unsigned i)
{
	return f->s[i].count;
}

uint64_t raft_fixture_fsm_hash(const struct raft_fixture *f, unsigned i)
{
	return f->s[i].hash;
}

raft_term raft_fixture_disk_term(const struct raft_fixture *f, unsigned i)
{
	return f->s[i].term;
}

raft_index raft_fixture_disk_last_index(const struct raft_fixture *f,
					unsigned i)
{
	return disk_last(&f->s[i]);
}

raft_index raft_fixture_disk_snapshot_index(const struct raft_fixture *f,
					    unsigned i)
{
	return f->s[i].snap != NULL ? f->s[i].snap->meta.index : 0;
}

void raft_fixture_set_jitter(struct raft_fixture *f, unsigned i, int ms)
{
	f->s[i].jitter_set = ms >= 0;
	f->s[i].jitter = ms >= 0 ? (unsigned)ms : 0;
}

uint64_t raft_fixture_disk_writes(const struct raft_fixture *f, unsigned i)
{
	return f->s[i].disk_writes;
}
