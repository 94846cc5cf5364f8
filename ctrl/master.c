/*
 * master: Raft + raft_io_posix + store_raft in one libevent loop (see
 * master.h for the contract).
 *
 * Loop integration: the io's two descriptors (nanomsg receive fd, disk
 * eventfd) are level-triggered libevent read events; a "step" event that
 * anything may activate (new proposals, read batches) and a timer at
 * raft_io_posix_next_deadline() complete the picture. Every wake-up runs
 * raft_io_posix_run(p, r, 0), which never blocks, then re-arms the timer:
 * the loop thread sleeps only in event_base_dispatch.
 *
 * Batching: proposals go straight to raft_apply, which appends them to the
 * leader's in-memory log; the disk thread gets everything queued since the
 * last step as one batch with one fdatasync. ReadIndex requests queued in
 * one iteration share one raft_read (one heartbeat round), since raft
 * numbers a round per call.
 *
 * Leases: every MASTER_LEASE_TICK_MS the leader asks store_raft for expired
 * leases and proposes a revoke for each (one batch in flight at a time so a
 * slow commit cannot stack duplicate revokes).
 */
#include "master.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "io_posix.h"
#include "sluice/errmsg.h"
#include "store_raft.h"

#define MASTER_LEASE_TICK_MS 500
#define MASTER_LEASE_BATCH 64
#define MASTER_DEFAULT_QUOTA (2ull * 1024 * 1024 * 1024)
#define MASTER_DEFAULT_SNAPSHOT 10000u
#define MASTER_MEMBER_PREFIX "/sluice/members/"

struct master_read_batch {
	struct raft_read rr;
	struct master *m;
	struct master_read *head;
};

struct master_revoke {
	struct master_propose prop;
	struct master *m;
};

struct master {
	struct event_base *base;
	struct master_member self;
	struct master_member known[MASTER_MAX_MEMBERS * 2];
	size_t n_known;
	unsigned election_timeout_ms;
	struct store *store;
	struct store_raft *sr;
	struct raft_io_posix *io;
	struct raft *raft;
	struct event *ev_net, *ev_disk, *ev_timer, *ev_step, *ev_lease;
	/* linearizable reads waiting for the next raft_read round, and
	 * serializable ones waiting for the next step */
	struct master_read *lin_head, *lin_tail;
	struct master_read *ser_head, *ser_tail;
	unsigned revokes_in_flight;
	bool leader;
	atomic_bool leader_atomic;
	bool stopping;
	void (*log)(void *data, const char *line);
	void *log_data;
};

static const char *const master_err_names[] = {
#define MASTER_ERR_NAME(name, str) str,
	MASTER_ERRORS(MASTER_ERR_NAME)
#undef MASTER_ERR_NAME
};

const char *master_strerror(int err)
{
	if (err < 0 || (size_t)err >= sizeof(master_err_names) / sizeof(master_err_names[0]))
		return "unknown error";
	return master_err_names[err];
}

__attribute__((format(printf, 2, 3))) static void
master_log(struct master *m, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (m->log != NULL)
		m->log(m->log_data, line);
	else
		fprintf(stderr, "%s\n", line);
}

static int master_err_of_raft(int rv)
{
	switch (rv) {
	case RAFT_OK: return MASTER_OK;
	case RAFT_NOTLEADER: return MASTER_ERR_NOTLEADER;
	case RAFT_LEADERSHIPLOST: return MASTER_ERR_LEADERSHIP_LOST;
	case RAFT_SHUTDOWN: return MASTER_ERR_SHUTDOWN;
	case RAFT_CANCELED: return MASTER_ERR_SHUTDOWN;
	case RAFT_BUSY: return MASTER_ERR_BUSY;
	case RAFT_NOMEM: return MASTER_ERR_NOMEM;
	case RAFT_INVALID: return MASTER_ERR_INVAL;
	default: return MASTER_ERR_IO;
	}
}

static void master_kick(struct master *m)
{
	if (!m->stopping)
		event_active(m->ev_step, EV_TIMEOUT, 0);
}

/* ----------------------------------------------------------- loop */

