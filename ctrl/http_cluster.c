/*
 * http_cluster: /healthz, /readyz, /cluster/status and /cluster/members.
 *
 * /readyz on the leader runs a ReadIndex round (a quorum confirms it still
 * leads and it applied up to its commit index); on a follower it checks
 * that the leader was heard recently and that everything the leader told us
 * is committed has been applied. /cluster/status is served locally by any
 * member (what that member sees), so a test can poll every master.
 *
 * Health: a member is "ok" if a Raft frame from it arrived lately (the
 * leader hears everyone; a follower only the leader) or if its /healthz
 * answered 200 lately: every master probes the others' /healthz once a
 * second with its own client certificate, so followers see each other too.
 */
#include "http_cluster.h"

#include <errno.h>
#include <inttypes.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "http.h"
#include "master.h"

#define HTTP_CLUSTER_PROBE_MS 1000
#define HTTP_CLUSTER_HEALTH_WINDOW_MS 3000
#define HTTP_CLUSTER_SLOTS (2 * MASTER_MAX_MEMBERS)

struct http_cluster;

/* One probed member; the slot is the probe's callback argument, so probes
 * need no allocation and a probe dropped at shutdown leaks nothing. */
struct http_cluster_slot {
	struct http_cluster *hc;
	raft_id id;
	bool inflight;
	uint64_t ok_ms; /* last 200 from its /healthz, 0 = never */
};

struct http_cluster {
	struct master *m;
	struct http_server *srv;
	struct event *tick;
	struct http_cluster_slot slots[HTTP_CLUSTER_SLOTS];
};

static uint64_t http_cluster_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct http_cluster_slot *http_cluster_slot(struct http_cluster *hc, raft_id id,
						   bool create)
{
	struct http_cluster_slot *free_slot = NULL;
	for (size_t i = 0; i < HTTP_CLUSTER_SLOTS; i++) {
		if (hc->slots[i].id == id)
			return &hc->slots[i];
		if (hc->slots[i].id == 0 && free_slot == NULL)
			free_slot = &hc->slots[i];
	}
	if (!create || free_slot == NULL)
		return NULL;
	free_slot->id = id;
	free_slot->hc = hc;
	return free_slot;
}

static void http_cluster_probe_done(void *arg, long status)
{
	struct http_cluster_slot *sl = arg;
	sl->inflight = false;
	if (status == 200)
		sl->ok_ms = http_cluster_now_ms();
}

static void http_cluster_on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct http_cluster *hc = arg;
	struct master_member mems[MASTER_MAX_MEMBERS];
	size_t n = master_members(hc->m, mems, MASTER_MAX_MEMBERS);
	raft_id self = master_self(hc->m)->id;
	for (size_t i = 0; i < n; i++) {
		if (mems[i].id == self || mems[i].api_url[0] == '\0')
			continue;
		struct http_cluster_slot *sl = http_cluster_slot(hc, mems[i].id, true);
		if (sl == NULL || sl->inflight)
			continue;
		char url[MASTER_URL_MAX + 16];
		snprintf(url, sizeof(url), "%s/healthz", mems[i].api_url);
		if (http_probe(hc->srv, url, HTTP_CLUSTER_PROBE_MS, http_cluster_probe_done,
			       sl) == 0)
			sl->inflight = true;
	}
}

/* master_status_get plus the /healthz probes' view of reachability. */
static void http_cluster_status_get(struct http_cluster *hc, struct master_status *st)
{
	master_status_get(hc->m, st);
	uint64_t now = http_cluster_now_ms();
	for (size_t i = 0; i < st->n_members; i++) {
		struct http_cluster_slot *sl =
			http_cluster_slot(hc, st->members[i].member.id, false);
		if (sl != NULL && sl->ok_ms != 0 &&
		    now - sl->ok_ms <= HTTP_CLUSTER_HEALTH_WINDOW_MS)
			st->members[i].reachable = true;
	}
}

static const char *http_cluster_role(int role)
{
	switch (role) {
	case MASTER_ROLE_LEADER: return "leader";
	case MASTER_ROLE_CANDIDATE: return "candidate";
	case MASTER_ROLE_LEARNER: return "learner";
	default: return "follower";
	}
}

