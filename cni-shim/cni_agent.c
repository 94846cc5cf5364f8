/*
 * cni_agent: nanomsg REQ client of the node agent (see cni_agent.h and
 * AGENT-PROTOCOL.md).
 *
 * Timeouts: NN_SNDTIMEO bounds waiting for a peer (a REQ socket with no
 * agent behind it blocks in send), NN_RCVTIMEO bounds the reply, and
 * NN_REQ_RESEND_IVL is pushed past the timeout so nanomsg never resends a
 * request behind our back: cni.add must reach the agent at most once per
 * plugin call, even though the agent treats a repeat as idempotent.
 */
#include <sluice/attach_key.h>
#include "cni_agent.h"
#include "cni_link.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>

struct cni_agent {
	int sock;
	uint32_t timeout_ms;
};

struct cni_agent *cni_agent_create(const struct cni_agent_params *p, struct cni_error *err)
{
	if (p == NULL || p->url == NULL || p->timeout_ms == 0 || p->timeout_ms > 60000 ||
	    strlen(p->url) >= 256) {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG, "agent: bad URL or timeout");
		return NULL;
	}
	struct cni_agent *a = calloc(1, sizeof(*a));
	if (a == NULL) {
		cni_error_set(err, CNI_ERR_INTERNAL, "agent: out of memory");
		return NULL;
	}
	a->timeout_ms = p->timeout_ms;
	a->sock = nn_socket(AF_SP, NN_REQ);
	if (a->sock < 0) {
		cni_error_set(err, CNI_ERR_INTERNAL, "agent: nn_socket: %s", nn_strerror(nn_errno()));
		free(a);
		return NULL;
	}
	int to = (int)p->timeout_ms;
	int resend = to * 2 + 1000;
	int linger = 0;
	if (nn_setsockopt(a->sock, NN_SOL_SOCKET, NN_SNDTIMEO, &to, sizeof(to)) < 0 ||
	    nn_setsockopt(a->sock, NN_SOL_SOCKET, NN_RCVTIMEO, &to, sizeof(to)) < 0 ||
	    nn_setsockopt(a->sock, NN_SOL_SOCKET, NN_LINGER, &linger, sizeof(linger)) < 0 ||
	    nn_setsockopt(a->sock, NN_REQ, NN_REQ_RESEND_IVL, &resend, sizeof(resend)) < 0 ||
	    nn_connect(a->sock, p->url) < 0) {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG, "agent: cannot use %s: %s", p->url,
			      nn_strerror(nn_errno()));
		nn_close(a->sock);
		free(a);
		return NULL;
	}
	return a;
}

void cni_agent_free(struct cni_agent *a)
{
	if (a == NULL)
		return;
	nn_close(a->sock);
	free(a);
}

/* AGENT-PROTOCOL.md "Errors": agent reason string -> CNI code. 8< cni-agent-errors */
static enum cni_err cni_agent_map_code(const char *code)
{
	static const struct {
		const char *name;
		enum cni_err err;
	} map[] = {
		{ "try_again", CNI_ERR_TRY_AGAIN },
		{ "unknown_container", CNI_ERR_UNKNOWN_CONTAINER },
		{ "invalid", CNI_ERR_INVALID_CONFIG },
		{ "not_ready", CNI_ERR_NOT_AVAILABLE },
		{ "limited", CNI_ERR_LIMITED_CONNECTIVITY },
		/* ctrl/agent.h AGENT_ERRORS texts, as ctrl/ipc.c sends them in "error". */
		{ "invalid request", CNI_ERR_INVALID_CONFIG },
		{ "not found", CNI_ERR_UNKNOWN_CONTAINER },
		{ "still in use", CNI_ERR_TRY_AGAIN },
		{ "out of memory", CNI_ERR_TRY_AGAIN },
		{ "cannot persist the state file", CNI_ERR_TRY_AGAIN },
		{ "sluice-dp refused the change", CNI_ERR_NOT_AVAILABLE },
	}; /* >8 */
	for (size_t i = 0; code != NULL && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(code, map[i].name) == 0)
			return map[i].err;
	return CNI_ERR_AGENT;
}