static void master_update_role(struct master *m)
{
	bool leader = raft_state(m->raft) == RAFT_LEADER;
	if (leader != m->leader) {
		const char *addr = NULL;
		raft_id lid = raft_leader(m->raft, &addr);
		master_log(m, "master %s: %s (term %" PRIu64 ", leader %" PRIu64 ")",
			   m->self.name, leader ? "became leader" : "lost leadership",
			   raft_current_term(m->raft), lid);
		m->leader = leader;
		atomic_store(&m->leader_atomic, leader);
		/* Tell store_raft both edges: on takeover it re-arms every
		 * lease at a full TTL (store_lease_promote); after a step-down
		 * it must see the next takeover as a new one, or deadlines
		 * armed during an old term would expire leases early. */
		int64_t none[1];
		store_raft_leader_tick(m->sr, leader, (int64_t)raft_io_posix_now(),
				       none, 0);
	}
}

static void master_fail_reads(struct master_read *head, int status)
{
	while (head != NULL) {
		struct master_read *r = head;
		head = r->next_;
		r->cb(r, status, NULL);
	}
}

static void master_read_done(struct raft_read *rr, int status,
			     raft_index read_index)
{
	(void)read_index;
	struct master_read_batch *b = rr->data;
	struct master *m = b->m;
	struct master_read *head = b->head;
	free(b);
	if (status != RAFT_OK) {
		int st = status == RAFT_SHUTDOWN ? MASTER_ERR_SHUTDOWN
						 : MASTER_ERR_LEADERSHIP_LOST;
		master_fail_reads(head, st);
		return;
	}
	while (head != NULL) {
		struct master_read *r = head;
		head = r->next_;
		r->cb(r, MASTER_OK, m->store);
	}
}

/* One raft_read for every linearizable read queued since the last step. */
static void master_issue_reads(struct master *m)
{
	struct master_read *head = m->lin_head;
	if (head == NULL)
		return;
	m->lin_head = m->lin_tail = NULL;
	struct master_read_batch *b = calloc(1, sizeof(*b));
	if (b == NULL) {
		master_fail_reads(head, MASTER_ERR_NOMEM);
		return;
	}
	b->m = m;
	b->head = head;
	b->rr.data = b;
	int rv = raft_read_index(m->raft, &b->rr, master_read_done);
	if (rv != RAFT_OK) {
		free(b);
		master_fail_reads(head, rv == RAFT_NOTLEADER
					       ? MASTER_ERR_LEADERSHIP_LOST
					       : master_err_of_raft(rv));
	}
}

static void master_run_serializable(struct master *m)
{
	struct master_read *head = m->ser_head;
	m->ser_head = m->ser_tail = NULL;
	while (head != NULL) {
		struct master_read *r = head;
		head = r->next_;
		r->cb(r, MASTER_OK, m->store);
	}
}

static void master_step(struct master *m)
{
	if (m->stopping)
		return;
	master_run_serializable(m);
	master_issue_reads(m);
	raft_io_posix_run(m->io, m->raft, 0);
	master_update_role(m);
	/* Requests made by callbacks during the run are on the disk queue:
	 * a second run hands them to the disk thread now rather than at the
	 * next wake-up. */
	raft_time now = raft_io_posix_now();
	raft_time due = raft_io_posix_next_deadline(m->io, m->raft);
	raft_time wait = due > now ? due - now : 0;
	struct timeval tv = { .tv_sec = (time_t)(wait / 1000),
			      .tv_usec = (suseconds_t)((wait % 1000) * 1000) };
	evtimer_add(m->ev_timer, &tv);
}

static void master_on_event(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	master_step(arg);
}

static void master_revoke_done(struct master_propose *req, int status,
			       const struct store_result *res)
{
	struct master_revoke *rv = req->data;
	(void)status;
	(void)res;
	rv->m->revokes_in_flight--;
	free(rv);
}

static void master_on_lease_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct master *m = arg;
	if (m->stopping || !m->leader || m->revokes_in_flight > 0)
		return;
	int64_t ids[MASTER_LEASE_BATCH];
	size_t n = store_raft_leader_tick(m->sr, true, (int64_t)raft_io_posix_now(),
					  ids, MASTER_LEASE_BATCH);
	if (n > MASTER_LEASE_BATCH)
		n = MASTER_LEASE_BATCH;
	for (size_t i = 0; i < n; i++) {
		struct master_revoke *rv = calloc(1, sizeof(*rv));
		if (rv == NULL)
			return;
		rv->m = m;
		rv->prop.data = rv;
		struct store_cmd cmd = { .type = STORE_CMD_LEASE_REVOKE,
					 .lease_id = ids[i] };
		char err[STORE_ERRMSG_SIZE];
		if (master_propose(m, &rv->prop, &cmd, master_revoke_done, err,
				   sizeof(err)) != MASTER_OK) {
			free(rv);
			return;
		}
		m->revokes_in_flight++;
	}
}