int http_cluster_leader(void *arg, char *url, size_t len)
{
	struct master *m = arg; /* the master itself, not the http_cluster */
	if (master_is_leader(m))
		return 1;
	const struct master_member *l = NULL;
	raft_id id = master_leader(m, &l);
	if (id == 0 || l == NULL || l->api_url[0] == '\0')
		return -1;
	snprintf(url, len, "%s", l->api_url);
	return 0;
}

static void http_cluster_healthz(struct http_req *req, void *arg)
{
	(void)arg;
	http_reply_raw(req, 200, "text/plain", "ok", 2);
}

struct http_cluster_ready {
	struct master_read rd;
	struct http_req *req;
};

static void http_cluster_ready_done(struct master_read *rd, int status,
				    struct store *store)
{
	(void)store;
	struct http_cluster_ready *r = rd->data;
	if (status == MASTER_OK)
		http_reply_raw(r->req, 200, "text/plain", "ok", 2);
	else
		http_reply_status(r->req, 503, "ServiceUnavailable",
				  "not ready: %s", master_strerror(status));
	free(r);
}

static void http_cluster_readyz(struct http_req *req, void *arg)
{
	struct http_cluster *hc = arg;
	struct master *m = hc->m;
	if (master_is_leader(m)) {
		struct http_cluster_ready *r = calloc(1, sizeof(*r));
		if (r == NULL) {
			http_reply_status(req, 500, "InternalError", "out of memory");
			return;
		}
		r->req = req;
		r->rd.data = r;
		int rv = master_read(m, &r->rd, true, http_cluster_ready_done);
		if (rv != MASTER_OK) {
			free(r);
			http_reply_status(req, 503, "ServiceUnavailable",
					  "not ready: %s", master_strerror(rv));
		}
		return;
	}
	struct master_status st;
	http_cluster_status_get(hc, &st);
	bool leader_ok = false;
	for (size_t i = 0; i < st.n_members; i++)
		if (st.members[i].member.id == st.leader)
			leader_ok = st.members[i].reachable;
	if (st.leader == 0 || !leader_ok)
		http_reply_status(req, 503, "NoLeader", "not ready: no leader");
	else if (st.applied_index < st.commit_index)
		http_reply_status(req, 503, "ServiceUnavailable",
				  "not ready: applied %" PRIu64 " < commit %" PRIu64,
				  (uint64_t)st.applied_index, (uint64_t)st.commit_index);
	else
		http_reply_raw(req, 200, "text/plain", "ok", 2);
}

static json_t *http_cluster_u64(uint64_t v)
{
	return json_integer((json_int_t)v);
}

static void http_cluster_status(struct http_req *req, void *arg)
{
	struct http_cluster *hc = arg;
	struct master *m = hc->m;
	struct master_status st;
	http_cluster_status_get(hc, &st);
	json_t *mems = json_array();
	for (size_t i = 0; i < st.n_members; i++) {
		const struct master_member_status *ms = &st.members[i];
		json_array_append_new(mems, json_pack(
			"{s:o,s:s,s:s,s:s,s:s,s:s}",
			"id", http_cluster_u64(ms->member.id),
			"name", ms->member.name,
			"peerURL", ms->member.peer_url,
			"apiURL", ms->member.api_url,
			"health", ms->reachable ? "ok" : "unreachable",
			"role", http_cluster_role(ms->role)));
	}
	json_t *o = json_pack("{s:o,s:o,s:o,s:o,s:o,s:I,s:o,s:s}",
			      "members", mems,
			      "leader", http_cluster_u64(st.leader),
			      "term", http_cluster_u64(st.term),
			      "commitIndex", http_cluster_u64(st.commit_index),
			      "appliedIndex", http_cluster_u64(st.applied_index),
			      "revision", (json_int_t)st.revision,
			      "self", http_cluster_u64(st.self),
			      "name", master_self(m)->name);
	if (o == NULL) {
		http_reply_status(req, 500, "InternalError", "out of memory");
		return;
	}
	http_reply_json(req, 200, o);
}

