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

/* Register every API route on srv. 0, or -1 with errmsg. */
int api_register(struct http_server *srv, struct master *m, char *errmsg, size_t errlen);

#endif