/* ------------------------------------------------------- create/free */

static const struct master_member *master_find_static(const struct master *m,
						      raft_id id)
{
	for (size_t i = 0; i < m->n_known; i++)
		if (m->known[i].id == id)
			return &m->known[i];
	return NULL;
}

/* Member records written by master_add_member: /sluice/members/<id>, a
 * JSON-free "name\npeerURL\napiURL" value. */
static bool master_find_record(struct master *m, raft_id id,
			       struct master_member *out)
{
	char key[64];
	int kl = snprintf(key, sizeof(key), MASTER_MEMBER_PREFIX "%" PRIu64, id);
	struct store_op op = { .type = STORE_OP_RANGE,
			       .key = (const uint8_t *)key, .key_len = (size_t)kl };
	struct store_op_result res;
	if (store_range(m->store, &op, &res) != STORE_OK)
		return false;
	bool ok = false;
	if (res.n_kvs == 1 && res.kvs[0].value_len < 1024) {
		char v[1024];
		memcpy(v, res.kvs[0].value, res.kvs[0].value_len);
		v[res.kvs[0].value_len] = '\0';
		char *nl1 = strchr(v, '\n');
		char *nl2 = nl1 != NULL ? strchr(nl1 + 1, '\n') : NULL;
		if (nl2 != NULL) {
			*nl1 = *nl2 = '\0';
			memset(out, 0, sizeof(*out));
			out->id = id;
			snprintf(out->name, sizeof(out->name), "%.63s", v);
			snprintf(out->peer_url, sizeof(out->peer_url), "%.255s", nl1 + 1);
			snprintf(out->api_url, sizeof(out->api_url), "%.255s", nl2 + 1);
			ok = true;
		}
	}
	store_op_result_clear(&res);
	return ok;
}

/* The member record for id: the static list first, then the store. */
static bool master_lookup(struct master *m, raft_id id, struct master_member *out)
{
	const struct master_member *s = master_find_static(m, id);
	if (s != NULL) {
		*out = *s;
		return true;
	}
	if (!master_find_record(m, id, out))
		return false;
	if (m->n_known < sizeof(m->known) / sizeof(m->known[0]))
		m->known[m->n_known++] = *out; /* cache: records never change */
	return true;
}

static int master_bootstrap(struct master *m, const struct master_params *p,
			    char *errmsg, size_t errlen)
{
	struct raft_configuration conf;
	raft_configuration_init(&conf);
	for (size_t i = 0; i < p->n_members; i++) {
		int rv = raft_configuration_add(&conf, p->members[i].id,
						p->members[i].peer_url, RAFT_VOTER);
		if (rv != RAFT_OK) {
			raft_configuration_close(&conf);
			return sluice_errf(-1, errmsg, errlen,
					   "--members: member %" PRIu64 " (%s): %s",
					   p->members[i].id, p->members[i].peer_url,
					   raft_strerror(rv));
		}
	}
	int rv = raft_bootstrap(m->raft, &conf);
	raft_configuration_close(&conf);
	if (rv == RAFT_CANTBOOTSTRAP)
		return 0; /* existing state: a restart */
	if (rv != RAFT_OK)
		return sluice_errf(-1, errmsg, errlen, "bootstrap %s: %s",
				   p->data_dir, raft_errmsg(m->raft));
	master_log(m, "master %s: bootstrapped %s with %zu members", m->self.name,
		   p->data_dir, p->n_members);
	return 0;
}