struct http_cluster_join {
	struct master_change ch;
	struct http_req *req;
};

static void http_cluster_join_done(struct master_change *ch, int status,
				   const char *errmsg)
{
	struct http_cluster_join *j = ch->data;
	if (status == MASTER_OK) {
		json_t *o = json_pack("{s:I}", "id", (json_int_t)master_change_id(ch));
		http_reply_json(j->req, 201, o);
	} else {
		http_reply_status(j->req, 503, "ServiceUnavailable", "join: %s", errmsg);
	}
	free(j);
}

/* Membership changes are for admin and the masters only; what names the
 * request ("join", "remove") and verb the change in the refusal. */
static bool http_cluster_may_change(struct http_req *req, const char *what, const char *verb)
{
	const char *cn = http_req_client_cn(req);
	if (strncmp(cn, "admin", 5) == 0 || strncmp(cn, "master:", 7) == 0)
		return true;
	http_reply_status(req, 403, "Forbidden", "%s: only admin or a master may %s members", what,
			  verb);
	return false;
}

/* A change request that answers req when it completes; NULL (500 sent)
 * when memory is short. */
static struct http_cluster_join *http_cluster_change_new(struct http_req *req)
{
	struct http_cluster_join *j = calloc(1, sizeof(*j));
	if (j == NULL) {
		http_reply_status(req, 500, "InternalError", "out of memory");
		return NULL;
	}
	j->req = req;
	j->ch.data = j;
	return j;
}

/* After master_add_member/master_remove_member returned rv: on a follower
 * relay the request to the leader; on an error answer it now. */
static void http_cluster_change_started(struct http_req *req, struct http_cluster_join *j,
					int rv, const char *what, const char *err)
{
	if (rv == MASTER_OK)
		return;
	free(j);
	if (rv == MASTER_ERR_NOTLEADER)
		http_forward(req);
	else
		http_reply_status(req, rv == MASTER_ERR_INVAL ? 400 : 503,
				  rv == MASTER_ERR_INVAL ? "BadRequest" : "ServiceUnavailable",
				  "%s: %s", what, err);
}

/* POST /cluster/members {"name","peerURL","apiURL","id"?}: add a master
 * (learner, then voter once caught up). Answers when it is a voter. */
static void http_cluster_members(struct http_req *req, void *arg)
{
	struct master *m = ((struct http_cluster *)arg)->m;
	if (http_req_method(req) == HTTP_GET) {
		struct master_member mems[MASTER_MAX_MEMBERS];
		size_t n = master_members(m, mems, MASTER_MAX_MEMBERS);
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, json_pack("{s:I,s:s,s:s,s:s}",
				"id", (json_int_t)mems[i].id, "name", mems[i].name,
				"peerURL", mems[i].peer_url, "apiURL", mems[i].api_url));
		http_reply_json(req, 200, json_pack("{s:o}", "members", a));
		return;
	}
	if (!http_cluster_may_change(req, "join", "add"))
		return;
	size_t len;
	const uint8_t *body = http_req_body(req, &len);
	json_error_t jerr;
	json_t *o = json_loadb((const char *)body, len, 0, &jerr);
	if (o == NULL || !json_is_object(o)) {
		json_decref(o);
		http_reply_status(req, 400, "BadRequest", "body: not a JSON object");
		return;
	}
	struct master_member mem;
	memset(&mem, 0, sizeof(mem));
	const char *name = json_string_value(json_object_get(o, "name"));
	const char *peer = json_string_value(json_object_get(o, "peerURL"));
	const char *api = json_string_value(json_object_get(o, "apiURL"));
	json_t *idj = json_object_get(o, "id");
	const char *bad = name == NULL || strlen(name) >= sizeof(mem.name) ? "name"
			  : peer == NULL || strlen(peer) >= sizeof(mem.peer_url) ? "peerURL"
			  : api == NULL || strlen(api) >= sizeof(mem.api_url) ? "apiURL"
			  : idj != NULL && (!json_is_integer(idj) || json_integer_value(idj) < 0)
				  ? "id" : NULL;
	if (bad != NULL) {
		json_decref(o);
		http_reply_status(req, 400, "BadRequest", "%s: missing or invalid", bad);
		return;
	}
	snprintf(mem.name, sizeof(mem.name), "%s", name);
	snprintf(mem.peer_url, sizeof(mem.peer_url), "%s", peer);
	snprintf(mem.api_url, sizeof(mem.api_url), "%s", api);
	mem.id = idj != NULL ? (raft_id)json_integer_value(idj) : 0;
	json_decref(o);
	struct http_cluster_join *j = http_cluster_change_new(req);
	if (j == NULL)
		return;
	char err[256];
	int rv = master_add_member(m, &j->ch, &mem, http_cluster_join_done, err,
				   sizeof(err));
	http_cluster_change_started(req, j, rv, "join", err);
}

