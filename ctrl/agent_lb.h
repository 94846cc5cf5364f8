/*
 * agent_lb: the node agent's desired state for the service load balancer
 * (issue #7): services (VIP:port:proto, affinity, health check) and their
 * backends, persisted with the rest of the agent's state, replayed to dp
 * after ports, pods and routes, and kept in line with the health checks
 * (ctrl/agent_health.h): a backend that fails its check is set to weight 0
 * in dp (draining: its open connections continue, new ones avoid it) and
 * gets its configured weight back when it passes again. The configured
 * weight is what is persisted; health is runtime state.
 *
 * Requests (docs/agent-ipc.md): svc.add, svc.del, backend.set (the whole
 * backend list of a service, like a Kubernetes Endpoints object: backends
 * are matched by ip:port and keep their ids), services.
 *
 * Errors: enum agent_err, errmsg. Threading: the agent's thread.
 */
#ifndef SLUICE_CTRL_AGENT_LB_H
#define SLUICE_CTRL_AGENT_LB_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <sluice/ring_proto.h>

struct agent;
struct agent_lb;
struct ringc;

struct agent_lb *agent_lb_create(struct agent *a);
void agent_lb_free(struct agent_lb *l);

/* State file: add "services" to root / load it from root. */
void agent_lb_to_json(const struct agent_lb *l, json_t *root);
int agent_lb_load(struct agent_lb *l, json_t *root, char *errmsg, size_t len);

/* Replay every service and backend under gen. RINGC_* result. */
int agent_lb_replay(struct agent_lb *l, struct ringc *rc, uint64_t gen, char *errmsg, size_t len);

/* dp refused c (an SVC_ADD or BACKEND_ADD sent in a batch): drop it. */
void agent_lb_rollback(struct agent_lb *l, const struct ring_cmd *c);

/* Health checks; call from agent_tick. */
void agent_lb_tick(struct agent_lb *l);

/* IPC: handle op "svc.add", "svc.del", "backend.set", "services".
 * Returns a reply object, or NULL if op is not one of them. */
json_t *agent_lb_ipc(struct agent_lb *l, const char *op, json_t *req);

size_t agent_lb_n_services(const struct agent_lb *l);

#endif