struct master *master_create(const struct master_params *p, char *errmsg,
			     size_t errlen)
{
	if (p->base == NULL || p->name == NULL || p->data_dir == NULL) {
		sluice_errf(-1, errmsg, errlen, "master: base, --name and --data-dir are required");
		return NULL;
	}
	if (p->n_members == 0 || p->n_members > MASTER_MAX_MEMBERS) {
		sluice_errf(-1, errmsg, errlen, "--members: 1 to %d members required",
			    MASTER_MAX_MEMBERS);
		return NULL;
	}
	if (p->peer_key == NULL || p->peer_key_len < RAFT_NET_MIN_KEY) {
		sluice_errf(-1, errmsg, errlen, "master: peer key missing or shorter than %d bytes",
			    RAFT_NET_MIN_KEY);
		return NULL;
	}
	struct master *m = calloc(1, sizeof(*m));
	if (m == NULL) {
		sluice_errf(-1, errmsg, errlen, "master: out of memory");
		return NULL;
	}
	m->base = p->base;
	m->log = p->log;
	m->log_data = p->log_data;
	m->election_timeout_ms = p->election_timeout_ms != 0 ? p->election_timeout_ms : 1000;
	bool found = false;
	for (size_t i = 0; i < p->n_members; i++) {
		for (size_t j = 0; j < i; j++) {
			if (p->members[j].id == p->members[i].id ||
			    strcmp(p->members[j].name, p->members[i].name) == 0) {
				sluice_errf(-1, errmsg, errlen,
					    "--members: id %" PRIu64 " / name '%s' given twice",
					    p->members[i].id, p->members[i].name);
				goto fail;
			}
		}
		if (p->members[i].id == 0) {
			sluice_errf(-1, errmsg, errlen, "--members: id 0 is reserved");
			goto fail;
		}
		m->known[m->n_known++] = p->members[i];
		if (strcmp(p->members[i].name, p->name) == 0) {
			m->self = p->members[i];
			found = true;
		}
	}
	if (!found) {
		sluice_errf(-1, errmsg, errlen, "--members: no member named '%s' (--name)",
			    p->name);
		goto fail;
	}
	if (mkdir(p->data_dir, 0700) < 0 && errno != EEXIST) {
		sluice_errf(-1, errmsg, errlen, "--data-dir %s: %s", p->data_dir,
			    strerror(errno));
		goto fail;
	}

	struct store_params sp = { .quota_bytes = p->quota_bytes != 0
							  ? p->quota_bytes
							  : MASTER_DEFAULT_QUOTA };
	m->store = store_create(&sp);
	struct store_raft_params srp = { .store = m->store };
	m->sr = m->store != NULL ? store_raft_create(&srp) : NULL;
	if (m->sr == NULL) {
		sluice_errf(-1, errmsg, errlen, "master: store: %s", strerror(errno));
		goto fail;
	}
	struct raft_io_posix_params iop = {
		.id = m->self.id,
		.dir = p->data_dir,
		.bind_url = p->peer_listen != NULL ? p->peer_listen : m->self.peer_url,
		.key = p->peer_key,
		.key_len = p->peer_key_len,
		.log = p->log,
		.log_data = p->log_data,
	};
	char ioerr[256];
	m->io = raft_io_posix_create(&iop, ioerr, sizeof(ioerr));
	if (m->io == NULL) {
		sluice_errf(-1, errmsg, errlen, "master: %s", ioerr);
		goto fail;
	}
	struct raft_params rp = {
		.id = m->self.id,
		.address = m->self.peer_url,
		.io = raft_io_posix_io(m->io),
		.fsm = store_raft_fsm(m->sr),
		.election_timeout = m->election_timeout_ms,
		.heartbeat_timeout = p->heartbeat_ms,
		.snapshot_threshold = p->snapshot_threshold != 0 ? p->snapshot_threshold
								 : MASTER_DEFAULT_SNAPSHOT,
		.max_batch = 256,
		.max_inflight = 16,
	};
	m->raft = raft_create(&rp);
	if (m->raft == NULL) {
		sluice_errf(-1, errmsg, errlen, "master: raft_create failed (out of memory)");
		goto fail;
	}
	if (!p->join && master_bootstrap(m, p, errmsg, errlen) < 0)
		goto fail;
	/* Where the other static members listen: a joining master is in no
	 * configuration yet and must still answer the leader. */
	for (size_t i = 0; i < p->n_members; i++)
		if (p->members[i].id != m->self.id)
			raft_io_posix_peer_hint(m->io, p->members[i].id,
						p->members[i].peer_url);
	int rv = raft_start(m->raft);
	if (rv != RAFT_OK) {
		sluice_errf(-1, errmsg, errlen, "master: start from %s: %s: %s",
			    p->data_dir, raft_strerror(rv), raft_errmsg(m->raft));
		goto fail;
	}
	int fds[2];
	raft_io_posix_fds(m->io, fds);
	m->ev_net = event_new(m->base, fds[0], EV_READ | EV_PERSIST, master_on_event, m);
	m->ev_disk = event_new(m->base, fds[1], EV_READ | EV_PERSIST, master_on_event, m);
	m->ev_timer = evtimer_new(m->base, master_on_event, m);
	m->ev_step = event_new(m->base, -1, 0, master_on_event, m);
	m->ev_lease = event_new(m->base, -1, EV_PERSIST, master_on_lease_tick, m);
	if (m->ev_net == NULL || m->ev_disk == NULL || m->ev_timer == NULL ||
	    m->ev_step == NULL || m->ev_lease == NULL) {
		sluice_errf(-1, errmsg, errlen, "master: out of memory");
		goto fail;
	}
	/* Raft before HTTP: with 2+ priorities on the base (master_main sets
	 * them up), a storm of TLS handshakes or requests cannot delay
	 * heartbeats and votes past an election timeout. */
	struct event *raft_evs[] = { m->ev_net, m->ev_disk, m->ev_timer, m->ev_step };
	for (size_t i = 0; i < sizeof(raft_evs) / sizeof(raft_evs[0]); i++)
		event_priority_set(raft_evs[i], 0);
	struct timeval lt = { .tv_sec = 0, .tv_usec = MASTER_LEASE_TICK_MS * 1000 };
	event_add(m->ev_net, NULL);
	event_add(m->ev_disk, NULL);
	event_add(m->ev_lease, &lt);
	master_kick(m);
	master_log(m, "master %s: id %" PRIu64 ", peer %s, data %s, applied index %" PRIu64
		   ", revision %" PRId64, m->self.name, m->self.id, iop.bind_url,
		   p->data_dir, (uint64_t)raft_last_applied(m->raft),
		   store_revision(m->store));
	return m;
fail:
	master_free(m);
	return NULL;
}

