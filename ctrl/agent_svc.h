/*
 * agent_svc: Services and Endpoints from the API programmed into this
 * node's sluice-dp (the ClusterIP path that replaces kube-proxy, issue #7).
 *
 * In cluster mode the node agent watches every Service and every Endpoints
 * object in all namespaces and keeps the agent's service table
 * (ctrl/agent_lb.h, docs/agent-ipc.md svc.add / svc.del / backend.set) in
 * step: one agent service per (Service, port) with a spec.clusterIP, named
 * "k8s/<ns>/<name>:<port>/<proto>", VIP = clusterIP, ClientIP affinity from
 * spec.sessionAffinity, and as backends every ready address of the
 * Endpoints (subsets[].addresses, not notReadyAddresses) at the endpoint
 * port whose name (and protocol) matches the Service port, weight 1. Every
 * node programs every Service, so a ClusterIP is resolved in the source
 * node's dp and backends on other nodes are reached over the flat pod
 * network. The agent services named "k8s/..." are this module's: those no
 * Service asks for any more are deleted, others are never touched.
 *
 * Threads. One thread of its own: two informers (ctrl/informer.h: list,
 * watch from the list's resourceVersion, resume from the last one seen,
 * relist on 410) feed one queue; the thread drains it, computes the
 * desired table (agent_svc_desired) and the operations that bring what is
 * programmed there (agent_svc_diff), and hands them to the agent as one
 * IPC "batch" through the caller's ipc function (agent_node's queued call
 * into the poll-loop thread, so the single-threaded agent core stays
 * lock-free). What is programmed is read back from the agent ("services")
 * at start and after any refusal, so a restarted agent adopts and cleans
 * up what it persisted.
 *
 * Errors: agent_svc_start returns NULL with errmsg. Threading: start and
 * stop from one thread; the pure helpers from any thread.
 */
#ifndef SLUICE_CTRL_AGENT_SVC_H
#define SLUICE_CTRL_AGENT_SVC_H

#include <stddef.h>

#include <jansson.h>

#include "apic.h"

#define AGENT_SVC_PREFIX "k8s/"
/* A Service annotated AGENT_SVC_HEALTH_ANN: "tcp" gets a TCP connect check
 * of its backends from every node (agent_health: every INTERVAL, unhealthy
 * after 2 failures, healthy after 2 successes), so a backend that died is
 * drained before its Endpoints change. The masters create default/kubernetes
 * with it (ctlr_apisvc.h). */
#define AGENT_SVC_HEALTH_ANN "sluice.io/health-check"
#define AGENT_SVC_HEALTH_INTERVAL_MS 500
#define AGENT_SVC_HEALTH_TIMEOUT_MS 300
/* A Service annotated "sluice.io/lb-mode": "dsr" is programmed in DSR mode
 * (docs/lb.md "DSR"); anything else, or none, is full NAT. */
#define AGENT_SVC_MODE_ANNOTATION "sluice.io/lb-mode"

struct agent_svc_params {
	struct apic_params api; /* strings must outlive the module */
	/* Run req (an IPC request object; stolen) on the agent's thread and
	 * return its reply (owned by the caller), or NULL when the agent is
	 * stopping. Called from agent_svc's thread only. */
	json_t *(*ipc)(void *data, json_t *req);
	void *ipc_data;
	void (*log)(void *data, const char *line); /* any of our threads */
	void *log_data;
};

struct agent_svc;

/* Start the informers and the thread. NULL with errmsg on failure. */
struct agent_svc *agent_svc_start(const struct agent_svc_params *p, char *errmsg, size_t len);

/*
 * Stop and join (within ~0.5 s once the ipc function returns; the caller
 * must make a pending ipc call fail first, as agent_node_stop does by
 * closing its call queue). Accepts NULL. Leaves the programmed services in
 * the agent (it persists them; the next start reconciles).
 */
void agent_svc_stop(struct agent_svc *s);

/* ---- pure helpers, exposed for tests ---------------------------------- */

/*
 * The agent service name of a Service port: "k8s/<ns>/<name>:<port>/<proto>"
 * (proto "tcp"/"udp"); names over 63 bytes keep their first 54 bytes and
 * end in "~" + 8 hex digits of FNV-1a over the whole name. out >= 64 bytes.
 */
void agent_svc_name(const char *ns, const char *name, long port, const char *proto, char *out,
		    size_t cap);
/* The same for one of the Service's spec.externalIPs:
 * "k8s/<ns>/<name>@<ip>:<port>/<proto>" (ext_ip NULL: agent_svc_name). */
void agent_svc_ext_name(const char *ns, const char *name, const char *ext_ip, long port,
			const char *proto, char *out, size_t cap);

/*
 * The desired agent services: name -> {"vip","port","proto","affinity",
 * "mode" (nat, or dsr by AGENT_SVC_MODE_ANNOTATION), "health"? ("tcp" when
 * annotated AGENT_SVC_HEALTH_ANN: tcp), "backends":[{"ip","port","weight":1}]
 * sorted by ip then port, no duplicates}: one per Service port at the
 * clusterIP, and one more per IPv4 address of spec.externalIPs
 * (agent_svc_ext_name, VIP = that address, same backends). services and
 * endpoints are JSON objects "ns/name" -> object (an informer's cache;
 * borrowed). Services without an IPv4 clusterIP ("", "None", IPv6) and SCTP
 * ports are skipped. NULL on out of memory.
 */
json_t *agent_svc_desired(const json_t *services, const json_t *endpoints);

/*
 * The programmed services as agent_svc_desired shapes them, from the reply
 * of the agent's "services" op (borrowed): only names starting with
 * AGENT_SVC_PREFIX; "health" = the check's type unless "none"; backends
 * normalized to {ip, port, weight}, sorted.
 * NULL on a reply that is not ok or out of memory.
 */
json_t *agent_svc_programmed(const json_t *services_reply);

/*
 * The IPC operations that turn programmed into desired, in order: svc.del
 * for services gone or whose vip/port/proto/affinity changed (first, so a
 * VIP can move between Services), then svc.add and backend.set for new
 * or redefined services, and backend.set where only the backends differ.
 * A new service gets backend.set only when it has backends. An array
 * (empty when in step), NULL on out of memory.
 */
json_t *agent_svc_diff(const json_t *desired, const json_t *programmed);

#endif
