/*
 * api: the HTTP handlers of the sluice API (docs/api.md): the etcd-shaped
 * /v3 key-value endpoints and the Kubernetes-shaped REST resources with
 * watch. They run on the master's event-loop thread and reach the store
 * only through ctrl/master.h (proposals and linearizable reads).
 */
#ifndef SLUICE_CTRL_API_H
#define SLUICE_CTRL_API_H

#include <stddef.h>

struct http_server;
struct master;

/*
 * Register every API route (the /v3 endpoints, then the REST prefixes) on
 * srv, each with m as its handler argument.
 *
 * Memory: api_register allocates nothing of its own, so it has no free
 * counterpart. The route table (prefixes copied) belongs to srv and goes
 * with http_server_free(). Per-request and per-watch state is freed when
 * the request is answered or its stream ends; at shutdown
 * http_server_quiesce() ends every stream and relayed request, and
 * master_free() answers the requests still waiting on Raft.
 * Lifetime: m must outlive every handler call, so quiesce srv before
 * master_free(m) and free srv after it (ctrl/master_main.c does).
 * Returns 0, or -1 with errmsg naming the route that could not be added
 * (ENOMEM; EEXIST if already registered; ENOSPC if srv's table is full);
 * routes added before the failure stay until srv is freed.
 * Thread: the master's loop thread, before the loop dispatches requests.
 */
int api_register(struct http_server *srv, struct master *m, char *errmsg, size_t errlen);

#endif