void master_free(struct master *m)
{
	if (m == NULL)
		return;
	m->stopping = true;
	atomic_store(&m->leader_atomic, false);
	/* Queued reads never reached raft: fail them here; raft_free fails
	 * everything it holds (proposals, read batches) with SHUTDOWN. */
	master_fail_reads(m->lin_head, MASTER_ERR_SHUTDOWN);
	master_fail_reads(m->ser_head, MASTER_ERR_SHUTDOWN);
	m->lin_head = m->lin_tail = m->ser_head = m->ser_tail = NULL;
	if (m->io != NULL)
		raft_io_posix_flush(m->io); /* acknowledged writes are durable */
	raft_free(m->raft);
	raft_io_posix_free(m->io);
	store_raft_free(m->sr);
	store_free(m->store);
	struct event *evs[] = { m->ev_net, m->ev_disk, m->ev_timer, m->ev_step,
				m->ev_lease };
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i] != NULL)
			event_free(evs[i]);
	free(m);
}

/* ---------------------------------------------------------- requests */

static void master_apply_done(struct raft_apply *a, int status, void *result)
{
	struct master_propose *req = a->data;
	if (status == RAFT_OK)
		req->cb(req, MASTER_OK, result);
	else
		req->cb(req, master_err_of_raft(status), NULL);
}

int master_propose(struct master *m, struct master_propose *req,
		   const struct store_cmd *cmd, master_propose_cb cb,
		   char *errmsg, size_t errlen)
{
	if (m->stopping)
		return MASTER_ERR_SHUTDOWN;
	if (cb == NULL || cmd == NULL)
		return sluice_errf(MASTER_ERR_INVAL, errmsg, errlen, "propose: no command or callback");
	if (raft_state(m->raft) != RAFT_LEADER)
		return sluice_errf(MASTER_ERR_NOTLEADER, errmsg, errlen, "not the leader");
	struct raft_buffer buf;
	char err[STORE_ERRMSG_SIZE];
	int rv = store_raft_encode(cmd, &buf, err);
	if (rv != STORE_OK)
		return sluice_errf(rv == STORE_ERR_NOMEM ? MASTER_ERR_NOMEM : MASTER_ERR_INVAL,
				   errmsg, errlen, "%s", err);
	req->cb = cb;
	req->m_ = m;
	req->apply_.data = req;
	rv = raft_apply(m->raft, &req->apply_, &buf, master_apply_done);
	if (rv != RAFT_OK) {
		raft_heap_free(buf.base);
		return sluice_errf(master_err_of_raft(rv), errmsg, errlen, "propose: %s",
				   raft_strerror(rv));
	}
	master_kick(m);
	return MASTER_OK;
}

