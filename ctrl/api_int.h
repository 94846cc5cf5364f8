/*
 * api_int: what the API's handler files share (not for other modules):
 * registration of each handler family and the per-route context.
 *
 * Threading: the master's loop thread, like everything in http.h.
 */
#ifndef SLUICE_CTRL_API_INT_H
#define SLUICE_CTRL_API_INT_H

#include <stddef.h>

struct http_server;
struct master;

/* The etcd-shaped /v3 endpoints (api_kv_http.c). 0 or -1 with errmsg. */
int api_kv_register(struct http_server *srv, struct master *m, char *errmsg,
		    size_t errlen);

/* The Kubernetes-shaped resources and their watches (api_rest_http.c). */
int api_rest_register(struct http_server *srv, struct master *m,
		      char *errmsg, size_t errlen);

#endif /* SLUICE_CTRL_API_INT_H */