static void http_cluster_remove_done(struct master_change *ch, int status,
				     const char *errmsg)
{
	struct http_cluster_join *j = ch->data;
	if (status == MASTER_OK)
		http_reply_json(j->req, 200, json_pack("{s:I}", "id",
							(json_int_t)master_change_id(ch)));
	else
		http_reply_status(j->req, 503, "ServiceUnavailable", "remove: %s", errmsg);
	free(j);
}

/* DELETE /cluster/members/{id}: take a master out of the configuration. */
static void http_cluster_member_delete(struct http_req *req, void *arg)
{
	struct master *m = ((struct http_cluster *)arg)->m;
	if (!http_cluster_may_change(req, "remove", "remove"))
		return;
	const char *s = http_req_path(req) + strlen("/cluster/members/");
	char *end;
	errno = 0;
	unsigned long long id = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || id == 0) {
		http_reply_status(req, 400, "BadRequest", "id: '%s' is not a member id", s);
		return;
	}
	struct http_cluster_join *j = http_cluster_change_new(req);
	if (j == NULL)
		return;
	char err[256];
	int rv = master_remove_member(m, &j->ch, (raft_id)id, http_cluster_remove_done, err,
				      sizeof(err));
	http_cluster_change_started(req, j, rv, "remove", err);
}

struct http_cluster *http_cluster_register(struct http_server *srv, struct master *m,
					   char *errmsg, size_t errlen)
{
	struct http_cluster *hc = calloc(1, sizeof(*hc));
	if (hc == NULL) {
		snprintf(errmsg, errlen, "http: cluster routes: out of memory");
		return NULL;
	}
	hc->m = m;
	hc->srv = srv;
	hc->tick = event_new(master_base(m), -1, EV_PERSIST, http_cluster_on_tick, hc);
	struct timeval tv = { .tv_sec = HTTP_CLUSTER_PROBE_MS / 1000,
			      .tv_usec = (HTTP_CLUSTER_PROBE_MS % 1000) * 1000 };
	if (hc->tick == NULL || event_add(hc->tick, &tv) < 0 ||
	    http_route(srv, HTTP_GET | HTTP_HEAD, "/healthz", HTTP_ROUTE_EXACT,
		       http_cluster_healthz, hc) < 0 ||
	    http_route(srv, HTTP_GET | HTTP_HEAD, "/readyz", HTTP_ROUTE_EXACT,
		       http_cluster_readyz, hc) < 0 ||
	    http_route(srv, HTTP_GET, "/cluster/status", HTTP_ROUTE_EXACT,
		       http_cluster_status, hc) < 0 ||
	    http_route(srv, HTTP_GET | HTTP_POST, "/cluster/members",
		       HTTP_ROUTE_EXACT | HTTP_ROUTE_FWD_WRITES,
		       http_cluster_members, hc) < 0 ||
	    http_route(srv, HTTP_DELETE, "/cluster/members/", HTTP_ROUTE_FWD_WRITES,
		       http_cluster_member_delete, hc) < 0) {
		snprintf(errmsg, errlen, "http: cluster routes: %s", strerror(errno));
		http_cluster_free(hc);
		return NULL;
	}
	return hc;
}

void http_cluster_free(struct http_cluster *hc)
{
	if (hc == NULL)
		return;
	if (hc->tick != NULL)
		event_free(hc->tick);
	free(hc);
}