int master_read(struct master *m, struct master_read *req, bool linearizable,
		master_read_cb cb)
{
	if (m->stopping)
		return MASTER_ERR_SHUTDOWN;
	if (cb == NULL)
		return MASTER_ERR_INVAL;
	req->cb = cb;
	req->m_ = m;
	req->next_ = NULL;
	if (linearizable) {
		if (raft_state(m->raft) != RAFT_LEADER)
			return MASTER_ERR_NOTLEADER;
		if (m->lin_tail != NULL)
			m->lin_tail->next_ = req;
		else
			m->lin_head = req;
		m->lin_tail = req;
	} else {
		if (m->ser_tail != NULL)
			m->ser_tail->next_ = req;
		else
			m->ser_head = req;
		m->ser_tail = req;
	}
	master_kick(m);
	return MASTER_OK;
}

struct store *master_store(struct master *m)
{
	return m->store;
}

/* ------------------------------------------------------------ status */

bool master_is_leader(const struct master *m)
{
	return raft_state(m->raft) == RAFT_LEADER;
}

bool master_is_leader_atomic(void *m)
{
	return atomic_load(&((struct master *)m)->leader_atomic);
}

struct event_base *master_base(const struct master *m)
{
	return m->base;
}

const struct master_member *master_self(const struct master *m)
{
	return &m->self;
}

raft_id master_leader(const struct master *m, const struct master_member **leader)
{
	struct master *mm = (struct master *)(uintptr_t)m;
	raft_id id = raft_leader(m->raft, NULL);
	if (leader != NULL) {
		*leader = NULL;
		struct master_member tmp;
		if (id != 0 && master_lookup(mm, id, &tmp)) {
			/* master_lookup cached it in known[] (or it was
			 * static): point there, it lives as long as m. */
			*leader = master_find_static(m, id);
		}
	}
	return id;
}

size_t master_members(const struct master *m, struct master_member *out, size_t cap)
{
	struct master *mm = (struct master *)(uintptr_t)m;
	const struct raft_configuration *c = raft_configuration_get(m->raft);
	size_t n = 0;
	for (unsigned i = 0; c != NULL && i < c->n && n < cap; i++) {
		struct master_member mem;
		if (!master_lookup(mm, c->servers[i].id, &mem)) {
			memset(&mem, 0, sizeof(mem));
			mem.id = c->servers[i].id;
			snprintf(mem.peer_url, sizeof(mem.peer_url), "%s",
				 c->servers[i].address);
		}
		out[n++] = mem;
	}
	return n;
}

void master_status_get(const struct master *m, struct master_status *st)
{
	memset(st, 0, sizeof(*st));
	st->self = m->self.id;
	st->leader = raft_leader(m->raft, NULL);
	st->term = raft_current_term(m->raft);
	st->commit_index = raft_commit_index(m->raft);
	st->applied_index = raft_last_applied(m->raft);
	st->revision = store_revision(m->store);
	st->compact_revision = store_compact_revision(m->store);
	st->db_bytes = store_used_bytes(m->store);
	struct master_member mems[MASTER_MAX_MEMBERS];
	size_t n = master_members(m, mems, MASTER_MAX_MEMBERS);
	const struct raft_configuration *c = raft_configuration_get(m->raft);
	raft_time now = raft_io_posix_now();
	/* A peer counts as reachable if it sent us a frame within two
	 * election timeouts: the leader hears every member (heartbeat
	 * replies); a follower hears only the leader. */
	raft_time window = 2u * m->election_timeout_ms;
	int self_state = raft_state(m->raft);
	for (size_t i = 0; i < n; i++) {
		struct master_member_status *ms = &st->members[i];
		ms->member = mems[i];
		bool learner = c != NULL && i < c->n && c->servers[i].role == RAFT_LEARNER;
		if (mems[i].id == m->self.id) {
			ms->reachable = true;
			ms->role = self_state == RAFT_LEADER      ? MASTER_ROLE_LEADER
				   : self_state == RAFT_CANDIDATE ? MASTER_ROLE_CANDIDATE
				   : learner                      ? MASTER_ROLE_LEARNER
								  : MASTER_ROLE_FOLLOWER;
		} else {
			raft_time heard = raft_io_posix_last_heard(m->io, mems[i].id);
			ms->reachable = heard != 0 && now - heard <= window;
			ms->role = mems[i].id == st->leader ? MASTER_ROLE_LEADER
				   : learner                 ? MASTER_ROLE_LEARNER
							     : MASTER_ROLE_FOLLOWER;
		}
	}
	st->n_members = n;
}

