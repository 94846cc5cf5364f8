/*
 * http_cluster: /healthz, /readyz, /cluster/status and /cluster/members.
 *
 * /readyz on the leader runs a ReadIndex round (a quorum confirms it still
 * leads and it applied up to its commit index); on a follower it checks
 * that the leader was heard recently and that everything the leader told us
 * is committed has been applied. /cluster/status is served locally by any
 * member (what that member sees), so a test can poll every master.
 */
#include "http_cluster.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http.h"
#include "master.h"

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
	struct master *m = arg;
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
	struct master *m = arg;
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
	master_status_get(m, &st);
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
	struct master *m = arg;
	struct master_status st;
	master_status_get(m, &st);
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

/* POST /cluster/members {"name","peerURL","apiURL","id"?}: add a master
 * (learner, then voter once caught up). Answers when it is a voter. */
static void http_cluster_members(struct http_req *req, void *arg)
{
	struct master *m = arg;
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
	if (strncmp(http_req_client_cn(req), "admin", 5) != 0 &&
	    strncmp(http_req_client_cn(req), "master:", 7) != 0) {
		http_reply_status(req, 403, "Forbidden",
				  "join: only admin or a master may add members");
		return;
	}
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
	struct http_cluster_join *j = calloc(1, sizeof(*j));
	if (j == NULL) {
		http_reply_status(req, 500, "InternalError", "out of memory");
		return;
	}
	j->req = req;
	j->ch.data = j;
	char err[256];
	int rv = master_add_member(m, &j->ch, &mem, http_cluster_join_done, err,
				   sizeof(err));
	if (rv == MASTER_ERR_NOTLEADER) {
		free(j);
		http_forward(req);
	} else if (rv != MASTER_OK) {
		free(j);
		http_reply_status(req, rv == MASTER_ERR_INVAL ? 400 : 503,
				  rv == MASTER_ERR_INVAL ? "BadRequest" : "ServiceUnavailable",
				  "join: %s", err);
	}
}

int http_cluster_register(struct http_server *srv, struct master *m,
			  char *errmsg, size_t errlen)
{
	if (http_route(srv, HTTP_GET | HTTP_HEAD, "/healthz", HTTP_ROUTE_EXACT,
		       http_cluster_healthz, m) < 0 ||
	    http_route(srv, HTTP_GET | HTTP_HEAD, "/readyz", HTTP_ROUTE_EXACT,
		       http_cluster_readyz, m) < 0 ||
	    http_route(srv, HTTP_GET, "/cluster/status", HTTP_ROUTE_EXACT,
		       http_cluster_status, m) < 0 ||
	    http_route(srv, HTTP_GET | HTTP_POST, "/cluster/members",
		       HTTP_ROUTE_EXACT | HTTP_ROUTE_FWD_WRITES,
		       http_cluster_members, m) < 0) {
		snprintf(errmsg, errlen, "http: cluster routes: %s", strerror(errno));
		return -1;
	}
	return 0;
}