enum cni_err cni_agent_call(struct cni_agent *a, json_t *req, json_t **rep, struct cni_error *err)
{
	*rep = NULL;
	if (json_object_set_new(req, "v", json_integer(CNI_AGENT_PROTO_VERSION)) != 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, "agent: out of memory");
	char *txt = json_dumps(req, JSON_COMPACT);
	if (txt == NULL)
		return cni_error_set(err, CNI_ERR_INTERNAL, "agent: cannot encode request");
	size_t len = strlen(txt);
	if (len > CNI_AGENT_MAX_MSG) {
		free(txt);
		return cni_error_set(err, CNI_ERR_INTERNAL, "agent: request too large");
	}
	int n = nn_send(a->sock, txt, len, 0);
	free(txt);
	if (n < 0) {
		int e = nn_errno();
		return cni_error_set(err, e == ETIMEDOUT ? CNI_ERR_TRY_AGAIN : CNI_ERR_AGENT,
				     "agent: no answer within %u ms (send: %s)", a->timeout_ms,
				     nn_strerror(e));
	}
	void *buf = NULL;
	n = nn_recv(a->sock, &buf, NN_MSG, 0);
	if (n < 0) {
		int e = nn_errno();
		return cni_error_set(err, e == ETIMEDOUT ? CNI_ERR_TRY_AGAIN : CNI_ERR_AGENT,
				     "agent: no answer within %u ms (%s)", a->timeout_ms,
				     nn_strerror(e));
	}
	json_error_t jerr;
	json_t *r = NULL;
	/* Bound first, then parse with the exact length: the reply is untrusted. */
	if ((size_t)n <= CNI_AGENT_MAX_MSG)
		r = json_loadb(buf, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
	nn_freemsg(buf);
	const json_t *v = json_object_get(r, "v");
	const json_t *ok = json_object_get(r, "ok");
	/* "v" may be omitted (ctrl/ipc.c's generic replies); if present it must be ours. */
	if (!json_is_object(r) ||
	    (v != NULL && (!json_is_integer(v) || json_integer_value(v) != CNI_AGENT_PROTO_VERSION)) ||
	    !json_is_boolean(ok)) {
		json_decref(r);
		return cni_error_set(err, CNI_ERR_DECODE, "agent: malformed reply");
	}
	if (!json_is_true(ok)) {
		/* AGENT-PROTOCOL.md "Errors": code/msg, or ctrl/ipc.c's error/detail. */
		const char *code = json_string_value(json_object_get(r, "code"));
		const char *msg = json_string_value(json_object_get(r, "msg"));
		if (code == NULL)
			code = json_string_value(json_object_get(r, "error"));
		if (msg == NULL)
			msg = json_string_value(json_object_get(r, "detail"));
		enum cni_err e = cni_error_set(err, cni_agent_map_code(code), "agent: %.64s: %.160s",
					       code ? code : "error", msg ? msg : "");
		json_decref(r);
		return e;
	}
	*rep = r;
	return CNI_OK;
}

static json_t *cni_agent_req(const char *op, const struct cni_agent_attachment *att)
{
	json_t *req = json_object();
	if (req == NULL)
		return NULL;
	int rc = json_object_set_new(req, "op", json_string(op));
	if (att != NULL) {
		rc |= json_object_set_new(req, "network", json_string(att->network));
		rc |= json_object_set_new(req, "container_id", json_string(att->container_id));
		rc |= json_object_set_new(req, "ifname", json_string(att->ifname));
		rc |= json_object_set_new(req, "netns", json_string(att->netns ? att->netns : ""));
		rc |= json_object_set_new(req, "mode", json_string(cni_mode_string(att->mode)));
		rc |= json_object_set_new(req, "host_ifname",
					  json_string(att->host_ifname ? att->host_ifname : ""));
		rc |= json_object_set_new(req, "socket_path",
					  json_string(att->socket_path ? att->socket_path : ""));
		rc |= json_object_set_new(req, "pod_mac",
					  json_string(att->pod_mac ? att->pod_mac : ""));
		/* AGENT-PROTOCOL.md "Keys": the agent's port and pod name for this attachment. */
		char key[16];
		sluice_attach_key(att->container_id, att->ifname, key);
		rc |= json_object_set_new(req, "key", json_string(key));
	}
	if (rc != 0) {
		json_decref(req);
		return NULL;
	}
	return req;
}

static enum cni_err cni_agent_simple(struct cni_agent *a, json_t *req, json_t **rep,
				     struct cni_error *err)
{
	if (req == NULL)
		return cni_error_set(err, CNI_ERR_INTERNAL, "agent: out of memory");
	enum cni_err e = cni_agent_call(a, req, rep, err);
	json_decref(req);
	return e;
}

enum cni_err cni_agent_add(struct cni_agent *a, const struct cni_agent_attachment *att,
			   const struct cni_config *cfg, const struct cni_args *args,
			   struct cni_result *out, char mac[18], struct cni_error *err)
{
	if (mac != NULL)
		mac[0] = '\0';
	json_t *req = cni_agent_req("cni.add", att);
	if (req == NULL)
		return cni_error_set(err, CNI_ERR_INTERNAL, "agent: out of memory");
	int rc = 0;
	if (args != NULL) {
		rc |= json_object_set_new(req, "pod",
					  json_pack("{s:s, s:s, s:s, s:s}", "name", args->pod_name,
						    "namespace", args->pod_namespace, "uid",
						    args->pod_uid, "infra_id", args->pod_infra_id));
	}
	json_t *ports = json_array();
	for (unsigned i = 0; ports != NULL && i < cfg->n_ports; i++) {
		const struct cni_port_mapping *pm = &cfg->ports[i];
		rc |= json_array_append_new(ports, json_pack("{s:i, s:i, s:s, s:s}", "host_port",
							     (int)pm->host_port, "container_port",
							     (int)pm->container_port, "protocol",
							     pm->protocol, "host_ip", pm->host_ip));
	}
	rc |= json_object_set_new(req, "port_mappings", ports);
	json_t *ips = json_array();
	for (unsigned i = 0; ips != NULL && i < cfg->n_req_ips; i++)
		rc |= json_array_append_new(ips, json_string(cfg->req_ips[i]));
	rc |= json_object_set_new(req, "req_ips", ips);
	rc |= json_object_set_new(req, "req_mac", json_string(cfg->req_mac));
	rc |= json_object_set_new(req, "mtu", json_integer(cfg->mtu));
	if (rc != 0) {
		json_decref(req);
		return cni_error_set(err, CNI_ERR_INTERNAL, "agent: out of memory");
	}
	json_t *rep;
	enum cni_err e = cni_agent_simple(a, req, &rep, err);
	if (e != CNI_OK)
		return e;
	/*
	 * The reply's ips/routes/dns use the CNI 1.1.0 Result shape, so the
	 * Result parser validates them; it has no interfaces, so any
	 * ips[].interface is out of range and refused.
	 */
	e = cni_result_parse(rep, CNI_VERSION_1_1_0, out, err);
	const char *m = json_string_value(json_object_get(rep, "mac"));
	unsigned b[6];
	char tail;
	/* Only a well-formed unicast-shaped MAC is copied; anything else is a lie. */
	if (e == CNI_OK && m != NULL &&
	    (strlen(m) != 17 || sscanf(m, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
				       &b[4], &b[5], &tail) != 6))
		e = cni_error_set(err, CNI_ERR_DECODE, "mac is malformed");
	if (e == CNI_OK && m != NULL && mac != NULL)
		memcpy(mac, m, 18);
	json_decref(rep);
	if (e != CNI_OK)
		return cni_error_set(err, CNI_ERR_DECODE, "agent: bad cni.add reply: %.200s",
				     err ? err->msg : "");
	if (out->n_ips == 0)
		return cni_error_set(err, CNI_ERR_DECODE, "agent: cni.add reply has no ips");
	return CNI_OK;
}

enum cni_err cni_agent_del(struct cni_agent *a, const struct cni_agent_attachment *att,
			   struct cni_error *err)
{
	json_t *rep;
	enum cni_err e = cni_agent_simple(a, cni_agent_req("cni.del", att), &rep, err);
	json_decref(rep);
	return e;
}

enum cni_err cni_agent_check(struct cni_agent *a, const struct cni_agent_attachment *att,
			     const struct cni_result *expect, struct cni_error *err)
{
	json_t *req = cni_agent_req("cni.check", att);
	json_t *ips = json_array();
	int rc = req == NULL || ips == NULL;
	for (unsigned i = 0; !rc && expect != NULL && i < expect->n_ips; i++)
		rc |= json_array_append_new(ips, json_string(expect->ips[i].address));
	if (req != NULL)
		rc |= json_object_set_new(req, "ips", ips);
	else
		json_decref(ips);
	if (rc != 0) {
		json_decref(req);
		return cni_error_set(err, CNI_ERR_INTERNAL, "agent: out of memory");
	}
	json_t *rep;
	enum cni_err e = cni_agent_simple(a, req, &rep, err);
	json_decref(rep);
	return e;
}

enum cni_err cni_agent_gc(struct cni_agent *a, const char *network,
			  const struct cni_attachment_ref *valid, size_t n, unsigned *removed,
			  struct cni_error *err)
{
	json_t *req = cni_agent_req("cni.gc", NULL);
	json_t *arr = json_array();
	int rc = req == NULL || arr == NULL;
	for (size_t i = 0; !rc && i < n; i++)
		rc |= json_array_append_new(arr, json_pack("{s:s, s:s}", "container_id",
							   valid[i].container_id, "ifname",
							   valid[i].ifname));
	if (req != NULL) {
		rc |= json_object_set_new(req, "network", json_string(network));
		rc |= json_object_set_new(req, "valid", arr);
	} else {
		json_decref(arr);
	}
	if (rc != 0) {
		json_decref(req);
		return cni_error_set(err, CNI_ERR_INTERNAL, "agent: out of memory");
	}
	json_t *rep;
	enum cni_err e = cni_agent_simple(a, req, &rep, err);
	if (e == CNI_OK && removed != NULL) {
		json_int_t k = json_integer_value(json_object_get(rep, "removed"));
		*removed = k > 0 && k < 1000000 ? (unsigned)k : 0;
	}
	json_decref(rep);
	return e;
}

enum cni_err cni_agent_status(struct cni_agent *a, const char *network, bool *agent_ready,
			      bool *dp_ready, struct cni_error *err)
{
	json_t *req = cni_agent_req("cni.status", NULL);
	if (req != NULL && json_object_set_new(req, "network", json_string(network)) != 0) {
		json_decref(req);
		req = NULL;
	}
	json_t *rep;
	enum cni_err e = cni_agent_simple(a, req, &rep, err);
	if (e != CNI_OK)
		return e;
	const json_t *ar = json_object_get(rep, "agent_ready");
	const json_t *dr = json_object_get(rep, "dp_ready");
	if (!json_is_boolean(ar) || !json_is_boolean(dr)) {
		json_decref(rep);
		return cni_error_set(err, CNI_ERR_DECODE, "agent: cni.status reply lacks readiness");
	}
	*agent_ready = json_is_true(ar);
	*dp_ready = json_is_true(dr);
	json_decref(rep);
	return CNI_OK;
}
