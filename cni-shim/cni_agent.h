/*
 * cni_agent: sluice-cni's client of the node agent (sluice-ctrl --role=worker).
 *
 * One nanomsg REQ socket to the agent's REP socket, one JSON request per
 * CNI operation, and a hard timeout on every call: a CNI plugin that hangs
 * blocks the runtime's pod sandbox creation, so an agent that does not
 * answer within timeout_ms is CNI_ERR_TRY_AGAIN (SPEC.md 1.1.0 "Error",
 * code 11) and never a wait. The wire format is cni-shim/AGENT-PROTOCOL.md;
 * each reply is validated as untrusted input before use.
 *
 * The handle is used by one thread at a time (REQ sockets are strictly
 * request-then-reply).
 */
#ifndef SLUICE_CNI_AGENT_H
#define SLUICE_CNI_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cni_args.h"
#include "cni_config.h"
#include "cni_error.h"
#include "cni_result.h"

#define CNI_AGENT_PROTO_VERSION 1
#define CNI_AGENT_MAX_MSG (64u * 1024u)

struct cni_agent;

struct cni_agent_params {
	const char *url;        /* "ipc://..." or "tcp://..."; copied */
	uint32_t timeout_ms;    /* per call: send and receive each, 1..60000 */
};

/* One attachment: the key the agent indexes by is (network, container_id, ifname). */
struct cni_agent_attachment {
	const char *network;
	const char *container_id;
	const char *ifname;
	const char *netns;          /* may be "" on DEL */
	enum cni_mode mode;
	const char *host_ifname;    /* veth: host end dp takes; else "" */
	const char *socket_path;    /* memif/vhost-user: socket dp serves; else "" */
	const char *pod_mac;        /* veth: the pod end's MAC; else "" (agent picks) */
};

/*
 * Create a client connected (asynchronously, as nanomsg does) to p->url.
 * Returns NULL with *err set (CNI_ERR_INVALID_CONFIG for a bad URL or
 * timeout, CNI_ERR_INTERNAL otherwise). Control thread.
 */
struct cni_agent *cni_agent_create(const struct cni_agent_params *p, struct cni_error *err);

/* Close the socket (linger 0: an unanswered request is dropped). NULL is fine. */
void cni_agent_free(struct cni_agent *a);

/*
 * Send req (borrowed; "v" is added) and wait for the reply. On CNI_OK *rep
 * is a new reference to a validated reply object with "ok": true (caller
 * decrefs). Errors: CNI_ERR_TRY_AGAIN (timeout or agent busy),
 * CNI_ERR_DECODE (malformed reply), or the code the agent's error maps to
 * (AGENT-PROTOCOL.md "Errors").
 */
enum cni_err cni_agent_call(struct cni_agent *a, json_t *req, json_t **rep, struct cni_error *err);

/*
 * cni.add: allocate addresses and attach. The agent's ips/routes/dns are
 * validated and stored into *out (initialised first; no interfaces). cfg
 * supplies port mappings, requested ips/mac and mtu; args the pod identity
 * (may be NULL). If the reply names the pod MAC (memif/vhost-user, where
 * the agent picks it) it is copied to mac[18], else mac is "" (may be NULL).
 */
enum cni_err cni_agent_add(struct cni_agent *a, const struct cni_agent_attachment *att,
			   const struct cni_config *cfg, const struct cni_args *args,
			   struct cni_result *out, char mac[18], struct cni_error *err);

/* cni.del: release; the agent answers ok for an attachment it does not know. */
enum cni_err cni_agent_del(struct cni_agent *a, const struct cni_agent_attachment *att,
			   struct cni_error *err);

/*
 * cni.check: does the agent hold this attachment with these addresses?
 * CNI_ERR_UNKNOWN_CONTAINER if not known; CNI_ERR_AGENT on a mismatch.
 */
enum cni_err cni_agent_check(struct cni_agent *a, const struct cni_agent_attachment *att,
			     const struct cni_result *expect, struct cni_error *err);

/* cni.gc: drop every attachment of network not in valid[0..n). *removed may be NULL. */
enum cni_err cni_agent_gc(struct cni_agent *a, const char *network,
			  const struct cni_attachment_ref *valid, size_t n, unsigned *removed,
			  struct cni_error *err);

/* cni.status: readiness of the agent and of the data plane. */
enum cni_err cni_agent_status(struct cni_agent *a, const char *network, bool *agent_ready,
			      bool *dp_ready, struct cni_error *err);

#endif
