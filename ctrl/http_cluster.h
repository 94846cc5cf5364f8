/*
 * http_cluster: the master's own endpoints (docs/api.md "Cluster
 * endpoints", docs/master.md): GET /healthz, GET /readyz,
 * GET /cluster/status, POST /cluster/members (join), and the leader lookup
 * the HTTP server uses for forwarding. Loop thread.
 */
#ifndef SLUICE_CTRL_HTTP_CLUSTER_H
#define SLUICE_CTRL_HTTP_CLUSTER_H

#include <stddef.h>

struct http_server;
struct master;

/* Register the four routes. 0, or -1 with errmsg. */
int http_cluster_register(struct http_server *srv, struct master *m,
			  char *errmsg, size_t errlen);

/* http_leader_fn over a struct master (arg). */
int http_cluster_leader(void *m, char *url, size_t len);

#endif