/* ---------------------------------------------------------- membership */

static void master_change_fail(struct master_change *req, int status,
			       const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void master_change_fail(struct master_change *req, int status,
			       const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	req->cb(req, status, msg);
}

/* step_: 1 add (learner), 2 promote, 3 remove */
static void master_change_step(struct raft_change *c, int status)
{
	struct master_change *req = c->data;
	struct master *m = req->m_;
	static const char *const what[] = { "?", "add", "promote", "remove" };
	if (status != RAFT_OK) {
		master_change_fail(req, master_err_of_raft(status), "%s %s: %s",
				   what[req->step_ <= 3 ? req->step_ : 0],
				   req->member_.name, raft_strerror(status));
		return;
	}
	if (req->step_ == 3) {
		master_log(m, "master %s: member %" PRIu64 " removed", m->self.name,
			   req->member_.id);
		req->cb(req, MASTER_OK, "");
		return;
	}
	if (req->step_ == 1) {
		req->step_ = 2;
		int rv = raft_promote(m->raft, &req->change_, req->member_.id,
				      master_change_step);
		if (rv != RAFT_OK)
			master_change_fail(req, master_err_of_raft(rv), "promote %s: %s",
					   req->member_.name, raft_strerror(rv));
		else
			master_kick(m);
		return;
	}
	master_log(m, "master %s: member %s (id %" PRIu64 ") is a voter", m->self.name,
		   req->member_.name, req->member_.id);
	req->cb(req, MASTER_OK, "");
}

static void master_record_done(struct master_propose *p, int status,
			       const struct store_result *res)
{
	struct master_change *req = p->data;
	struct master *m = req->m_;
	if (status != MASTER_OK || res->err != STORE_OK) {
		master_change_fail(req, status != MASTER_OK ? status : MASTER_ERR_IO,
				   "record member %s: %s", req->member_.name,
				   status != MASTER_OK ? master_strerror(status)
						       : store_strerror(res->err));
		return;
	}
	req->step_ = 1;
	req->change_.data = req;
	int rv = raft_add(m->raft, &req->change_, req->member_.id,
			  req->member_.peer_url, master_change_step);
	if (rv == RAFT_DUPLICATE) {
		/* A retried join: a voter already is done, a learner still
		 * needs its promotion. */
		const struct raft_configuration *c = raft_configuration_get(m->raft);
		for (unsigned i = 0; c != NULL && i < c->n; i++) {
			if (c->servers[i].id == req->member_.id &&
			    c->servers[i].role == RAFT_VOTER) {
				req->cb(req, MASTER_OK, "");
				return;
			}
		}
		master_change_step(&req->change_, RAFT_OK);
		return;
	}
	if (rv != RAFT_OK) {
		master_change_fail(req, master_err_of_raft(rv), "add %s: %s",
				   req->member_.name, raft_strerror(rv));
		return;
	}
	master_kick(m);
}

int master_add_member(struct master *m, struct master_change *req,
		      const struct master_member *mem, master_change_cb cb,
		      char *errmsg, size_t errlen)
{
	if (cb == NULL || mem == NULL || mem->name[0] == '\0' ||
	    strncmp(mem->peer_url, "tcp://", 6) != 0 ||
	    strncmp(mem->api_url, "https://", 8) != 0 ||
	    strchr(mem->name, '\n') != NULL || strchr(mem->peer_url, '\n') != NULL ||
	    strchr(mem->api_url, '\n') != NULL)
		return sluice_errf(MASTER_ERR_INVAL, errmsg, errlen,
				   "member: name, peerURL (tcp://) and apiURL (https://) required");
	if (raft_state(m->raft) != RAFT_LEADER)
		return sluice_errf(MASTER_ERR_NOTLEADER, errmsg, errlen, "not the leader");
	struct master_member cur[MASTER_MAX_MEMBERS];
	size_t n = master_members(m, cur, MASTER_MAX_MEMBERS);
	raft_id id = mem->id;
	raft_id max = 0;
	for (size_t i = 0; i < n; i++) {
		if (cur[i].id > max)
			max = cur[i].id;
		if (strcmp(cur[i].name, mem->name) == 0 && cur[i].name[0] != '\0') {
			if (id == 0)
				id = cur[i].id; /* a retry: same member */
			else if (id != cur[i].id)
				return sluice_errf(MASTER_ERR_INVAL, errmsg, errlen,
						   "member: name '%s' already used by id %" PRIu64,
						   mem->name, cur[i].id);
		}
	}
	if (id == 0)
		id = max + 1;
	if (n >= MASTER_MAX_MEMBERS && master_find_static(m, id) == NULL)
		return sluice_errf(MASTER_ERR_INVAL, errmsg, errlen, "member: cluster full (%d)",
				   MASTER_MAX_MEMBERS);
	req->cb = cb;
	req->m_ = m;
	req->member_ = *mem;
	req->member_.id = id;
	req->step_ = 0;
	char key[64], val[3 * MASTER_URL_MAX];
	int kl = snprintf(key, sizeof(key), MASTER_MEMBER_PREFIX "%" PRIu64, id);
	int vl = snprintf(val, sizeof(val), "%s\n%s\n%s", mem->name, mem->peer_url,
			  mem->api_url);
	struct store_cmd cmd = { .type = STORE_CMD_PUT,
				 .op = { .type = STORE_OP_PUT,
					 .key = (const uint8_t *)key,
					 .key_len = (size_t)kl,
					 .value = (const uint8_t *)val,
					 .value_len = (size_t)vl } };
	req->prop_.data = req;
	return master_propose(m, &req->prop_, &cmd, master_record_done, errmsg, errlen);
}

raft_id master_change_id(const struct master_change *req)
{
	return req->member_.id;
}

static void master_transfer_done(struct raft_transfer *tr, int status)
{
	struct master_transfer *req = tr->data;
	struct master *m = req->m_;
	if (status == RAFT_OK) {
		const struct master_member *l = NULL;
		raft_id id = master_leader(m, &l);
		master_log(m, "master %s: handed leadership to %s (id %" PRIu64 ")",
			   m->self.name, l != NULL ? l->name : "?", id);
	}
	req->cb(req, master_err_of_raft(status));
}

int master_transfer_leadership(struct master *m, struct master_transfer *req,
			       master_transfer_cb cb)
{
	if (m->stopping || cb == NULL)
		return MASTER_ERR_INVAL;
	if (raft_state(m->raft) != RAFT_LEADER)
		return MASTER_ERR_NOTLEADER;
	const struct raft_configuration *c = raft_configuration_get(m->raft);
	unsigned voters = 0;
	for (unsigned i = 0; c != NULL && i < c->n; i++)
		if (c->servers[i].role == RAFT_VOTER && c->servers[i].id != m->self.id)
			voters++;
	if (voters == 0)
		return MASTER_ERR_INVAL;
	req->cb = cb;
	req->m_ = m;
	req->tr_.data = req;
	int rv = raft_transfer(m->raft, &req->tr_, 0, master_transfer_done);
	if (rv != RAFT_OK)
		return master_err_of_raft(rv);
	master_kick(m);
	return MASTER_OK;
}

int master_remove_member(struct master *m, struct master_change *req, raft_id id,
			 master_change_cb cb, char *errmsg, size_t errlen)
{
	if (cb == NULL || id == 0)
		return sluice_errf(MASTER_ERR_INVAL, errmsg, errlen, "member: id required");
	if (raft_state(m->raft) != RAFT_LEADER)
		return sluice_errf(MASTER_ERR_NOTLEADER, errmsg, errlen, "not the leader");
	const struct raft_configuration *c = raft_configuration_get(m->raft);
	bool found = false;
	unsigned voters = 0;
	for (unsigned i = 0; c != NULL && i < c->n; i++) {
		if (c->servers[i].id == id)
			found = true;
		else if (c->servers[i].role == RAFT_VOTER)
			voters++;
	}
	if (!found)
		return sluice_errf(MASTER_ERR_INVAL, errmsg, errlen,
				   "member: no member with id %" PRIu64, id);
	if (voters == 0)
		return sluice_errf(MASTER_ERR_INVAL, errmsg, errlen,
				   "member: %" PRIu64 " is the last voter", id);
	req->cb = cb;
	req->m_ = m;
	memset(&req->member_, 0, sizeof(req->member_));
	req->member_.id = id;
	req->step_ = 3;
	req->change_.data = req;
	int rv = raft_remove(m->raft, &req->change_, id, master_change_step);
	if (rv != RAFT_OK)
		return sluice_errf(master_err_of_raft(rv), errmsg, errlen, "remove %" PRIu64 ": %s",
				   id, raft_strerror(rv));
	master_kick(m);
	return MASTER_OK;
}
